// The Linux-faithful driver model against the golden-model device on every preset, through a root complex that
// delays, splits and reorders, with every read also checked by an independent model: probe, negotiation, queue
// setup, interrupts (per-queue MSI-X, shared, INTx), doorbells, and teardown.
import { describe, expect } from 'vitest';
import { DEFAULT_LAYOUT, PRESETS, QEMU_LAYOUT } from '../../gen/virtio/layout';
import { STATUS, VIRTIO_MSI_NO_VECTOR } from '../../gen/virtio/regmap';
import { VirtioPciDriver } from '../../tb/virtio/driver/driver';
import { VirtioProbeError } from '../../tb/virtio/driver/errors';
import { seededTest } from '../support/seeds';
import { bench, variant } from './support';

describe.each(PRESETS.map((p) => [p.name, p] as const))('%s', (_n, layout) => {
  seededTest('probe, queues, interrupts, doorbells, remove', (seed) => {
    const b = bench(layout, seed, { resetReads: 2 });
    const drv = new VirtioPciDriver(b.rc);
    const r = drv.probe();
    const g = b.device;
    // Negotiated what both sides have; the device holds exactly that.
    expect(r.features).toContain('VIRTIO_F_VERSION_1');
    expect(g.negotiated).toBe(drv.features);
    expect(g.status).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
    expect(r.setup.mode).toBe('msix-per-vq');
    expect(r.capacity).toBe(0x10_0000n);
    // The queues the driver set up are what the data plane is handed.
    expect(r.setup.vqs).toHaveLength(layout.queues.count);
    for (const vq of r.setup.vqs) {
      expect(g.queue(vq.index)).toMatchObject({
        enabled: true,
        size: vq.num,
        msixVector: vq.index + 1,
        desc: vq.desc,
        driver: vq.driver,
        device: vq.device,
      });
    }
    expect(
      g.events.filter((e) => e.kind === 'queue-enable').map((e) => (e.kind === 'queue-enable' ? e.queue : -1)),
    ).toEqual(r.setup.vqs.map((v) => v.index));
    // Interrupts reach the vector of each queue; configuration changes vector 0.
    for (const vq of r.setup.vqs) {
      b.dataPlane.signalQueue(vq.index);
      drv.waitQueueInterrupt(vq.index);
    }
    b.dataPlane.changeDeviceConfig('capacity', 0x20_0000);
    drv.waitConfigInterrupt();
    expect(drv.configRead('capacity')).toBe(0x20_0000n);
    // Doorbells.
    drv.kick(1);
    drv.kick(0);
    b.rc.flush(r.setup.vqs[0].notify);
    expect(g.events.filter((e) => e.kind === 'notify')).toEqual([
      { kind: 'notify', queue: 1, value: 1 },
      { kind: 'notify', queue: 0, value: 0 },
    ]);
    drv.remove();
    expect(g.status).toBe(STATUS.ACKNOWLEDGE);
    expect(g.queue(0)).toMatchObject({ enabled: false, msixVector: VIRTIO_MSI_NO_VECTOR });
    expect(g.busMaster).toBe(false);
    expect(b.link.checkedReads).toBeGreaterThan(100);
    expect(b.link.mismatches).toEqual([]);
  });

  seededTest('INTx when MSI-X is not allowed (pci=nomsi)', (seed) => {
    const b = bench(layout, seed);
    const drv = new VirtioPciDriver(b.rc, { msix: false });
    const r = drv.probe();
    expect(r.setup.mode).toBe('intx');
    expect(r.setup.fallbacks).toHaveLength(2);
    expect(b.device.queue(0).msixVector).toBe(VIRTIO_MSI_NO_VECTOR);
    b.dataPlane.signalQueue(0);
    expect(drv.waitQueueInterrupt(0)).toBe(1);
    b.dataPlane.changeDeviceConfig('capacity', 1);
    expect(drv.waitConfigInterrupt()).toBe(2);
    b.rc.runFor(200);
    const codes = b.rc.messages.map((m) => m.tlp.code);
    expect(codes).toEqual([0x20, 0x24, 0x20, 0x24]); // Assert_INTA, Deassert_INTA (after the ISR read), twice
    drv.remove();
  });
});

