// The device's controls as the root complex tracks them (rc.shadow, tb/pcie/devstate.ts) and what its checks
// conclude from them: reset values, partial config accesses, grace periods that only a change starts, functions
// without a PCI Express, ATS or MSI-X capability, stated settings changed in parts, and the MSI-X table's shadow.
// Crafted TLPs through rc.receive() (no simulator). Written for behaviour the mutation run (npm run mutate) found
// untested.
import { describe, expect, test } from 'vitest';
import {
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_STATUS,
} from '../../tb/pcie/cfgspace';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { Attr, MsgCode, MsgRouting, encodeTlp, type Tlp } from '../../tb/pcie/tlp';
import { DEV, MPS128_MRRS512_EXT, mrd, mwr, setup, violation } from './crafted';
import { ScriptLink } from './support';

const ASSERT_A: Tlp = { type: 'Msg', routing: MsgRouting.Local, code: MsgCode.Assert_INTA, requesterId: DEV, tag: 0 };
const DEASSERT_A: Tlp = { ...ASSERT_A, code: MsgCode.Deassert_INTA };
/** Codes of the violations recorded since `from` (an index into rc.violations). */
const codes = (rc: RootComplex, from = 0) => rc.violations.slice(from).map((v) => v.code);

/** An RC on a scripted link that has not enumerated the device and was told nothing about it. */
function unenumerated(opts: RootComplexOptions = {}) {
  const link = new ScriptLink();
  const rc = new RootComplex(link, { seed: 5, latency: { min: 20, max: 20 }, violations: 'record', ...opts });
  const buf = rc.mem.alloc(0x4000, { name: 'buf', align: 0x1000 });
  const from = (t: Tlp, cycle = link.cycle): void => rc.receive({ ...encodeTlp(t), cycle });
  return { link, rc, buf, from };
}

/** A completion with data for the RC's request `t` (a config read: the 4 bytes of `dword`). */
function cplFor(t: Tlp, dword = 0, extra: Partial<Tlp> = {}): Tlp {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, dword, true);
  return {
    type: 'CplD',
    completerId: DEV,
    requesterId: t.requesterId,
    tag: t.tag,
    status: 0,
    byteCount: 4,
    lowerAddress: 0,
    data,
    ...extra,
  } as Tlp;
}

describe('controls at reset', () => {
  test('before any config write: Bus Master Enable clear, INTx allowed, Function Mask clear', () => {
    const { rc, from, buf } = unenumerated();
    from(mwr(buf.addr, 4), 5000); // long after the RC started: no grace period covers it
    expect(codes(rc)).toEqual(['bus-master']);
    from(ASSERT_A, 5001); // Interrupt Disable and MSI-X Enable are clear at reset
    expect(codes(rc)).toEqual(['bus-master']);
    expect(rc.intx.asserted('A')).toBe(true);
    // The Function Mask is clear at reset (MSI-X Enable too, so it has no say yet).
    expect(rc.shadow.msixUnmaskedAll.value).toBe(true);
  });

  test('with only Bus Master Enable written, the reset values of Device Control (2) apply', () => {
    const { rc, from, buf } = unenumerated();
    rc.startCfgWrite(PCI_COMMAND, PCI_COMMAND_MASTER, 2); // no enumeration, no stated settings
    from(mrd(buf.addr, 128, 40)); // MRRS 512; extended tags (reset value implementation specific: allowed)
    from(mwr(buf.addr, 128, { attr: Attr.RO | Attr.NS })); // MPS 128; RO and NS enabled at reset
    expect(codes(rc)).toEqual([]);
    from(mwr(buf.addr, 132));
    from(mrd(buf.addr, 129, 41));
    from(mrd(buf.addr, 1, 300));
    from(mrd(buf.addr, 1, 42, { attr: Attr.IDO }));
    expect(codes(rc)).toEqual(['mps', 'mrrs', 'tag-range', 'attributes']);
  });
});

