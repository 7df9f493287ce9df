// The checker (tb/virtio/checker.ts) that will run beside the RTL: it must stay silent on a correct device and
// name the register when a device differs from the model. Here the "device under test" is a golden model built
// with a planted difference.
import { expect, test } from 'vitest';
import { DEFAULT_LAYOUT, QEMU_LAYOUT } from '../../gen/virtio/layout';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { CheckedLink, checkingModel } from '../../tb/virtio/checker';
import { VirtioPciDriver } from '../../tb/virtio/driver/driver';
import { VirtioEndpoint } from '../../tb/virtio/endpoint';
import { GoldenMismatch } from '../../tb/virtio/golden/transport';
import { seededTest } from '../support/seeds';

function run(device: VirtioEndpoint, layout = device.layout, seed = 1) {
  const link = new CheckedLink(device, checkingModel(layout), 'record');
  const rc = new RootComplex(link, { seed });
  let error: unknown;
  try {
    new VirtioPciDriver(rc).probe();
  } catch (e) {
    error = e;
  }
  return { link, error };
}

seededTest('a correct device that resets slower than the model assumes: no mismatch', (seed) => {
  const { link, error } = run(new VirtioEndpoint(DEFAULT_LAYOUT, { resetReads: 5 }), DEFAULT_LAYOUT, seed);
  expect(error).toBeUndefined();
  expect(link.checkedReads).toBeGreaterThan(100);
  expect(link.mismatches).toEqual([]);
});

test('a wrong read-only configuration byte is named', () => {
  const dev = new VirtioEndpoint(DEFAULT_LAYOUT, { patchConfig: (c) => c.poke(0x2e, 0x77) });
  const { link } = run(dev);
  expect(link.mismatches[0]).toBeInstanceOf(GoldenMismatch);
  expect(link.mismatches[0].message).toMatch(
    /config 0x2c\+4 \(subsystem vendor ID\): device returned 0x00771af4, expected 0x00421af4/,
  );
});

test('a different queue size maximum is named at common.queue_size', () => {
  const dev = new VirtioEndpoint({ ...DEFAULT_LAYOUT, queues: { count: 2, maxSize: 128 } });
  const { link } = run(dev, DEFAULT_LAYOUT);
  expect(link.mismatches.map((m) => m.message).join('\n')).toMatch(
    /BAR0\+0x18\+2 \(common.queue_size\): device returned 0x0080, expected 0x0100/,
  );
});

test('a different feature offer is named at common.device_feature', () => {
  const dev = new VirtioEndpoint(QEMU_LAYOUT);
  const { link } = run(dev, {
    ...QEMU_LAYOUT,
    features: QEMU_LAYOUT.features.filter((f) => f !== 'VIRTIO_F_EVENT_IDX'),
  });
  expect(link.mismatches[0].message).toMatch(
    /common.device_feature\): device returned 0x30007e54, expected 0x10007e54/,
  );
});

test('a device that claims what the model does not (a bigger BAR) is reported, BAR sizing first', () => {
  const big = { ...DEFAULT_LAYOUT, bars: [{ index: 0, size: 0x8000, bits: 64 as const, prefetchable: false }] };
  const link = new CheckedLink(new VirtioEndpoint(big), checkingModel(DEFAULT_LAYOUT), 'record');
  const rc = new RootComplex(link, { seed: 1 });
  rc.enumerate();
  expect(rc.read32(rc.device!.bars[0]!.address + 0x5000n)).toBe(0);
  const all = link.mismatches.map((m) => m.message).join('\n');
  expect(all).toMatch(/config 0x10\+4 \(BAR0\): device returned 0xffff8004, expected 0xffffc004/);
  expect(all).toMatch(/memory read at 0x[0-9a-f]+ \(1 DW\): the device answered data, the model does not claim it/);
});
