// The negative cases of issue 7 against the RTL endpoint, every read checked by the golden model: refused
// feature sets, invalid queue sizes, queue writes while enabled, accesses of every width and alignment (also
// straddling structures, past the BAR, too long), configuration traffic of every shape, writes to read-only
// configuration fields, MMIO with memory decode off and in D3hot, DMA and MSI-X without bus mastering, resets and
// Function Level Reset with DMA outstanding, INTx, the PCI_CFG window.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_LAYOUT, PTILE_LAYOUT, type VirtioPciLayout } from '../../gen/virtio/layout';
import { RTL_TRANSPORT_FEATURES } from '../../gen/virtio/regs';
import { VirtioEndpoint } from '../../gen/virtio/top';
import { COMMON, STATUS, VIRTIO_CAP_FIELD, VIRTIO_MSI_NO_VECTOR, featureMask } from '../../gen/virtio/regmap';
import { Rng } from '../../sim/random';
import {
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVSTA,
  PCI_INTERRUPT_LINE,
  PCI_STATUS,
  PCI_STATUS_SIG_TARGET_ABORT,
} from '../../tb/pcie/cfgspace';
import { CompletionStatusError } from '../../tb/pcie/errors';
import type { RootComplex } from '../../tb/pcie/rootcomplex';
import { decodeTlp, encodeTlp, MsgCode } from '../../tb/pcie/tlp';
import { VirtioPciDriver } from '../../tb/virtio/driver/driver';
import { windowRead, windowWrite } from '../../tb/virtio/driver/pcicfg';
import { seededTest } from '../support/seeds';
import { buildSim, failedWith } from '../testdev/support';
import { closeRtlBenches, endpointPorts, rtlBench, type RtlBench } from './rtl-support';
import { RING_RESET_LAYOUT as RR } from './support';

afterEach(closeRtlBenches);

/** BAR-relative accessors for the common configuration (after enumeration). */
function commonOf(rc: RootComplex, layout: VirtioPciLayout = DEFAULT_LAYOUT) {
  const base = () => rc.device!.bars[layout.common.bar]!.address + BigInt(layout.common.offset);
  return {
    r8: (f: string) => rc.read8(base() + BigInt(COMMON[f])),
    r16: (f: string) => rc.read16(base() + BigInt(COMMON[f])),
    r32: (f: string) => rc.read32(base() + BigInt(COMMON[f])),
    w8: (f: string, v: number) => rc.write8(base() + BigInt(COMMON[f]), v),
    w16: (f: string, v: number) => rc.write16(base() + BigInt(COMMON[f]), v),
    w32: (f: string, v: number) => rc.write32(base() + BigInt(COMMON[f]), v),
  };
}

const L = DEFAULT_LAYOUT;
const PCIE = L.caps.at.pcie!;
const DEVCTL = PCIE + PCI_EXP_DEVCTL;
const DEVSTA = PCIE + PCI_EXP_DEVSTA;
const PMCSR = L.caps.at.pm! + 4;
const RUNNING = STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK;

