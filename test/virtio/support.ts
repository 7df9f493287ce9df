// What the virtio tests share: a golden-model device (tb/virtio/endpoint.ts) behind a seeded root complex, with
// a CheckedLink in between so that every read the tests make is also compared with an independent model.
import { DEFAULT_LAYOUT, validateLayout, type VirtioPciLayout } from '../../gen/virtio/layout';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { CheckedLink, checkingModel } from '../../tb/virtio/checker';
import { VirtioEndpoint, type VirtioEndpointOptions } from '../../tb/virtio/endpoint';
import type { DataPlaneInputs } from '../../tb/virtio/golden/handover';
import type { GoldenTransport } from '../../tb/virtio/golden/transport';

/**
 * The default layout offering RING_RESET too, as it will once the queue engine implements queue resets (the RTL
 * is then generated with dataPlaneFeatures: ['VIRTIO_F_RING_RESET'] and the testbench's data plane answers them).
 */
export const RING_RESET_LAYOUT: VirtioPciLayout = validateLayout({
  ...DEFAULT_LAYOUT,
  name: 'default_rr',
  features: [...DEFAULT_LAYOUT.features, 'VIRTIO_F_RING_RESET'],
});

export interface VirtioBench {
  ep: VirtioEndpoint;
  /** The device's own model (what answers). */
  device: GoldenTransport;
  /** The checker's independent model. */
  link: CheckedLink;
  rc: RootComplex;
  /**
   * Data-plane inputs (interrupts, configuration changes, fatal errors) to both models at once: the checker's
   * model must see the device-side events too (with RTL, it will learn them from the RTL's data-plane ports).
   */
  dataPlane: DataPlaneInputs;
}

/** A golden-model device behind a checked link and a root complex with random latency, splits and reordering. */
export function bench(
  layout: VirtioPciLayout,
  seed: number,
  opts: VirtioEndpointOptions = {},
  rc: RootComplexOptions = {},
): VirtioBench {
  const ep = new VirtioEndpoint(layout, opts);
  const { lanes: _l, latency: _t, ...golden } = opts;
  const link = new CheckedLink(ep, checkingModel(layout, golden));
  const both = [ep.golden, link.golden];
  const dataPlane: DataPlaneInputs = {
    signalQueue: (q) => both.forEach((g) => g.signalQueue(q)),
    changeDeviceConfig: (f, v) => both.forEach((g) => g.changeDeviceConfig(f, v)),
    fatalError: () => both.forEach((g) => g.fatalError()),
    completeReset: () => both.forEach((g) => g.completeReset()),
    completeQueueReset: (q) => both.forEach((g) => g.completeQueueReset(q)),
    setDmaOutstanding: (on) => both.forEach((g) => g.setDmaOutstanding(on)),
  };
  const r = new RootComplex(link, { seed, latency: { min: 20, max: 200 }, ...rc });
  return { ep, device: ep.golden, link, rc: r, dataPlane };
}

/** A layout with some fields replaced (for variants of a preset); not validated. */
export function variant(base: VirtioPciLayout, change: Partial<VirtioPciLayout>): VirtioPciLayout {
  return { ...base, ...change, name: `${base.name}*` };
}
