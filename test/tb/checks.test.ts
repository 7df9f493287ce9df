// The root complex's checks on what a device sends, fed crafted TLPs through rc.receive()
// (no simulator): each rule produces its violation code, with the cycle, the TLP and the rule
// in the message. Also the RC's own requests against a scripted device: UR/CA/CRS/EP, timeouts.
import { describe, expect, test } from 'vitest';
import {
  PCI_ATS_CTRL_ENABLE,
  PCI_COMMAND,
  PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN,
  PCI_EXP_DEVCTL2_IDO_CMP_EN,
  PCI_EXP_DEVCTL2_IDO_REQ_EN,
  PCI_EXP_DEVCTL_NOSNOOP_EN,
  PCI_EXP_DEVCTL_RELAX_EN,
} from '../../tb/pcie/cfgspace';
import { CompletionStatusError, RcTimeoutError } from '../../tb/pcie/errors';
import { SimLink } from '../../tb/pcie/link';
import type { RawTlp } from '../../sim/raw';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { Attr, CplStatus, encodeTlp, type CplDTlp, type Tlp } from '../../tb/pcie/tlp';
import { DEV, MPS128_MRRS512_EXT, mrd, mwr, setup, violation } from './crafted';

describe('device requests', () => {
  test('malformed TLPs name the field; messages carry cycle, seed and a sketch of the TLP', () => {
    const { from, link } = setup();
    link.cycle = 1234;
    // Payload longer than the Length field says.
    const raw = encodeTlp(mwr(0x1000_0000n, 8));
    const bad = { hdr: Uint32Array.from(raw.hdr), data: raw.data };
    bad.hdr[0] = (bad.hdr[0] & ~0x3ff) | 3;
    const v = violation(
      () => from(bad),
      'malformed',
      /cycle 1234: malformed: malformed TLP \(field length\): MWr: length field 3 DW but 2 payload dwords/,
    );
    expect(v.message).toMatch(/MWr 3DW addr=0x10000000 len=3 .*\(undecoded\)/);
    expect(v.message).toMatch(/raw hdr=/);
    expect(v.message).toMatch(/seed 7/);
    expect(v.cycle).toBe(1234);
    // A TLP prefix, reserved Fmt.
    violation(
      () => from({ hdr: new Uint32Array([0x8000_0000, 0, 0, 0]), data: new Uint32Array(0) }),
      'malformed',
      /field fmt/,
    );
    // Reserved bits set (strict decode).
    const r2 = encodeTlp(mrd(0x1000_0000n, 1));
    violation(
      () => from({ hdr: new Uint32Array([r2.hdr[0] | (1 << 17), r2.hdr[1], r2.hdr[2], 0]), data: new Uint32Array(0) }),
      'malformed',
      /reserved/,
    );
    // A completion without data with a nonzero Length field.
    violation(
      () => from({ hdr: new Uint32Array([0x0a00_0001, (DEV << 16) | 0x2004, 0x0500, 0]), data: new Uint32Array(0) }),
      'malformed',
      /malformed TLP \(field length\): Cpl: length field 1 on a completion without data \(must be 0\)/,
    );
    // 4DW header for an address below 4 GB.
    const r3 = encodeTlp(mrd(0x1_0000_0000n, 1));
    violation(
      () => from({ hdr: new Uint32Array([r3.hdr[0], r3.hdr[1], 0, 0x1000_0000]), data: new Uint32Array(0) }),
      'malformed',
      /4DW header for address 0x10000000 below 4 GB/,
    );
  });

  test('4 KB crossing, for reads and writes', () => {
    const { from, buf } = setup();
    violation(
      () => from(mrd(buf.addr + 0xff0n, 8)),
      '4k-boundary',
      /8 DW at address 0x[0-9a-f]+ff0 crosses a 4 KB boundary/,
    );
    violation(() => from(mwr(buf.addr + 0xffcn, 8)), '4k-boundary', /MWr 3DW addr=.*ffc len=2/);
  });

  test('byte enables invalid for the length', () => {
    const { from, buf } = setup();
    violation(
      () => from(mrd(buf.addr, 2, 1, { lastBe: 0 })),
      'byte-enables',
      /last DW BE must be non-zero for a 2 DW request/,
    );
    violation(
      () => from(mrd(buf.addr, 1, 1, { lastBe: 0xf })),
      'byte-enables',
      /last DW BE must be 0000b for a 1 DW request/,
    );
    violation(() => from(mwr(buf.addr, 12, { firstBe: 0b0101 })), 'byte-enables', /contiguous/);
  });

  test('read above MRRS, write above MPS, against what the RC programmed', () => {
    const { from, buf, rc } = setup();
    violation(() => from(mrd(buf.addr, 256)), 'mrrs', /read of 1024 bytes exceeds Max_Read_Request_Size 512/);
    violation(() => from(mwr(buf.addr, 256)), 'mps', /write payload of 256 bytes exceeds Max_Payload_Size 128/);
    // After the RC raises MPS to 256 the same write is fine.
    rc.shadow.noteWrite(0x48, 0x3, MPS128_MRRS512_EXT | (1 << 5), 10);
    from(mwr(buf.addr, 256));
  });

  test('tag reuse while outstanding; reuse once the last completion is due is fine', () => {
    const { from, buf, link } = setup({ latency: { min: 100, max: 100 } });
    link.cycle = 1000;
    from(mrd(buf.addr, 4, 9), 1000);
    const v = violation(
      () => from(mrd(buf.addr + 64n, 4, 9), 1050),
      'tag-reuse',
      /tag 9 reused while outstanding: the earlier request \(cycle 1000: MRd 3DW .* tag=9\) is completed only at cycle 1100/,
    );
    expect(v.cycle).toBe(1050);
    // The reusing read was handled too (answered at 1150): the tag is free after it.
    from(mrd(buf.addr, 4, 9), 1150);
  });

  test('a tag is free when its last completion reaches the device, as the link reports it', () => {
    const { from, buf, link } = setup({ latency: { min: 100, max: 100 } });
    link.deliveryDelay = 30; // rx idle cycles and queueing: delivered at 1130, scheduled for 1100
    from(mrd(buf.addr, 4, 9), 1000);
    violation(
      () => from(mrd(buf.addr, 4, 9), 1129),
      'tag-reuse',
      /tag 9 reused while outstanding: .* is completed only at cycle 1130 \(its last completion reaches the device then\)/,
    );
    from(mrd(buf.addr, 4, 9), 1129 + 130); // after the read that reused it, answered too
    // Until the link reports the delivery, the tag stays taken whatever the schedule said.
    const { rc: rc2, from: from2, buf: buf2, link: link2 } = setup({ latency: { min: 100, max: 100 } });
    const held: (() => void)[] = [];
    link2.sendTracked = (raw, at, delivered) => {
      link2.send(raw, at);
      held.push(() => delivered(at + 500));
    };
    from2(mrd(buf2.addr, 4, 3), 1000);
    violation(
      () => from2(mrd(buf2.addr, 4, 3), 1200),
      'tag-reuse',
      /has not received its last completion yet \(scheduled for cycle 1100, not delivered by the link so far\)/,
    );
    for (const f of held) f(); // both reads delivered, the second (answered at 1300) at 1800
    from2(mrd(buf2.addr, 4, 3), 1800);
    expect(rc2.deliveryReports).toBe(true);
  });

  test("a dropped read's tag is the device's only once its completion timeout can have fired", () => {
    /** Tag 11 dropped at cycle 2000, reused at `reuse`. */
    const reuseAfterDrop = (reuse: number, opts: RootComplexOptions = {}) => {
      const { from, buf, rc } = setup(opts);
      rc.setFaults({ onRead: () => 'drop' });
      from(mrd(buf.addr, 4, 11), 2000);
      rc.setFaults({ onRead: undefined });
      from(mrd(buf.addr, 4, 11), reuse);
      return rc;
    };
    violation(
      () => reuseAfterDrop(6999, { deviceCompletionTimeout: 5000 }),
      'tag-reuse',
      /got no completion \(fault injection: drop\); its tag is free once the device's completion timeout can have fired, at cycle 7000 \(deviceCompletionTimeout 5000 cycles after the request\)/,
    );
    reuseAfterDrop(7000, { deviceCompletionTimeout: 5000 });
    // The default: 50 us at 250 MHz, the low end of the spec's default completion timeout range.
    expect(reuseAfterDrop(14_500).opts.deviceCompletionTimeout).toBe(12_500);
    violation(() => reuseAfterDrop(14_499), 'tag-reuse');
  });

  test('tags beyond 5 bits need Extended Tag Field Enable; beyond 8 bits need 10-bit tags', () => {
    const { from, buf, rc } = setup();
    rc.shadow.noteWrite(0x48, 0x3, 2 << 12, 0); // extended tags off
    from(mrd(buf.addr, 1, 31));
    violation(() => from(mrd(buf.addr, 1, 40)), 'tag-range', /tag 40 needs Extended Tag Field Enable/);
    violation(() => from(mrd(buf.addr, 1, 300)), 'tag-range', /tag 300 needs 10-Bit Tag Requester Enable/);
    rc.shadow.noteRead(0x68, PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN);
    from(mrd(buf.addr, 1, 301));
    from(mrd(buf.addr, 1, 41));
  });

  test('Relaxed Ordering, No Snoop and ID-Based Ordering only as Device Control enables them', () => {
    const { from, buf, rc } = setup({ violations: 'record' });
    // Device Control as set up: Enable Relaxed Ordering and Enable No Snoop clear; IDO Request Enable clear.
    from(mrd(buf.addr, 1, 1, { attr: Attr.RO }), 10);
    from(mwr(buf.addr, 4, { attr: Attr.NS }), 11);
    from(mwr(buf.addr, 4, { attr: Attr.IDO | Attr.RO }), 12);
    expect(rc.violations.map((v) => [v.code, v.cycle])).toEqual([
      ['attributes', 10],
      ['attributes', 11],
      ['attributes', 12],
    ]);
    expect(rc.violations[0].message).toMatch(
      /MRd with attribute Relaxed Ordering \(Enable Relaxed Ordering is clear in Device Control\)/,
    );
    expect(rc.violations[1].message).toMatch(/MWr with attribute No Snoop \(Enable No Snoop is clear/);
    expect(rc.violations[2].message).toMatch(
      /Relaxed Ordering .* and ID-Based Ordering \(IDO Request Enable is clear in Device Control 2\)/,
    );
    expect(Array.from(rc.mem.read(buf.addr, 4))).toEqual(Array(4).fill(0xa5)); // served all the same
    // Enabled: fine.
    rc.shadow.noteWrite(0x48, 0x3, MPS128_MRRS512_EXT | PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN, 20);
    rc.shadow.noteRead(0x68, PCI_EXP_DEVCTL2_IDO_REQ_EN);
    from(mrd(buf.addr, 1, 2, { attr: Attr.RO | Attr.NS | Attr.IDO }), 30);
    expect(rc.violations).toHaveLength(3);
    // Before the RC knows Device Control, the reset values apply: RO and NS enabled, IDO not.
    const fresh = setup({ violations: 'record' });
    fresh.rc.shadow.pcieCap = undefined;
    fresh.from(mrd(fresh.buf.addr, 1, 1, { attr: Attr.RO | Attr.NS }), 10);
    fresh.from(mrd(fresh.buf.addr, 1, 2, { attr: Attr.IDO }), 10);
    expect(fresh.rc.violations.map((v) => v.code)).toEqual(['attributes']);
  });

  test('a nonzero Address Type needs ATS enabled: refused (UR, or discarded) otherwise', () => {
    const { from, buf, rc, link } = setup({ violations: 'record' });
    from(mrd(buf.addr, 1, 1, { at: 2 }), 10);
    from(mwr(buf.addr, 4, { at: 2 }), 11);
    from(mrd(buf.addr, 1, 3, { at: 3 }), 12);
    expect(rc.violations.map((v) => v.code)).toEqual(['address-type', 'address-type', 'address-type']);
    expect(rc.violations[0].message).toMatch(/MRd with AT 10b \(translated\), but ATS is not enabled for the device/);
    expect(rc.violations[2].message).toMatch(/MRd with AT 11b \(reserved\)/);
    expect(link.sentOf('Cpl').map((c) => [c.tag, c.status])).toEqual([
      [1, CplStatus.UR],
      [3, CplStatus.UR],
    ]);
    expect(rc.mem.read(buf.addr, 4).every((b) => b === 0)).toBe(true);
    // ATS enabled in the device's ATS capability: translated addresses are used as they are.
    rc.shadow.atsCap = 0x100;
    from(mrd(buf.addr, 1, 4, { at: 2 }), 20);
    from(mwr(buf.addr, 4, { at: 2 }), 21);
    expect(rc.violations.map((v) => v.code).slice(3)).toEqual(['address-type', 'address-type']); // not enabled yet
    rc.shadow.noteWrite(0x104, 0xc, PCI_ATS_CTRL_ENABLE << 16, 22);
    from(mrd(buf.addr, 1, 5, { at: 2 }), 30);
    from(mwr(buf.addr, 4, { at: 2 }), 31);
    from(mrd(buf.addr, 1, 6, { at: 1 }), 32); // a Translation Request: no translation agent here
    expect(rc.violations.slice(5).map((v) => v.code)).toEqual(['unsupported']);
    expect(Array.from(rc.mem.read(buf.addr, 4))).toEqual(Array(4).fill(0xa5));
    expect(link.sentOf('CplD').map((c) => c.tag)).toEqual([5]);
    expect(
      link
        .sentOf('Cpl')
        .map((c) => [c.tag, c.status])
        .slice(-1),
    ).toEqual([[6, CplStatus.UR]]);
  });

  test('DMA while bus mastering is disabled (with the grace period after clearing it)', () => {
    const { from, buf, rc } = setup({ grace: 64 });
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x2, 1000); // bus master off at cycle 1000
    from(mwr(buf.addr, 4), 1050); // in flight when the write was sent
    violation(() => from(mwr(buf.addr, 4), 1064), 'bus-master', /MWr while Bus Master Enable is clear/);
    violation(() => from(mrd(buf.addr, 1), 2000), 'bus-master');
    // Before any enable (fresh RC): any DMA is a violation.
    const fresh = setup();
    fresh.rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x0, 0);
    violation(() => fresh.from(mrd(fresh.buf.addr, 1), 100), 'bus-master');
  });

  test('DMA outside granted regions or against their permission names address, length, region and TLP', () => {
    const { from, buf, ro, wo, rc } = setup();
    const v = violation(
      () => from(mrd(buf.end, 2)),
      'dma-unmapped',
      /DMA read of 8 bytes at 0x[0-9a-f]+: byte 0x[0-9a-f]+ is outside every granted region \(nearest: "buf"/,
    );
    expect(v.message).toMatch(/MRd 3DW addr=/);
    violation(
      () => from(mwr(ro.addr + 16n, 8)),
      'dma-permission',
      /DMA write of 8 bytes at .*region "ro-buf" .* ro does not allow device writes/,
    );
    violation(() => from(mrd(wo.addr, 1, 2)), 'dma-permission', /"wo-buf".*does not allow device reads/);
    // The byte enables decide the range: the last 8 bytes are inside; a zero-length read touches nothing.
    from(mrd(buf.end - 8n, 2, 3));
    from(mrd(buf.end, 1, 4, { firstBe: 0 }));
    rc.mem.protect(buf, 'none');
    violation(() => from(mrd(buf.addr, 1, 5)), 'dma-permission');
  });

  test("Requester ID other than the device's", () => {
    const { from, buf } = setup();
    violation(
      () => from(mrd(buf.addr, 1, 1, { requesterId: 0x0200 })),
      'requester-id',
      /Requester ID 02:00.0 is not the device's 01:00.0/,
    );
  });

  test('config and locked requests from an endpoint are unsupported', () => {
    const { from } = setup();
    violation(
      () => from({ type: 'CfgRd0', completerId: 0, offset: 0, firstBe: 0xf, requesterId: DEV, tag: 1 }),
      'unsupported',
      /CfgRd0 from an endpoint/,
    );
    violation(() => from({ ...mrd(0x1000_0000n, 1), type: 'MRdLk' } as Tlp), 'unsupported', /locked/);
  });

  test('a poisoned device write is counted, not committed', () => {
    const { from, rc, buf } = setup();
    from(mwr(buf.addr, 8, { ep: true }));
    expect(rc.stats().completer.poisonedWrites).toBe(1);
    expect(Array.from(rc.mem.read(buf.addr, 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  test('messages are recorded, not violations', () => {
    const { from, rc } = setup();
    from({ type: 'Msg', routing: 0, code: 0x31, requesterId: DEV, tag: 0 }, 55);
    expect(rc.messages).toHaveLength(1);
    expect(rc.messages[0].cycle).toBe(55);
  });
});

describe('MSI-X messages', () => {
  function msix() {
    const s = setup();
    const { rc } = s;
    rc.shadow.msixCap = 0x80;
    rc.shadow.setMsixTable(0xc000_2000n, 4);
    // Program vector 2 through a snooped MMIO write image, enable MSI-X.
    const e = new Uint8Array(16);
    new DataView(e.buffer).setUint32(0, 0xfee0_2000, true);
    new DataView(e.buffer).setUint32(8, 0x4002, true);
    rc.shadow.noteMemWrite(0xc000_2000n + 32n, e, 0);
    const msg = (address: bigint, data: number, extra: Partial<Tlp> = {}) => {
      const d = new Uint8Array(4);
      new DataView(d.buffer).setUint32(0, data, true);
      return mwr(address, 4, { data: d, ...extra });
    };
    return { ...s, msg };
  }

  test('a message for an enabled, unmasked vector becomes an interrupt event', () => {
    const { rc, from, msg } = msix();
    rc.shadow.noteWrite(0x80, 0xc, 0x8000 << 16, 0);
    from(msg(0xfee0_2000n, 0x4002), 500);
    expect(rc.interrupts).toEqual([{ vector: 2, address: 0xfee0_2000n, data: 0x4002, cycle: 500 }]);
    expect(rc.mem.regions.every((r) => !r.contains(0xfee0_2000n))).toBe(true); // not a memory write
  });

  test('disabled, function-masked, vector-masked, unprogrammed or malformed messages are violations', () => {
    const { rc, from, msg } = msix();
    violation(() => from(msg(0xfee0_2000n, 0x4002), 100), 'msix', /vector 2 while MSI-X Enable is clear/);
    rc.shadow.noteWrite(0x80, 0xc, 0xc000 << 16, 200); // enable + function mask
    violation(() => from(msg(0xfee0_2000n, 0x4002), 300), 'msix', /Function Mask is set/);
    rc.shadow.noteWrite(0x80, 0xc, 0x8000 << 16, 400);
    from(msg(0xfee0_2000n, 0x4002), 500);
    const mask = new Uint8Array([1, 0, 0, 0]);
    rc.shadow.noteMemWrite(0xc000_2000n + 32n + 12n, mask, 1000);
    from(msg(0xfee0_2000n, 0x4002), 1010); // within the grace period
    violation(() => from(msg(0xfee0_2000n, 0x4002), 1100), 'msix', /masked vector 2/);
    violation(() => from(msg(0xfee0_2000n, 0x9999), 1100), 'msix', /data 0x9999 matches no programmed MSI-X vector/);
    violation(() => from(mwr(0xfee0_2000n, 8), 1100), 'msix', /one full DWORD/);
  });
});

describe('completions for the RC', () => {
  test('a completion for no outstanding request, or for another requester', () => {
    const { from } = setup();
    const cpl: CplDTlp = {
      type: 'CplD',
      completerId: DEV,
      requesterId: 0,
      tag: 17,
      status: 0,
      byteCount: 4,
      lowerAddress: 0,
      data: new Uint8Array(4),
    };
    violation(() => from(cpl), 'unexpected-completion', /completion for tag 17, which has no outstanding request/);
    violation(
      () => from({ ...cpl, requesterId: 0x0300 }),
      'unexpected-completion',
      /requester 03:00.0, which is not the RC/,
    );
  });

  test('config read: value and byte enables; wrong completion shapes are mismatches', () => {
    const { rc, link } = setup();
    link.responder = (t) =>
      t.type === 'CfgRd0'
        ? [
            {
              type: 'CplD',
              completerId: DEV,
              requesterId: 0,
              tag: t.tag,
              status: 0,
              byteCount: 4,
              lowerAddress: 0,
              data: new Uint8Array([0x11, 0x22, 0x33, 0x44]),
            },
          ]
        : [];
    expect(rc.cfgRead(0x10, 4)).toBe(0x44332211);
    expect(rc.cfgRead(0x12, 2)).toBe(0x4433);
    expect(rc.cfgRead(0x13, 1)).toBe(0x44);
    expect(link.sentOf('CfgRd0').map((t) => t.firstBe)).toEqual([0xf, 0xc, 0x8]);
    expect(() => rc.cfgRead(0x13, 2)).toThrow(/crosses a dword/);
    link.responder = (t) => [
      {
        type: 'CplD',
        completerId: DEV,
        requesterId: 0,
        tag: t.tag,
        status: 0,
        byteCount: 8,
        lowerAddress: 0,
        data: new Uint8Array(8),
      },
    ];
    violation(() => rc.cfgRead(0), 'completion-mismatch', /config read completed with 2 DW, expected 1/);
    link.responder = (t) => [
      {
        type: 'CplD',
        completerId: DEV,
        requesterId: 0,
        tag: t.tag,
        status: 0,
        byteCount: 2,
        lowerAddress: 0,
        data: new Uint8Array(4),
      },
    ];
    violation(() => rc.cfgRead(0), 'completion-mismatch', /byte count 2, expected 4 for a configuration request/);
    link.responder = (t) => [
      { type: 'Cpl', completerId: DEV, requesterId: 0, tag: t.tag, status: 0, byteCount: 4, lowerAddress: 0 },
    ];
    violation(() => rc.cfgRead(0), 'completion-mismatch', /must be completed with a CplD/);
  });

  test('UR and CA complete the request with an error; CRS is retried, bounded', () => {
    const { rc, link } = setup({ crsRetries: 3, crsDelay: 50 });
    let status: number = CplStatus.UR;
    link.responder = (t) => [
      { type: 'Cpl', completerId: DEV, requesterId: 0, tag: t.tag, status: status as 0, byteCount: 4, lowerAddress: 0 },
    ];
    expect(() => rc.cfgRead(0)).toThrow(CompletionStatusError);
    expect(() => rc.cfgRead(0)).toThrow(/CfgRd0 .* completed with UR \(Unsupported Request\)/);
    status = CplStatus.CA;
    expect(() => rc.memRead(0xc000_0000n, 4)).toThrow(
      /MRd 3DW addr=0xc0000000 .* completed with CA \(Completer Abort\)/,
    );
    status = CplStatus.CRS;
    const n = link.sent.length;
    const start = rc.cycle;
    expect(() => rc.cfgWrite(4, 6, 2)).toThrow(/completed with CRS .*still CRS after 3 retries/);
    const tries = link.sent.slice(n);
    expect(tries).toHaveLength(4);
    expect(tries[3].at - tries[2].at).toBeGreaterThanOrEqual(50);
    expect(rc.cycle - start).toBeGreaterThanOrEqual(150);
    // CRS twice, then success.
    let left = 2;
    link.responder = (t) => [
      left-- > 0
        ? {
            type: 'Cpl',
            completerId: DEV,
            requesterId: 0,
            tag: t.tag,
            status: CplStatus.CRS,
            byteCount: 4,
            lowerAddress: 0,
          }
        : {
            type: 'CplD',
            completerId: DEV,
            requesterId: 0,
            tag: t.tag,
            status: 0,
            byteCount: 4,
            lowerAddress: 0,
            data: new Uint8Array([0x34, 0x12, 0x78, 0x56]),
          },
    ];
    expect(rc.cfgRead(0)).toBe(0x5678_1234);
    expect(rc.stats().requester.crsRetries).toBe(2 + 3);
    // A poisoned completion fails the read.
    link.responder = (t) => [
      {
        type: 'CplD',
        completerId: DEV,
        requesterId: 0,
        tag: t.tag,
        status: 0,
        byteCount: 4,
        lowerAddress: 0,
        data: new Uint8Array(4),
        ep: true,
      },
    ];
    expect(() => rc.memRead(0xc000_0000n, 4)).toThrow(/completed with EP \(poisoned data\)/);
  });

  test('MMIO read completion checks: byte count, lower address, RCB, MPS, completer ID', () => {
    const { rc, link } = setup();
    const reply = (patch: Partial<CplDTlp>) => {
      link.responder = (t) =>
        t.type === 'MRd'
          ? [
              {
                type: 'CplD',
                completerId: DEV,
                requesterId: 0,
                tag: t.tag,
                status: 0,
                byteCount: 8,
                lowerAddress: 0,
                data: new Uint8Array(8),
                ...patch,
              } as CplDTlp,
            ]
          : [];
    };
    reply({});
    expect(rc.memRead(0xc000_0000n, 8)).toHaveLength(8);
    reply({ byteCount: 4, data: new Uint8Array(4) }); // decodes (a final completion of 4 bytes), but the read wanted 8
    violation(() => rc.memRead(0xc000_0000n, 8), 'completion-mismatch', /byte count 4, expected 8/);
    reply({ lowerAddress: 4 });
    violation(() => rc.memRead(0xc000_0000n, 8), 'completion-mismatch', /lower address 0x4, expected 0x0/);
    reply({ tc: 3 });
    violation(
      () => rc.memRead(0xc000_0000n, 8),
      'completion-mismatch',
      /TC 3 \/ attributes 0 differ from the request's TC 0/,
    );
    reply({ completerId: 0x0500 });
    violation(
      () => rc.memRead(0xc000_0000n, 8),
      'completion-mismatch',
      /Completer ID 05:00.0 is not the device's 01:00.0/,
    );
    // 256 bytes in one completion: above MPS 128.
    link.responder = (t) => [
      {
        type: 'CplD',
        completerId: DEV,
        requesterId: 0,
        tag: t.tag,
        status: 0,
        byteCount: 256,
        lowerAddress: 0,
        data: new Uint8Array(256),
      },
    ];
    violation(() => rc.memRead(0xc000_0000n, 256), 'mps', /256 bytes exceeds Max_Payload_Size 128/);
    // Split at 64 B: an endpoint's RCB is 128 B.
    link.responder = (t) => [
      {
        type: 'CplD',
        completerId: DEV,
        requesterId: 0,
        tag: t.tag,
        status: 0,
        byteCount: 128,
        lowerAddress: 0,
        data: new Uint8Array(64),
      },
    ];
    violation(() => rc.memRead(0xc000_0000n, 128), 'rcb', /not on a 128-byte read completion boundary/);
  });

  test('a completion with ID-Based Ordering needs IDO Completion Enable', () => {
    const { rc, link } = setup();
    link.responder = (t) => [
      {
        type: 'CplD',
        completerId: DEV,
        requesterId: 0,
        tag: t.tag,
        status: 0,
        byteCount: 4,
        lowerAddress: 0,
        data: new Uint8Array(4),
        attr: Attr.IDO,
      },
    ];
    violation(
      () => rc.memRead(0xc000_0000n, 4),
      'attributes',
      /CplD with attribute ID-Based Ordering \(IDO Completion Enable is clear in Device Control 2\)/,
    );
    rc.shadow.noteRead(0x68, PCI_EXP_DEVCTL2_IDO_CMP_EN);
    expect(rc.memRead(0xc000_0000n, 4)).toHaveLength(4);
  });

  test('no completion: the request times out with a clear error; a late completion is reported as late', () => {
    const { rc, link, from } = setup({ completionTimeout: 500 });
    const start = rc.cycle;
    let err: unknown;
    try {
      rc.cfgRead(0x10);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RcTimeoutError);
    expect((err as Error).message).toMatch(
      /timeout after \d+ cycles waiting for completion of CfgRd0 dst=01:00.0 off=0x010 .* \(tag \d+, sent at cycle \d+\)/,
    );
    expect(rc.cycle - start).toBeGreaterThanOrEqual(500);
    expect(rc.cycle - start).toBeLessThan(500 + 10); // noticed promptly, not a pump window later
    const tag = link.sentOf('CfgRd0')[0].tag;
    violation(
      () =>
        from({
          type: 'CplD',
          completerId: DEV,
          requesterId: 0,
          tag,
          status: 0,
          byteCount: 4,
          lowerAddress: 0,
          data: new Uint8Array(4),
        }),
      'unexpected-completion',
      /after its request timed out \(CfgRd0/,
    );
    // A wait for a condition that never holds.
    expect(() => rc.waitFor('the moon to turn blue', () => false, { timeout: 3000 })).toThrow(
      /timeout after 3000 cycles waiting for the moon to turn blue/,
    );
    expect(() => rc.waitForInterrupt(3, { timeout: 100 })).toThrow(/waiting for an MSI-X interrupt on vector 3/);
  });
});

describe('record mode: violations are collected and the RC answers as hardware would', () => {
  test('a faulting DMA read gets UR, a faulting write is dropped', () => {
    const { rc, from, link, ro } = setup({ violations: 'record' });
    from(mrd(0x7000_0000n, 1, 5), 100);
    from(mwr(ro.addr, 4), 100);
    expect(rc.violations.map((v) => v.code)).toEqual(['dma-unmapped', 'dma-permission']);
    const cpl = link.sentOf('Cpl');
    expect(cpl).toHaveLength(1);
    expect(cpl[0]).toMatchObject({ status: CplStatus.UR, tag: 5, requesterId: DEV, byteCount: 4 });
    expect(cpl[0].at).toBe(120);
    expect(Array.from(rc.mem.read(ro.addr, 4))).toEqual([0, 0, 0, 0]);
  });

  test('malformed TLPs are discarded: an oversized write is not committed, a malformed read gets nothing', () => {
    const { rc, from, link, buf } = setup({ violations: 'record' });
    from(mwr(buf.addr, 256), 100); // MPS 128
    rc.shadow.msixCap = 0x80;
    rc.shadow.setMsixTable(0xc000_2000n, 1);
    from(mwr(0xfee0_0000n, 132), 100); // into the MSI window, above MPS: no interrupt either
    from(mrd(buf.addr, 2, 3, { lastBe: 0 }), 100); // byte enables
    from(mrd(buf.addr + 0xff0n, 8, 4), 100); // crosses 4 KB
    from({ hdr: new Uint32Array([0x6000_0001, 0, 0, 0]), data: new Uint32Array(1) }, 100); // reserved Fmt 011b
    expect(rc.violations.map((v) => v.code)).toEqual(['mps', 'mps', 'byte-enables', '4k-boundary', 'malformed']);
    expect(rc.mem.read(buf.addr, 256).every((b) => b === 0)).toBe(true);
    expect(rc.interrupts).toEqual([]);
    expect(link.sent).toEqual([]);
    expect(rc.stats().completer.dmaWrites).toBe(0);
  });

  test('requests the RC does not serve get Unsupported Request: configuration, locked, IO, AtomicOps', () => {
    const { rc, from, link } = setup({ violations: 'record' });
    const cfg = { completerId: 0, offset: 0, firstBe: 0xf, requesterId: DEV } as const;
    from({ type: 'CfgRd0', ...cfg, tag: 1 }, 100);
    from({ type: 'CfgWr1', ...cfg, tag: 2, data: new Uint8Array(4) }, 100);
    from({ type: 'MRdLk', address: 0x1000_0004n, length: 2, firstBe: 0xe, lastBe: 0x7, requesterId: DEV, tag: 3 }, 100);
    // IORd (Fmt 000b, Type 00010b, 1 DW, First BE 1111b) and FetchAdd (Fmt 011b, Type 01100b, 2 DW): no codec form.
    from({ hdr: new Uint32Array([0x0200_0001, (DEV << 16) | (4 << 8) | 0xf, 0x60, 0]), data: new Uint32Array(0) }, 100);
    from(
      { hdr: new Uint32Array([0x6c00_0002, (DEV << 16) | (5 << 8) | 0xff, 1, 0x100]), data: new Uint32Array(2) },
      100,
    );
    expect(rc.violations.map((v) => v.code)).toEqual(Array(5).fill('unsupported'));
    expect(rc.violations[3].message).toMatch(/IORd from an endpoint \(IORd \(Fmt=000b Type=00010b\) is not supported/);
    expect(rc.violations[4].message).toMatch(/FetchAdd from an endpoint/);
    link.cycle = 110;
    expect(rc.idle).toBe(false); // until the UR completions are out (at 120)
    link.cycle = 121;
    expect(rc.idle).toBe(true);
    const ur = link.sent.map(({ tlp: t }) =>
      t.type === 'Cpl' || t.type === 'CplLk' ? [t.type, t.tag, t.status, t.byteCount, t.lowerAddress] : [t.type],
    );
    expect(ur).toEqual([
      ['Cpl', 1, CplStatus.UR, 4, 0],
      ['Cpl', 2, CplStatus.UR, 4, 0],
      ['CplLk', 3, CplStatus.UR, 6, 5], // a locked read's completion is a CplLk: byte count and lower address of the read
      ['Cpl', 4, CplStatus.UR, 4, 0],
      ['Cpl', 5, CplStatus.UR, 4, 0],
    ]);
  });

  test('everything else is served as a host would: over MRRS, tag rules, bus mastering off, wrong Requester ID', () => {
    const { rc, from, link, buf } = setup({ violations: 'record' });
    from(mrd(buf.addr, 256, 1), 100); // 1 KB, MRRS 512
    from(mrd(buf.addr, 1, 1), 101); // tag 1 still outstanding
    from(mrd(buf.addr, 1, 2, { requesterId: 0x0200 }), 102);
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x2, 200); // bus mastering off
    from(mwr(buf.addr, 8), 1000);
    expect(rc.violations.map((v) => v.code)).toEqual(['mrrs', 'tag-reuse', 'requester-id', 'bus-master']);
    const bytes = link.sentOf('CplD').reduce((n, c) => n + c.data.length, 0);
    expect(bytes).toBe(1024 + 4 + 4);
    expect(link.sentOf('CplD').at(-1)!.requesterId).toBe(0x0200);
    expect(Array.from(rc.mem.read(buf.addr, 8))).toEqual(Array(8).fill(0xa5));
  });
});

describe('throw mode: a violation does not lose the rest of the TLPs being handled', () => {
  test('the others of the batch are handled, then the first violation is thrown naming the rest', () => {
    const { rc, link, buf } = setup();
    link.push(mwr(buf.addr, 256), 100); // above MPS 128: discarded
    link.push(mwr(buf.addr + 0x400n, 8), 100); // fine: lands (one batch: all leave the device at cycle 100)
    link.push(mrd(buf.addr, 1, 6), 100); // fine: answered
    link.push(mrd(buf.addr + 0xff0n, 8, 7), 100); // crosses 4 KB: dropped
    link.push(mrd(0x7000_0000n, 1, 8), 100); // unmapped: UR
    const v = violation(
      () => rc.step(),
      'mps',
      /and 2 more in the same batch: cycle 100 4k-boundary, cycle 100 dma-unmapped \(see \.more\)/,
    );
    expect(v.cycle).toBe(100);
    expect(v.more.map((m) => [m.code, m.cycle])).toEqual([
      ['4k-boundary', 100],
      ['dma-unmapped', 100],
    ]);
    expect(Array.from(rc.mem.read(buf.addr + 0x400n, 8))).toEqual(Array(8).fill(0xa5));
    expect(rc.mem.read(buf.addr, 256).every((b) => b === 0)).toBe(true);
    expect(link.sentOf('CplD').map((t) => t.tag)).toEqual([6]);
    expect(link.sentOf('Cpl').map((t) => [t.tag, t.status])).toEqual([[8, CplStatus.UR]]);
    expect(rc.violations).toEqual([]); // thrown, not recorded
    // Nothing is left over: the next step is clean.
    rc.step({ maxCycles: 100 });
  });

  test('a TLP handed to receive() directly is handled before its violation is thrown', () => {
    const { from, link, buf } = setup();
    violation(() => from(mrd(buf.addr, 256, 2), 100), 'mrrs');
    expect(link.sentOf('CplD').reduce((n, c) => n + c.data.length, 0)).toBe(1024);
    violation(
      () => from({ type: 'CfgRd0', completerId: 0, offset: 0, firstBe: 0xf, requesterId: DEV, tag: 3 }),
      'unsupported',
    );
    expect(link.sentOf('Cpl').map((t) => [t.tag, t.status])).toEqual([[3, CplStatus.UR]]);
  });
});

describe('raw requests', () => {
  test("any non-posted request goes out as given, with the RC's ID and tag; its completions come back unchecked", () => {
    const { rc, link } = setup();
    link.responder = (t) =>
      t.type === 'MRd'
        ? [128, 64].map((bytes, i) => ({
            type: 'CplD' as const,
            completerId: 0x0500, // not the device's: raw answers are not checked
            requesterId: 0,
            tag: t.tag,
            status: 0 as const,
            byteCount: bytes,
            lowerAddress: i * 0x40,
            data: new Uint8Array(64).fill(i + 1),
          }))
        : [];
    const p = rc.startRawRequest({
      type: 'MRd',
      address: 0xc000_0000n,
      length: 32,
      firstBe: 0xf,
      lastBe: 0xf,
      requesterId: 0x4242, // replaced by the RC's
      tag: 999, // replaced by a tag of the RC's
      attr: Attr.RO,
      tc: 5,
    });
    const got = rc.wait(p);
    expect(got.map((c) => [c.type, c.byteCount, c.completerId])).toEqual([
      ['CplD', 128, 0x0500],
      ['CplD', 64, 0x0500],
    ]);
    const sent = link.sentOf('MRd')[0];
    expect(sent).toMatchObject({ requesterId: rc.opts.rcId, tc: 5, attr: Attr.RO, length: 32 });
    expect(got[0].tag).toBe(sent.tag);
    expect(sent.tag).toBeLessThan(256);
  });

  test('more than 256 requests in flight wait for a tag and still complete (raw and MMIO reads alike)', () => {
    const { rc, link } = setup();
    link.responder = (t) =>
      t.type === 'MRd'
        ? [
            {
              type: 'CplD',
              completerId: DEV,
              requesterId: 0,
              tag: t.tag,
              status: 0,
              byteCount: 4,
              lowerAddress: 0,
              data: new Uint8Array([t.tag, 0, 0, 0]),
            },
          ]
        : [];
    const reads = Array.from({ length: 300 }, (_, i) =>
      i % 2 ? rc.startMemRead(0xc000_0000n, 4) : rc.startRawRequest(mrd(0xc000_0000n, 1, 0)),
    );
    expect(rc.requester.outstanding).toBe(300);
    rc.settle();
    expect(reads.every((p) => p.done && !p.error)).toBe(true);
  });

  test('a request that gets no completion times out naming itself; posted TLPs are refused', () => {
    const { rc } = setup();
    const bad = { type: 'MRd', address: 0xc000_0ffcn, length: 2, firstBe: 0xf, lastBe: 0xf, requesterId: 0, tag: 0 };
    expect(() => rc.rawRequest(bad as Tlp, { timeout: 300 })).toThrow(
      /timeout after 30\d cycles waiting for completion of raw request MRd 3DW addr=0xc0000ffc len=2 .*\(tag \d+, sent at cycle \d+\)/,
    );
    expect(() => rc.rawRequest(mwr(0xc000_0000n, 4))).toThrow(
      /rawRequest: Fmt=010b Type=00000b is not a non-posted request \(it gets no completion: use sendRaw\)/,
    );
    expect(() => rc.rawRequest({ hdr: new Uint32Array([0x3000_0000, 0, 0, 0]), data: new Uint32Array(0) })).toThrow(
      /Type=10000b is not a non-posted request/,
    );
  });
});

describe('SimLink', () => {
  test('sends to the named rx stream and merges several tx streams in cycle order', () => {
    const sent: [number | undefined, string | undefined][] = [];
    const queues: Record<string, RawTlp[]> = {
      cc: [
        { hdr: new Uint32Array(4), data: new Uint32Array(0), cycle: 5 },
        { hdr: new Uint32Array(4), data: new Uint32Array(1), cycle: 9 },
      ],
      rq: [{ hdr: new Uint32Array(4), data: new Uint32Array(2), cycle: 7 }],
    };
    const sim = {
      cycle: 10,
      send: (_t: RawTlp, at?: number, stream?: string) => void sent.push([at, stream]),
      run: () => ({ reason: 'cycles', cycles: 1 }),
      takeTx: (stream?: string) => queues[stream ?? 'cc'].splice(0),
    };
    const link = new SimLink(sim, { rx: 'cq', tx: ['cc', 'rq'] });
    link.send({ hdr: new Uint32Array(4), data: new Uint32Array(0) }, 12);
    expect(sent).toEqual([[12, 'cq']]);
    expect(link.takeTx().map((t) => [t.cycle, t.data.length])).toEqual([
      [5, 0],
      [7, 2],
      [9, 1],
    ]);
    expect(link.cycle).toBe(10);
  });
});