describe('config accesses', () => {
  test('a partial config write changes only its enabled bytes of the shadow', () => {
    const { rc, from, buf } = unenumerated();
    rc.startCfgWrite(PCI_COMMAND, PCI_COMMAND_MASTER, 2);
    rc.startCfgWrite(PCI_STATUS, 0xffff, 2); // clearing the Status error bits leaves the Command register alone
    rc.runFor(1000);
    from(mwr(buf.addr, 4), rc.now);
    expect(codes(rc)).toEqual([]);
  });

  test('a partial config read keeps the other bytes of the dword as the RC knew them', () => {
    const { rc, from, buf, link } = setup();
    rc.shadow.noteRead(0x48, MPS128_MRRS512_EXT | (1 << 5)); // Device Control: MPS 256
    from(mwr(buf.addr, 256));
    // Device Status (the upper half of the dword) read on its own: Device Control stays known.
    link.responder = (t) => (t.type === 'CfgRd0' ? [cplFor(t, 0x0001_0000)] : []);
    expect(rc.cfgRead(0x4a, 2)).toBe(1);
    from(mwr(buf.addr, 256));
    expect(rc.shadow.devctl).toBe(MPS128_MRRS512_EXT | (1 << 5));
  });

  test('MPS and MRRS follow the PCI Express capability the RC knows, not only config traffic', () => {
    const { rc, from, buf } = setup();
    rc.shadow.noteRead(0x48, MPS128_MRRS512_EXT | (1 << 5)); // MPS 256
    from(mwr(buf.addr, 256));
    rc.shadow.pcieCap = undefined; // as for a function without the capability: the reset value, 128
    violation(() => from(mwr(buf.addr, 256)), 'mps', /exceeds Max_Payload_Size 128/);
  });

  test('the Requester ID check names where the ID came from', () => {
    const { from, buf } = setup();
    violation(
      () => from(mwr(buf.addr, 4, { requesterId: 0x0200 })),
      'requester-id',
      /is not the device's 01:00\.0 \(captured from config writes\)/,
    );
  });
});

describe('grace periods', () => {
  test('writing a control that is already off does not restart its grace period', () => {
    const { rc, from, buf } = setup({ grace: 64, violations: 'record' });
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x2, 1000); // Bus Master Enable cleared
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x402, 1100); // Interrupt Disable set, Bus Master Enable still clear
    from(mwr(buf.addr, 4), 1101);
    expect(codes(rc)).toEqual(['bus-master']);
  });
});

