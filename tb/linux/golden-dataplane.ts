// The data plane behind the RTL control plane until the RTL queue engines land: the golden queue engine
// (tb/virtio/ring DeviceQueue) and virtio-blk device (tb/virtio/blk BlkDevice) serve the queues the RTL hands over
// (dp_q<n>_* ports: a doorbell's notify pulse, the ring addresses, the negotiated features), their DMA checked by
// the root complex's host memory (the guest's memory), and their used-buffer notifications go through the RTL's
// dp_irq_queue port, so that the RTL's MSI-X logic sends them.
import type { Sim, SignalWatch } from '../../sim/index';
import type { RootComplex } from '../pcie/rootcomplex';
import { BlkDevice } from '../virtio/blk/device';
import { ringFeatures, ringFeaturesName } from '../virtio/ring/defs';
import { DeviceQueue } from '../virtio/ring/device';
import { HostDma } from '../virtio/ring/dma';
import type { DataPlaneStandIn } from '../virtio/standin';
import type { DataPlane } from './bridge';

export class GoldenDataPlane implements DataPlane {
  readonly name = 'golden (tb/virtio ring + blk models)';
  readonly blk: BlkDevice;
  private readonly dma: HostDma;
  private queues: (DeviceQueue | undefined)[] = [];
  private readonly notifies: SignalWatch[];
  private readonly served: number[];
  private readonly resets: SignalWatch;
  private resetsSeen = 0;
  private features = 0n;
  readonly stats = { requests: 0, interrupts: 0, serves: 0 };

  constructor(
    private readonly sim: Sim,
    private readonly rc: RootComplex,
    private readonly standIn: DataPlaneStandIn,
    readonly queueCount: number,
    capacitySectors: number,
  ) {
    this.blk = new BlkDevice({ capacity: capacitySectors, id: 'virtio-fpga' });
    this.dma = new HostDma(rc.mem);
    this.notifies = Array.from({ length: queueCount }, (_, q) => sim.watch(`dp_q${q}_notify`));
    this.served = new Array(queueCount).fill(0);
    this.resets = sim.watch('dp_reset_req');
  }

  service(): boolean {
    const resets = this.resets.count;
    if (resets !== this.resetsSeen) {
      // The device is being reset: forget the queues (the driver sets them up again).
      this.resetsSeen = resets;
      this.queues = [];
    }
    let did = false;
    for (let q = 0; q < this.queueCount; q++) {
      const n = this.notifies[q].count;
      if (n === this.served[q]) continue;
      this.served[q] = n;
      const dq = this.queue(q);
      const res = this.blk.serve(dq);
      this.stats.serves++;
      if (res.error) throw new Error(`data plane: queue ${q}: ${res.error.message}`);
      this.stats.requests += res.outcomes.length;
      if (res.publish.notify) {
        this.stats.interrupts++;
        const before = this.rc.interrupts.length;
        this.standIn.signalQueue(q);
        // The RTL turns it into an MSI-X write (unless the vector is masked: then it is pending, and the unmask
        // sends it later).
        try {
          this.rc.waitFor(`queue ${q}'s MSI-X message`, () => this.rc.interrupts.length > before, { timeout: 2000 });
        } catch {
          // masked or no vector: nothing to wait for
        }
      }
      did = true;
    }
    return did;
  }

  readDisk(offset: number, length: number): Uint8Array {
    return this.blk.disk.read(offset, length);
  }

  private queue(q: number): DeviceQueue {
    const known = this.queues[q];
    if (known) return known;
    const peek = (f: string) => this.sim.peek(`dp_q${q}_${f}`);
    if (peek('enable') !== 1n) throw new Error(`data plane: a doorbell for queue ${q}, which is not enabled`);
    this.features = this.sim.peek('dp_features');
    const ring = { num: Number(peek('size')), desc: peek('desc'), driver: peek('driver'), device: peek('device') };
    const dq = new DeviceQueue({ index: q, ring, features: ringFeatures(this.features), dma: this.dma });
    this.queues[q] = dq;
    return dq;
  }

  summary(): Record<string, string | number> {
    return {
      'data plane': this.name,
      ring: ringFeaturesName(ringFeatures(this.features)),
      requests: this.stats.requests,
      'used-buffer interrupts': this.stats.interrupts,
    };
  }
}
