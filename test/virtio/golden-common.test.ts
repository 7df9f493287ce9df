// The golden model's common configuration, device configuration, notify and ISR structures: every field's
// semantics and each choice of tb/virtio/golden/choices.ts.
import { describe, expect, test } from 'vitest';
import { DEFAULT_LAYOUT, QEMU_LAYOUT, type VirtioPciLayout } from '../../gen/virtio/layout';
import { COMMON, ISR, STATUS, VIRTIO_MSI_NO_VECTOR, featureMask } from '../../gen/virtio/regmap';
import { Poke } from './golden-helpers';
import { RING_RESET_LAYOUT } from './support';

const L = DEFAULT_LAYOUT;
const C = L.common.offset;

describe('features', () => {
  test('device_feature shows the offer 32 bits at a time; selects above 1 read 0', () => {
    const p = new Poke(L);
    const offer = featureMask(L.features, 'blk');
    p.setCommon('device_feature_select', 0);
    expect(BigInt(p.common('device_feature'))).toBe(offer & 0xffff_ffffn);
    p.setCommon('device_feature_select', 1);
    expect(BigInt(p.common('device_feature'))).toBe(offer >> 32n);
    p.setCommon('device_feature_select', 2);
    expect(p.common('device_feature')).toBe(0);
    p.setCommon('device_feature', 0xffff_ffff);
    p.setCommon('device_feature_select', 0);
    expect(BigInt(p.common('device_feature'))).toBe(offer & 0xffff_ffffn);
  });

  test('driver_feature mirrors what was written, ignores selects above 1, and is frozen by FEATURES_OK', () => {
    const p = new Poke(L);
    p.setCommon('driver_feature_select', 1);
    p.setCommon('driver_feature', 0xffff_ffff);
    expect(p.common('driver_feature')).toBe(0xffff_ffff);
    p.setCommon('driver_feature_select', 5);
    p.setCommon('driver_feature', 0x1234);
    expect(p.common('driver_feature')).toBe(0);
    expect(p.g.common.driverFeatures).toBe(0xffff_ffffn << 32n);
    expect(p.negotiate(L.features) & STATUS.FEATURES_OK).toBe(STATUS.FEATURES_OK);
    p.setCommon('driver_feature_select', 0);
    p.setCommon('driver_feature', 0);
    expect(p.g.negotiated).toBe(featureMask(L.features, 'blk'));
  });

  test.each([
    ['without VIRTIO_F_VERSION_1', ['VIRTIO_BLK_F_SEG_MAX'], /VIRTIO_F_VERSION_1 was not accepted/],
    [
      'with a bit not offered',
      ['VIRTIO_F_VERSION_1', 'VIRTIO_BLK_F_FLUSH'],
      /VIRTIO_BLK_F_FLUSH accepted but not offered/,
    ],
    [
      'with a transport bit not offered',
      ['VIRTIO_F_VERSION_1', 'VIRTIO_F_IN_ORDER'],
      /VIRTIO_F_IN_ORDER accepted but not offered/,
    ],
  ])('FEATURES_OK is refused (reads back clear) %s', (_w, features, why) => {
    const p = new Poke(L);
    p.setCommon('device_status', STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    expect(p.negotiate(features) & STATUS.FEATURES_OK).toBe(0);
    expect(p.g.common.lastRefusal).toMatch(why);
    expect(p.common('device_status')).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    expect(p.g.events.some((e) => e.kind === 'features-ok')).toBe(false);
  });

  test('FEATURES_OK is refused for a feature accepted without the one it requires, and without a required one', () => {
    const p = new Poke(QEMU_LAYOUT);
    expect(p.negotiate(['VIRTIO_F_VERSION_1', 'VIRTIO_BLK_F_CONFIG_WCE']) & STATUS.FEATURES_OK).toBe(0);
    expect(p.g.common.lastRefusal).toMatch(/VIRTIO_BLK_F_CONFIG_WCE accepted without VIRTIO_BLK_F_FLUSH/);
    const q = new Poke(L, { requiredFeatures: ['VIRTIO_F_ACCESS_PLATFORM'] });
    expect(q.negotiate(['VIRTIO_F_VERSION_1']) & STATUS.FEATURES_OK).toBe(0);
    expect(q.g.common.lastRefusal).toMatch(/VIRTIO_F_ACCESS_PLATFORM must be accepted/);
    expect(q.negotiate(['VIRTIO_F_VERSION_1', 'VIRTIO_F_ACCESS_PLATFORM']) & STATUS.FEATURES_OK).toBe(
      STATUS.FEATURES_OK,
    );
  });
});

describe('device_status and reset', () => {
  test('bits stick until reset; DEVICE_NEEDS_RESET belongs to the device; SUSPEND is not implemented', () => {
    const p = new Poke(L);
    p.setCommon('device_status', STATUS.ACKNOWLEDGE | STATUS.SUSPEND | 0x20);
    expect(p.common('device_status')).toBe(STATUS.ACKNOWLEDGE);
    p.setCommon('device_status', STATUS.DRIVER | STATUS.DEVICE_NEEDS_RESET);
    expect(p.common('device_status')).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    p.g.fatalError();
    p.setCommon('device_status', STATUS.FAILED);
    expect(p.common('device_status')).toBe(
      STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FAILED | STATUS.DEVICE_NEEDS_RESET,
    );
    p.setCommon('device_status', 0);
    expect(p.common('device_status')).toBe(0);
  });

  test('writing 0 resets every field; the reset of a running device takes N reads of device_status', () => {
    const p = new Poke(L, { resetReads: 3 });
    p.driverOk();
    const running = p.common('device_status') as number;
    expect(running).toBe(0x0f);
    p.setCommon('device_status', 0);
    // Other fields are back to their reset values at once ...
    expect(p.common('queue_enable')).toBe(0);
    expect(p.common('config_msix_vector')).toBe(VIRTIO_MSI_NO_VECTOR);
    p.setCommon('driver_feature_select', 0);
    expect(p.common('driver_feature')).toBe(0);
    // ... device_status shows the reset in progress (writes other than 0 ignored), then 0.
    p.setCommon('device_status', STATUS.ACKNOWLEDGE);
    expect([p.common('device_status'), p.common('device_status'), p.common('device_status')]).toEqual([
      running,
      running,
      running,
    ]);
    expect(p.common('device_status')).toBe(0);
    expect(
      p.g.events.filter((e) => e.kind === 'device-reset' || e.kind === 'reset-complete').map((e) => e.kind),
    ).toEqual(['device-reset', 'reset-complete', 'device-reset', 'reset-complete']);
  });

  test('with an external data plane the reset completes when it says so', () => {
    const p = new Poke(L, { resetReads: 'external' });
    p.driverOk();
    p.setCommon('device_status', 0);
    for (let i = 0; i < 5; i++) expect(p.common('device_status')).toBe(0x0f);
    p.g.completeReset();
    expect(p.common('device_status')).toBe(0);
  });

  test('a reset of a device that never reached DRIVER_OK completes at once', () => {
    const p = new Poke(L, { resetReads: 'external' });
    p.setCommon('device_status', STATUS.ACKNOWLEDGE);
    p.setCommon('device_status', 0);
    expect(p.common('device_status')).toBe(0);
  });

  test('a reset does not complete while DMA is outstanding (Transactions Pending shows it)', () => {
    const p = new Poke(L);
    p.driverOk();
    const devsta = L.caps.at.pcie! + 0x0a;
    p.g.setDmaOutstanding(true);
    expect(p.cfg(devsta, 2) & 0x20).toBe(0x20);
    p.setCommon('device_status', 0);
    for (let i = 0; i < 3; i++) expect(p.common('device_status')).toBe(0x0f);
    p.g.setDmaOutstanding(false);
    expect(p.common('device_status')).toBe(0);
    expect(p.cfg(devsta, 2) & 0x20).toBe(0);
    expect(p.g.events.filter((e) => e.kind === 'reset-complete')).toHaveLength(2);
  });

  test('an FLR of a running device is a reset like device_status <- 0: it waits for the data plane', () => {
    const p = new Poke(L, { resetReads: 'external' });
    p.driverOk();
    const devctl = L.caps.at.pcie! + 8;
    p.setCfg(devctl, p.cfg(devctl, 2) | 0x8000, 2);
    expect(p.cfg(0x04, 2)).toBe(0); // configuration space at its reset values
    p.setCfg(0x10, 0x8000_0000);
    p.setCfg(0x04, 2, 2); // memory decode back on
    expect(p.common('device_status')).toBe(0x0f);
    p.g.completeReset();
    expect(p.common('device_status')).toBe(0);
    expect(p.g.events.filter((e) => e.kind === 'device-reset').at(-1)).toEqual({ kind: 'device-reset', cause: 'flr' });
  });
});

describe('queues', () => {
  const select = (p: Poke, q: number) => p.setCommon('queue_select', q);

  test('reset values; notify_off is the index; absent queues read 0 and ignore writes', () => {
    const p = new Poke(L);
    for (let q = 0; q < L.queues.count; q++) {
      select(p, q);
      expect([
        p.common('queue_size'),
        p.common('queue_msix_vector'),
        p.common('queue_enable'),
        p.common('queue_notify_off'),
      ]).toEqual([L.queues.maxSize, VIRTIO_MSI_NO_VECTOR, 0, q]);
      expect(p.common('queue_desc')).toBe(0n);
    }
    select(p, L.queues.count);
    p.setCommon('queue_size', 4);
    p.setCommon('queue_enable', 1);
    p.setCommon('queue_desc', 0x1234n);
    for (const f of [
      'queue_size',
      'queue_msix_vector',
      'queue_enable',
      'queue_notify_off',
      'queue_notify_data',
      'queue_reset',
    ])
      expect(p.common(f), f).toBe(0);
    expect(p.common('queue_desc')).toBe(0n);
    expect(p.common('num_queues')).toBe(L.queues.count);
  });

  test('queue_size: powers of two up to the maximum for split rings, any value 1..max with RING_PACKED', () => {
    const p = new Poke(L);
    p.negotiate(L.features.filter((f) => f !== 'VIRTIO_F_RING_PACKED'));
    select(p, 0);
    for (const bad of [0, 3, 100, 512, 0xffff]) {
      p.setCommon('queue_size', bad);
      expect(p.common('queue_size'), `split ${bad}`).toBe(L.queues.maxSize);
    }
    p.setCommon('queue_size', 64);
    expect(p.common('queue_size')).toBe(64);
    const k = new Poke(L);
    k.negotiate(L.features);
    select(k, 1);
    k.setCommon('queue_size', 100);
    expect(k.common('queue_size')).toBe(100);
    for (const bad of [0, 257]) {
      k.setCommon('queue_size', bad);
      expect(k.common('queue_size'), `packed ${bad}`).toBe(100);
    }
  });

  test('queue_msix_vector and config_msix_vector read NO_VECTOR when the vector cannot be assigned', () => {
    const p = new Poke(L, { vectorAssignable: (v, q) => !(q === 1 && v === 2) });
    select(p, 0);
    p.setCommon('queue_msix_vector', 1);
    expect(p.common('queue_msix_vector')).toBe(1);
    p.setCommon('queue_msix_vector', L.msix.vectors);
    expect(p.common('queue_msix_vector')).toBe(VIRTIO_MSI_NO_VECTOR);
    select(p, 1);
    p.setCommon('queue_msix_vector', 2);
    expect(p.common('queue_msix_vector')).toBe(VIRTIO_MSI_NO_VECTOR);
    p.setCommon('config_msix_vector', 0x7ff);
    expect(p.common('config_msix_vector')).toBe(VIRTIO_MSI_NO_VECTOR);
    p.setCommon('config_msix_vector', 2);
    expect(p.common('config_msix_vector')).toBe(2);
  });

  test('queue fields ignore writes while the queue is enabled; queue_enable ignores 0', () => {
    const p = new Poke(L);
    p.driverOk(L.features, 128);
    select(p, 1);
    const before = [
      'queue_size',
      'queue_msix_vector',
      'queue_desc',
      'queue_driver',
      'queue_device',
      'queue_enable',
    ].map((f) => p.common(f));
    p.setCommon('queue_size', 16);
    p.setCommon('queue_msix_vector', 0);
    p.setCommon('queue_desc', 0xdead_0000n);
    p.setBar(L.common.bar, C + COMMON.queue_driver + 4, 0xffff_ffff, 4);
    p.setCommon('queue_device', 0n);
    p.setCommon('queue_enable', 0);
    const after = ['queue_size', 'queue_msix_vector', 'queue_desc', 'queue_driver', 'queue_device', 'queue_enable'].map(
      (f) => p.common(f),
    );
    expect(after).toEqual(before);
    expect(p.g.queue(1)).toMatchObject({ size: 128, enabled: true, msixVector: 2 });
  });

  test('queue_reset exists only with RING_RESET; it resets the queue, reading 1 until done', () => {
    const p = new Poke(L, { queueResetReads: 2 });
    p.driverOk(L.features);
    select(p, 0);
    p.setCommon('queue_reset', 1);
    expect([p.common('queue_reset'), p.common('queue_enable')]).toEqual([0, 1]);
    const r = new Poke(RING_RESET_LAYOUT, { queueResetReads: 2 });
    r.driverOk(RING_RESET_LAYOUT.features, 64);
    select(r, 0);
    r.setCommon('queue_reset', 1);
    expect(r.common('queue_reset')).toBe(1);
    r.setCommon('queue_size', 8); // ignored while the reset is in progress
    expect(r.common('queue_reset')).toBe(1);
    expect(r.common('queue_reset')).toBe(0);
    expect([r.common('queue_enable'), r.common('queue_size'), r.common('queue_msix_vector')]).toEqual([
      0,
      L.queues.maxSize,
      VIRTIO_MSI_NO_VECTOR,
    ]);
    expect(r.common('queue_desc')).toBe(0n);
    expect(r.g.queue(1).enabled).toBe(true);
    expect(r.g.events.filter((e) => e.kind.startsWith('queue-reset'))).toEqual([
      { kind: 'queue-reset', queue: 0 },
      { kind: 'queue-reset-complete', queue: 0 },
    ]);
  });
});

describe('access shapes', () => {
  test('partial writes merge bytes; 64-bit fields take their halves alone', () => {
    const p = new Poke(L);
    p.setCommon('queue_desc', 0x1111_2222_3333_4444n);
    p.setBar(0, C + COMMON.queue_desc + 5, 0xab, 1);
    expect(p.common('queue_desc')).toBe(0x1111_ab22_3333_4444n);
    p.setBar(0, C + COMMON.queue_desc, 0x5555_6666, 4);
    expect(p.common('queue_desc')).toBe(0x1111_ab22_5555_6666n);
    p.setBar(0, C + COMMON.queue_desc, 0xffff_ffff_ffff_ffffn, 8, new Uint8Array([0, 1, 0, 0, 0, 0, 0, 1]));
    expect(p.common('queue_desc')).toBe(0xff11_ab22_5555_ff66n);
  });

  test('one access over queue_select and queue_size writes the queue selected before it', () => {
    const p = new Poke(L);
    p.negotiate(L.features);
    p.setBar(0, C + COMMON.queue_select, (64 << 16) | 1, 4);
    expect(p.common('queue_select')).toBe(1);
    expect(p.common('queue_size')).toBe(L.queues.maxSize);
    p.setCommon('queue_select', 0);
    expect(p.common('queue_size')).toBe(64);
  });

  test('reads of any width and alignment return the bytes of each field; holes read 0', () => {
    const p = new Poke(L);
    const whole = p.bar(0, C, 0x40);
    for (let off = 0; off < 0x40; off++)
      for (const len of [1, 2, 3, 4, 8]) {
        if (off + len > 0x40) continue;
        const want = (whole >> BigInt(8 * off)) & ((1n << BigInt(8 * len)) - 1n);
        expect(p.bar(0, C + off, len), `common+0x${off.toString(16)}/${len}`).toBe(want);
      }
    expect(p.bar(0, 0x3c, 4)).toBe(0n); // between common and ISR
    expect(p.bar(0, 0x800, 8)).toBe(0n); // rest of page 0
    expect(p.bar(0, 0x1000, 8)).toBe(0n); // notify reads 0
  });
});

describe('ISR', () => {
  test('read-to-clear by any read touching its byte; other bytes of the region read 0', () => {
    const p = new Poke(L);
    p.g.interrupts.setIsr(ISR.QUEUE | ISR.CONFIG);
    expect(p.bar(0, L.isr.offset + 1, 3)).toBe(0n);
    expect(p.isr()).toBe(3);
    expect(p.isr()).toBe(0);
    p.g.interrupts.setIsr(ISR.CONFIG);
    expect(p.bar(0, L.isr.offset - 4, 8)).toBe(BigInt(ISR.CONFIG) << 32n); // straddling from the hole before it
    expect(p.isr(4)).toBe(0);
    p.g.interrupts.setIsr(ISR.QUEUE);
    expect(p.g.predict({ space: 'bar', bar: 0, offset: L.isr.offset, size: 1 })).toEqual(new Uint8Array([1]));
    expect(p.isr()).toBe(1); // predict had no side effect
  });
});

describe('notifications', () => {
  const notifyEvents = (p: Poke) => p.g.events.filter((e) => e.kind === 'notify');

  test('a 16-bit write at queue_notify_off * multiplier rings that queue; disabled queues are dropped', () => {
    const p = new Poke(L);
    p.setBar(0, L.notify.offset + 4, 1, 2);
    expect(notifyEvents(p)).toEqual([]);
    p.driverOk();
    p.setBar(0, L.notify.offset + 4, 1, 2);
    p.setBar(0, L.notify.offset, 0, 4);
    p.setBar(0, L.notify.offset + 1, 0, 1); // half a doorbell
    p.setBar(0, L.notify.offset, 0x0001_0000n, 8); // both doorbells in one write
    expect(notifyEvents(p)).toEqual([
      { kind: 'notify', queue: 1, value: 1 },
      { kind: 'notify', queue: 0, value: 0 },
      { kind: 'notify', queue: 0, value: 0 },
      { kind: 'notify', queue: 1, value: 0 },
    ]);
  });

  test('multiplier 0: one doorbell, the value names the queue; NOTIFICATION_DATA: 32-bit doorbells', () => {
    const shared: VirtioPciLayout = { ...L, notify: { ...L.notify, length: 4, multiplier: 0 } };
    const p = new Poke(shared);
    p.driverOk();
    p.setBar(0, L.notify.offset, 1, 2);
    p.setBar(0, L.notify.offset, 7, 2);
    expect(notifyEvents(p)).toEqual([{ kind: 'notify', queue: 1, value: 1 }]);
    const nd: VirtioPciLayout = { ...L, features: [...L.features, 'VIRTIO_F_NOTIFICATION_DATA'] };
    const q = new Poke(nd);
    q.driverOk();
    q.setBar(0, L.notify.offset + 4, 1, 2);
    q.setBar(0, L.notify.offset + 4, 0x8005_0001, 4);
    expect(notifyEvents(q)).toEqual([{ kind: 'notify', queue: 1, value: 0x8005_0001 }]);
  });
});

describe('device configuration', () => {
  test('values the device reported survive a reset and an FLR; driver-writable ones return to their reset value', () => {
    const p = new Poke(QEMU_LAYOUT);
    p.driverOk(['VIRTIO_F_VERSION_1', 'VIRTIO_BLK_F_CONFIG_WCE', 'VIRTIO_BLK_F_FLUSH']);
    p.g.changeDeviceConfig('capacity', 0x1234);
    const dev = (off: number, size: number) =>
      Number(p.bar(QEMU_LAYOUT.device!.bar, QEMU_LAYOUT.device!.offset + off, size));
    p.setBar(QEMU_LAYOUT.device!.bar, QEMU_LAYOUT.device!.offset + 0x20, 1, 1); // writeback
    expect(dev(0x20, 1)).toBe(1);
    p.setCommon('device_status', 0);
    expect(dev(0, 4)).toBe(0x1234);
    expect(dev(0x20, 1)).toBe(0);
  });

  test('blk values; fields past the structure read 0; num_queues follows the layout', () => {
    const p = new Poke(L, { deviceConfig: { capacity: 0x1_0000_0000n } });
    const d = L.device!.offset;
    expect(p.bar(0, d, 8)).toBe(0x1_0000_0000n);
    expect(p.bar(0, d + 0x14, 4)).toBe(512n);
    expect(p.bar(0, d + 0x22, 2)).toBe(BigInt(L.queues.count));
    expect(p.bar(0, d + 0x5d, 3)).toBe(0n);
  });

  test('writeback is writable only when CONFIG_WCE is offered; a driver write does not change the generation', () => {
    const d = L.device!.offset;
    const p = new Poke(L);
    p.setBar(0, d + 0x20, 1, 1);
    expect(p.bar(0, d + 0x20, 1)).toBe(0n);
    const q = new Poke(QEMU_LAYOUT);
    const qd = QEMU_LAYOUT.device!.offset;
    q.setBar(4, qd + 0x20, 1, 1);
    expect(q.bar(4, qd + 0x20, 1)).toBe(1n);
    expect(q.common('config_generation')).toBe(0);
  });

  test('config_generation: the first change after a read increments it; later ones coalesce until the next read', () => {
    const p = new Poke(L);
    p.driverOk();
    const gen = () => p.common('config_generation');
    const d = L.device!.offset;
    expect(gen()).toBe(0);
    p.g.changeDeviceConfig('capacity', 1);
    expect(gen()).toBe(1);
    for (let i = 2; i < 600; i++) p.g.changeDeviceConfig('capacity', i);
    expect(gen()).toBe(1);
    p.bar(0, d, 4); // the driver reads the configuration
    p.g.changeDeviceConfig('capacity', 7);
    expect(gen()).toBe(2);
    p.g.changeDeviceConfig('capacity', 7); // no change, no new generation
    p.bar(0, d, 4);
    p.g.changeDeviceConfig('capacity', 7);
    expect(gen()).toBe(2);
    // A read sequence that straddles a change sees two generations (the driver retries).
    const before = gen();
    p.bar(0, d, 4);
    p.g.changeDeviceConfig('capacity', 9);
    p.bar(0, d + 4, 4);
    expect(gen()).not.toBe(before);
  });
});
