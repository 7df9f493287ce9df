// Every limit the root complex checks, at its boundary: exactly at the limit passes, one dword (or one cycle,
// one byte, one tag) past it is flagged. Random and directed tests elsewhere go well past the limits; a check
// relaxed by one step (MPS + 4 bytes, a grace period one cycle longer) would get through them, not these.
import { describe, expect, test } from 'vitest';
import { PCI_COMMAND, PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN, PCI_EXP_DEVCTL_EXT_TAG } from '../../tb/pcie/cfgspace';
import { ReadReassembly } from '../../tb/pcie/completions';
import { CompletionStatusError, RcTimeoutError } from '../../tb/pcie/errors';
import { ModelEndpoint } from '../../tb/pcie/modeldev';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { CplStatus, type CplDTlp, type MemReadTlp } from '../../tb/pcie/tlp';
import { DEV, mrd, mwr, setup, violation } from './crafted';

const bytes = (n: number) => new Uint8Array(n).fill(0x5a);

/** Device Control with MPS and MRRS (bytes), extended tags on. */
const devctl = (mps: number, mrrs: number) =>
  (Math.log2(mrrs / 128) << 12) | (Math.log2(mps / 128) << 5) | PCI_EXP_DEVCTL_EXT_TAG;

describe('device requests', () => {
  test.each([128, 256, 512, 1024])('write payload: MPS %i bytes passes, MPS + 4 is flagged', (mps) => {
    const { from, buf, rc } = setup();
    rc.shadow.noteWrite(0x48, 0x3, devctl(mps, 512), 0);
    from(mwr(buf.addr, mps));
    violation(
      () => from(mwr(buf.addr, mps + 4)),
      'mps',
      new RegExp(`write payload of ${mps + 4} bytes exceeds Max_Payload_Size ${mps}`),
    );
  });

  test.each([128, 512, 2048])('read request: MRRS %i bytes passes, MRRS + 4 is flagged', (mrrs) => {
    const { from, buf, rc } = setup();
    rc.shadow.noteWrite(0x48, 0x3, devctl(128, mrrs), 0);
    from(mrd(buf.addr, mrrs / 4, 1));
    violation(
      () => from(mrd(buf.addr, mrrs / 4 + 1, 2)),
      'mrrs',
      new RegExp(`read of ${mrrs + 4} bytes exceeds Max_Read_Request_Size ${mrrs}`),
    );
  });

  test('4 KB: a request ending exactly on the boundary passes, one dword further is flagged', () => {
    const { from, buf } = setup();
    from(mrd(buf.addr + 0xff0n, 4, 1)); // 0xff0..0x1000
    violation(() => from(mrd(buf.addr + 0xff0n, 5, 2)), '4k-boundary', /5 DW at address 0x[0-9a-f]+ff0 crosses/);
    from(mwr(buf.addr + 0xff8n, 8));
    violation(() => from(mwr(buf.addr + 0xff8n, 12)), '4k-boundary');
    // A whole page from its start: exactly 4 KB (only MRRS objects).
    const { from: from2, buf: buf2, rc: rc2 } = setup({ violations: 'record' });
    from2(mrd(buf2.addr, 1024, 1));
    expect(rc2.violations.map((v) => v.code)).toEqual(['mrrs']);
  });

  test('tags: 31 without Extended Tag Field Enable, 255 without 10-bit tags, 1023 with them', () => {
    const { from, buf, rc } = setup();
    rc.shadow.noteWrite(0x48, 0x3, devctl(128, 512) & ~PCI_EXP_DEVCTL_EXT_TAG, 0);
    from(mrd(buf.addr, 1, 31));
    violation(() => from(mrd(buf.addr, 1, 32)), 'tag-range', /tag 32 needs Extended Tag Field Enable/);
    rc.shadow.noteWrite(0x48, 0x3, devctl(128, 512), 0);
    from(mrd(buf.addr, 1, 255));
    violation(() => from(mrd(buf.addr, 1, 256)), 'tag-range', /tag 256 needs 10-Bit Tag Requester Enable/);
    rc.shadow.noteRead(0x68, PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN);
    from(mrd(buf.addr, 1, 1023));
  });

  test.each([
    ['scheduled (a link that does not report deliveries)', false],
    ['delivered (a link that reports them)', true],
  ])('tag reuse: free at the cycle its last completion is %s, taken one cycle before', (_, reports) => {
    const reuse = (at: number) => {
      const { from, buf } = setup({ latency: { min: 100, max: 100 } }, { deliveryReports: reports });
      from(mrd(buf.addr, 1, 9), 1000); // answered at 1100
      from(mrd(buf.addr, 1, 9), at);
    };
    violation(() => reuse(1099), 'tag-reuse', /is completed only at cycle 1100/);
    reuse(1100);
  });

  test('bus mastering: a request `grace` cycles after Bus Master Enable was cleared is flagged, one before is not', () => {
    const { from, buf, rc } = setup({ grace: 64 });
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x2, 1000);
    from(mwr(buf.addr, 4), 1063);
    violation(() => from(mwr(buf.addr, 4), 1064), 'bus-master');
  });

  test('DMA: the last dword of a region passes, a read one dword past its end is flagged', () => {
    const { from, rc } = setup();
    const r = rc.mem.alloc(0x100, { name: 'small' }); // ends mid-page, followed by the guard gap
    from(mrd(r.end - 4n, 1, 1));
    violation(() => from(mrd(r.end - 4n, 2, 2)), 'dma-unmapped', /DMA read of 8 bytes/);
    from(mwr(r.end - 4n, 4));
    violation(() => from(mwr(r.end - 4n, 8)), 'dma-unmapped', /DMA write of 8 bytes/);
  });
});

