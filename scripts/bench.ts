// npm run bench: a DMA-heavy workload on the Verilated test device, driven by the root-complex model.
// Reports, within one run (the machine is shared and noisy, so compare ratios, not absolute numbers):
// simulated cycles per second, the share of wall time spent in C++ (the Verilated model and the
// cycle-level stream transactors) versus TypeScript and the bridge (measured by the simulator harness),
// and the cycles per second of the same model replaying the same stimulus from a pure C++ loop.
// The TS-driven / replay ratio is given twice: from wall time, and from this process's CPU time (user + system),
// which other processes on a loaded machine disturb far less; compare revisions by the CPU-time ratio.
// Target (issue 3): TypeScript and the bridge take at most 40% of wall time.
import { DmaTestTop } from '../gen/dma/test_top';
import { FabricTestTop } from '../gen/virtq/fabric_test_top';
import { field, RAM_BYTES, reg } from '../gen/testdev/regs';
import type { DataWidth } from '../gen/pcie/streams';
import { Testdev } from '../gen/testdev/top';
import { designPorts } from '../sim/design';
import { Sim } from '../sim/index';
import { mkdirSync, writeFileSync } from 'node:fs';
import { RootComplex } from '../tb/pcie/rootcomplex';
import { BlkSystem, BlkSystemFailure, buildBlkTop, type RingFormat } from '../tb/virtio/blk/system';
import { sequentialWorkload } from '../tb/virtio/blk/workload';
import { table } from './lib/proc';

const TARGET_TS_SHARE = 0.4;

interface Row {
  design: string;
  workload: string;
  cycles: number;
  wall: number;
  cpp: number;
  tlps: number;
  bytes: number;
  replayCps: number;
  replayMatches?: boolean;
  /** CPU seconds of the TS-driven run; cycles per CPU second of the fastest of REPLAYS replays of it. */
  cpu: number;
  replayCpuCps: number;
}

/** Replays per workload; the fastest counts (a replay is deterministic, so slower ones only measure the machine). */
const REPLAYS = 3;

