// testdev configuration space through the root complex model: IDs, BAR sizing, the capability list,
// writable and read-only bits, byte enables, Completer ID capture, and UR for what a single-function
// endpoint lacks (other functions, type-1 configuration, locked reads: through the RC's raw request API, as the
// RC never issues them).
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { CapId, CapOffset, cfgSpaceLayout, PcieCapReg } from '../../gen/pcie/cfg_space';
import { MSIX_PBA_OFFSET, MSIX_VECTORS } from '../../gen/testdev/regs';
import { TESTDEV_CFG, TESTDEV_WIDTHS } from '../../gen/testdev/top';
import { CplStatus, decodeTlp, encodeTlp, pcieId, type Tlp } from '../../tb/pcie/tlp';
import { seededTest } from '../support/seeds';
import { boot, buildSim, closeBenches, lastFromDevice, testdevPorts } from './support';

afterEach(closeBenches);

describe.each(TESTDEV_WIDTHS)('testdev_w%i configuration space', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = testdevPorts(W);
    buildSim(ports);
  });
  const devctl = CapOffset.PciExpress + PcieCapReg.DevCtl;
  const devsta = CapOffset.PciExpress + PcieCapReg.DevSta;

  seededTest('identity: vendor/device, class, revision, header type, subsystem, status', (seed) => {
    const { rc } = boot(ports, seed);
    const c = TESTDEV_CFG;
    expect(rc.cfgRead(0x00)).toBe(((c.deviceId << 16) | c.vendorId) >>> 0);
    expect(rc.cfgRead(0x08)).toBe(((c.classCode << 8) | c.revisionId) >>> 0);
    expect(rc.cfgRead8(0x0e), 'header type 0, single function').toBe(0);
    expect(rc.cfgRead(0x2c)).toBe(((c.subsystemId << 16) | c.subsystemVendorId) >>> 0);
    const cmdStatus = rc.cfgRead(0x04);
    expect(cmdStatus & 0xffff, 'command resets to 0').toBe(0);
    expect((cmdStatus >>> 16) & 0x10, 'capabilities list').toBe(0x10);
    expect(rc.cfgRead8(0x3d), 'no INTx pin').toBe(0);
    // Read-only: writes to the IDs are ignored.
    rc.cfgWrite(0x00, 0xdeadbeef);
    expect(rc.cfgRead(0x00)).toBe(((c.deviceId << 16) | c.vendorId) >>> 0);
  });

  seededTest('BAR sizing: all-ones reads back the size mask with the type bits; enumeration assigns', (seed) => {
    const { rc } = boot(ports, seed);
    for (let off = 0x10; off <= 0x24; off += 4) rc.cfgWrite(off, 0xffffffff);
    expect(rc.cfgRead(0x10), 'BAR0: 64 KiB, 64-bit, prefetchable').toBe(0xffff000c);
    expect(rc.cfgRead(0x14), 'BAR1: upper half of BAR0').toBe(0xffffffff);
    expect(rc.cfgRead(0x18), 'BAR2: 4 KiB, 32-bit, non-prefetchable').toBe(0xfffff000);
    for (const off of [0x1c, 0x20, 0x24]) expect(rc.cfgRead(off), `BAR at 0x${off.toString(16)} unimplemented`).toBe(0);
    expect(rc.cfgRead(0x30), 'no expansion ROM').toBe(0);
    const { bars } = rc.enumerate();
    const [b0, , b2] = bars;
    expect(b0).toMatchObject({ kind: 'mem64', prefetchable: true, size: 0x10000n });
    expect(b2).toMatchObject({ kind: 'mem32', prefetchable: false, size: 0x1000n });
    expect(b0!.address >> 32n, 'BAR0 above 4 GB').not.toBe(0n);
    expect(rc.cfgRead(0x10)).toBe((Number(b0!.address & 0xffff_ffffn) | 0xc) >>> 0);
    expect(rc.cfgRead(0x14)).toBe(Number(b0!.address >> 32n));
    expect(rc.cfgRead(0x18)).toBe(Number(b2!.address));
    // Byte enables: rewrite only byte 3 of BAR2.
    rc.cfgWrite8(0x1b, 0x12);
    expect(rc.cfgRead(0x18)).toBe(((0x12 << 24) | (Number(b2!.address) & 0x00ff_ffff)) >>> 0);
  });

  seededTest('capability list: PCI Express, MSI-X, Power Management; extended space ends at once', (seed) => {
    const { rc } = boot(ports, seed);
    const found: [number, number][] = [];
    for (let p = rc.cfgRead(0x34) & 0xfc; p;) {
      const hdr = rc.cfgRead(p);
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
    const flags = rc.cfgRead(e) >>> 16;
    expect(flags & 0xf, 'capability version 2').toBe(2);
    expect((flags >>> 4) & 0xf, 'device/port type: endpoint').toBe(0);
    const devcap = rc.cfgRead(e + PcieCapReg.DevCap);
    expect(devcap & 7, 'MPS supported: 512 B').toBe(TESTDEV_CFG.mpsSupported);
    expect((devcap >>> 5) & 1, 'extended tag supported').toBe(1);
    expect((devcap >>> 15) & 1, 'role-based error reporting').toBe(1);
    const dc = rc.cfgRead16(devctl);
    expect((dc >>> 5) & 7, 'MPS resets to 128 B').toBe(0);
    expect((dc >>> 12) & 7, 'MRRS resets to 512 B').toBe(2);
    const lnk = rc.cfgRead(e + PcieCapReg.LnkCap);
    expect(lnk & 0xf).toBe(TESTDEV_CFG.linkSpeed);
    expect((lnk >>> 4) & 0x3f).toBe(TESTDEV_CFG.linkWidth);

    const x = CapOffset.Msix;
    const mc = rc.cfgRead(x) >>> 16;
    expect(mc & 0x7ff, 'table size N-1').toBe(MSIX_VECTORS - 1);
    expect(mc & 0xc000, 'MSI-X disabled, function unmasked at reset').toBe(0);
    expect(rc.cfgRead(x + 4), 'table: BAR2 offset 0').toBe(2);
    expect(rc.cfgRead(x + 8), 'PBA: BAR2 offset 0x800').toBe(MSIX_PBA_OFFSET | 2);

    const pm = CapOffset.PowerManagement;
    expect((rc.cfgRead(pm) >>> 16) & 7, 'PM version 3').toBe(3);
    expect(rc.cfgRead(pm + 4) & 0xf, 'D0, No_Soft_Reset').toBe(0b1000);

    expect(rc.cfgRead(0x100), 'null extended capability header').toBe(0);
    for (const off of [0x98, 0xfc, 0x104, 0xffc]) expect(rc.cfgRead(off), `0x${off.toString(16)} reads 0`).toBe(0);
    rc.cfgWrite(0x98, 0xffffffff);
    expect(rc.cfgRead(0x98), 'writes to unimplemented registers are ignored').toBe(0);
  });

  seededTest('every implemented dword: read-only bits hold, RW bits take writes under the byte enables', (seed) => {
    const { rc } = boot(ports, seed);
    for (const d of cfgSpaceLayout(TESTDEV_CFG)) {
      if (d.offset === 0x04) continue; // Command: enabling Bus Master etc. is harmless but tested elsewhere
      rc.cfgWrite(d.offset, 0xffffffff);
      const all = rc.cfgRead(d.offset);
      expect((all & ~(d.rw | d.w1c | d.live)) >>> 0, `0x${d.offset.toString(16)} ${d.name}: read-only bits`).toBe(
        (d.init & ~(d.rw | d.w1c | d.live)) >>> 0,
      );
      rc.cfgWrite(d.offset, 0);
      const none = rc.cfgRead(d.offset);
      expect((none & d.rw) >>> 0, `0x${d.offset.toString(16)} ${d.name}: RW bits cleared`).toBe(0);
      if (d.name === 'pm_csr') continue; // PowerState 11 is D3hot, tested in mmio.test.ts
      expect((all & d.rw) >>> 0, `0x${d.offset.toString(16)} ${d.name}: RW bits set`).toBe(d.rw);
    }
  });

  seededTest('Device Control: MPS, MRRS, extended tag enable writable byte by byte', (seed) => {
    const { rc } = boot(ports, seed);
    const before = rc.cfgRead(devctl);
    rc.cfgWrite8(devctl + 1, ((3 << 12) | (1 << 8)) >> 8); // byte 1 only: MRRS = 1 KiB, extended tag on
    const v = rc.cfgRead(devctl);
    expect((v >>> 12) & 7).toBe(3);
    expect((v >>> 8) & 1).toBe(1);
    expect(v & 0xff, 'byte 0 unchanged').toBe(before & 0xff);
    rc.cfgWrite8(devctl, 2 << 5); // byte 0 only: MPS = 512 B
    expect((rc.cfgRead(devctl) >>> 5) & 7).toBe(2);
  });

  // The RC checks the Completer ID of every completion once it has written config space; here the
  // completions themselves, before and after the first write.
  seededTest('Completer ID: captured from a type-0 configuration write', (seed) => {
    const { rc, tap, sim } = boot(ports, seed);
    const completerId = () => {
      const c = lastFromDevice(tap);
      return c.type === 'Cpl' || c.type === 'CplD' ? c.completerId : -1;
    };
    rc.cfgRead(0x00);
    expect(completerId(), 'before any configuration write').toBe(0);
    rc.cfgWrite(0x3c, 0x0b);
    expect(completerId(), 'the write completion already carries the new ID').toBe(rc.opts.deviceId);
    expect(rc.cfgRead(0x3c) & 0xff, 'Interrupt Line is a scratch byte').toBe(0x0b);
    expect(completerId()).toBe(rc.opts.deviceId);
    expect(rc.opts.deviceId).toBe(pcieId(1, 0, 0));
    expect(sim.peek('completer_id')).toBe(BigInt(rc.opts.deviceId));
  });

  // Requests a root complex does not make to an endpoint go out through the raw request API, which returns the
  // device's completions as they came (decoded, unchecked); the RC's checks stay on ('throw') for everything else.
  seededTest('UR: other functions, type-1 configuration, locked reads; messages are dropped', (seed) => {
    const { rc, tap } = boot(ports, seed);
    rc.cfgWrite8(0x3c, 0); // the device captures its bus/device number: the Completer ID of what follows
    const req = { requesterId: 0, tag: 0 }; // the RC writes its own ID and a tag of its own over these
    /** Sends `r` raw and checks its one answer: UR with the device's Completer ID and the request's tag. */
    const expectUr = (r: Tlp, type: string, byteCount: number, lowerAddress: number) => {
      const cpls = rc.rawRequest(r);
      const tag = decodeTlp(tap.toDevice.at(-1)!.raw).tag; // the tag the RC gave the request
      expect(
        cpls.map((c) => ({
          type: c.type,
          status: c.status,
          completerId: c.completerId,
          requesterId: c.requesterId,
          tag: c.tag,
          byteCount: c.byteCount,
          lowerAddress: c.lowerAddress,
        })),
        `${r.type} answered`,
      ).toEqual([
        {
          type,
          status: CplStatus.UR,
          completerId: rc.opts.deviceId,
          requesterId: rc.opts.rcId,
          tag,
          byteCount,
          lowerAddress,
        },
      ]);
      return tag;
    };
    const tags = [
      // Function 1 does not exist.
      expectUr({ type: 'CfgRd0', completerId: pcieId(1, 0, 1), offset: 0, firstBe: 0xf, ...req }, 'Cpl', 4, 0),
      // An endpoint does not forward type-1 requests (reads and writes alike).
      expectUr({ type: 'CfgRd1', completerId: rc.opts.deviceId, offset: 0, firstBe: 0xf, ...req }, 'Cpl', 4, 0),
      expectUr(
        {
          type: 'CfgWr1',
          completerId: rc.opts.deviceId,
          offset: 0x3c,
          firstBe: 1,
          data: Uint8Array.of(5, 0, 0, 0),
          ...req,
        },
        'Cpl',
        4,
        0,
      ),
      // A locked read gets a locked completion with UR, with the byte count and lower address of a memory read:
      // 2 DW at 0x1004, bytes 1..3 of the first and 0..1 of the second enabled: 5 bytes from 0x1005.
      expectUr({ type: 'MRdLk', address: 0x1004n, length: 2, firstBe: 0xe, lastBe: 0x3, ...req }, 'CplLk', 5, 0x05),
    ];
    expect(new Set(tags).size, 'each request had a tag of its own').toBe(tags.length);

    // A message (Vendor_Defined Type 1) is dropped silently: no answer.
    const before = tap.fromDevice.length;
    rc.sendRaw(encodeTlp({ type: 'Msg', routing: 0b100, code: 0x7f, requesterId: rc.opts.rcId, tag: 0 }));
    rc.runFor(500);
    expect(tap.fromDevice.length, 'no answer to the message').toBe(before);

    expect(rc.cfgRead16(devsta) & 0x8, 'Unsupported Request Detected').toBe(0x8);
    rc.cfgWrite8(devsta, 0x8);
    expect(rc.cfgRead16(devsta) & 0x8, 'RW1C').toBe(0);
  });
});
