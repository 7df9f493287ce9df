// Negative cases through the root complex, every read also checked by an independent golden model: feature sets
// the device must refuse, invalid queue sizes, queue writes while enabled, accesses of every width and alignment
// (unaligned, straddling structures, out of range) that must neither hang nor corrupt, configuration writes to
// read-only fields, MMIO with memory decode off, resets and FLR of a running device, interrupts without bus mastering.
import { describe, expect, test } from 'vitest';
import { DEFAULT_LAYOUT, PRESETS, QEMU_LAYOUT } from '../../gen/virtio/layout';
import { COMMON, STATUS, VIRTIO_MSI_NO_VECTOR, featureMask } from '../../gen/virtio/regmap';
import { Rng } from '../../sim/random';
import {
  PCI_COMMAND,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVSTA,
  PCI_STATUS,
  PCI_STATUS_SIG_TARGET_ABORT,
} from '../../tb/pcie/cfgspace';
import { CplStatus } from '../../tb/pcie/tlp';
import { CompletionStatusError } from '../../tb/pcie/errors';
import { VirtioPciDriver } from '../../tb/virtio/driver/driver';
import { seededTest } from '../support/seeds';
import { bench, type VirtioBench } from './support';

const L = DEFAULT_LAYOUT;

/** BAR-relative accessors for the common configuration of a bench (after enumeration). */
function commonOf(b: VirtioBench, layout = L) {
  const base = () => b.rc.device!.bars[layout.common.bar]!.address + BigInt(layout.common.offset);
  return {
    r16: (f: string) => b.rc.read16(base() + BigInt(COMMON[f])),
    w16: (f: string, v: number) => b.rc.write16(base() + BigInt(COMMON[f]), v),
    r32: (f: string) => b.rc.read32(base() + BigInt(COMMON[f])),
    w32: (f: string, v: number) => b.rc.write32(base() + BigInt(COMMON[f]), v),
    r8: (f: string) => b.rc.read8(base() + BigInt(COMMON[f])),
    w8: (f: string, v: number) => b.rc.write8(base() + BigInt(COMMON[f]), v),
  };
}

describe('feature sets the device must refuse', () => {
  seededTest(
    'without VERSION_1, with bits not offered, with a dependency missing: FEATURES_OK reads back clear',
    (seed) => {
      const b = bench(QEMU_LAYOUT, seed);
      b.rc.enumerate();
      const c = commonOf(b, QEMU_LAYOUT);
      for (const set of [
        ['VIRTIO_BLK_F_MQ'],
        ['VIRTIO_F_VERSION_1', 'VIRTIO_F_RING_PACKED'],
        ['VIRTIO_F_VERSION_1', 'VIRTIO_BLK_F_CONFIG_WCE'],
      ]) {
        c.w8('device_status', 0);
        expect(c.r8('device_status')).toBe(0);
        c.w8('device_status', STATUS.ACKNOWLEDGE | STATUS.DRIVER);
        const f = featureMask(set, 'blk');
        c.w32('driver_feature_select', 0);
        c.w32('driver_feature', Number(f & 0xffff_ffffn));
        c.w32('driver_feature_select', 1);
        c.w32('driver_feature', Number(f >> 32n));
        c.w8('device_status', STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
        expect(c.r8('device_status'), set.join('+')).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER);
      }
      expect(b.link.mismatches).toEqual([]);
    },
  );
});

describe('queue configuration', () => {
  seededTest('invalid queue sizes are ignored; writes while the queue is enabled are ignored', (seed) => {
    const b = bench(QEMU_LAYOUT, seed);
    const drv = new VirtioPciDriver(b.rc);
    drv.probe(); // split rings (QEMU offers no RING_PACKED)
    const c = commonOf(b, QEMU_LAYOUT);
    const q = b.device.queue(1);
    const before = { ...q };
    c.w16('queue_select', 1);
    for (const f of ['queue_size', 'queue_msix_vector']) c.w16(f, 2);
    for (const f of ['queue_desc', 'queue_driver', 'queue_device']) c.w32(f, 0x4000);
    c.w16('queue_enable', 0);
    expect(c.r16('queue_size')).toBe(before.size);
    expect(b.device.queue(1)).toEqual(before);
    // A disabled queue after a reset: only powers of two up to the maximum stick.
    drv.io!.reset(10);
    c.w16('queue_select', 0);
    for (const bad of [0, 3, 48, 512, 0x8000]) {
      c.w16('queue_size', bad);
      expect(c.r16('queue_size'), `size ${bad}`).toBe(QEMU_LAYOUT.queues.maxSize);
    }
    c.w16('queue_size', 32);
    expect(c.r16('queue_size')).toBe(32);
    c.w16('queue_msix_vector', 3);
    expect(c.r16('queue_msix_vector')).toBe(VIRTIO_MSI_NO_VECTOR);
    expect(b.link.mismatches).toEqual([]);
  });
});

