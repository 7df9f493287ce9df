// What the RTL virtio tests share: the Verilated endpoint (gen/virtio/top.ts) behind a CheckedLink and a seeded
// root complex, so that every register read is compared with an independent golden model; and a data-plane
// stand-in on the handover ports (dp_*) that tells the RTL and the checker's model the same device-side events
// (tb/virtio/standin.ts, shared with the Linux bridge).
import type { DataWidth } from '../../gen/pcie/streams';
import type { VirtioPciLayout } from '../../gen/virtio/layout';
import { VirtioEndpoint, type VirtioEndpointParams } from '../../gen/virtio/top';
import { designPorts } from '../../sim/design';
import { Sim, type SimOptions } from '../../sim/index';
import { TapLink } from '../../tb/pcie/link';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { CheckedLink, checkingModel } from '../../tb/virtio/checker';
import { DataPlaneStandIn, EndpointLink } from '../../tb/virtio/standin';
import type { GoldenOptions, GoldenTransport } from '../../tb/virtio/golden/transport';

/** The endpoint as the generator produces it now, emitted for the simulator. */
export function endpointPorts(
  layout: VirtioPciLayout,
  W: DataWidth,
  extra: Partial<VirtioEndpointParams> = {},
): string {
  return designPorts(VirtioEndpoint.elaborate({ layout, W, ...extra }));
}

export { DataPlaneStandIn, EndpointLink };

export interface RtlBench {
  sim: Sim;
  /** The endpoint's link (dp_cpl collected there). */
  ep: EndpointLink;
  tap: TapLink;
  link: CheckedLink;
  rc: RootComplex;
  /** The checker's model. */
  model: GoldenTransport;
  dataPlane: DataPlaneStandIn;
}

const open: Sim[] = [];
/** Closes every simulator rtlBench() opened (afterEach). */
export function closeRtlBenches(): void {
  for (const s of open.splice(0)) s.close();
}

/** The endpoint behind a checked link and a root complex with random latency, splits, reordering and link noise. */
export function rtlBench(
  ports: string,
  layout: VirtioPciLayout,
  seed: number,
  opts: { rc?: RootComplexOptions; sim?: Partial<SimOptions>; golden?: GoldenOptions } = {},
): RtlBench {
  const sim = Sim.load({ ports, quiet: true, seed, rxIdle: 0.1, txBackpressure: 0.3, ...opts.sim });
  open.push(sim);
  const ep = new EndpointLink(sim);
  const tap = new TapLink(ep);
  const link = new CheckedLink(tap, checkingModel(layout, opts.golden));
  const rc = new RootComplex(link, { seed, latency: { min: 20, max: 200 }, ...opts.rc });
  return { sim, ep, tap, link, rc, model: link.golden, dataPlane: new DataPlaneStandIn(sim, link.golden) };
}
