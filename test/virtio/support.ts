// What the virtio tests share: a golden-model device (tb/virtio/endpoint.ts) behind a seeded root complex, with
// a CheckedLink in between so that every read the tests make is also compared with an independent model.
import type { VirtioPciLayout } from '../../gen/virtio/layout';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { CheckedLink, checkingModel } from '../../tb/virtio/checker';
import { VirtioEndpoint, type VirtioEndpointOptions } from '../../tb/virtio/endpoint';
import type { GoldenTransport } from '../../tb/virtio/golden/transport';

export interface VirtioBench {
  ep: VirtioEndpoint;
  /** The device's own model (what answers). */
  device: GoldenTransport;
  /** The checker's independent model. */
  link: CheckedLink;
  rc: RootComplex;
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
  return { ep, device: ep.golden, link, rc: new RootComplex(link, { seed, latency: { min: 20, max: 200 }, ...rc }) };
}

/** A layout with some fields replaced (for variants of a preset); not validated. */
export function variant(base: VirtioPciLayout, change: Partial<VirtioPciLayout>): VirtioPciLayout {
  return { ...base, ...change, name: `${base.name}*` };
}