describe('functions without some capabilities', () => {
  // Vendor IDs whose bits, read as Device Control (2) or the ATS Control register, would enable something:
  // Intel's has bit 15 (ATS Enable) and MPS field 100b (2048); Red Hat's (virtio) has bit 12 (10-Bit Tag
  // Requester Enable) and bit 9 (IDO Completion Enable).
  for (const vendor of [0x8086, 0x1af4]) {
    test(`without a PCI Express or ATS capability the reset values apply (Vendor ID ${vendor.toString(16)})`, () => {
      const { rc, from, buf, link } = setup({ violations: 'record' });
      rc.shadow.pcieCap = undefined;
      rc.shadow.noteRead(0, (0x0001 << 16) | vendor); // the ID dword, as enumeration reads it
      from(mrd(buf.addr, 128, 40, { attr: Attr.RO | Attr.NS })); // MRRS 512, extended tags, RO, NS
      expect(codes(rc)).toEqual([]);
      from(mwr(buf.addr, 256));
      from(mrd(buf.addr, 1, 300));
      from(mrd(buf.addr, 1, 2, { at: 2 }));
      expect(codes(rc)).toEqual(['mps', 'tag-range', 'address-type']);
      link.responder = (t) => (t.type === 'MRd' ? [cplFor(t, 0, { attr: Attr.IDO })] : []);
      rc.memRead(0xc000_0000n, 4);
      expect(codes(rc, 3)).toEqual(['attributes']);
    });
  }

  test('Device Control 2 known with the IDO enables clear: IDO requests and completions are refused', () => {
    const { rc, from, buf, link } = setup({ violations: 'record' });
    rc.shadow.noteRead(0x68, PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN);
    from(mrd(buf.addr, 1, 300));
    expect(codes(rc)).toEqual([]);
    from(mrd(buf.addr, 1, 2, { attr: Attr.IDO }));
    link.responder = (t) => (t.type === 'MRd' ? [cplFor(t, 0, { attr: Attr.IDO })] : []);
    rc.memRead(0xc000_0000n, 4);
    expect(codes(rc)).toEqual(['attributes', 'attributes']);
  });

  test('an ATS capability whose Enable bit the RC saw clear: translated requests are refused', () => {
    const { rc, from, buf } = setup();
    rc.shadow.atsCap = 0x100;
    rc.shadow.noteRead(0x104, 0x0000_0020); // ATS Control: Enable clear (Smallest Translation Unit 0)
    violation(() => from(mrd(buf.addr, 1, 2, { at: 2 })), 'address-type', /ATS is not enabled/);
  });

  test('writing all-ones to the ID dword of a function without MSI-X does not enable MSI-X', () => {
    const { rc, from } = setup({ grace: 64 });
    rc.shadow.noteRead(0, 0x0001_8086);
    rc.shadow.noteWrite(0, 0xf, 0xffff_ffff, 100); // read-only: a test probing for writable bits
    from(ASSERT_A, 1000); // INTx is still allowed
    expect(rc.intx.asserted('A')).toBe(true);
  });

  test('INTx is allowed again once MSI-X is disabled (after the grace period)', () => {
    const { rc, from } = setup({ grace: 64 });
    rc.shadow.msixCap = 0x80;
    rc.shadow.noteWrite(0x80, 0xc, PCI_MSIX_FLAGS_ENABLE << 16, 100);
    violation(() => from(ASSERT_A, 200), 'intx', /MSI-X is enabled/);
    from(DEASSERT_A, 210);
    rc.shadow.noteWrite(0x80, 0xc, 0, 300);
    from(ASSERT_A, 400);
    expect(rc.intx.asserted('A')).toBe(true);
  });
});

describe('stated settings', () => {
  test('changing some settings keeps the others, Bus Master Enable included', () => {
    const { rc, from, buf } = unenumerated({ deviceId: DEV, device: { tenBitTags: true } });
    from(mrd(buf.addr, 1, 300));
    rc.setDeviceControl({ mps: 512 });
    rc.runFor(1000); // past any grace period
    from(mwr(buf.addr, 512), rc.now);
    from(mrd(buf.addr, 1, 301), rc.now);
    expect(codes(rc)).toEqual([]);
  });

  test('config traffic after a stated change does not bring back the earlier settings', () => {
    for (const traffic of ['read', 'write'] as const) {
      const { rc, from, buf, link } = unenumerated({ deviceId: DEV, device: { mps: 128 } });
      link.responder = (t) => (t.type === 'CfgRd0' ? [cplFor(t, 0x0001_1af4)] : []);
      from(mwr(buf.addr, 128));
      rc.setDeviceControl({ mps: 256 });
      if (traffic === 'read') rc.cfgRead(0);
      else rc.startCfgWrite(0x0c, 0x10, 1);
      from(mwr(buf.addr, 256), rc.now);
      expect(codes(rc), traffic).toEqual([]);
    }
  });
});

