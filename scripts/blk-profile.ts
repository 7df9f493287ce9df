// Profiles the virtio-blk benchmark's setup (256 bits, 200-300 cycle latency, 64 B completions reordered, depth 32,
// EVENT_IDX) from its TLPs: what each request reads and writes on the link, how many reads are outstanding, the
// read engine's tags in use (issue to last completion delivered), the rx link's queueing delay, and each request's
// phases (submitted -> header read -> header completion -> first / last data TLP -> status write -> reaped).
//
//   npx tsx scripts/blk-profile.ts [split|packed] [read|write] [bytes] [n]
//   NOINDIRECT=1   decline VIRTIO_F_INDIRECT_DESC (direct chains)
//   SAMPLE=1       also sample rx valid/ready every cycle (slow): device backpressure, link idle while due
//   DUMP=file      write every TLP seen (cycle dir class tag len addr) to a file
//   TIMELINE=c     print the TLPs from cycle c (SPAN cycles, default 1500); FROM=c: on a failure, from cycle c
// A diagnostic, not a benchmark (npm run bench is): figures are for one short run.
import { writeFileSync } from 'node:fs';
import type { DataWidth } from '../gen/pcie/streams';
import { BlkSystem, buildBlkTop } from '../tb/virtio/blk/system';
import { sequentialWorkload } from '../tb/virtio/blk/workload';
import { batchTlp, type RawTlp, type TlpBatch } from '../sim/raw';

const ring = (process.argv[2] ?? 'split') as 'split' | 'packed';
const type = (process.argv[3] ?? 'read') as 'read' | 'write';
const bytes = Number(process.argv[4] ?? 4096);
const n = Number(process.argv[5] ?? 96);
const W: DataWidth = 256;
// the benchmark's build: the one with only this format's engine
buildBlkTop(W, undefined, undefined, ring);
const sys = new BlkSystem({
  W,
  ring,
  rings: ring,
  seed: 1,
  rc: { latency: { min: 200, max: 300 }, split: 'rcb', rcb: 64, mps: 256, mrrs: 512 },
  ...(process.env.NOINDIRECT ? { declineFeatures: ['VIRTIO_F_INDIRECT_DESC'] } : {}),
});
const vq = sys.blk.vqs[0] as unknown as Record<string, bigint>;
const rings = ring === 'split' ? { desc: vq.desc, avail: vq.avail, used: vq.used } : {};
console.log('rings', Object.fromEntries(Object.entries(rings).map(([k, v]) => [k, v.toString(16)])));

