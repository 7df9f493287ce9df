// testdev configuration space through the simulator: IDs, BAR sizing, the capability list, writable and
// read-only bits, byte enables, Completer ID capture, and UR for what a single-function endpoint lacks.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CapId, CapOffset, cfgSpaceLayout, PcieCapReg } from '../../gen/pcie/cfg_space';
import { MSIX_PBA_OFFSET, MSIX_VECTORS } from '../../gen/testdev/regs';
import { TESTDEV_CFG, type TestdevWidth } from '../../gen/testdev/top';
import { CplStatus, encodeTlp, pcieId } from '../../tb/pcie/tlp';
import { enumerate, generateTestdev, Host } from './support';

const hosts: Host[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.close();
});

describe.each([64, 256] as TestdevWidth[])('testdev_w%i configuration space', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = generateTestdev(W);
  });
  const open = () => {
    const h = new Host(ports);
    hosts.push(h);
    return h;
  };

  test('identity: vendor/device, class, revision, header type, subsystem, status', () => {
    const h = open();
    const c = TESTDEV_CFG;
    expect(h.cfgRead(0x00)).toBe(((c.deviceId << 16) | c.vendorId) >>> 0);
    expect(h.cfgRead(0x08)).toBe(((c.classCode << 8) | c.revisionId) >>> 0);
    expect((h.cfgRead(0x0c) >>> 16) & 0xff, 'header type 0, single function').toBe(0);
    expect(h.cfgRead(0x2c)).toBe(((c.subsystemId << 16) | c.subsystemVendorId) >>> 0);
    const cmdStatus = h.cfgRead(0x04);
    expect(cmdStatus & 0xffff, 'command resets to 0').toBe(0);
    expect((cmdStatus >>> 16) & 0x10, 'capabilities list').toBe(0x10);
    expect(h.cfgRead(0x3c) >>> 8 & 0xff, 'no INTx pin').toBe(0);
    // Read-only: writes to the IDs are ignored.
    h.cfgWrite(0x00, 0xdeadbeef);
    expect(h.cfgRead(0x00)).toBe(((c.deviceId << 16) | c.vendorId) >>> 0);
  });

  test('BAR sizing: all-ones reads back the size mask with the type bits', () => {
    const h = open();
    for (let off = 0x10; off <= 0x24; off += 4) h.cfgWrite(off, 0xffffffff);
    expect(h.cfgRead(0x10), 'BAR0: 64 KiB, 64-bit, prefetchable').toBe(0xffff000c);
    expect(h.cfgRead(0x14), 'BAR1: upper half of BAR0').toBe(0xffffffff);
    expect(h.cfgRead(0x18), 'BAR2: 4 KiB, 32-bit, non-prefetchable').toBe(0xfffff000);
    for (const off of [0x1c, 0x20, 0x24]) expect(h.cfgRead(off), `BAR at 0x${off.toString(16)} unimplemented`).toBe(0);
    expect(h.cfgRead(0x30), 'no expansion ROM').toBe(0);
    const e = enumerate(h, { bar0: 0x2_4000_0000n, bar2: 0xfeb0_0000n });
    expect(e.bar0Size).toBe(0x10000n);
    expect(e.bar2Size).toBe(0x1000n);
    expect(h.cfgRead(0x10)).toBe(0x4000_000c);
    expect(h.cfgRead(0x14)).toBe(2);
    expect(h.cfgRead(0x18)).toBe(0xfeb0_0000);
    // Byte enables: rewrite only byte 3 of BAR2.
    h.cfgWrite(0x18, 0x12ffffff, 0b1000);
    expect(h.cfgRead(0x18)).toBe(0x12b0_0000);
  });

  test('capability list: PCI Express, MSI-X, Power Management; extended space ends at once', () => {
    const h = open();
    const found: [number, number][] = [];
    for (let p = h.cfgRead(0x34) & 0xfc; p; ) {
      const hdr = h.cfgRead(p);
      found.push([p, hdr & 0xff]);
      p = (hdr >>> 8) & 0xfc;
      expect(found.length).toBeLessThan(48);
    }
    expect(found).toEqual([
      [CapOffset.PciExpress, CapId.PciExpress],
      [CapOffset.Msix, CapId.Msix],
      [CapOffset.PowerManagement, CapId.PowerManagement],
    ]);

    const e = CapOffset.PciExpress;
    const flags = h.cfgRead(e) >>> 16;
    expect(flags & 0xf, 'capability version 2').toBe(2);
    expect((flags >>> 4) & 0xf, 'device/port type: endpoint').toBe(0);
    const devcap = h.cfgRead(e + PcieCapReg.DevCap);
    expect(devcap & 7, 'MPS supported: 512 B').toBe(TESTDEV_CFG.mpsSupported);
    expect((devcap >>> 5) & 1, 'extended tag supported').toBe(1);
    expect((devcap >>> 15) & 1, 'role-based error reporting').toBe(1);
    const devctl = h.cfgRead(e + PcieCapReg.DevCtl) & 0xffff;
    expect((devctl >>> 5) & 7, 'MPS resets to 128 B').toBe(0);
    expect((devctl >>> 12) & 7, 'MRRS resets to 512 B').toBe(2);
    const lnk = h.cfgRead(e + PcieCapReg.LnkCap);
    expect(lnk & 0xf).toBe(TESTDEV_CFG.linkSpeed);
    expect((lnk >>> 4) & 0x3f).toBe(TESTDEV_CFG.linkWidth);

    const x = CapOffset.Msix;
    const mc = h.cfgRead(x) >>> 16;
    expect(mc & 0x7ff, 'table size N-1').toBe(MSIX_VECTORS - 1);
    expect(mc & 0xc000, 'MSI-X disabled, function unmasked at reset').toBe(0);
    expect(h.cfgRead(x + 4), 'table: BAR2 offset 0').toBe(2);
    expect(h.cfgRead(x + 8), 'PBA: BAR2 offset 0x800').toBe(MSIX_PBA_OFFSET | 2);

    const pm = CapOffset.PowerManagement;
    expect((h.cfgRead(pm) >>> 16) & 7, 'PM version 3').toBe(3);
    expect(h.cfgRead(pm + 4) & 0xf, 'D0, No_Soft_Reset').toBe(0b1000);

    expect(h.cfgRead(0x100), 'null extended capability header').toBe(0);
    for (const off of [0x98, 0xfc, 0x104, 0xffc]) expect(h.cfgRead(off), `0x${off.toString(16)} reads 0`).toBe(0);
    h.cfgWrite(0x98, 0xffffffff);
    expect(h.cfgRead(0x98), 'writes to unimplemented registers are ignored').toBe(0);
  });

  test('every implemented dword: read-only bits hold, RW bits take writes under the byte enables', () => {
    const h = open();
    for (const d of cfgSpaceLayout(TESTDEV_CFG)) {
      if (d.offset === 0x04) continue; // Command: enabling Bus Master etc. is harmless but tested elsewhere
      h.cfgWrite(d.offset, 0xffffffff);
      const all = h.cfgRead(d.offset);
      expect((all & ~(d.rw | d.w1c | d.live)) >>> 0, `0x${d.offset.toString(16)} ${d.name}: read-only bits`).toBe((d.init & ~(d.rw | d.w1c | d.live)) >>> 0);
      h.cfgWrite(d.offset, 0);
      const none = h.cfgRead(d.offset);
      expect((none & d.rw) >>> 0, `0x${d.offset.toString(16)} ${d.name}: RW bits cleared`).toBe(0);
      if (d.name === 'pm_csr') continue; // PowerState 11 is D3hot, tested below
      expect((all & d.rw) >>> 0, `0x${d.offset.toString(16)} ${d.name}: RW bits set`).toBe(d.rw);
    }
  });

  test('Device Control: MPS, MRRS, extended tag enable writable byte by byte', () => {
    const h = open();
    const devctl = CapOffset.PciExpress + PcieCapReg.DevCtl;
    const before = h.cfgRead(devctl);
    h.cfgWrite(devctl, (3 << 12) | (1 << 8), 0b0010); // byte 1 only: MRRS = 1 KiB, extended tag on
    const v = h.cfgRead(devctl);
    expect((v >>> 12) & 7).toBe(3);
    expect((v >>> 8) & 1).toBe(1);
    expect(v & 0xff, 'byte 0 unchanged').toBe(before & 0xff);
    h.cfgWrite(devctl, 2 << 5, 0b0001); // MPS = 512 B
    expect((h.cfgRead(devctl) >>> 5) & 7).toBe(2);
  });

  test('Completer ID: captured from a type-0 configuration write', () => {
    const h = open();
    const first = h.cfgReadRaw(0x00);
    expect(first.cpl.type === 'CplD' && first.cpl.completerId, 'before any configuration write').toBe(0);
    const wr = h.cfgWrite(0x3c, 0x0b);
    expect(wr.type === 'Cpl' && wr.completerId, 'the write completion already carries the new ID').toBe(h.devId);
    const c = h.cfgReadRaw(0x3c);
    expect(c.cpl.type === 'CplD' && c.cpl.completerId).toBe(h.devId);
    expect(c.value & 0xff, 'Interrupt Line is a scratch byte').toBe(0x0b);
    expect(h.sim.peek('completer_id')).toBe(BigInt(pcieId(1, 0, 0)));
  });

  test('UR: other functions, type-1 configuration, locked reads; messages are dropped', () => {
    const h = open();
    const fn1 = h.cfgReadRaw(0x00, { fn: 1 });
    expect(fn1.status, 'function 1 does not exist').toBe(CplStatus.UR);
    expect(fn1.cpl.type).toBe('Cpl');
    const t1 = h.cfgReadRaw(0x00, { type1: true });
    expect(t1.status, 'an endpoint does not forward type-1 requests').toBe(CplStatus.UR);
    const [lk] = h.request({ type: 'MRdLk', address: 0x1000n, length: 1, firstBe: 0xf, lastBe: 0, requesterId: h.rcId, tag: 0 }, 'MRdLk');
    expect(lk.type === 'CplLk' && lk.status, 'a locked read is answered with a locked completion, UR').toBe(CplStatus.UR);
    h.sim.send(encodeTlp({ type: 'Msg', routing: 0b100, code: 0x7f, requesterId: h.rcId, tag: 0 })); // Vendor_Defined Type 1
    h.idle(50);
    expect(h.sent.filter((t) => !t.type.startsWith('Cpl')), 'nothing but completions sent').toEqual([]);
    expect(h.sent.length, 'no answer to the message').toBe(3);
    const devsta = h.cfgRead(CapOffset.PciExpress + PcieCapReg.DevCtl) >>> 16;
    expect(devsta & 0x8, 'Unsupported Request Detected').toBe(0x8);
    h.cfgWrite(CapOffset.PciExpress + PcieCapReg.DevCtl, 0x8 << 16, 0b0100);
    expect((h.cfgRead(CapOffset.PciExpress + PcieCapReg.DevCtl) >>> 16) & 0x8, 'RW1C').toBe(0);
  });
});