describe('the MSI-X table', () => {
  const TABLE = 0xc000_2000n;
  const BASE = 0xfee0_0000n;
  function table(vectors = 8, opts: RootComplexOptions = {}) {
    const s = setup({ grace: 64, ...opts });
    s.rc.shadow.msixCap = 0x80;
    s.rc.shadow.setMsixTable(TABLE, vectors);
    s.rc.shadow.noteWrite(0x80, 0xc, PCI_MSIX_FLAGS_ENABLE << 16, 0);
    const le32 = (v: number) => {
      const d = new Uint8Array(4);
      new DataView(d.buffer).setUint32(0, v, true);
      return d;
    };
    /** Address (8 bytes) and data of entry `v`, leaving its Vector Control as it is. */
    const program = (v: number, address: bigint, data: number, cycle: number) => {
      const e = new Uint8Array(12);
      new DataView(e.buffer).setBigUint64(0, address, true);
      new DataView(e.buffer).setUint32(8, data, true);
      s.rc.shadow.noteMemWrite(TABLE + BigInt(16 * v), e, cycle);
    };
    const setMask = (v: number, masked: boolean, cycle: number) =>
      s.rc.shadow.noteMemWrite(TABLE + BigInt(16 * v + 12), le32(masked ? 1 : 0), cycle);
    const msg = (address: bigint, data: number) => mwr(address, 4, { data: le32(data) });
    return { ...s, le32, program, setMask, msg };
  }

  test('every vector is masked from reset until its Vector Control is written', () => {
    const { rc, from, program, setMask, msg } = table();
    for (const v of [0, 1, 5]) program(v, BASE + BigInt(v << 12), 0x40 + v, 0);
    for (const v of [0, 1, 5]) violation(() => from(msg(BASE + BigInt(v << 12), 0x40 + v), 1000), 'msix', /masked/);
    setMask(5, false, 1100);
    from(msg(BASE + 0x5000n, 0x45), 1101);
    expect(rc.interrupts.map((e) => e.vector)).toEqual([0, 1, 5, 5]);
  });

  test('masking a vector starts its grace period; writes to other entries do not restart it', () => {
    const { from, program, setMask, msg } = table();
    for (const v of [1, 2]) {
      program(v, BASE, 0x40 + v, 0);
      setMask(v, false, 0);
    }
    setMask(1, true, 1000);
    from(msg(BASE, 0x41), 1000); // the device cannot have seen the mask yet
    program(2, BASE, 0x52, 1100); // another entry changed
    violation(() => from(msg(BASE, 0x41), 1101), 'msix', /masked vector 1/);
  });

  test('a table write changes the bytes it covers, no more, no fewer', () => {
    const { rc, from, program, setMask, msg, le32 } = table();
    program(0, BASE + 0x40n, 0x1234, 0); // the table's first byte: 0x40
    setMask(0, false, 0);
    from(msg(BASE + 0x40n, 0x1234), 10);
    // New Message Data for a masked vector: it stays masked.
    program(1, BASE, 0x77, 0);
    rc.shadow.noteMemWrite(TABLE + 16n + 8n, le32(0x99), 1000);
    violation(() => from(msg(BASE, 0x99), 1100), 'msix', /masked vector 1/);
  });

  test('a message matches a vector by address and data together', () => {
    const { from, program, setMask, msg } = table();
    for (const v of [3, 4]) {
      program(v, BASE + BigInt(v << 12), 0x4000 + v, 0);
      setMask(v, false, 0);
    }
    from(msg(BASE + 0x3000n, 0x4003), 10);
    violation(
      () => from(msg(BASE + 0x4000n, 0x4003), 11),
      'msix',
      /address 0xfee04000 data 0x4003 matches no programmed MSI-X vector/,
    );
  });

  test('no message matches past the end of the table', () => {
    // With the MSI window at address 0, a message of address 0 and data 0 looks like an entry never written.
    const { from, program, setMask, msg } = table(2, { msiWindow: { base: 0n, size: 0x1000 } });
    for (const v of [0, 1]) {
      program(v, 0x10n + BigInt(4 * v), 0x40 + v, 0);
      setMask(v, false, 0);
    }
    from(msg(0x14n, 0x41), 10);
    violation(() => from(msg(0n, 0), 11), 'msix', /address 0x0 data 0x0 matches no programmed MSI-X vector/);
  });

  test('a message before the RC knows of any table is a violation', () => {
    const { rc, from } = unenumerated({ deviceId: DEV, device: {} });
    from(mwr(BASE, 4));
    expect(codes(rc)).toEqual(['msix']);
    expect(rc.violations[0].message).toMatch(/matches no programmed MSI-X vector/);
  });
});