describe('MSI-X messages', () => {
  function msix(grace = 64) {
    const s = setup({ grace, msiWindow: { base: 0x2000_0000n, size: 0x1000 } });
    const { rc } = s;
    rc.shadow.msixCap = 0x80;
    rc.shadow.setMsixTable(0xc000_2000n, 2);
    const entry = (address: number, data: number) => {
      const e = new Uint8Array(16);
      new DataView(e.buffer).setUint32(0, address, true);
      new DataView(e.buffer).setUint32(8, data, true);
      return e;
    };
    rc.shadow.noteMemWrite(0xc000_2000n, entry(0x2000_0000, 0x40), 0);
    rc.shadow.noteMemWrite(0xc000_2010n, entry(0x2000_0ffc, 0x41), 0);
    rc.shadow.noteWrite(0x80, 0xc, 0x8000 << 16, 0); // MSI-X on
    const below = rc.mem.alloc(0x1000, { at: 0x1fff_f000n, name: 'below' });
    const above = rc.mem.alloc(0x1000, { at: 0x2000_1000n, name: 'above' });
    const msg = (address: bigint, data: number) => {
      const d = new Uint8Array(4);
      new DataView(d.buffer).setUint32(0, data, true);
      return mwr(address, 4, { data: d });
    };
    return { ...s, msg, below, above };
  }

  test('the MSI window: its first and last dwords are messages, the dwords around it memory', () => {
    const { rc, from, msg } = msix();
    from(msg(0x1fff_fffcn, 0x40), 10);
    from(msg(0x2000_0000n, 0x40), 11);
    from(msg(0x2000_0ffcn, 0x41), 12);
    from(msg(0x2000_1000n, 0x41), 13);
    expect(rc.interrupts.map((e) => [e.vector, e.cycle])).toEqual([
      [0, 11],
      [1, 12],
    ]);
    expect(rc.mem.readU32(0x1fff_fffcn)).toBe(0x40);
    expect(rc.mem.readU32(0x2000_1000n)).toBe(0x41);
  });

  test('a masked vector: a message `grace` cycles after the mask is flagged, one before is not', () => {
    const { rc, from, msg } = msix(64);
    rc.shadow.noteMemWrite(0xc000_200cn, new Uint8Array([1, 0, 0, 0]), 1000);
    from(msg(0x2000_0000n, 0x40), 1063);
    violation(() => from(msg(0x2000_0000n, 0x40), 1064), 'msix', /masked vector 0/);
    // The function mask and MSI-X Enable use the same rule.
    rc.shadow.noteMemWrite(0xc000_200cn, new Uint8Array([0, 0, 0, 0]), 2000);
    rc.shadow.noteWrite(0x80, 0xc, 0xc000 << 16, 3000);
    from(msg(0x2000_0000n, 0x40), 3063);
    violation(() => from(msg(0x2000_0000n, 0x40), 3064), 'msix', /Function Mask is set/);
    rc.shadow.noteWrite(0x80, 0xc, 0, 4000);
    from(msg(0x2000_0000n, 0x40), 4063);
    violation(() => from(msg(0x2000_0000n, 0x40), 4064), 'msix', /MSI-X Enable is clear/);
  });
});