interface Ev {
  cycle: number;
  dir: 'tx' | 'rx';
  kind: string;
  addr: bigint;
  len: number;
  tag: number;
  pl: number;
}
const evs: Ev[] = [];
let on = false;
const dec = (raw: RawTlp, cycle: number, dir: 'tx' | 'rx'): Ev => {
  const h = raw.hdr;
  const fmt = h[0] >>> 29;
  const typ = (h[0] >>> 24) & 0x1f;
  const lenDw = h[0] & 0x3ff || 1024;
  const four = (fmt & 1) === 1;
  const addr = four ? (BigInt(h[2]) << 32n) | BigInt(h[3] & ~3) : BigInt(h[2] & ~3);
  let kind = '?';
  if (typ === 0 && (fmt === 0 || fmt === 1)) kind = 'MRd';
  else if (typ === 0 && (fmt === 2 || fmt === 3)) kind = 'MWr';
  else if (typ === 0b01010) kind = 'Cpl';
  const tag = kind === 'Cpl' ? (h[2] >>> 8) & 0xff : (h[1] >>> 8) & 0xff;
  const pl = kind === 'MRd' || (kind === 'Cpl' && ((h[0] >>> 29) & 2) === 0) ? 0 : lenDw * 4;
  return { cycle, dir, kind, addr, len: kind === 'Cpl' ? h[1] & 0xfff : lenDw * 4, tag, pl };
};
const sim = sys.sim as unknown as Record<string, (...a: unknown[]) => unknown>;
const takeTx = sim.takeTx.bind(sys.sim);
sim.takeTx = () => {
  const tx = takeTx() as (RawTlp & { cycle: number })[];
  if (on) for (const t of tx) evs.push(dec(t, t.cycle, 'tx'));
  return tx;
};
const delays: number[] = [];
const tagFree: { cycle: number; tag: number }[] = [];
const pairs: [number, number][] = [];
const validAt = new Map<number, boolean>();
{
  const origT = sim.sendTracked.bind(sys.sim);
  const origS = sim.send.bind(sys.sim);
  const track = (raw: unknown, at: unknown, cb?: (c: number) => void) => {
    const a = (at as number) ?? sys.sim.cycle;
    if (on) evs.push(dec(raw as RawTlp, a, 'rx'));
    if (!on) return cb ? origT(raw, at, cb) : origS(raw, at);
    const ev = dec(raw as RawTlp, a, 'rx');
    return origT(raw, at, (c: number) => {
      delays.push(c - a);
      pairs.push([a, c]);
      if (ev.kind === 'Cpl' && ev.len <= ((raw as RawTlp).hdr[0] & 0x3ff) * 4) tagFree.push({ cycle: c, tag: ev.tag });
      cb?.(c);
    });
  };
  sim.send = (raw: unknown, at: unknown) => track(raw, at);
  sim.sendTracked = (raw: unknown, at: unknown, cb: unknown) => track(raw, at, cb as (c: number) => void);
  // (the root complex answers a read with a batch of completions: each seen here as if sent singly)
  sim.sendBatch = (b: unknown, cb: unknown) => {
    const batch = b as TlpBatch;
    for (let k = 0; k < batch.count; k++) {
      const v = batchTlp(batch, k);
      const raw: RawTlp = { hdr: v.hdr.slice(), data: v.data.slice() };
      const last = k === batch.count - 1 && cb;
      if (last) track(raw, batch.cycle[k], cb as (c: number) => void);
      else track(raw, batch.cycle[k]);
    }
  };
}
interface Req {
  sub: number;
  hdr: bigint;
  st: bigint;
  data: bigint;
  done?: number;
  hdrRd?: number;
  hdrCpl?: number;
  d0?: number;
  d1?: number;
  stWr?: number;
}
const reqs: Req[] = [];
const byHdr = new Map<bigint, Req>();
const bySt = new Map<bigint, Req>();
const byData = new Map<bigint, Req>();
const blk = sys.blk as unknown as Record<string, (...a: unknown[]) => unknown>;
const submit = blk.submit.bind(sys.blk);
blk.submit = (op: unknown, q: unknown, kick: unknown) => {
  const r = submit(op, q, kick) as {
    regions: { addr: bigint }[];
    statusAddr: bigint;
    op: { bufs: { addr: bigint }[] };
  };
  if (on && typeof r === 'object') {
    const x: Req = { sub: sys.sim.cycle, hdr: r.regions[0].addr, st: r.statusAddr, data: r.op.bufs[0].addr };
    reqs.push(x);
    byHdr.set(x.hdr, x);
    bySt.set(x.st, x);
    byData.set(x.data & ~0xfffn, x);
  }
  return r;
};
const takeCompleted = blk.takeCompleted.bind(sys.blk);
blk.takeCompleted = () => {
  const d = takeCompleted() as { regions: { addr: bigint }[] }[];
  for (const r of d) {
    const x = byHdr.get(r.regions[0].addr);
    if (x) x.done = sys.sim.cycle;
  }
  return d;
};
const samp = { cycles: 0, valid: 0, stall: 0, fire: 0, txValid: 0, txStall: 0 };
if (process.env.SAMPLE) {
  const origRun = sim.run.bind(sys.sim) as (o: Record<string, number | undefined>) => {
    reason: string;
    cycles: number;
  };
  sim.run = (o: unknown) => {
    const opts = o as Record<string, number | undefined>;
    if (!on) return origRun(opts);
    let total = 0;
    const limit = opts.cycles ?? opts.maxCycles ?? 1_000_000;
    for (;;) {
      const r = origRun(opts.cycles !== undefined ? { ...opts, cycles: 1 } : { ...opts, maxCycles: 1 });
      total += r.cycles;
      if (r.cycles > 0) {
        const v = sys.sim.peek('rx_valid') === 1n;
        const rd = sys.sim.peek('rx_ready') === 1n;
        samp.cycles++;
        validAt.set(sys.sim.cycle, v);
        if (v) samp.valid++;
        if (v && !rd) samp.stall++;
        if (v && rd) samp.fire++;
      }
      const done = opts.cycles !== undefined ? r.reason !== 'cycles' || total >= opts.cycles : r.reason !== 'limit';
      if (done || total >= limit || r.cycles === 0)
        return { reason: opts.cycles !== undefined && total >= opts.cycles ? 'cycles' : r.reason, cycles: total };
    }
  };
}
const D = 32;
const at: number[] = [];
// warm-up
sys.run(sequentialWorkload(type, bytes), { requests: 64, depth: D, queues: [0] });
on = true;
const c0 = sys.sim.cycle;
try {
  sys.run(sequentialWorkload(type, bytes), {
    requests: n + 2 * D,
    depth: D,
    queues: [0],
    onComplete: (_i, cycle) => at.push(cycle),
  });
} catch (e) {
  console.log(String(e).slice(0, 400));
  const m = /at 0x([0-9a-f]+)/.exec(String(e));
  if (m) {
    const a = BigInt('0x' + m[1]);
    for (const [i, r] of reqs.entries())
      if ((r.hdr <= a && a < r.hdr + 16n) || (r.data <= a && a < r.data + 4096n))
        console.log(
          `request ${i}: submitted ${r.sub} done ${r.done} hdr ${r.hdr.toString(16)} data ${r.data.toString(16)}`,
        );
  }
  const last = evs.filter(
    (e) =>
      e.cycle > Number(process.env.FROM ?? 0) &&
      !(e.kind === 'Cpl' && e.len > 16) &&
      !(e.kind === 'MRd' && e.len === 512),
  );
  for (const e of last) console.log(`${e.cycle} ${e.dir} ${e.kind} tag ${e.tag} len ${e.len} @${e.addr.toString(16)}`);
  process.exit(1);
}
const c1 = sys.sim.cycle;
on = false;
const steady = (at[D + n - 1] - at[D - 1]) / n;
console.log(
  `${ring} ${type} ${bytes}: ${steady.toFixed(1)} cycles/request, fraction ${(bytes / steady / 32).toFixed(3)}`,
);