describe.each(PRESETS.map((p) => [p.name, p] as const))('%s: accesses of every shape', (_n, layout) => {
  seededTest(
    'random widths, alignments, straddles and out-of-range accesses neither hang nor corrupt',
    (seed) => {
      const b = bench(layout, seed, { resetReads: 2 });
      const rng = new Rng(seed).fork(0x51);
      const drv = new VirtioPciDriver(b.rc);
      drv.probe();
      let ur = 0;
      let reads = 0;
      for (let i = 0; i < 400; i++) {
        const bar = rng.pick(layout.bars);
        const base = b.rc.device!.bars[bar.index]!.address;
        // Mostly near the structures, sometimes anywhere in the BAR, sometimes around its end.
        const hot = [
          layout.common,
          layout.isr,
          layout.notify,
          layout.device!,
          { bar: layout.msix.table.bar, offset: layout.msix.table.offset, length: 64 },
        ].filter((r) => r.bar === bar.index);
        const off = rng.chance(0.15)
          ? bar.size - 8 + rng.int(-8, 12)
          : hot.length && rng.chance(0.8)
            ? rng.pick(hot).offset + rng.int(-4, 0x44)
            : rng.below(bar.size);
        const len = rng.pick([1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 33, 64]);
        const addr = base + BigInt(off);
        if (rng.chance(0.6)) {
          try {
            b.rc.memRead(addr, len);
            reads++;
          } catch (e) {
            if (!(e instanceof CompletionStatusError && e.status === 'UR')) throw e;
            ur++;
          }
        } else {
          // Keep the data plane's world sane: no status 0 storms, but anything else goes.
          b.rc.memWrite(addr, rng.bytes(len));
        }
      }
      b.rc.settle();
      expect(reads).toBeGreaterThan(100);
      expect(ur).toBeGreaterThan(0);
      expect(b.link.checkedReads).toBeGreaterThan(100);
      expect(b.link.mismatches).toEqual([]);
      // Not corrupted: the driver can take the device from scratch again.
      const again = new VirtioPciDriver(b.rc).probe();
      expect(again.setup.vqs).toHaveLength(layout.queues.count);
    },
    { timeout: 60_000 },
  );

  test('every width at every offset of the common configuration and ISR, including unaligned and straddling', () => {
    const b = bench(layout, 3);
    b.rc.enumerate();
    const base = b.rc.device!.bars[layout.common.bar]!.address + BigInt(layout.common.offset);
    for (let off = -3; off < 0x44; off++)
      for (const len of [1, 2, 3, 4, 8]) {
        const a = base + BigInt(off);
        if (a < b.rc.device!.bars[layout.common.bar]!.address) continue;
        b.rc.memRead(a, len);
      }
    const isr = b.rc.device!.bars[layout.isr.bar]!.address + BigInt(layout.isr.offset);
    for (let off = -2; off < 6; off++) for (const len of [1, 2, 4, 8]) b.rc.memRead(isr + BigInt(off), len);
    expect(b.link.checkedReads).toBeGreaterThan(300);
    expect(b.link.mismatches).toEqual([]);
  });
});