describe('completions for the RC', () => {
  /** An RC with MPS `mps` whose MMIO reads the scripted device answers with `answer(read)`. */
  function reader(mps: number, answer: (t: MemReadTlp) => Partial<CplDTlp>[]) {
    const s = setup();
    s.rc.shadow.noteWrite(0x48, 0x3, devctl(mps, 512), 0);
    s.link.responder = (t) =>
      t.type === 'MRd'
        ? answer(t).map((c): CplDTlp => ({
            type: 'CplD',
            completerId: DEV,
            requesterId: 0,
            tag: t.tag,
            status: 0,
            byteCount: 4,
            lowerAddress: 0,
            data: new Uint8Array(4),
            ...c,
          }))
        : [];
    return s;
  }

  test.each([128, 256])('payload: a completion of MPS %i bytes passes, MPS + 4 is flagged', (mps) => {
    // A single (final) completion, so only MPS, not the RCB, is at stake.
    const { rc } = reader(mps, (t) => [{ byteCount: t.length * 4, data: bytes(t.length * 4) }]);
    expect(rc.memRead(0xc000_0000n, mps)).toEqual(bytes(mps));
    violation(
      () => rc.memRead(0xc000_0000n, mps + 4),
      'mps',
      new RegExp(`completion payload of ${mps + 4} bytes exceeds Max_Payload_Size ${mps}`),
    );
  });

  test('RCB: a partial completion ending on the device RCB (128) passes; 4 bytes further is malformed, 64 an RCB violation', () => {
    const split = (first: number) =>
      reader(256, () => [
        { byteCount: 256, data: bytes(first) },
        { byteCount: 256 - first, lowerAddress: first & 0x7f, data: bytes(256 - first) },
      ]).rc;
    expect(split(128).memRead(0xc000_0000n, 256)).toEqual(bytes(256));
    violation(
      () => split(132).memRead(0xc000_0000n, 256),
      'malformed',
      /field length\): CplD: partial completion .* does not end on a 64-byte read completion boundary/,
    );
    violation(() => split(192).memRead(0xc000_0000n, 256), 'rcb', /ends at 0xc00000c0, not on a 128-byte/);
    // From an unaligned start: the first RCB boundary is the limit.
    const unaligned = (first: number) =>
      reader(256, () => [
        { byteCount: 200, lowerAddress: 0x30, data: bytes(first) },
        { byteCount: 200 - first, lowerAddress: (0x30 + first) & 0x7f, data: bytes(200 - first) },
      ]).rc;
    expect(unaligned(0x50).memRead(0xc000_0030n, 200)).toEqual(bytes(200));
    violation(() => unaligned(0x54).memRead(0xc000_0030n, 200), 'malformed');
  });

  test('byte count: the bytes still outstanding pass, one dword more or less is flagged', () => {
    const partial = (bc: number) =>
      reader(256, () => [
        { byteCount: bc, data: bytes(128) },
        { byteCount: 128, lowerAddress: 0, data: bytes(128) },
      ]).rc;
    expect(partial(256).memRead(0xc000_0000n, 256)).toEqual(bytes(256));
    violation(() => partial(260).memRead(0xc000_0000n, 256), 'completion-mismatch', /byte count 260, expected 256/);
    violation(() => partial(252).memRead(0xc000_0000n, 256), 'completion-mismatch', /byte count 252, expected 256/);
  });

  test('final completion size: exactly the dwords for its bytes pass, one more is flagged', () => {
    const final = (dw: number, extra: Partial<CplDTlp> = {}) =>
      reader(256, () => [{ byteCount: 8, data: bytes(4 * dw), ...extra }]).rc;
    expect(final(2).memRead(0xc000_0000n, 8)).toEqual(bytes(8));
    violation(
      () => final(3).memRead(0xc000_0000n, 8),
      'malformed',
      /byteCount\): CplD: byte count 8 .* needs 2 DW but length is 3 DW/,
    );
    // Past the codec (Byte Count Modified set), the requester's own check.
    const r = new ReadReassembly({ address: 0x1000n, length: 2, firstBe: 0xf, lastBe: 0xf }, { rcb: 128, mps: 256 });
    const cpl = (dw: number): CplDTlp => ({
      type: 'CplD',
      completerId: DEV,
      requesterId: 0,
      tag: 1,
      status: 0,
      bcm: true,
      byteCount: 8,
      lowerAddress: 0,
      data: bytes(4 * dw),
    });
    expect(r.accept(cpl(3))).toMatchObject({
      code: 'completion-mismatch',
      reason: 'final completion of 3 DW, expected 2 DW for the last 8 bytes',
    });
    expect(r.accept(cpl(2))).toBeNull();
    // A zero-length read: one dword, two are flagged.
    const z = new ReadReassembly({ address: 0x1000n, length: 1, firstBe: 0, lastBe: 0 }, { rcb: 128, mps: 256 });
    expect(z.accept({ ...cpl(2), byteCount: 1 })).toMatchObject({ code: 'completion-mismatch' });
    expect(z.accept({ ...cpl(1), byteCount: 1 })).toBeNull();
  });

  test('config completions: 1 DW, byte count 4, lower address 0 pass; one dword / byte off is flagged', () => {
    const cfg = (patch: Partial<CplDTlp>) => {
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
          data: bytes(4),
          ...patch,
        } as CplDTlp,
      ];
      return rc;
    };
    expect(cfg({}).cfgRead(0)).toBe(0x5a5a5a5a);
    violation(
      () => cfg({ data: bytes(8), byteCount: 8 }).cfgRead(0),
      'completion-mismatch',
      /config read completed with 2 DW, expected 1/,
    );
    violation(() => cfg({ byteCount: 3 }).cfgRead(0), 'completion-mismatch', /byte count 3, expected 4/);
    violation(() => cfg({ byteCount: 8 }).cfgRead(0), 'malformed'); // more than the payload: not a final completion
    violation(() => cfg({ lowerAddress: 4 }).cfgRead(0), 'completion-mismatch', /lower address 0x4, expected 0/);
  });

  test('completion timeout: a completion one cycle before the deadline completes the request, at it the request has timed out', () => {
    const at = (delay: number) => {
      const { rc, link } = setup({ completionTimeout: 500 });
      link.replyDelay = delay;
      link.responder = (t) => [
        {
          type: 'CplD',
          completerId: DEV,
          requesterId: 0,
          tag: t.tag,
          status: 0,
          byteCount: 4,
          lowerAddress: 0,
          data: bytes(4),
        },
      ];
      return rc.cfgRead(0);
    };
    expect(at(499)).toBe(0x5a5a5a5a);
    expect(() => at(500)).toThrow(RcTimeoutError);
  });

  test('CRS: crsRetries retries are made, one more CRS fails the request', () => {
    const crs = (times: number) => {
      const { rc, link } = setup({ crsRetries: 3, crsDelay: 10 });
      let left = times;
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
              data: bytes(4),
            },
      ];
      return rc.cfgRead(0);
    };
    expect(crs(3)).toBe(0x5a5a5a5a);
    expect(() => crs(4)).toThrow(CompletionStatusError);
  });
});