const inRing = (a: bigint) =>
  ring === 'split' &&
  ((a >= rings.desc! && a < rings.desc! + 0x1000n) ||
    (a >= rings.avail! && a < rings.avail! + 0x1000n) ||
    (a >= rings.used! && a < rings.used! + 0x1000n));
const cls = (e: Ev) => {
  if (e.kind === 'MRd') {
    if (ring === 'split' && e.addr >= rings.avail! && e.addr < rings.avail! + 0x1000n) return 'rd:avail';
    if (ring === 'split' && e.addr >= rings.desc! && e.addr < rings.desc! + 0x1000n) return 'rd:desc';
    if (ring === 'split' && e.addr >= rings.used! && e.addr < rings.used! + 0x1000n) return 'rd:used?';
    if (e.len <= 16) return 'rd:hdr16';
    if (e.len < 512 && !inRing(e.addr)) return `rd:small${e.len}`;
    return 'rd:data';
  }
  if (e.kind === 'MWr') {
    if (e.addr >= 0xfee00000n && e.addr < 0xfef00000n) return 'wr:msi';
    if (ring === 'split' && e.addr >= rings.used! && e.addr < rings.used! + 0x1000n) return 'wr:used';
    if (e.len <= 4) return 'wr:status';
    return 'wr:data';
  }
  return e.kind;
};
const counts = new Map<string, { n: number; bytes: number }>();
for (const e of evs) {
  const k = `${e.dir}:${cls(e)}`;
  const c = counts.get(k) ?? { n: 0, bytes: 0 };
  c.n++;
  c.bytes += e.len;
  counts.set(k, c);
}
const cyc = c1 - c0;
console.log(`window ${cyc} cycles, ${n + 2 * D} requests`);
for (const [k, v] of [...counts].sort())
  console.log(`  ${k.padEnd(20)} n=${v.n} (${(v.n / (n + 2 * D)).toFixed(2)}/req) bytes=${v.bytes}`);

