// The RTL virtio endpoint's data-plane side as a testbench (or the Linux bridge) drives it until the queue engines
// exist: a stand-in on the handover ports (dp_*) that tells the RTL and the checker's model the same device-side
// events, and the endpoint's link with the data plane's completions (dp_cpl) collected.
import { DEVICE_TYPES } from '../../gen/virtio/regmap';
import type { Sim } from '../../sim/index';
import type { RawTlp } from '../../sim/raw';
import { SimLink } from '../pcie/link';
import type { DataPlaneInputs } from './golden/handover';
import type { GoldenTransport } from './golden/transport';

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