describe("the RC's own accesses", () => {
  test('a BAR access ending on its last byte passes, one byte further is refused', () => {
    const rc = new RootComplex(new ModelEndpoint(), { seed: 1 });
    rc.enumerate();
    const bar = rc.bar(4); // 4 KB
    bar.write32(0xffc, 0x1234_5678);
    expect(bar.read32(0xffc)).toBe(0x1234_5678);
    expect(() => bar.read32(0xffd)).toThrow(/BAR 4: 4 bytes at offset 0xffd outside its 4096 bytes/);
    expect(() => bar.read(0xff8, 9)).toThrow(RangeError);
  });

  test('config accesses: the last dword of config space passes; past it, or across a dword, is refused', () => {
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
        data: new Uint8Array([1, 2, 3, 4]),
      },
    ];
    expect(rc.cfgRead(0xffc, 4)).toBe(0x04030201);
    expect(rc.cfgRead(0xfff, 1)).toBe(4);
    expect(() => rc.cfgRead(0x1000, 1)).toThrow(/offset 0x1000 outside 0..0xfff/);
    expect(() => rc.cfgRead(0xffd, 4)).toThrow(/crosses a dword/);
  });

  test('MMIO writes are split at the device MPS: exactly MPS is one TLP, MPS + 4 two', () => {
    const { rc, link } = setup();
    rc.memWrite(0xc000_0000n, bytes(128));
    expect(link.sentOf('MWr').map((t) => t.data.length)).toEqual([128]);
    rc.memWrite(0xc000_1000n, bytes(132));
    expect(link.sentOf('MWr').map((t) => t.data.length)).toEqual([128, 128, 4]);
  });
});
