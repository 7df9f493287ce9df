// What the RTL virtio tests share: the Verilated endpoint (gen/virtio/top.ts) behind a CheckedLink and a seeded
// root complex, so that every register read is compared with an independent golden model; and a data-plane
// stand-in on the handover ports (dp_*) that tells the RTL and the checker's model the same device-side events.
import type { DataWidth } from '../../gen/pcie/streams';
import type { VirtioPciLayout } from '../../gen/virtio/layout';
import { DEVICE_TYPES } from '../../gen/virtio/regmap';
import { VirtioEndpoint, type VirtioEndpointParams } from '../../gen/virtio/top';
import { designPorts } from '../../sim/design';
import { Sim, type SimOptions } from '../../sim/index';
import type { RawTlp } from '../../sim/raw';
import { SimLink, TapLink } from '../../tb/pcie/link';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { CheckedLink, checkingModel } from '../../tb/virtio/checker';
import type { DataPlaneInputs } from '../../tb/virtio/golden/handover';
import type { GoldenOptions, GoldenTransport } from '../../tb/virtio/golden/transport';

/** The endpoint as the generator produces it now, emitted for the simulator. */
export function endpointPorts(
  layout: VirtioPciLayout,
  W: DataWidth,
  extra: Partial<VirtioEndpointParams> = {},
): string {
  return designPorts(VirtioEndpoint.elaborate({ layout, W, ...extra }));
}

/**
 * The data plane as a testbench drives it: quiet by default (reset_done and queue_reset_done held high, so resets
 * complete at once; no DMA outstanding), and the device-side events of DataPlaneInputs, each given to the RTL
 * (a pulse on its port) and to the checker's model at the same point of the request stream.
 */
export class DataPlaneStandIn implements DataPlaneInputs {
  constructor(
    readonly sim: Sim,
    readonly model: GoldenTransport,
  ) {
    const q = model.layout.queues.count;
    sim.poke('dp_reset_done', 1);
    sim.poke('dp_queue_reset_done', (1n << BigInt(q)) - 1n);
  }
  signalQueue(q: number): void {
    this.sim.pulse('dp_irq_queue', { value: 1n << BigInt(q) });
    this.model.signalQueue(q);
  }
  changeDeviceConfig(field: string, value: bigint | number): void {
    const index = DEVICE_TYPES[this.model.layout.deviceType].config.findIndex((f) => f.name === field);
    if (index < 0) throw new Error(`no configuration field ${field}`);
    this.sim.poke('dp_cfg_field', index);
    this.sim.poke('dp_cfg_value', BigInt(value));
    this.sim.pulse('dp_cfg_valid');
    this.model.changeDeviceConfig(field, value);
  }
  fatalError(): void {
    this.sim.pulse('dp_fatal_error');
    this.model.fatalError();
  }
  /** Holding reset_done low makes resets that found DRIVER_OK wait for completeReset(). */
  holdResets(hold: boolean): void {
    this.sim.poke('dp_reset_done', hold ? 0 : 1);
  }
  completeReset(): void {
    this.sim.pulse('dp_reset_done');
    this.model.completeReset();
  }
  holdQueueResets(hold: boolean): void {
    const q = this.model.layout.queues.count;
    this.sim.poke('dp_queue_reset_done', hold ? 0 : (1n << BigInt(q)) - 1n);
  }
  completeQueueReset(q: number): void {
    this.sim.pulse('dp_queue_reset_done', { value: 1n << BigInt(q) });
    this.model.completeQueueReset(q);
  }
  setDmaOutstanding(on: boolean): void {
    this.sim.poke('dp_dma_outstanding', on ? 1 : 0);
    this.model.setDmaOutstanding(on);
  }
}

/**
 * The endpoint's link for the root complex: requests into `rx`, its TLPs from `tx`; the completions of the data
 * plane's reads (`dp_cpl`, a second source the simulator counts for every stop) are collected on every take.
 */
export class EndpointLink extends SimLink {
  /** Completions delivered on dp_cpl, in order. */
  readonly dpCpl: RawTlp[] = [];
  constructor(readonly endpoint: Sim) {
    super(endpoint, { rx: 'rx', tx: ['tx'] });
  }
  override takeTx(): RawTlp[] {
    this.dpCpl.push(...this.endpoint.takeTx('dp_cpl'));
    return super.takeTx();
  }
}

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
