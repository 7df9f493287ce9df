// The randomized differential workload on the whole virtio-blk function (system.ts), in epochs: each epoch is a
// fresh simulation (host memory is never reused across requests: a fresh host every few thousand requests keeps
// the address space small) with its own random setup drawn from (seed, epoch): the ring format (unless fixed),
// features the driver declines (INDIRECT_DESC, EVENT_IDX; FLUSH, DISCARD, WRITE_ZEROES: those then complete
// UNSUPP), requests in flight per queue, one or both queues, host latency, completion splitting and reordering,
// MPS, MRRS, transmit backpressure and receive gaps. Every request is checked against the golden model, every
// device access against the ring invariants and host memory's grants; the epoch ends with the disk compared and
// the driver's remove (a device reset). An epoch is replayed alone from its seed and index.
import type { DataWidth } from '../../../gen/pcie/streams';
import { Rng } from '../../../sim/random';
import { LINUX_BLK_FEATURES } from '../driver/features';
import { BlkSystem, BlkSystemFailure, type RingFormat } from './system';
import { randomWorkload } from './workload';

/** Requests per epoch. */
export const SOAK_EPOCH = 2000;

export interface SoakOptions {
  requests: number;
  seed: number;
  W: DataWidth;
  /** Both formats, alternating by epoch, when undefined. */
  ring?: RingFormat;
  /** Only this epoch (a replay). */
  epoch?: number;
  /** Requests per epoch (default SOAK_EPOCH). */
  epochRequests?: number;
  /** Cycles without a completion that count as a hang (default 200,000). */
  watchdog?: number;
  /** Told after each epoch. */
  onEpoch?: (r: EpochResult) => void;
}

export interface EpochSetup {
  readonly ring: RingFormat;
  readonly depth: number;
  readonly queues: readonly number[];
  readonly decline: readonly string[];
  readonly driverFeatures: readonly string[];
  readonly latency: { min: number; max: number };
  readonly split: 'max' | 'rcb' | 'random';
  readonly reorder: boolean;
  readonly mps: number;
  readonly mrrs: number;
  readonly txBackpressure: number;
  readonly rxIdle: number;
}

export interface EpochResult {
  readonly epoch: number;
  readonly seed: number;
  readonly setup: EpochSetup;
  readonly requests: number;
  readonly ok: number;
  readonly cycles: number;
  readonly wallSeconds: number;
  /** Wall seconds inside the simulator's C++ run loop (the rest: TypeScript, the checks, the bridge). */
  readonly cppSeconds: number;
}

export interface SoakResult {
  readonly requests: number;
  readonly epochs: number;
  readonly cycles: number;
  readonly wallSeconds: number;
  readonly failure?: { epoch: number; setup: EpochSetup; error: Error };
}

/** The seed of an epoch (its simulation, root complex and workload). */
export function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
}

const OPTIONAL_BLK = ['VIRTIO_BLK_F_FLUSH', 'VIRTIO_BLK_F_DISCARD', 'VIRTIO_BLK_F_WRITE_ZEROES'];

/** An epoch's random setup. */
export function epochSetup(seed: number, epoch: number, ring: RingFormat | undefined): EpochSetup {
  const rng = new Rng((epochSeed(seed, epoch) ^ 0x2545f491) >>> 0);
  const min = rng.int(1, 150);
  const dropped = OPTIONAL_BLK.filter(() => rng.chance(0.2));
  return {
    ring: ring ?? (epoch % 2 === 0 ? 'packed' : 'split'),
    depth: rng.pick([1, 2, 4, 8, 16, 32]),
    queues: rng.pick([[0], [1], [0, 1], [0, 1]]),
    decline: ['VIRTIO_F_INDIRECT_DESC', 'VIRTIO_F_EVENT_IDX'].filter(() => rng.chance(0.3)),
    driverFeatures: LINUX_BLK_FEATURES.filter((f) => !dropped.includes(f)),
    latency: { min, max: min + rng.int(0, 400) },
    split: rng.pick(['max', 'rcb', 'random'] as const),
    reorder: rng.chance(0.8),
    mps: rng.pick([128, 256]),
    mrrs: rng.pick([128, 256, 512]),
    txBackpressure: rng.pick([0, 0, 0.1, 0.3]),
    rxIdle: rng.pick([0, 0, 0.1]),
  };
}