/** CPU seconds this process has used (all threads; the simulator runs on the main thread). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Copies `total` bytes host -> device RAM -> host in transfers of RAM_BYTES, each ended by an MSI-X message. */
function dmaWorkload(
  W: DataWidth,
  total: number,
  opts: { txBackpressure: number; rxIdle: number },
  replays = REPLAYS,
): Row {
  const sim = Sim.load({ ports: designPorts(Testdev.elaborate({ W })), quiet: true, seed: 1, ...opts });
  // Host memory latency ~1 us at 250 MHz, completions split at random RCB boundaries, reordered across tags.
  const rc = new RootComplex(sim, { seed: 1, latency: { min: 200, max: 300 }, maxMmioRead: 128 });
  rc.enumerate();
  rc.msix.setup();
  const src = rc.mem.alloc(total, { perm: 'ro', name: 'src' });
  const dst = rc.mem.alloc(total, { perm: 'wo', name: 'dst' });
  const data = new Uint8Array(total);
  for (let i = 0; i < total; i++) data[i] = (i * 131 + 7) & 0xff;
  rc.mem.write(src.addr, data);

  const b0 = rc.bar(0);
  const off = (n: string) => reg(n).offset;
  const dir = field('DMA_CONTROL', 'DIR').values!;
  const ctl = (d: string) =>
    field('DMA_CONTROL', 'DIR').put(dir[d]) |
    field('DMA_CONTROL', 'IRQ_EN').put(1) |
    field('DMA_CONTROL', 'VECTOR').put(0);
  const transfer = (d: 'HOST_TO_RAM' | 'RAM_TO_HOST', host: bigint, len: number) => {
    b0.write64(off('DMA_HOST_ADDR_LO'), host);
    b0.write32(off('DMA_RAM_OFFSET'), 0);
    b0.write32(off('DMA_LENGTH'), len);
    b0.write32(off('DMA_CONTROL'), ctl(d));
    b0.write32(off('DMA_DOORBELL'), field('DMA_DOORBELL', 'START').put(1));
    rc.waitForInterrupt(0, { timeout: 5_000_000 });
  };

  // Warm-up, not measured: one round trip, so V8 has compiled the hot paths before the clock starts (on two
  // shared cores its background compiles otherwise land inside the measurement).
  transfer('HOST_TO_RAM', src.addr, RAM_BYTES);
  transfer('RAM_TO_HOST', dst.addr, RAM_BYTES);

  const c0 = sim.cycle;
  const s0 = sim.stats();
  const r0 = rc.stats();
  const t0 = performance.now();
  const cpu0 = cpuSeconds();
  for (let done = 0; done < total; done += RAM_BYTES) {
    const len = Math.min(RAM_BYTES, total - done);
    transfer('HOST_TO_RAM', src.addr + BigInt(done), len);
    transfer('RAM_TO_HOST', dst.addr + BigInt(done), len);
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - cpu0;
  const s1 = sim.stats();
  const r1 = rc.stats();
  const out = rc.mem.read(dst.addr, total);
  if (Buffer.compare(Buffer.from(out), Buffer.from(data)) !== 0)
    throw new Error('bench: DMA round trip corrupted the data');

  const count = (st: ReturnType<RootComplex['stats']>) => {
    let tlps = 0;
    let bytes = 0;
    for (const c of [...Object.values(st.fromDevice), ...Object.values(st.toDevice)]) {
      tlps += c!.tlps;
      bytes += c!.bytes;
    }
    return { tlps, bytes };
  };
  const a = count(r0);
  const b = count(r1);
  // Each replay re-runs the whole recorded stimulus from cycle 0 (enumeration and warm-up included).
  let replay: ReturnType<Sim['runFree']> | undefined;
  let replayCpuCps = 0;
  for (let i = 0; i < replays; i++) {
    const c = cpuSeconds();
    const r = sim.runFree();
    replayCpuCps = Math.max(replayCpuCps, r.cycles / (cpuSeconds() - c));
    if (!replay || r.cyclesPerSecond > replay.cyclesPerSecond) replay = r;
  }
  sim.close();
  return {
    design: `testdev_w${W}`,
    workload: `DMA ${total >> 10} KiB h->d->h, bp ${opts.txBackpressure}`,
    cycles: sim.cycle - c0,
    wall,
    cpp: s1.cppSeconds - s0.cppSeconds,
    tlps: b.tlps - a.tlps,
    bytes: b.bytes - a.bytes,
    replayCps: replay?.cyclesPerSecond ?? NaN,
    replayMatches: replay?.matchesLive,
    cpu,
    replayCpuCps,
  };
}

// ---- the DMA engines (gen/dma) alone: payload bytes per clock as a fraction of the datapath

/** Issue 8's benchmark settings: host latency ~1 us (250 cycles at 250 MHz), completions split at 64 B and reordered, MPS 256, MRRS 512. */
const DMA_BENCH = { latency: { min: 200, max: 300 }, mps: 256, mrrs: 512, transfer: 4096, transfers: 128 };
const TARGET_H2D = 0.9;
const TARGET_D2H = 0.85;

interface DmaRow {
  W: DataWidth;
  dir: 'host -> device' | 'device -> host';
  bytes: number;
  cycles: number;
  target: number;
  /** The design and setup (default: the engines' test top). */
  design?: string;
}

/**
 * Queues `transfers` commands of `transfer` bytes on one engine and times them from the first command's
 * acceptance to the last status (the read engine's status follows its data into device memory, the write
 * engine's the last TLP's departure). The RC's checks stay on.
 */
function dmaEngineWorkload(W: DataWidth): DmaRow[] {
  const b = DMA_BENCH;
  const sim = Sim.load({
    ports: designPorts(DmaTestTop.elaborate({ W, tags: 32, devBits: 16 })),
    quiet: true,
    seed: 1,
    rxIdle: 0,
    txBackpressure: 0,
  });
  const rc = new RootComplex(sim, {
    seed: 1,
    latency: b.latency,
    split: 'rcb',
    rcb: 64,
    mps: b.mps,
    mrrs: b.mrrs,
    device: { mps: b.mps, mrrs: b.mrrs, extTags: true },
  });
  const code = (bytes: number) => Math.log2(bytes / 128);
  sim.poke('bus_master', 1);
  sim.poke('max_payload', code(b.mps));
  sim.poke('max_read_req', code(b.mrrs));
  sim.poke('ext_tag_en', 1);
  sim.poke('requester_id', 0x0100);
  sim.poke('timeout', 100_000);
  const rows: DmaRow[] = [];
  const total = b.transfer * b.transfers;
  const src = rc.mem.alloc(total, { perm: 'ro' });
  const dst = rc.mem.alloc(total, { perm: 'wo' });
  for (const dir of ['rd', 'wr'] as const) {
    const pre = `${dir}_cmd`;
    const cmd = sim.handshakeSender({
      valid: `${pre}_valid`,
      ready: `${pre}_ready`,
      data: [`${pre}_host_addr`, `${pre}_dev_addr`, `${pre}_len`, `${pre}_id`],
    });
    const status = sim.handshakeReceiver({ valid: `${dir}_status_valid`, ready: `${dir}_status_ready` });
    const items = [];
    for (let i = 0; i < b.transfers; i++) {
      items.push(
        cmd.send({
          [`${pre}_host_addr`]: (dir === 'rd' ? src.addr : dst.addr) + BigInt(i * b.transfer),
          [`${pre}_dev_addr`]: (i * b.transfer) % 65536,
          [`${pre}_len`]: b.transfer,
          [`${pre}_id`]: i & 0xff,
        }),
      );
    }
    rc.waitFor(`${b.transfers} DMA statuses`, () => status.count >= b.transfers, { timeout: 10_000_000 });
    const got = status.take();
    const cycles = got[got.length - 1].cycle - items[0].cycle!;
    rows.push({
      W,
      dir: dir === 'rd' ? 'host -> device' : 'device -> host',
      bytes: total,
      cycles,
      target: dir === 'rd' ? TARGET_H2D : TARGET_D2H,
    });
    cmd.close();
    status.close();
  }
  if (rc.violations.length) throw new Error(`bench: root-complex violations: ${rc.violations.join('; ')}`);
  sim.close();
  return rows;
}

/**
 * The same workload through the DMA fabric (gen/virtq/dma_fabric.ts): the transfers of one client, or of two
 * clients interleaved command by command (their memories differ in read latency, so the write engine's reads
 * switch target at every command), timed the same way.
 */
function fabricWorkload(W: DataWidth, clients: 1 | 2): DmaRow[] {
  const b = DMA_BENCH;
  const sim = Sim.load({
    ports: designPorts(FabricTestTop.elaborate(FABRIC_BENCH_TOP(W))),
    quiet: true,
    seed: 1,
    rxIdle: 0,
    txBackpressure: 0,
  });
  const rc = new RootComplex(sim, {
    seed: 1,
    latency: b.latency,
    split: 'rcb',
    rcb: 64,
    mps: b.mps,
    mrrs: b.mrrs,
    device: { mps: b.mps, mrrs: b.mrrs, extTags: true },
  });
  const code = (bytes: number) => Math.log2(bytes / 128);
  sim.poke('bus_master', 1);
  sim.poke('max_payload', code(b.mps));
  sim.poke('max_read_req', code(b.mrrs));
  sim.poke('ext_tag_en', 1);
  sim.poke('requester_id', 0x0100);
  sim.poke('timeout', 100_000);
  const rows: DmaRow[] = [];
  const total = b.transfer * b.transfers;
  const src = rc.mem.alloc(total, { perm: 'ro' });
  const dst = rc.mem.alloc(total, { perm: 'wo' });
  for (const dir of ['rd', 'wr'] as const) {
    const ports = [0, 1].slice(0, clients).map((c) => {
      const pre = `c${c}_${dir}_cmd`;
      return {
        pre,
        cmd: sim.handshakeSender({
          valid: `${pre}_valid`,
          ready: `${pre}_ready`,
          data: [`${pre}_host_addr`, `${pre}_dev_addr`, `${pre}_len`, `${pre}_id`],
        }),
        status: sim.handshakeReceiver({ valid: `c${c}_${dir}_status_valid`, ready: `c${c}_${dir}_status_ready` }),
      };
    });
    const items = [];
    for (let i = 0; i < b.transfers; i++) {
      const { pre, cmd } = ports[i % clients];
      items.push(
        cmd.send({
          [`${pre}_host_addr`]: (dir === 'rd' ? src.addr : dst.addr) + BigInt(i * b.transfer),
          [`${pre}_dev_addr`]: (i * b.transfer) % 65536,
          [`${pre}_len`]: b.transfer,
          [`${pre}_id`]: i & 0xff,
        }),
      );
    }
    const count = () => ports.reduce((a, x) => a + x.status.count, 0);
    rc.waitFor(`${b.transfers} DMA statuses`, () => count() >= b.transfers, { timeout: 10_000_000 });
    const last = Math.max(...ports.map((x) => x.status.take().at(-1)!.cycle));
    rows.push({
      W,
      dir: dir === 'rd' ? 'host -> device' : 'device -> host',
      bytes: total,
      cycles: last - items[0].cycle!,
      target: dir === 'rd' ? TARGET_H2D : TARGET_D2H,
      design: `dma_fabric_test_w${W}, ${clients === 1 ? 'one client' : 'two clients interleaved'}`,
    });
    for (const x of ports) {
      x.cmd.close();
      x.status.close();
    }
  }
  if (rc.violations.length) throw new Error(`bench: root-complex violations: ${rc.violations.join('; ')}`);
  sim.close();
  return rows;
}
/** The fabric's bench top: two 64 KiB clients, the second's reads 4 cycles slower. */
const FABRIC_BENCH_TOP = (W: DataWidth) => ({ W, regions: [16, 16], latency: [0, 4] });

/** `npm run bench -- --only sim|dma|virtio-blk` runs one section; all by default. */
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (only !== undefined && !['sim', 'dma', 'virtio-blk'].includes(only))
  throw new Error(`bench: --only ${only}: one of sim, dma, virtio-blk`);
const runs = (section: string) => only === undefined || only === section;
const fmt = (x: number, d = 2) => x.toFixed(d);

if (runs('sim')) {
  // Warm-up of the whole process, not measured: V8 optimizes a function only after it has run some thousand times
  // (Node 20 has no mid tier), and the root complex's per-read code runs a few dozen times per 16 KiB transfer: measured
  // cold, the first row spends most of its TypeScript time in unoptimized code and in compiling it (measured: ~3 us of
  // ~4 us CPU per TLP in the first 4 MiB, ~1.2 us per TLP from the second on), so its ratio would measure V8's warm-up
  // rather than the code. Each row still warms its own simulation with one round trip.
  dmaWorkload(256, 4096 * 1024, { txBackpressure: 0, rxIdle: 0 }, 0);

  const rows: Row[] = [
    dmaWorkload(256, 4096 * 1024, { txBackpressure: 0, rxIdle: 0 }),
    dmaWorkload(64, 2048 * 1024, { txBackpressure: 0, rxIdle: 0 }),
    dmaWorkload(256, 2048 * 1024, { txBackpressure: 0.2, rxIdle: 0.1 }),
  ];

  console.log(
    table(
      [
        'design',
        'workload',
        'sim cycles',
        'TLPs',
        'M cycles/s (TS-driven)',
        'M cycles/s (C++ replay)',
        'TS-driven / replay',
        'same, CPU time',
        'CPU M cycles/s (TS-driven / replay)',
        'CPU us TS per TLP',
        'C++ share',
        'TS + bridge share',
        'us TS per TLP',
      ],
      rows.map((r) => [
        r.design,
        r.workload,
        r.cycles,
        r.tlps,
        fmt(r.cycles / r.wall / 1e6),
        fmt(r.replayCps / 1e6),
        fmt(r.cycles / r.wall / r.replayCps),
        fmt(r.cycles / r.cpu / r.replayCpuCps),
        `${fmt(r.cycles / r.cpu / 1e6, 3)} / ${fmt(r.replayCpuCps / 1e6, 3)}`,
        fmt(((r.cpu - r.cycles / r.replayCpuCps) / r.tlps) * 1e6),
        `${fmt((100 * r.cpp) / r.wall, 0)}%`,
        `${fmt((100 * (r.wall - r.cpp)) / r.wall, 0)}%`,
        fmt(((r.wall - r.cpp) / r.tlps) * 1e6),
      ]),
    ),
  );
  const worst = Math.max(...rows.map((r) => (r.wall - r.cpp) / r.wall));
  console.log(
    `\nTypeScript + bridge share of wall time: worst ${fmt(100 * worst, 0)}% (target <= ${TARGET_TS_SHARE * 100}%): ${worst <= TARGET_TS_SHARE ? 'met' : 'NOT met'}`,
  );
  console.log(
    "C++ share = time inside the simulator's C++ run loop (model eval + stream transactors); replay = the recorded stimulus re-run in C++ alone; CPU us TS per TLP = CPU time of the TS-driven run beyond what the replay needs for the same cycles, per TLP.",
  );
}

if (runs('dma')) {
  const dmaRows = [...dmaEngineWorkload(256), ...fabricWorkload(256, 1), ...fabricWorkload(256, 2)];
  console.log(
    `\nDMA engines (gen/dma, dma_test_w256; and through the DMA fabric, gen/virtq/dma_fabric.ts): ${DMA_BENCH.transfers} transfers of ${DMA_BENCH.transfer} B queued on one engine (fabric: from one client, or alternating between two); host latency ${DMA_BENCH.latency.min}-${DMA_BENCH.latency.max} cycles, completions split at 64 B and reordered, MPS ${DMA_BENCH.mps}, MRRS ${DMA_BENCH.mrrs}`,
  );
  console.log(
    table(
      ['design', 'direction', 'payload bytes', 'cycles', 'bytes/clk', 'of datapath', 'target', ''],
      dmaRows.map((r) => {
        const f = r.bytes / r.cycles / (r.W / 8);
        return [
          r.design ?? `dma_test_w${r.W}`,
          r.dir,
          r.bytes,
          r.cycles,
          fmt(r.bytes / r.cycles),
          fmt(f),
          `>= ${fmt(r.target)}`,
          f >= r.target ? 'met' : 'NOT met',
        ];
      }),
    ),
  );
}

// ---- the whole virtio-blk function (gen/virtq/blk_top.ts) driven by the Linux-faithful driver

/**
 * Issue 8's virtio-blk benchmark: 256-bit datapath, host latency ~1 us (DMA_BENCH's 200-300 cycles), completions
 * split at 64 B and reordered, MPS 256, MRRS 512, 32 requests in flight on one queue, EVENT_IDX negotiated (Linux's
 * features: INDIRECT_DESC too where the build offers it, the packed one, so each request is one indirect descriptor;
 * the split-only build does not offer it, gen/virtq/blk_top.ts `indirect`). `requests` are measured per workload.
 */
const BLK_BENCH = { W: 256 as DataWidth, depth: 32, requests4k: 256, requests512: 512 };
/**
 * Which run of the measured mix on a system gives the rates (TS-driven M cycles/s, TS share, the TS-driven / replay
 * ratios); the first gives the simulated figures. The runs before are V8's warm-up: a fresh system brings closures
 * and object shapes that deoptimize the previous system's optimized code (--trace-deopt: wrong call target, wrong
 * map, code dependencies in the completer, host memory, the ring drivers), and V8 re-optimizes the per-request
 * functions only as they get hot again, through the first two runs of the mix (measured 7 December 2026, packed:
 * TS-driven CPU M cycles/s 0.200, 0.216, 0.235 in runs 1-3 with the whole-process warm-up pass before; the
 * background threads' CPU 0.09, 0.06, 0.01 s). The replay re-runs the whole recording, all runs included; its rate
 * over the first run's cycles alone (replayed to its start and to its end) matched the whole recording's within the
 * noise (0.300 vs 0.290, 0.308 vs 0.303 M cycles per CPU second).
 */
const BLK_CPU_ROUND = 3;
/**
 * Runs of the mix from BLK_CPU_ROUND on whose fastest (in CPU time) gives the rates, as the fastest of REPLAYS replays
 * gives the replay's: on this shared machine the same code's CPU time moves with what the other core and the host
 * run, the Verilated model's most (measured 7 December 2026 with scripts/blk-tscost.ts, split, 14 runs in one process:
 * the C++ time inside run() for a run's ~132,000 cycles was 0.47-0.91 s while the replay of those cycles takes 0.45 s;
 * the TypeScript outside run() 0.11-0.23 s). One run against the best of three replays charged that noise to the
 * TypeScript: the "bimodal" TS cost per TLP. Every run is checked as before; only which one's rate is reported changes.
 */
// Five each side (the mix's runs here, the replays in blkWorkload): with three, one loaded stretch of the machine
// moved the packed row's CPU ratio from 0.78 to 0.74 between two runs of the same code (7 December 2026, main
// 77a2b87, load 4-6 beside a CI run and a synthesis); the fastest of five is nearer each side's own cost.
const BLK_CPU_BEST = 5;
const BLK_REPLAYS = 5;
const TARGET_BLK = { read4k: 0.9, write4k: 0.85, cycles512: 50, replay: 0.75 };

interface BlkRow {
  ring: RingFormat;
  /** The ring features negotiated (INDIRECT_DESC and EVENT_IDX as the build offers them, gen/virtq/blk_top.ts). */
  features: string;
  read4k: number;
  write4k: number;
  cycles512: number;
  requests: number;
  doorbells: number;
  interrupts: number;
  tlps: number;
  cycles: number;
  wall: number;
  cpp: number;
  cpu: number;
  replayCps: number;
  replayCpuCps: number;
  replayMatches?: boolean;
  /** TS-driven cycles per CPU second of each run of the mix whose fastest gave the rates (BLK_CPU_BEST). */
  cpuRates: number[];
}

/**
 * One ring format on a fresh simulation: after a warm-up (not measured), 4 KiB reads, 4 KiB writes and 512 B reads
 * at consecutive disk ranges, each kept `depth` deep; every request checked against the golden model, every device
 * access against the ring invariants and the root complex's checks, the disk compared at the end. A workload's
 * figure is taken between the completions of its requests depth and depth + n (the queue full: no fill, no drain).
 * Rates and shares cover the three workloads run again on the same system, the `cpuRound`th time (V8 warmed up:
 * BLK_CPU_ROUND) and the `bestOf - 1` times after it, the fastest in CPU time (BLK_CPU_BEST); the replay re-runs the
 * whole recorded stimulus in C++.
 */
function blkWorkload(ring: RingFormat, replays = BLK_REPLAYS, cpuRound = BLK_CPU_ROUND, bestOf = BLK_CPU_BEST): BlkRow {
  const b = DMA_BENCH;
  const sys = new BlkSystem({
    W: BLK_BENCH.W,
    ring,
    // each format on the build that has only its engine (docs/data-plane.md "Ring formats of a build")
    rings: ring,
    seed: 1,
    rc: { latency: b.latency, split: 'rcb', rcb: 64, mps: b.mps, mrrs: b.mrrs },
  });
  try {
    if (!sys.features.eventIdx || sys.features.packed !== (ring === 'packed'))
      throw new Error(`bench: virtio-blk negotiated ${JSON.stringify(sys.features)}`);
    const D = BLK_BENCH.depth;
    /** Cycles per request in the steady state of n requests of `bytes`. */
    const steady = (type: 'read' | 'write', bytes: number, n: number) => {
      const at: number[] = [];
      sys.run(sequentialWorkload(type, bytes), {
        requests: n + 2 * D,
        depth: D,
        queues: [0],
        onComplete: (_i, cycle) => at.push(cycle),
      });
      return (at[D + n - 1] - at[D - 1]) / n;
    };
    steady('read', 4096, 64);
    steady('write', 4096, 64);

    const tlps = (st: ReturnType<RootComplex['stats']>) =>
      [...Object.values(st.fromDevice), ...Object.values(st.toDevice)].reduce((a, c) => a + c!.tlps, 0);
    /** The measured mix: 4 KiB reads, 4 KiB writes, 512 B reads, with what it cost. */
    const mix = () => {
      const c0 = sys.sim.cycle;
      const s0 = sys.sim.stats();
      const k0 = { ...sys.counts };
      const tl0 = sys.rc.stats();
      const t0 = performance.now();
      const cpu0 = cpuSeconds();
      const rd = steady('read', 4096, BLK_BENCH.requests4k);
      const wr = steady('write', 4096, BLK_BENCH.requests4k);
      const small = steady('read', 512, BLK_BENCH.requests512);
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds() - cpu0;
      const s1 = sys.sim.stats();
      return {
        rd,
        wr,
        small,
        requests: sys.counts.completed - k0.completed,
        doorbells: sys.counts.doorbells - k0.doorbells,
        interrupts: sys.counts.interrupts - k0.interrupts,
        tlps: tlps(sys.rc.stats()) - tlps(tl0),
        cycles: sys.sim.cycle - c0,
        wall,
        cpp: s1.cppSeconds - s0.cppSeconds,
        cpu,
      };
    };
    // The simulated figures: the first run of the mix (the same stimulus history as ever, so they stay comparable).
    const figs = mix();
    // The rates: the fastest of runs cpuRound .. cpuRound + bestOf - 1 of the same mix on the same system (see
    // BLK_CPU_ROUND, BLK_CPU_BEST).
    let speed = figs;
    const cpuRates: number[] = [];
    const consider = (m: typeof figs) => {
      cpuRates.push(m.cycles / m.cpu);
      if (cpuRates.length === 1 || m.cycles / m.cpu > speed.cycles / speed.cpu) speed = m;
    };
    if (cpuRound <= 1) consider(figs);
    for (let run = 2; run < cpuRound + bestOf; run++) {
      const m = mix();
      if (run >= cpuRound) consider(m);
    }
    const row: BlkRow = {
      ring,
      features:
        [sys.features.indirect ? 'INDIRECT_DESC' : '', sys.features.eventIdx ? 'EVENT_IDX' : '']
          .filter(Boolean)
          .join(', ') || 'none',
      read4k: 4096 / figs.rd / (BLK_BENCH.W / 8),
      write4k: 4096 / figs.wr / (BLK_BENCH.W / 8),
      cycles512: figs.small,
      requests: figs.requests,
      doorbells: figs.doorbells,
      interrupts: figs.interrupts,
      tlps: speed.tlps,
      cycles: speed.cycles,
      wall: speed.wall,
      cpp: speed.cpp,
      cpu: speed.cpu,
      replayCps: NaN,
      replayCpuCps: 0,
      cpuRates,
    };
    sys.finish();
    let best: ReturnType<Sim['runFree']> | undefined;
    for (let i = 0; i < replays; i++) {
      const c = cpuSeconds();
      const r = sys.sim.runFree();
      row.replayCpuCps = Math.max(row.replayCpuCps, r.cycles / (cpuSeconds() - c));
      if (!best || r.cyclesPerSecond > best.cyclesPerSecond) best = r;
    }
    row.replayCps = best?.cyclesPerSecond ?? NaN;
    row.replayMatches = best?.matchesLive;
    return row;
  } finally {
    sys.close();
  }
}

/**
 * A ring format whose run fails (a mismatch, a hang, a DMA the checks refuse) gets no figures: the failure is printed
 * with its ring and the bench exits 1 after measuring the other format, rather than stopping at the first.
 */
function blkWorkloadOrFailure(
  ring: RingFormat,
  replays = BLK_REPLAYS,
  cpuRound = BLK_CPU_ROUND,
  bestOf = BLK_CPU_BEST,
): BlkRow | { ring: RingFormat; failure: string } {
  try {
    return blkWorkload(ring, replays, cpuRound, bestOf);
  } catch (e) {
    if (!(e instanceof BlkSystemFailure)) throw e;
    return { ring, failure: e.message };
  }
}

if (runs('virtio-blk')) {
  // `--ring split|packed`: one ring format only (both by default)
  const ringArg = process.argv.includes('--ring') ? process.argv[process.argv.indexOf('--ring') + 1] : undefined;
  if (ringArg !== undefined && ringArg !== 'split' && ringArg !== 'packed')
    throw new Error(`bench: --ring ${ringArg}: split or packed`);
  const rings = (['packed', 'split'] as const).filter((r) => ringArg === undefined || r === ringArg);
  // Whole-process warm-up (see above), not measured: every ring format measured, so that neither format's measured
  // run compiles its own driver paths (measured: with only split warmed up, V8's optimizing compiler ran for ~10% of
  // the packed run's CPU time, on the other core, inside the measured window). One run of the mix each: the measured
  // systems warm up again on their own anyway (BLK_CPU_ROUND).
  for (const ring of rings) buildBlkTop(BLK_BENCH.W, undefined, undefined, ring); // each format on its own build
  for (const ring of rings) blkWorkloadOrFailure(ring, 0, 1, 1);
  const results = rings.map((ring) => blkWorkloadOrFailure(ring));
  const failures = results.filter((r) => 'failure' in r);
  for (const f of failures) console.error(`\nvirtio-blk bench: the ${f.ring} ring FAILED: ${f.failure}`);
  if (failures.length) process.exitCode = 1;
  const blkRows = results.filter((r): r is BlkRow => !('failure' in r));
  const b = DMA_BENCH;
  console.log(
    `\nvirtio-blk (virtio_blk_top_default_<ring>_w${BLK_BENCH.W}, one build per ring format: endpoint, its queue engine, virtio-blk, DMA fabric, on-chip disk; Linux-faithful driver, golden model and every check on): ${BLK_BENCH.depth} requests in flight on one queue, the ring features each build offers negotiated (column 'negotiated': a split-only build does not offer INDIRECT_DESC, gen/virtq/blk_top.ts \`indirect\`); host latency ${b.latency.min}-${b.latency.max} cycles, completions split at 64 B and reordered, MPS ${b.mps}, MRRS ${b.mrrs}; ${BLK_BENCH.requests4k} requests of 4 KiB and ${BLK_BENCH.requests512} of 512 B measured each, in the steady state`,
  );
  const mark = (ok: boolean) => (ok ? '' : ' (NOT met)');
  console.log(
    table(
      [
        'ring',
        'negotiated',
        '4 KiB read, of 32 B/clk',
        '4 KiB write, of 32 B/clk',
        'cycles per 512 B read',
        'doorbells / request',
        'interrupts / request',
        'M cycles/s (TS-driven)',
        'TS + bridge share',
        'TS-driven / replay, CPU time',
        'same, wall time',
        'CPU M cycles/s (TS-driven / replay)',
        'CPU us TS per TLP',
      ],
      blkRows.map((r) => [
        r.ring,
        r.features,
        `${fmt(r.read4k)}${mark(r.read4k >= TARGET_BLK.read4k)}`,
        `${fmt(r.write4k)}${mark(r.write4k >= TARGET_BLK.write4k)}`,
        `${fmt(r.cycles512, 1)}${mark(r.cycles512 <= TARGET_BLK.cycles512)}`,
        fmt(r.doorbells / r.requests, 3),
        fmt(r.interrupts / r.requests, 3),
        fmt(r.cycles / r.wall / 1e6, 3),
        `${fmt((100 * (r.wall - r.cpp)) / r.wall, 0)}%`,
        `${fmt(r.cycles / r.cpu / r.replayCpuCps)}${mark(r.cycles / r.cpu / r.replayCpuCps >= TARGET_BLK.replay)}`,
        fmt(r.cycles / r.wall / r.replayCps),
        `${fmt(r.cycles / r.cpu / 1e6, 3)} / ${fmt(r.replayCpuCps / 1e6, 3)}`,
        fmt(((r.cpu - r.cycles / r.replayCpuCps) / r.tlps) * 1e6),
      ]),
    ),
  );
  console.log(
    `targets: reads >= ${TARGET_BLK.read4k}, writes >= ${TARGET_BLK.write4k}, <= ${TARGET_BLK.cycles512} cycles per 512 B read, TS-driven / replay >= ${TARGET_BLK.replay} in CPU time (the figure: the wall-time ratio measures the machine's load as much as the code)${blkRows.some((r) => r.replayMatches === false) ? '\nWARNING: a replay did not reproduce the live traffic' : ''}`,
  );
  // The same figures as JSON (docs/data-plane.md, "Benchmark"): one object per ring format.
  const json = Object.fromEntries(
    blkRows.map((r) => [
      r.ring,
      {
        negotiated: r.features,
        read4k_fraction: r.read4k,
        write4k_fraction: r.write4k,
        cycles_per_512b_read: r.cycles512,
        doorbells_per_request: r.doorbells / r.requests,
        interrupts_per_request: r.interrupts / r.requests,
        sim_cycles_per_second: r.cycles / r.wall,
        ts_share: (r.wall - r.cpp) / r.wall,
        replay_ratio: r.cycles / r.wall / r.replayCps,
        replay_ratio_cpu: r.cycles / r.cpu / r.replayCpuCps,
        cpu_cycles_per_second: r.cycles / r.cpu,
        replay_cpu_cycles_per_second: r.replayCpuCps,
        // every run of the mix the rates were chosen from (BLK_CPU_BEST), as TS-driven / replay in CPU time
        replay_ratio_cpu_runs: r.cpuRates.map((c) => c / r.replayCpuCps),
      },
    ]),
  );
  mkdirSync('build/bench', { recursive: true });
  writeFileSync(
    'build/bench/virtio-blk.json',
    JSON.stringify(
      {
        settings: {
          width: BLK_BENCH.W,
          latency: b.latency,
          completionSplit: 64,
          reordered: true,
          mps: b.mps,
          mrrs: b.mrrs,
          depth: BLK_BENCH.depth,
          eventIdx: true,
          requests4k: BLK_BENCH.requests4k,
          requests512: BLK_BENCH.requests512,
        },
        ...json,
        ...Object.fromEntries(failures.map((f) => [f.ring, { failure: f.failure }])),
      },
      null,
      2,
    ) + '\n',
  );
  console.log('written: build/bench/virtio-blk.json');
}