describe('configuration space', () => {
  seededTest('writes to read-only fields through the root complex change nothing', (seed) => {
    const b = bench(L, seed);
    b.rc.enumerate();
    const ro = [0x00, 0x08, 0x2c, 0x34, L.caps.at.pcie! + 4, L.caps.at.msix! + 4, L.caps.at.msix! + 8];
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

  seededTest(
    'MMIO with memory decode off: reads get UR, writes are dropped, Unsupported Request Detected is logged',
    (seed) => {
      const b = bench(L, seed);
      b.rc.enumerate();
      const c = commonOf(b);
      c.w16('queue_select', 1);
      const cmd = b.rc.cfgRead16(PCI_COMMAND);
      b.rc.cfgWrite16(PCI_COMMAND, cmd & ~2);
      expect(() => c.r16('queue_select')).toThrow(CompletionStatusError);
      c.w16('queue_select', 0);
      b.rc.cfgWrite16(PCI_COMMAND, cmd);
      expect(c.r16('queue_select')).toBe(1);
      expect(b.rc.cfgRead16(L.caps.at.pcie! + PCI_EXP_DEVSTA) & 0x8).toBe(0x8);
      expect(b.link.mismatches).toEqual([]);
    },
  );
});

describe('requests the function does not serve', () => {
  seededTest(
    'a read longer than 32 DW gets Completer Abort (Signaled Target Abort); other functions get UR',
    (seed) => {
      const b = bench(L, seed, {}, { maxMmioRead: 4096 });
      b.rc.enumerate();
      const bar = b.rc.device!.bars[0]!.address;
      expect(b.rc.memRead(bar, 128)).toHaveLength(128);
      expect(() => b.rc.memRead(bar, 132)).toThrow(/CA/);
      expect(b.rc.cfgRead16(PCI_STATUS) & PCI_STATUS_SIG_TARGET_ABORT).toBe(PCI_STATUS_SIG_TARGET_ABORT);
      const [cpl] = b.rc.rawRequest({
        type: 'CfgRd0',
        completerId: 0x0102,
        offset: 0,
        firstBe: 0xf,
        requesterId: 0,
        tag: 0,
      });
      expect([cpl.type, cpl.status]).toEqual(['Cpl', CplStatus.UR]);
      expect(b.link.mismatches).toEqual([]);
    },
  );
});

describe('resets of a running device', () => {
  seededTest(
    'reset while queues are enabled: status shows it in progress, then 0; no interrupts or doorbells after',
    (seed) => {
      const b = bench(L, seed, { resetReads: 3 });
      const drv = new VirtioPciDriver(b.rc);
      drv.probe();
      const c = commonOf(b);
      const irqs = b.rc.interrupts.length;
      c.w8('device_status', 0);
      const seen: number[] = [];
      for (let i = 0; i < 6; i++) seen.push(c.r8('device_status'));
      expect(seen).toEqual([0x0f, 0x0f, 0x0f, 0, 0, 0]);
      c.w16('queue_select', 0);
      expect(c.r16('queue_enable')).toBe(0);
      b.dataPlane.signalQueue(0);
      drv.kick(1);
      b.rc.runFor(2000);
      expect(b.rc.interrupts.length).toBe(irqs);
      expect(b.device.events.filter((e) => e.kind === 'notify')).toEqual([]);
      expect(b.link.mismatches).toEqual([]);
    },
  );

  seededTest(
    'Function Level Reset of a running device: configuration back to reset, and the driver can start over',
    (seed) => {
      const b = bench(L, seed);
      new VirtioPciDriver(b.rc).probe();
      const devctl = L.caps.at.pcie! + PCI_EXP_DEVCTL;
      b.rc.cfgWrite16(devctl, b.rc.cfgRead16(devctl) | 0x8000);
      expect(b.rc.cfgRead16(PCI_COMMAND)).toBe(0);
      expect(b.rc.cfgRead32(0x10)).toBe(0x4);
      expect(b.device.status).toBe(0);
      b.rc.enumerate();
      expect(new VirtioPciDriver(b.rc).probe().setup.mode).toBe('msix-per-vq');
      expect(b.link.mismatches).toEqual([]);
    },
  );

  seededTest('without Bus Master Enable an interrupt stays pending, and is sent when it is set again', (seed) => {
    const b = bench(L, seed);
    const drv = new VirtioPciDriver(b.rc);
    drv.probe();
    const cmd = b.rc.cfgRead16(PCI_COMMAND);
    b.rc.cfgWrite16(PCI_COMMAND, cmd & ~4);
    b.rc.runFor(500); // the RC's grace period for a device still finishing after BME was cleared
    const irqs = b.rc.interrupts.length;
    b.dataPlane.signalQueue(1);
    b.rc.runFor(1000);
    expect(b.rc.interrupts.length).toBe(irqs);
    expect(b.rc.msix.pending(2)).toBe(true);
    b.rc.cfgWrite16(PCI_COMMAND, cmd);
    b.rc.waitForInterrupt(2);
    expect(b.rc.msix.pending(2)).toBe(false);
  });
});