describe('MSI-X fallbacks (virtio_pci_common.c vp_find_vqs)', () => {
  seededTest('two vectors for two queues: one for configuration, one shared by the queues', (seed) => {
    const b = bench(variant(DEFAULT_LAYOUT, { msix: { ...DEFAULT_LAYOUT.msix, vectors: 2 } }), seed);
    const drv = new VirtioPciDriver(b.rc);
    const r = drv.probe();
    expect(r.setup.mode).toBe('msix-shared');
    expect(r.setup.fallbacks[0]).toMatch(/per-queue MSI-X vectors: .*3 vectors wanted, the table has 2 \(-ENOSPC/);
    expect([b.device.queue(0).msixVector, b.device.queue(1).msixVector]).toEqual([1, 1]);
    b.dataPlane.signalQueue(1);
    drv.waitQueueInterrupt(1);
  });

  seededTest('one vector: INTx', (seed) => {
    const b = bench(variant(DEFAULT_LAYOUT, { msix: { ...DEFAULT_LAYOUT.msix, vectors: 1 } }), seed);
    const r = new VirtioPciDriver(b.rc).probe();
    expect(r.setup.mode).toBe('intx');
  });

  seededTest('a device that cannot map per-queue vectors (NO_VECTOR read back): shared vectors', (seed) => {
    const b = bench(DEFAULT_LAYOUT, seed, { vectorAssignable: (v, q) => q === undefined || v === 1 });
    const drv = new VirtioPciDriver(b.rc);
    const r = drv.probe();
    expect(r.setup.fallbacks[0]).toMatch(
      /common.queue_msix_vector of queue 1: vector 2 not assigned \(reads NO_VECTOR\)/,
    );
    expect(r.setup.mode).toBe('msix-shared');
    // The failed attempt was torn down: only the final attempt's rings are allocated.
    const rings = b.rc.mem.regions.filter((x) => x.name.startsWith('vq'));
    expect(rings.map((x) => x.addr).sort()).toEqual(r.setup.vqs.flatMap((v) => v.regions.map((x) => x.addr)).sort());
  });

  seededTest('a device that cannot map the configuration vector: INTx', (seed) => {
    const b = bench(DEFAULT_LAYOUT, seed, { vectorAssignable: (_v, q) => q !== undefined });
    const r = new VirtioPciDriver(b.rc).probe();
    expect(r.setup.mode).toBe('intx');
    expect(r.setup.fallbacks.join('\n')).toMatch(/config_msix_vector: vector 0 not assigned/);
  });
});

describe('rings', () => {
  seededTest('RING_PACKED negotiated: packed rings (three areas); split rings on QEMU (no RING_PACKED)', (seed) => {
    const p = new VirtioPciDriver(bench(DEFAULT_LAYOUT, seed).rc);
    p.probe();
    expect(p.has('VIRTIO_F_RING_PACKED')).toBe(true);
    expect(p.setup!.vqs[0].regions).toHaveLength(3);
    const s = new VirtioPciDriver(bench(QEMU_LAYOUT, seed).rc);
    s.probe();
    const vq = s.setup!.vqs[0];
    expect(vq.regions).toHaveLength(1);
    expect(vq.driver - vq.desc).toBe(BigInt(16 * vq.num));
    expect(Number(vq.device - vq.desc) % 64).toBe(0);
  });

  seededTest('the probe is repeatable: remove, probe again', (seed) => {
    const b = bench(QEMU_LAYOUT, seed, { resetReads: 1 });
    const drv = new VirtioPciDriver(b.rc);
    drv.probe();
    drv.remove();
    const again = new VirtioPciDriver(b.rc).probe();
    expect(again.setup.mode).toBe('msix-per-vq');
    expect(b.link.mismatches).toEqual([]);
  });
});

describe('feature negotiation failures the Linux way', () => {
  seededTest(
    'a device that requires a feature the driver does not accept: "device refuses features", FAILED',
    (seed) => {
      const b = bench(QEMU_LAYOUT, seed, { requiredFeatures: ['VIRTIO_BLK_F_DISCARD'] });
      const drv = new VirtioPciDriver(b.rc, { driverFeatures: ['VIRTIO_BLK_F_MQ'] });
      expect(() => drv.probe()).toThrow(
        /common.device_status: device refuses features: status 0x3 after FEATURES_OK .*\(-ENODEV, as virtio_features_ok\)/,
      );
      expect(drv.io!.status() & STATUS.FAILED).toBe(STATUS.FAILED); // the read also flushes the posted write
    },
  );

  seededTest('a platform that needs ACCESS_PLATFORM refuses a device without it (virtio_features_ok)', (seed) => {
    const drv = new VirtioPciDriver(bench(QEMU_LAYOUT, seed).rc, { platformAccess: true });
    expect(() => drv.probe()).toThrow(/device must provide VIRTIO_F_ACCESS_PLATFORM/);
    const ok = new VirtioPciDriver(bench(DEFAULT_LAYOUT, seed).rc, { platformAccess: true });
    expect(ok.probe().features).toContain('VIRTIO_F_ACCESS_PLATFORM');
  });

  seededTest('a device without VERSION_1 is refused before FEATURES_OK (vp_finalize_features)', (seed) => {
    const b = bench(variant(DEFAULT_LAYOUT, { features: ['VIRTIO_BLK_F_SEG_MAX'] }), seed);
    const e = (() => {
      try {
        new VirtioPciDriver(b.rc).probe();
      } catch (x) {
        return x as VirtioProbeError;
      }
    })();
    expect(e).toBeInstanceOf(VirtioProbeError);
    expect(e!.linux).toBe('vp_finalize_features');
    expect(e!.message).toMatch(/does not have VIRTIO_F_VERSION_1/);
  });
});
