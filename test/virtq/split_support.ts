// What the split queue engine's tests share: its test top (gen/virtq/split_test_top.ts) Verilated behind a root
// complex whose host memory holds the rings, the handover inputs poked as the control plane would, the `chain`
// port taken by a receiver and the `done` port fed by a sender (the tests play the device), and the golden
// DeviceQueue (tb/virtio/ring/device.ts) reading the same memory to say which chain must come next.
import { SPLIT_TEST_QUEUES, SplitTestTop } from '../../gen/virtq/split_test_top';
import type { DataWidth } from '../../gen/pcie/streams';
import { featureMask } from '../../gen/virtio/regmap';
import { designPorts } from '../../sim/design';
import { Sim, type SimOptions } from '../../sim/index';
import type { HandshakeReceiver, HandshakeSender } from '../../sim/sideband';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import type { RingAddresses, RingFeatures } from '../../tb/virtio/ring/defs';
import type { ChainSegment } from '../../tb/virtio/ring/device';

export const QUEUES = SPLIT_TEST_QUEUES;
export const DEVICE_ID = 0x0100;
const FLAGS = ['--public-flat-rw'];

export const splitPorts = (W: DataWidth, indirect = true): string =>
  designPorts(SplitTestTop.elaborate({ W, queues: QUEUES, ...(indirect ? {} : { indirect: false }) }));

/** Builds the simulator for a ports file (or hits the cache): call from beforeAll. */
export function buildSplitSim(ports: string): void {
  Sim.load({ ports, resetCycles: 0, verilatorFlags: FLAGS }).close();
}

/** The negotiated feature mask of a ring feature set (split: RING_PACKED clear). */
export function featureBits(f: RingFeatures): bigint {
  const names = ['VIRTIO_F_VERSION_1'];
  if (f.indirect) names.push('VIRTIO_F_INDIRECT_DESC');
  if (f.eventIdx) names.push('VIRTIO_F_EVENT_IDX');
  if (f.inOrder) names.push('VIRTIO_F_IN_ORDER');
  return featureMask(names, 'blk');
}

/** A chain as the engine handed it to the device. */
export interface RtlChain {
  queue: number;
  id: number;
  slots: number;
  segments: ChainSegment[];
}

export interface SplitBench {
  W: DataWidth;
  sim: Sim;
  rc: RootComplex;
  chains: HandshakeReceiver;
  done: HandshakeSender;
  /** Chain beats received but not yet ending a chain. */
  partial: ChainSegment[];
  /** Whole chains received since the last takeChains(). */
  takeChains(): RtlChain[];
  /** Completes a chain (the device wrote `len` bytes). */
  complete(c: { queue: number; id: number; slots: number }, len: number): void;
  /** Pokes queue i's configuration and enables it. */
  setQueue(i: number, ring: RingAddresses): void;
  disableQueue(i: number): void;
  setFeatures(f: RingFeatures): void;
  kick(i: number): void;
  irqCount(i: number): number;
  fatalCount(): number;
}

const open: Sim[] = [];
export function closeSplitBenches(): void {
  for (const s of open.splice(0)) s.close();
}

export function bootSplit(
  W: DataWidth,
  ports: string,
  seed: number,
  rcOpts: RootComplexOptions = {},
  simOpts: Partial<SimOptions> = {},
): SplitBench {
  const sim = Sim.load({ ports, quiet: true, seed, verilatorFlags: FLAGS, ...simOpts });
  open.push(sim);
  const dev = { mps: 256, mrrs: 512, extTags: true, busMaster: true };
  const rc = new RootComplex(sim, {
    seed,
    deviceId: DEVICE_ID,
    device: dev,
    deviceCompletionTimeout: 20_000,
    ...rcOpts,
  });
  sim.poke('bus_master', 1);
  sim.poke('max_payload', 1);
  sim.poke('max_read_req', 2);
  sim.poke('ext_tag_en', 1);
  sim.poke('requester_id', DEVICE_ID);
  sim.poke('timeout', 20_000);
  rc.setDeviceControl(dev);
  const chainFields = ['queue', 'id', 'slots', 'addr', 'len', 'write', 'last'].map((f) => `chain_${f}`);
  const chains = sim.handshakeReceiver({ valid: 'chain_valid', ready: 'chain_ready', data: chainFields });
  const done = sim.handshakeSender({
    valid: 'done_valid',
    ready: 'done_ready',
    data: ['done_queue', 'done_id', 'done_slots', 'done_len'],
  });
  const b: SplitBench = {
    W,
    sim,
    rc,
    chains,
    done,
    partial: [],
    takeChains() {
      const out: RtlChain[] = [];
      for (const it of chains.take()) {
        const v = it.values;
        b.partial.push({ addr: v.chain_addr, len: Number(v.chain_len), write: v.chain_write === 1n });
        if (v.chain_last === 1n) {
          out.push({
            queue: Number(v.chain_queue),
            id: Number(v.chain_id),
            slots: Number(v.chain_slots),
            segments: b.partial.splice(0),
          });
        }
      }
      return out;
    },
    complete(c, len) {
      done.send({ done_queue: c.queue, done_id: c.id, done_slots: c.slots, done_len: len });
    },
    setQueue(i, ring) {
      sim.poke(`q${i}_size`, ring.num);
      sim.poke(`q${i}_desc`, ring.desc);
      sim.poke(`q${i}_driver`, ring.driver);
      sim.poke(`q${i}_device`, ring.device);
      sim.poke(`q${i}_enable`, 1);
    },
    disableQueue(i) {
      sim.poke(`q${i}_enable`, 0);
    },
    setFeatures(f) {
      sim.poke('features', featureBits(f));
      sim.poke('driver_ok', 1);
    },
    kick(i) {
      sim.pulse(`q${i}_notify`);
    },
    irqCount: (i) => Number(sim.peek(`irq_count_q${i}`)),
    fatalCount: () => Number(sim.peek('fatal_count')),
  };
  for (let i = 0; i < QUEUES; i++)
    for (const f of ['size', 'vector', 'enable', 'desc', 'driver', 'device', 'reset_req', 'reset_pending', 'notify'])
      sim.poke(`q${i}_${f}`, 0);
  sim.poke('features', 0);
  sim.poke('driver_ok', 0);
  sim.poke('reset_req', 0);
  sim.reset();
  return b;
}