describe.each([
  ['W=64', 64],
  ['W=256', 256],
] as const)('%s', (_w, W) => {
  let ports = '';
  beforeAll(() => {
    ports = endpointPorts(L, W);
    buildSim(ports);
  }, 300_000);
  const bench = (seed: number, opts: Parameters<typeof rtlBench>[3] = {}): RtlBench => rtlBench(ports, L, seed, opts);

  seededTest('feature sets the device must refuse: FEATURES_OK reads back clear', (seed) => {
    const b = bench(seed);
    b.rc.enumerate();
    const c = commonOf(b.rc);
    const attempt = (names: string[], extra = 0n) => {
      c.w8('device_status', 0);
      expect(c.r8('device_status')).toBe(0);
      c.w8('device_status', STATUS.ACKNOWLEDGE | STATUS.DRIVER);
      const f = featureMask(names, 'blk') | extra;
      c.w32('driver_feature_select', 0);
      c.w32('driver_feature', Number(f & 0xffff_ffffn));
      c.w32('driver_feature_select', 1);
      c.w32('driver_feature', Number(f >> 32n));
      c.w8('device_status', STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
      return c.r8('device_status');
    };
    const driverOnly = STATUS.ACKNOWLEDGE | STATUS.DRIVER;
    expect(attempt(['VIRTIO_BLK_F_MQ']), 'no VERSION_1').toBe(driverOnly);
    expect(attempt(['VIRTIO_F_VERSION_1', 'VIRTIO_BLK_F_FLUSH']), 'a feature not offered').toBe(driverOnly);
    expect(attempt(['VIRTIO_F_VERSION_1'], 1n << 50n), 'a bit beyond every feature').toBe(driverOnly);
    expect(attempt(['VIRTIO_F_VERSION_1', 'VIRTIO_F_RING_PACKED'])).toBe(driverOnly | STATUS.FEATURES_OK);
    // Features are final once FEATURES_OK is set: driver_feature ignores writes.
    c.w32('driver_feature_select', 1);
    c.w32('driver_feature', 0);
    expect(c.r32('driver_feature')).toBe(
      Number(featureMask(['VIRTIO_F_VERSION_1', 'VIRTIO_F_RING_PACKED'], 'blk') >> 32n),
    );
    expect(b.sim.peek('dp_features')).toBe(featureMask(['VIRTIO_F_VERSION_1', 'VIRTIO_F_RING_PACKED'], 'blk'));
    expect(b.link.mismatches).toEqual([]);
  });

  seededTest('invalid queue sizes and queue writes while the queue is enabled are ignored', (seed) => {
    const b = bench(seed);
    const drv = new VirtioPciDriver(b.rc, { driverFeatures: ['VIRTIO_BLK_F_MQ'] }); // split rings
    drv.probe();
    const c = commonOf(b.rc);
    c.w16('queue_select', 1);
    const before = { size: c.r16('queue_size'), vector: c.r16('queue_msix_vector'), desc: c.r32('queue_desc') };
    c.w16('queue_size', 2);
    c.w16('queue_msix_vector', 0);
    c.w32('queue_desc', 0x4000);
    c.w16('queue_enable', 0);
    expect({ size: c.r16('queue_size'), vector: c.r16('queue_msix_vector'), desc: c.r32('queue_desc') }).toEqual(
      before,
    );
    expect(c.r16('queue_enable')).toBe(1);
    // After a reset the queue is writable again; only powers of two up to the maximum stick (split rings).
    drv.io!.reset(10);
    c.w16('queue_select', 0);
    for (const bad of [0, 3, 48, 512, 0x8000]) {
      c.w16('queue_size', bad);
      expect(c.r16('queue_size'), `size ${bad}`).toBe(L.queues.maxSize);
    }
    c.w16('queue_size', 32);
    expect(c.r16('queue_size')).toBe(32);
    c.w16('queue_msix_vector', L.msix.vectors); // past the table
    expect(c.r16('queue_msix_vector')).toBe(VIRTIO_MSI_NO_VECTOR);
    // With RING_PACKED accepted, any size up to the maximum.
    c.w32('driver_feature_select', 1);
    c.w32('driver_feature', Number(featureMask(['VIRTIO_F_VERSION_1', 'VIRTIO_F_RING_PACKED'], 'blk') >> 32n));
    c.w16('queue_size', 48);
    expect(c.r16('queue_size')).toBe(48);
    // A queue past num_queues reads 0 and ignores writes.
    c.w16('queue_select', L.queues.count);
    c.w16('queue_size', 16);
    expect(c.r16('queue_size')).toBe(0);
    expect(b.link.mismatches).toEqual([]);
  });

  seededTest(
    'random MMIO of every width and alignment (straddling, past the BAR, too long) neither hangs nor corrupts',
    (seed) => {
      const b = bench(seed);
      const rng = new Rng(seed).fork(0x51);
      new VirtioPciDriver(b.rc).probe();
      const bar = L.bars[0];
      const base = b.rc.device!.bars[bar.index]!.address;
      const hot = [
        L.common,
        L.isr,
        L.notify,
        L.device!,
        { offset: L.msix.table.offset },
        { offset: L.msix.pba.offset },
      ];
      let ur = 0;
      let ca = 0;
      let reads = 0;
      for (let i = 0; i < 300; i++) {
        const off = rng.chance(0.15)
          ? bar.size - 8 + rng.int(-8, 12)
          : rng.chance(0.8)
            ? Math.max(0, rng.pick(hot).offset + rng.int(-4, 0x44))
            : rng.below(bar.size);
        const len = rng.pick([1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 33, 64, 132, 200]);
        const addr = base + BigInt(off);
        if (rng.chance(0.6)) {
          try {
            b.rc.memRead(addr, len);
            reads++;
          } catch (e) {
            if (!(e instanceof CompletionStatusError)) throw e;
            if (e.status === 'UR') ur++;
            else if (e.status === 'CA') ca++;
            else throw e;
          }
        } else b.rc.memWrite(addr, rng.bytes(len));
      }
      b.rc.settle();
      expect(reads).toBeGreaterThan(80);
      expect(ur).toBeGreaterThan(0);
      expect(ca).toBeGreaterThan(0);
      expect(b.rc.cfgRead16(PCI_STATUS) & PCI_STATUS_SIG_TARGET_ABORT).toBe(PCI_STATUS_SIG_TARGET_ABORT);
      expect(b.link.checkedReads).toBeGreaterThan(80);
      expect(b.link.mismatches).toEqual([]);
      // Not corrupted: a driver takes the device from scratch again.
      expect(new VirtioPciDriver(b.rc).probe().setup.vqs).toHaveLength(L.queues.count);
      expect(b.link.mismatches).toEqual([]);
    },
    { timeout: 180_000 },
  );

  test('every width at every offset of the common configuration, the ISR and the device configuration', () => {
    const b = bench(3, { rc: { maxMmioRead: 128 } });
    b.rc.enumerate();
    const bar = b.rc.device!.bars[0]!.address;
    for (const r of [L.common, L.isr, L.device!])
      for (let off = r.offset - 3; off < r.offset + Math.min(r.length, 0x40) + 4; off++)
        for (const len of [1, 2, 3, 4, 8]) if (off >= 0) b.rc.memRead(bar + BigInt(off), len);
    expect(b.link.checkedReads).toBeGreaterThan(600);
    expect(b.link.mismatches).toEqual([]);
  }, 180_000);

  seededTest(
    'random configuration reads and writes of every width neither hang nor corrupt; the function enumerates again',
    (seed) => {
      const b = bench(seed);
      const rng = new Rng(seed).fork(0xcf6);
      new VirtioPciDriver(b.rc).probe();
      for (let i = 0; i < 250; i++) {
        const off = rng.chance(0.9) ? rng.below(0x100) : 0x100 + rng.below(0xf00);
        const size = rng.pick([1, 2, 4] as const);
        const at = off - (off % size);
        if (rng.chance(0.5)) b.rc.cfgRead(at, size);
        else if (at !== (DEVCTL & ~3) || rng.chance(0.3)) b.rc.cfgWrite(at, rng.below(2 ** (8 * size)), size);
      }
      // Back to D0 and to a known state, then a full probe.
      b.rc.cfgWrite16(PMCSR, 0);
      b.rc.enumerate();
      expect(new VirtioPciDriver(b.rc).probe().setup.mode).toBe('msix-per-vq');
      expect(b.link.checkedReads).toBeGreaterThan(100);
      expect(b.link.mismatches).toEqual([]);
    },
    { timeout: 180_000 },
  );

  seededTest('configuration writes to read-only fields change nothing', (seed) => {
    const b = bench(seed);
    b.rc.enumerate();
    const ro = [0x00, 0x08, 0x2c, 0x34, PCIE, PCIE + 4, PCIE + 0xc, L.caps.at.msix! + 4, L.caps.at.msix! + 8];
    for (const k of ['common', 'notify', 'isr', 'device'] as const)
      for (let o = 0; o < 16; o += 4) ro.push(L.caps.at[k]! + o);
    for (const o of ro) {
      const before = b.rc.cfgRead32(o);
      b.rc.cfgWrite32(o, 0xffff_ffff);
      b.rc.cfgWrite16(o + 2, 0);
      b.rc.cfgWrite8(o + 1, 0x5a);
      expect(b.rc.cfgRead32(o), `0x${o.toString(16)}`).toBe(before);
    }
    expect(b.link.mismatches).toEqual([]);
  });

  seededTest('MMIO with memory decode off, and in D3hot: reads get UR, writes are dropped, URD is logged', (seed) => {
    const b = bench(seed);
    b.rc.enumerate();
    const c = commonOf(b.rc);
    c.w16('queue_select', 1);
    const cmd = b.rc.cfgRead16(PCI_COMMAND);
    b.rc.cfgWrite16(PCI_COMMAND, cmd & ~2);
    expect(failedWith(() => c.r16('queue_select'))).toBe('UR');
    c.w16('queue_select', 0);
    b.rc.cfgWrite16(PCI_COMMAND, cmd);
    expect(c.r16('queue_select')).toBe(1);
    expect(b.rc.cfgRead16(DEVSTA) & 0x8).toBe(0x8);
    b.rc.cfgWrite16(DEVSTA, 0x8); // RW1C
    expect(b.rc.cfgRead16(DEVSTA) & 0x8).toBe(0);
    b.rc.cfgWrite16(PMCSR, 3); // D3hot
    expect(failedWith(() => c.r16('queue_select'))).toBe('UR');
    b.rc.cfgWrite16(PMCSR, 1); // D1: not supported, ignored
    expect(b.rc.cfgRead16(PMCSR) & 3).toBe(3);
    b.rc.cfgWrite16(PMCSR, 0);
    expect(c.r16('queue_select')).toBe(1);
    expect(b.link.mismatches).toEqual([]);
  });

  seededTest('MSI-X without Bus Master Enable stays pending and is sent when it is set again', (seed) => {
    const b = bench(seed);
    new VirtioPciDriver(b.rc).probe();
    const cmd = b.rc.cfgRead16(PCI_COMMAND);
    b.rc.cfgWrite16(PCI_COMMAND, cmd & ~4);
    b.rc.runFor(200);
    const irqs = b.rc.interrupts.length;
    b.dataPlane.signalQueue(1);
    b.rc.runFor(1000);
    expect(b.rc.interrupts.length).toBe(irqs);
    expect(b.rc.msix.pending(2)).toBe(true);
    b.rc.cfgWrite16(PCI_COMMAND, cmd);
    b.rc.waitForInterrupt(2);
    expect(b.rc.msix.pending(2)).toBe(false);
    expect(b.link.mismatches).toEqual([]);
  });

  seededTest('data-plane DMA leaves only with Bus Master Enable; completions come back on dp_cpl', (seed) => {
    const b = bench(seed);
    new VirtioPciDriver(b.rc).probe();
    const buf = b.rc.mem.alloc(4096, { perm: 'ro', name: 'ring' });
    b.rc.mem.write(
      buf.addr,
      Uint8Array.from({ length: 64 }, (_x, i) => i),
    );
    const rid = Number(b.sim.peek('dp_requester_id'));
    const read = (tag: number) =>
      encodeTlp({ type: 'MRd', address: buf.addr, length: 16, firstBe: 0xf, lastBe: 0xf, requesterId: rid, tag });
    const dropped = b.sim.watch('dp_tx_dropped');
    const cmd = b.rc.cfgRead16(PCI_COMMAND);
    b.rc.cfgWrite16(PCI_COMMAND, cmd & ~4);
    b.rc.runFor(200);
    b.sim.send(read(1), b.sim.cycle, 'dp_tx');
    b.rc.runFor(1000);
    expect(dropped.count).toBe(1);
    expect(b.rc.stats().completer.dmaReads).toBe(0);
    b.rc.cfgWrite16(PCI_COMMAND, cmd);
    b.sim.send(read(2), b.sim.cycle, 'dp_tx');
    b.rc.runFor(2000);
    expect(dropped.count).toBe(1);
    const cpls = b.ep.dpCpl.map((r) => decodeTlp(r));
    expect(cpls.length).toBeGreaterThan(0);
    const bytes = cpls.flatMap((t) => (t.type === 'CplD' ? [...t.data] : []));
    expect(bytes).toEqual(Array.from({ length: 64 }, (_x, i) => i));
    expect(b.link.mismatches).toEqual([]);
  });

  seededTest('a reset with DMA outstanding completes only when the data plane is quiet and the DMA is done', (seed) => {
    const b = bench(seed);
    new VirtioPciDriver(b.rc).probe();
    const c = commonOf(b.rc);
    b.dataPlane.holdResets(true);
    b.dataPlane.setDmaOutstanding(true);
    expect(b.rc.cfgRead16(DEVSTA) & 0x20).toBe(0x20); // Transactions Pending
    const req = b.sim.watch('dp_reset_req');
    c.w8('device_status', 0);
    for (let i = 0; i < 3; i++) expect(c.r8('device_status')).toBe(RUNNING);
    expect(req.count).toBe(1);
    expect(b.sim.peek('dp_reset_busy')).toBe(1n);
    b.dataPlane.completeReset();
    for (let i = 0; i < 3; i++) expect(c.r8('device_status')).toBe(RUNNING); // DMA still outstanding
    b.dataPlane.setDmaOutstanding(false);
    expect(c.r8('device_status')).toBe(0);
    expect(b.rc.cfgRead16(DEVSTA) & 0x20).toBe(0);
    b.dataPlane.holdResets(false);
    expect(new VirtioPciDriver(b.rc).probe().setup.mode).toBe('msix-per-vq');
    expect(b.link.mismatches).toEqual([]);
  });

  seededTest('Function Level Reset of a running device with DMA outstanding', (seed) => {
    const b = bench(seed);
    new VirtioPciDriver(b.rc).probe();
    b.dataPlane.holdResets(true);
    b.dataPlane.setDmaOutstanding(true);
    const req = b.sim.watch('dp_reset_req');
    const byFlr = b.sim.watch('dp_reset_flr');
    b.rc.cfgWrite16(DEVCTL, b.rc.cfgRead16(DEVCTL) | 0x8000);
    // Configuration space is back to its reset values at once (Link Control kept).
    expect(b.rc.cfgRead16(PCI_COMMAND)).toBe(0);
    expect(b.rc.cfgRead32(0x10)).toBe(0x4);
    expect(b.rc.cfgRead16(DEVCTL) & 0x8000).toBe(0);
    expect(req.count).toBe(1);
    expect(byFlr.count).toBe(1);
    b.rc.enumerate();
    const c = commonOf(b.rc);
    expect(c.r8('device_status')).toBe(RUNNING); // the virtio reset waits for the data plane
    b.dataPlane.completeReset();
    expect(c.r8('device_status')).toBe(RUNNING);
    b.dataPlane.setDmaOutstanding(false);
    expect(c.r8('device_status')).toBe(0);
    b.dataPlane.holdResets(false);
    expect(new VirtioPciDriver(b.rc).probe().setup.mode).toBe('msix-per-vq');
    expect(b.link.mismatches).toEqual([]);
  });

  // The feature selects, driver_feature, queue_select and the queue addresses are read back from a copy in
  // distributed RAM that a reset cannot clear (gen/virtio/regs.ts "read-back memory"): after a device reset or
  // FLR the bytes not written since read 0, not what the copy held before.
  seededTest('read-back of written fields after a device reset and FLR: bytes not written since read 0', (seed) => {
    const b = bench(seed);
    b.rc.enumerate();
    let c = commonOf(b.rc);
    const fill = () => {
      c.w32('device_feature_select', 0xa1b2c3d4);
      c.w32('driver_feature_select', 1);
      c.w32('driver_feature', 0x5a5a5a5a);
      c.w32('driver_feature_select', 0);
      c.w32('driver_feature', 0x3c3c3c3c);
      for (const q of [1, 0]) {
        c.w16('queue_select', q);
        for (const f of ['queue_desc', 'queue_driver', 'queue_device']) {
          c.w32(f, 0x11223344 + q);
          const hi = b.rc.device!.bars[L.common.bar]!.address + BigInt(L.common.offset + COMMON[f] + 4);
          b.rc.write32(hi, 0x55667788 + q);
        }
      }
      c.w16('queue_select', 0x1234);
    };
    const partial = (what: string) => {
      c.w8('device_feature_select', 0x7e);
      expect(c.r32('device_feature_select'), what).toBe(0x7e);
      c.w32('driver_feature_select', 1);
      expect(c.r32('driver_feature'), what).toBe(0);
      c.w32('driver_feature_select', 0);
      expect(c.r32('driver_feature'), what).toBe(0);
      expect(c.r16('queue_select'), what).toBe(0);
      const at = b.rc.device!.bars[L.common.bar]!.address + BigInt(L.common.offset + COMMON.queue_driver + 1);
      b.rc.write8(at, 0x99);
      expect(c.r32('queue_driver'), what).toBe(0x9900);
      expect(c.r32('queue_desc'), what).toBe(0);
      c.w16('queue_select', 1);
      expect(c.r32('queue_driver'), what).toBe(0);
      expect(c.r32('queue_device'), what).toBe(0);
    };
    fill();
    c.w8('device_status', 0);
    expect(c.r8('device_status')).toBe(0);
    partial('after device_status 0');
    fill();
    b.rc.cfgWrite16(DEVCTL, b.rc.cfgRead16(DEVCTL) | 0x8000);
    b.rc.enumerate();
    c = commonOf(b.rc);
    expect(c.r8('device_status')).toBe(0);
    partial('after FLR');
    expect(b.link.checkedReads).toBeGreaterThan(20);
    expect(b.link.mismatches).toEqual([]);
  });

  seededTest('INTx: Assert/Deassert_INTA around the ISR read, and on Interrupt Disable and MSI-X enable', (seed) => {
    const b = bench(seed);
    const drv = new VirtioPciDriver(b.rc, { msix: false });
    const r = drv.probe();
    expect(r.setup.mode).toBe('intx');
    expect(b.rc.cfgRead8(PCI_INTERRUPT_LINE + 1)).toBe(1); // INTA
    b.dataPlane.signalQueue(0);
    expect(drv.waitQueueInterrupt(0)).toBe(1); // the ISR read clears the queue bit...
    b.rc.waitForIntx(false); // ...and the wire is deasserted
    b.dataPlane.changeDeviceConfig('capacity', 7);
    b.rc.waitForIntx(true);
    expect(b.rc.cfgRead16(PCI_STATUS) & 0x8).toBe(0x8); // Interrupt Status
    // Interrupt Disable deasserts the wire; clearing it asserts it again (the ISR still holds the bit).
    const cmd = b.rc.cfgRead16(PCI_COMMAND);
    b.rc.cfgWrite16(PCI_COMMAND, cmd | PCI_COMMAND_INTX_DISABLE);
    b.rc.waitForIntx(false);
    expect(b.rc.cfgRead16(PCI_STATUS) & 0x8).toBe(0x8); // still pending in the function
    b.rc.cfgWrite16(PCI_COMMAND, cmd);
    b.rc.waitForIntx(true);
    // Enabling MSI-X takes INTx away.
    const msixCtl = L.caps.at.msix! + 2;
    b.rc.cfgWrite16(msixCtl, 0x8000);
    b.rc.waitForIntx(false);
    expect(b.rc.cfgRead16(PCI_STATUS) & 0x8).toBe(0);
    b.rc.cfgWrite16(msixCtl, 0);
    b.rc.waitForIntx(true);
    expect(drv.configRead('capacity')).toBe(7n);
    expect(b.rc.read8(drv.mdev!.isr.address)).toBe(2); // configuration bit, read and cleared
    b.rc.waitForIntx(false);
    const codes = b.rc.messages.map((m) => m.tlp.code);
    expect(codes.filter((x) => x === MsgCode.Assert_INTA)).toHaveLength(4);
    expect(codes.filter((x) => x === MsgCode.Deassert_INTA)).toHaveLength(4);
    expect(b.link.mismatches).toEqual([]);
  });

  seededTest('the PCI_CFG window reaches the BAR structures; invalid windows do nothing', (seed) => {
    const b = bench(seed);
    new VirtioPciDriver(b.rc).probe();
    const cap = L.caps.at.pciCfg!;
    const c = commonOf(b.rc);
    // A window write of queue_select, read back by MMIO and through the window.
    windowWrite(b.rc, cap, L.common.bar, L.common.offset + COMMON.queue_select, 2, 1);
    expect(c.r16('queue_select')).toBe(1);
    expect(windowRead(b.rc, cap, L.common.bar, L.common.offset + COMMON.queue_size, 2)).toBe(c.r16('queue_size'));
    expect(windowRead(b.rc, cap, L.common.bar, L.common.offset + COMMON.device_status, 1)).toBe(RUNNING);
    // Reading the ISR through the window clears it, like an MMIO read.
    b.dataPlane.changeDeviceConfig('capacity', 9);
    b.rc.waitForInterrupt(0);
    expect(windowRead(b.rc, cap, L.isr.bar, L.isr.offset, 1)).toBe(2);
    expect(b.rc.read8(b.rc.device!.bars[0]!.address + BigInt(L.isr.offset))).toBe(0);
    // Invalid: length 3, misaligned, a BAR the function does not have, past the BAR: pci_cfg_data keeps its value.
    const data = cap + VIRTIO_CAP_FIELD.PCI_CFG_DATA;
    b.rc.cfgWrite32(data, 0x1234_5678);
    for (const [bar, off, len] of [
      [0, 0, 3],
      [0, 1, 2],
      [1, 0, 4],
      [5, 0, 4],
      [0, L.bars[0].size, 4],
    ]) {
      b.rc.cfgWrite8(cap + VIRTIO_CAP_FIELD.BAR, bar);
      b.rc.cfgWrite32(cap + VIRTIO_CAP_FIELD.LENGTH, len);
      b.rc.cfgWrite32(cap + VIRTIO_CAP_FIELD.OFFSET, off);
      expect(b.rc.cfgRead32(data), `BAR${bar} +${off} len ${len}`).toBe(0x1234_5678);
    }
    expect(b.link.mismatches).toEqual([]);
  });

  test('requests nobody serves: UR for type-1 configuration, functions other than 0, MRdLk; messages dropped', () => {
    const b = bench(5);
    b.rc.enumerate();
    const [t1] = b.rc.rawRequest({
      type: 'CfgRd1',
      completerId: 0x0100,
      offset: 0,
      firstBe: 0xf,
      requesterId: 0,
      tag: 0,
    });
    expect([t1.type, t1.status]).toEqual(['Cpl', 1]);
    const [f1] = b.rc.rawRequest({
      type: 'CfgRd0',
      completerId: 0x0101,
      offset: 0,
      firstBe: 0xf,
      requesterId: 0,
      tag: 0,
    });
    expect([f1.type, f1.status]).toEqual(['Cpl', 1]);
    const lk = b.rc.rawRequest({
      type: 'MRdLk',
      address: b.rc.device!.bars[0]!.address,
      length: 1,
      firstBe: 0xf,
      lastBe: 0,
      requesterId: 0,
      tag: 0,
    } as never);
    expect(lk[0].status).toBe(1);
    b.rc.sendRaw(encodeTlp({ type: 'Msg', routing: 4, code: MsgCode.Vendor_Defined_Type1, requesterId: 0, tag: 0 }));
    expect(commonOf(b.rc).r16('num_queues')).toBe(L.queues.count);
    expect(b.link.mismatches).toEqual([]);
  });
});

describe('offered features', () => {
  test('the FPGA presets offer only what the control plane implements; data-plane halves wait for the data plane', () => {
    const transport = (l: VirtioPciLayout) => l.features.filter((f) => f.startsWith('VIRTIO_F_')).sort();
    expect(transport(L)).toEqual([...RTL_TRANSPORT_FEATURES].sort());
    expect(transport(PTILE_LAYOUT)).toEqual([...RTL_TRANSPORT_FEATURES].sort());
    expect(() => VirtioEndpoint.elaborate({ layout: RR, W: 64 })).toThrow(
      /virtio layout 'default_rr': offers VIRTIO_F_RING_RESET, which the RTL does not implement/,
    );
    expect(() =>
      VirtioEndpoint.elaborate({ layout: RR, W: 64, dataPlaneFeatures: ['VIRTIO_F_RING_RESET'] }),
    ).not.toThrow();
  });
});

describe('RING_RESET offered with a data plane that implements it, W=64', () => {
  let ports = '';
  beforeAll(() => {
    ports = endpointPorts(RR, 64, { dataPlaneFeatures: ['VIRTIO_F_RING_RESET'] });
    buildSim(ports);
  }, 300_000);

  seededTest('queue reset (RING_RESET) waits for the data plane', (seed) => {
    const b = rtlBench(ports, RR, seed);
    new VirtioPciDriver(b.rc).probe();
    const c = commonOf(b.rc, RR);
    b.dataPlane.holdQueueResets(true);
    const req = b.sim.watch('dp_q1_reset_req');
    c.w16('queue_select', 1);
    c.w16('queue_reset', 1);
    expect(c.r16('queue_reset')).toBe(1);
    expect(req.count).toBe(1);
    expect(c.r16('queue_enable')).toBe(1);
    b.dataPlane.completeQueueReset(1);
    expect(c.r16('queue_reset')).toBe(0);
    expect(c.r16('queue_enable')).toBe(0);
    expect(c.r16('queue_size')).toBe(RR.queues.maxSize);
    expect(b.link.mismatches).toEqual([]);
  });
});