export function describeSetup(s: EpochSetup): string {
  return [
    s.ring,
    `depth ${s.depth}`,
    `queues ${s.queues.join('+')}`,
    s.decline.length ? `declines ${s.decline.map((f) => f.replace(/^VIRTIO_F_/, '')).join(',')}` : '',
    s.driverFeatures.length < LINUX_BLK_FEATURES.length
      ? `without ${OPTIONAL_BLK.filter((f) => !s.driverFeatures.includes(f))
          .map((f) => f.replace(/^VIRTIO_BLK_F_/, ''))
          .join(',')}`
      : '',
    `latency ${s.latency.min}-${s.latency.max}`,
    `split ${s.split}${s.reorder ? ', reordered' : ''}`,
    `MPS ${s.mps} MRRS ${s.mrrs}`,
    s.txBackpressure ? `backpressure ${s.txBackpressure}` : '',
    s.rxIdle ? `rx idle ${s.rxIdle}` : '',
  ]
    .filter((x) => x)
    .join(', ');
}

/** Runs one epoch of `requests` requests; throws BlkSystemFailure (or another error) on the first problem. */
export function runEpoch(o: {
  seed: number;
  epoch: number;
  W: DataWidth;
  setup: EpochSetup;
  requests: number;
  watchdog?: number;
}): EpochResult {
  const s = o.setup;
  const seed = epochSeed(o.seed, o.epoch);
  const t0 = performance.now();
  const sys = new BlkSystem({
    W: o.W,
    ring: s.ring,
    seed,
    record: false,
    history: 32,
    txBackpressure: s.txBackpressure,
    rxIdle: s.rxIdle,
    driverFeatures: s.driverFeatures,
    declineFeatures: s.decline,
    rc: {
      latency: s.latency,
      split: s.split,
      reorder: s.reorder,
      mps: s.mps,
      mrrs: s.mrrs,
    },
  });
  try {
    const st = sys.run(randomWorkload(), {
      requests: o.requests,
      depth: s.depth,
      queues: s.queues.filter((q) => q < sys.queues),
      watchdog: o.watchdog,
    });
    sys.finish();
    return {
      epoch: o.epoch,
      seed,
      setup: s,
      requests: st.requests,
      ok: st.ok,
      cycles: st.cycles,
      wallSeconds: (performance.now() - t0) / 1000,
      cppSeconds: sys.sim.stats().cppSeconds,
    };
  } finally {
    sys.close();
  }
}

/** The soak: `requests` requests in epochs; stops at the first failure and returns it. */
export function soak(o: SoakOptions): SoakResult {
  const per = o.epochRequests ?? SOAK_EPOCH;
  const epochs = o.epoch !== undefined ? [o.epoch] : Array.from({ length: Math.ceil(o.requests / per) }, (_, i) => i);
  let requests = 0;
  let cycles = 0;
  const t0 = performance.now();
  for (const e of epochs) {
    const n = Math.min(per, o.requests - e * per);
    if (n <= 0) throw new RangeError(`soak: epoch ${e} is past ${o.requests} requests (${per} per epoch)`);
    const setup = epochSetup(o.seed, e, o.ring);
    try {
      const r = runEpoch({ seed: o.seed, epoch: e, W: o.W, setup, requests: n, watchdog: o.watchdog });
      requests += r.requests;
      cycles += r.cycles;
      o.onEpoch?.(r);
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      return {
        requests,
        epochs: epochs.indexOf(e),
        cycles,
        wallSeconds: (performance.now() - t0) / 1000,
        failure: { epoch: e, setup, error },
      };
    }
  }
  return { requests, epochs: epochs.length, cycles, wallSeconds: (performance.now() - t0) / 1000 };
}

/** The kind of a soak failure for its report. */
export function failureKind(e: Error): string {
  return e instanceof BlkSystemFailure ? e.kind : e.name || 'error';
}