// read tags outstanding over time, and link utilization
const tags = new Map<number, number>();
const pendingRd = new Map<number, { cycle: number; k: string; len: number; got: number }>();
let out = 0;
let outBytes = 0;
let outInt = 0;
let outBytesInt = 0;
let last = evs[0]?.cycle ?? 0;
const lat: Record<string, number[]> = {};
const sorted = [...evs].sort((a, b) => a.cycle - b.cycle);
const t0 = at[D - 1];
const t1 = at[D + n - 1];
let txBeats = 0;
const plHist = new Map<string, number>();
let rxBeats = 0;
for (const e of sorted) {
  if (e.cycle >= t0 && e.cycle < t1) {
    const dt = Math.min(e.cycle, t1) - Math.max(last, t0);
    if (dt > 0) {
      outInt += out * dt;
      outBytesInt += outBytes * dt;
    }
  }
  last = e.cycle;
  if (e.cycle >= t0 && e.cycle < t1) {
    if (e.dir === 'tx') txBeats += 1 + (e.kind === 'MWr' ? Math.ceil(e.len / 32) : 0);
    else {
      const b = Math.max(1, Math.ceil(e.pl / 32));
      rxBeats += b;
      const k = `${e.pl}`;
      plHist.set(k, (plHist.get(k) ?? 0) + 1);
    }
  }
  if (e.dir === 'tx' && e.kind === 'MRd') {
    pendingRd.set(e.tag, { cycle: e.cycle, k: cls(e), len: e.len, got: 0 });
    out++;
    outBytes += e.len;
    tags.set(e.tag, 1);
  } else if (e.dir === 'rx' && e.kind === 'Cpl') {
    const p = pendingRd.get(e.tag);
    if (p) {
      // byte count = bytes remaining including this completion
      if (e.len <= 64) {
        const k = p.k;
        (lat[k] ??= []).push(e.cycle - p.cycle);
        pendingRd.delete(e.tag);
        out--;
        outBytes -= p.len;
      }
    }
  }
}
const span = t1 - t0;
console.log(
  `steady window ${span} cycles: mean reads outstanding ${(outInt / span).toFixed(1)}, bytes ${(outBytesInt / span).toFixed(0)}`,
);
console.log(
  `  tx beats ${txBeats} (${(txBeats / span).toFixed(2)}/clk), rx beats ${rxBeats} (${(rxBeats / span).toFixed(2)}/clk)`,
);
console.log(
  '  rx payload sizes (steady):',
  [...plHist]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([k, v]) => `${k}B x${v}`)
    .join(', '),
);
for (const [k, v] of Object.entries(lat))
  console.log(`  latency ${k}: mean ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(0)} n=${v.length}`);
{
  const d = [...delays].sort((a, b) => a - b);
  console.log(
    `  rx delivery delay (last beat - scheduled): mean ${(d.reduce((a, b) => a + b, 0) / d.length).toFixed(1)} p50 ${d[d.length >> 1]} p90 ${d[Math.floor(d.length * 0.9)]} max ${d[d.length - 1]}`,
  );
}
{
  // tags in use: MRd issue -> its last completion delivered
  const ev2 = [
    ...sorted.filter((e) => e.dir === 'tx' && e.kind === 'MRd').map((e) => ({ c: e.cycle, d: 1 })),
    ...tagFree.map((f) => ({ c: f.cycle, d: -1 })),
  ].sort((a, b) => a.c - b.c || a.d - b.d);
  let inUse = 0;
  console.log('  MRd', ev2.filter((x) => x.d === 1).length, 'last cpls', tagFree.length);
  let lastC = t0;
  let area = 0;
  let full = 0;
  const hist = new Array(40).fill(0);
  for (const x of ev2) {
    if (x.c > t0 && x.c <= t1) {
      area += inUse * (x.c - lastC);
      hist[Math.min(39, inUse)] += x.c - lastC;
      if (inUse >= 32) full += x.c - lastC;
      lastC = x.c;
    } else if (x.c <= t0) lastC = t0;
    inUse += x.d;
  }
  console.log(
    `  tags in use (issue -> last cpl delivered): mean ${(area / span).toFixed(1)}, all 32 busy ${((100 * full) / span).toFixed(0)}% of the time; >=28: ${((100 * hist.slice(28).reduce((a, b) => a + b, 0)) / span).toFixed(0)}%`,
  );
}
if (process.env.SAMPLE) {
  console.log('rx samples', samp);
  const due = new Int32Array(span + 2);
  for (const [a, c] of pairs) {
    const lo = Math.max(a, t0) - t0;
    const hi = Math.min(c, t1) - t0;
    if (hi > lo) {
      due[lo]++;
      due[hi]--;
    }
  }
  let q = 0;
  let idleQ = 0;
  let idle = 0;
  let val = 0;
  for (let c = t0; c < t1; c++) {
    q += due[c - t0];
    const v = validAt.get(c);
    if (v) val++;
    if (v === false) {
      idle++;
      if (q > 0) idleQ++;
    }
  }
  console.log(`  steady: rx valid ${val} of ${span}; idle ${idle}, idle while a completion is due ${idleQ}`);
}
// per-request phases
const tagReq = new Map<number, Req>();
for (const e of sorted) {
  if (e.dir === 'tx' && e.kind === 'MRd') {
    const h = byHdr.get(e.addr);
    if (h) {
      h.hdrRd = e.cycle;
      tagReq.set(e.tag, h);
    } else tagReq.delete(e.tag);
    const d = byData.get(e.addr & ~0xfffn);
    if (d && !h) {
      d.d0 ??= e.cycle;
      d.d1 = e.cycle;
    }
  } else if (e.dir === 'rx' && e.kind === 'Cpl') {
    const h = tagReq.get(e.tag);
    if (h && h.hdrCpl === undefined) {
      h.hdrCpl = e.cycle;
      tagReq.delete(e.tag);
    }
  } else if (e.dir === 'tx' && e.kind === 'MWr') {
    const s = bySt.get(e.addr & ~3n) ?? [...[0n, 1n, 2n, 3n]].map((k) => bySt.get((e.addr & ~3n) + k)).find((x) => x);
    if (s && e.len <= 4) s.stWr = e.cycle;
    const d = byData.get(e.addr & ~0xfffn);
    if (d && e.len > 4) {
      d.d0 ??= e.cycle;
      d.d1 = e.cycle;
    }
  }
}
const ph: Record<string, number[]> = {};
const add = (k: string, v: number | undefined) => {
  if (v !== undefined && !Number.isNaN(v)) (ph[k] ??= []).push(v);
};
for (const r of reqs) {
  if (r.done === undefined || r.done < t0 || r.done > t1) continue;
  add('1 submit->hdrRd', r.hdrRd! - r.sub);
  add('2 hdrRd->hdrCpl', r.hdrCpl! - r.hdrRd!);
  add('3 hdrCpl->data0', r.d0! - r.hdrCpl!);
  add('4 data0->data1', r.d1! - r.d0!);
  add('5 data1->stWr', r.stWr! - r.d1!);
  add('6 stWr->done', r.done - r.stWr!);
  add('total', r.done - r.sub);
}
for (const [k, v] of Object.entries(ph).sort())
  console.log(
    `  phase ${k.padEnd(18)} mean ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(0)} min ${Math.min(...v)} max ${Math.max(...v)} n=${v.length}`,
  );
// timeline sample
if (process.env.TIMELINE) {
  const from = Number(process.env.TIMELINE);
  for (const e of sorted.filter((e) => e.cycle >= from && e.cycle < from + Number(process.env.SPAN ?? 1500)))
    console.log(`${e.cycle} ${e.dir} ${cls(e).padEnd(12)} tag ${e.tag} len ${e.len} @${e.addr.toString(16)}`);
}
console.log('t0', t0, 't1', t1);
// DUMP=file: the classified TLPs (cycle dir class tag len addr), one a line, for analysis elsewhere
if (process.env.DUMP)
  writeFileSync(
    process.env.DUMP,
    sorted.map((e) => `${e.cycle} ${e.dir} ${cls(e)} ${e.tag} ${e.len} ${e.addr.toString(16)}`).join('\n') + '\n',
  );
sys.close();
