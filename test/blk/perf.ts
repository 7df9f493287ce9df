// virtio-blk's throughput alone (the test top, the test playing the queue engine: chains back to back, no ring
// overhead) under issue 8's benchmark conditions: host latency 1 us (250 cycles), completions split at 64 B
// and reordered, MPS 256, MRRS 512, many requests queued. Every request is still checked against the golden
// model (runRequests). Not a timed test: `npx tsx test/blk/perf.ts [W] [slots]` prints the figures.
import { blkTestParams, type BlkTestTopParams } from '../../gen/blk/test_top';
import type { DataWidth } from '../../gen/pcie/streams';
import { Rng } from '../../sim/random';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { BLK_T, SECTOR_SIZE } from '../../tb/virtio/blk/defs';
import { blkPorts, bootBlk, buildBlkSim, closeBlkBenches, ioRequest, place, runRequests, seedDisk } from './support';

export type PerfKind = 'in4k' | 'out4k' | 'in512';

export interface PerfResult {
  kind: PerfKind;
  requests: number;
  /** Cycles per request in the steady state (from the `skip`-th used element to the last). */
  perRequest: number;
  /** Payload bytes per clock as a fraction of the datapath's, steady state. */
  fraction: number;
  /** Cycles per request from the first chain offered to the last used element (start-up included). */
  perRequestTotal: number;
}

/** Issue 8's benchmark host (as scripts/bench.ts): 1 us read latency, completions split at 64 B (RCB) and reordered. */
export const BENCH_LATENCY = 250;
export const BENCH_RC: RootComplexOptions = {
  latency: { min: BENCH_LATENCY, max: BENCH_LATENCY },
  split: 'rcb',
  reorder: true,
};

const bytesOf = (kind: PerfKind) => (kind === 'in512' ? SECTOR_SIZE : 4096);

/** Runs `requests` requests of one kind, all queued at once, and measures them. */
export function blkPerf(
  p: BlkTestTopParams,
  ports: string,
  kind: PerfKind,
  opts: { requests?: number; skip?: number; aligned?: boolean; seed?: number } = {},
): PerfResult {
  const requests = opts.requests ?? 96;
  const skip = opts.skip ?? 32;
  const seed = opts.seed ?? 1;
  const rng = new Rng(seed);
  const b = bootBlk(p, ports, seed, { rc: BENCH_RC });
  seedDisk(b, rng.bytes(p.capacity * SECTOR_SIZE));
  const n = bytesOf(kind);
  const sectors = n / SECTOR_SIZE;
  const reqs = Array.from({ length: requests }, (_, id) => {
    const sector = BigInt(rng.int(0, p.capacity - sectors));
    const out = kind === 'out4k';
    const r = ioRequest(out ? BLK_T.OUT : BLK_T.IN, sector, out ? rng.bytes(n) : new Uint8Array(0), out ? 0 : n, kind);
    const readLens = out ? [16, n] : [16];
    const writeLens = out ? [1] : [n, 1];
    return place(b, rng, id, 0, readLens, r.readable, writeLens, `${kind} ${id}`, opts.aligned ?? true);
  });
  const t = runRequests(b, reqs);
  const last = t.done[t.done.length - 1];
  const perRequest = (last - t.done[skip - 1]) / (requests - skip);
  return {
    kind,
    requests,
    perRequest,
    fraction: n / perRequest / (p.W / 8),
    perRequestTotal: (last - t.start) / requests,
  };
}

if (import.meta.filename === process.argv[1]) {
  const W = Number(process.argv[2] ?? 256) as DataWidth;
  const slots = process.argv[3] ? Number(process.argv[3]) : undefined;
  const p = blkTestParams(W, slots ? { slots } : {});
  const ports = blkPorts(p);
  buildBlkSim(ports);
  for (const aligned of [true, false])
    for (const kind of ['in4k', 'out4k', 'in512'] as const) {
      const r = blkPerf(p, ports, kind, { aligned });
      closeBlkBenches();
      console.log(
        `W=${W} slots=${slots ?? 'default'} ${aligned ? 'aligned ' : 'unaligned'} ${kind.padEnd(6)} ` +
          `${r.perRequest.toFixed(1)} cycles/request (${r.fraction.toFixed(2)} of ${W / 8} B/clk); ` +
          `from the first chain: ${r.perRequestTotal.toFixed(1)}`,
      );
    }
}
