// Where a split request's time goes before virtio-blk reads its header (a diagnostic, not a test): the bench's
// host (256 bits, 200-300 cycles, 64 B completions reordered, EVENT_IDX, INDIRECT, depth 32) running 512 B reads,
// each request followed through the TLPs: submitted -> the first avail->idx read issued after it (and its
// completion) -> its avail entry's read -> its head descriptor's read -> its INDIRECT table's read -> blk's header
// read. `npx tsx test/virtq/split_trace.ts [n] [read|write] [bytes]`.
import type { DataWidth } from '../../gen/pcie/streams';
import { BlkSystem, buildBlkTop } from '../../tb/virtio/blk/system';
import { sequentialWorkload } from '../../tb/virtio/blk/workload';
import { batchTlp, type RawTlp, type TlpBatch } from '../../sim/raw';

const n = Number(process.argv[2] ?? 256);
const type = (process.argv[3] ?? 'read') as 'read' | 'write';
const bytes = Number(process.argv[4] ?? 512);
const W: DataWidth = 256;
buildBlkTop(W, undefined, undefined, 'split');
const sys = new BlkSystem({
  W,
  ring: 'split',
  rings: 'split',
  seed: 1,
  rc: { latency: { min: 200, max: 300 }, split: 'rcb', rcb: 64, mps: 256, mrrs: 512 },
});
const vq = sys.blk.vqs[0] as unknown as Record<string, unknown>;
const descB = vq.desc as bigint;
const availB = vq.avail as bigint;
const num = vq.num as number;
console.log('num', num, descB.toString(16), availB.toString(16));
let on = false;
const availEventWrites: number[] = [];
interface Rd {
  issue: number;
  addr: bigint;
  len: number;
  done?: number;
}
const rds: Rd[] = [];
const open = new Map<number, Rd>();
const sim = sys.sim as unknown as Record<string, (...a: unknown[]) => unknown>;
const takeTx = sim.takeTx.bind(sys.sim);
sim.takeTx = () => {
  const tx = takeTx() as (RawTlp & { cycle: number })[];
  if (on)
    for (const t of tx) {
      const h = t.hdr;
      const fmt = h[0] >>> 29;
      const typ = (h[0] >>> 24) & 0x1f;
      if (typ === 0 && fmt > 1) {
        const four = (fmt & 1) === 1;
        const addr = four ? (BigInt(h[2]) << 32n) | BigInt(h[3] & ~3) : BigInt(h[2] & ~3);
        if (
          addr === (vq.used as bigint) + 4n + 8n * BigInt(num) ||
          addr === (((vq.used as bigint) + 4n + 8n * BigInt(num)) & ~3n)
        )
          availEventWrites.push(t.cycle);
      }
      if (typ !== 0 || fmt > 1) continue;
      const four = (fmt & 1) === 1;
      const addr = four ? (BigInt(h[2]) << 32n) | BigInt(h[3] & ~3) : BigInt(h[2] & ~3);
      const r: Rd = { issue: t.cycle, addr, len: (h[0] & 0x3ff) * 4 };
      rds.push(r);
      open.set((h[1] >>> 8) & 0xff, r);
    }
  return tx;
};
{
  const origT = sim.sendTracked.bind(sys.sim);
  const origS = sim.send.bind(sys.sim);
  const track = (raw: RawTlp, at: number | undefined, cb?: (c: number) => void) => {
    const h = raw.hdr;
    const typ = (h[0] >>> 24) & 0x1f;
    if (!on || typ !== 0b01010) return cb ? origT(raw, at, cb) : origS(raw, at);
    const tag = (h[2] >>> 8) & 0xff;
    const last = (h[1] & 0xfff) <= (h[0] & 0x3ff) * 4;
    return origT(raw, at, (c: number) => {
      if (last) {
        const r = open.get(tag);
        if (r && r.done === undefined) r.done = c;
      }
      cb?.(c);
    });
  };
  sim.send = (raw: unknown, at: unknown) => track(raw as RawTlp, at as number);
  sim.sendTracked = (raw: unknown, at: unknown, cb: unknown) =>
    track(raw as RawTlp, at as number, cb as (c: number) => void);
  sim.sendBatch = (b: unknown, cb: unknown) => {
    const batch = b as TlpBatch;
    for (let k = 0; k < batch.count; k++) {
      const v = batchTlp(batch, k);
      const raw: RawTlp = { hdr: v.hdr.slice(), data: v.data.slice() };
      if (k === batch.count - 1 && cb) track(raw, batch.cycle[k], cb as (c: number) => void);
      else track(raw, batch.cycle[k]);
    }
  };
}
interface Req {
  sub: number;
  pos: number;
  head: number;
  table: bigint;
  hdr: bigint;
  done?: number;
}
const reqs: Req[] = [];
const blk = sys.blk as unknown as Record<string, (...a: unknown[]) => unknown>;
const submit = blk.submit.bind(sys.blk);
blk.submit = (op: unknown, q: unknown, kick: unknown) => {
  const head = vq.freeHead as number;
  const pos = vq.availIdxShadow as number;
  const r = submit(op, q, kick) as { regions: { addr: bigint }[] };
  if (on && typeof r === 'object') {
    const table = sys.rc.mem.readU64(descB + 16n * BigInt(head));
    reqs.push({ sub: sys.sim.cycle, pos, head, table, hdr: r.regions[0].addr });
  }
  return r;
};
const takeCompleted = blk.takeCompleted.bind(sys.blk);
const byHdr = new Map<bigint, Req>();
blk.takeCompleted = () => {
  const d = takeCompleted() as { regions: { addr: bigint }[] }[];
  for (const r of d) {
    const x = byHdr.get(r.regions[0].addr) ?? reqs.find((q) => q.hdr === r.regions[0].addr && q.done === undefined);
    if (x) x.done = sys.sim.cycle;
  }
  return d;
};
const D = 32;
sys.run(sequentialWorkload(type, bytes), { requests: 64, depth: D, queues: [0] });
on = true;
const at: number[] = [];
sys.run(sequentialWorkload(type, bytes), {
  requests: n + 2 * D,
  depth: D,
  queues: [0],
  onComplete: (_i, c) => at.push(c),
});
on = false;
console.log(`${type} ${bytes}: ${((at[D + n - 1] - at[D - 1]) / n).toFixed(1)} cycles/request`);
const covers = (r: Rd, a: bigint, l: number) => r.addr <= a && a + BigInt(l) <= r.addr + BigInt(r.len);
const first = (after: number, f: (r: Rd) => boolean) => rds.find((r) => r.issue >= after && f(r));
const ph: Record<string, number[]> = {};
const add = (k: string, v: number | undefined) => v !== undefined && !Number.isNaN(v) && (ph[k] ??= []).push(v);
const kinds = { idx: 0, entries: 0, desc: 0, table: 0, hdr: 0, other: 0 };
for (const r of rds) {
  if (r.addr === availB + 2n || (r.addr === availB && r.len === 4)) kinds.idx++;
  else if (r.addr >= availB && r.addr < availB + 0x1000n) kinds.entries++;
  else if (r.addr >= descB && r.addr < descB + BigInt(16 * num)) kinds.desc++;
  else if (r.len === 48) kinds.table++;
  else if (r.len === 16) kinds.hdr++;
  else kinds.other++;
}
const R = reqs.length;
console.log('avail_event writes per request', (availEventWrites.length / R).toFixed(3));
console.log('reads per request', Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, (v / R).toFixed(2)])));
for (const q of reqs.slice(D, D + n)) {
  const idx = first(q.sub, (r) => r.addr === availB || r.addr === availB + 2n);
  if (!idx?.done) continue;
  const ent = first(idx.done, (r) => covers(r, availB + 4n + 2n * BigInt(q.pos % num), 2));
  if (!ent?.done) continue;
  const tbl = first(q.sub, (r) => r.addr === q.table);
  const hdr = first(q.sub, (r) => r.addr === q.hdr);
  if (!tbl || !hdr) continue;
  // the last read of the head's descriptor before the table's (after the idx read, so possibly before the entry's)
  const desc = rds
    .filter((r) => r.issue >= idx.done! && r.issue <= tbl.issue && covers(r, descB + 16n * BigInt(q.head), 16))
    .pop();
  if (!desc) continue;
  add('e2 desc issued before entry done', desc.issue < ent.done ? 1 : 0);
  add(
    'e4 head read at entry issue',
    rds.some((r) => r.issue >= ent.issue && r.issue <= ent.issue + 60 && r.addr === descB + 16n * BigInt(q.head))
      ? 1
      : 0,
  );
  add(
    'e3 desc reads of the head',
    rds.filter((r) => r.issue >= idx.done! && r.issue <= tbl.issue && covers(r, descB + 16n * BigInt(q.head), 16))
      .length,
  );
  // a read's status comes in command order: once every read issued before it has ended (TLP order stands for
  // command order here: each ring and header read is one TLP)
  const retire = (r: Rd) => Math.max(...rds.filter((x) => x.issue <= r.issue).map((x) => x.done ?? Infinity));
  add('b1 idx done->in-order end', retire(idx) - idx.done!);
  add('d1 entry done->in-order end', retire(ent) - ent.done!);
  add('f1 desc done->in-order end', retire(desc) - desc.done!);
  add('a sub->idx issue', idx.issue - q.sub);
  add('b idx rtt', idx.done! - idx.issue);
  add('c idx done->entry issue', ent.issue - idx.done!);
  add('d entry rtt', ent.done! - ent.issue);
  add('e entry done->desc issue', desc.issue - ent.done!);
  add('e1 desc done->entry done', ent.done - desc.done!);
  add('f desc rtt', desc.done! - desc.issue);
  add('g desc done->table issue', tbl.issue - desc.done!);
  add('h table rtt', tbl.done! - tbl.issue);
  add('i table done->hdr issue', hdr.issue - tbl.done!);
  add('j sub->hdr', hdr.issue - q.sub);
  if (q.done !== undefined) add('k hdr->done', q.done - hdr.issue);
}
for (const [k, v] of Object.entries(ph).sort())
  console.log(
    `  ${k.padEnd(26)} mean ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(1).padStart(7)} min ${Math.min(...v)} max ${Math.max(...v)} n=${v.length}`,
  );
if (process.env.HEADS) console.log(reqs.map((q) => `${q.pos}:${q.head}@${q.sub}`).join(' '));

if (process.env.TL) {
  const from = Number(process.env.TL);
  for (const r of rds.filter((r) => r.issue >= from && r.issue < from + 1500)) {
    const k =
      r.addr === availB + 2n
        ? 'idx'
        : r.addr >= availB && r.addr < availB + 0x1000n
          ? `ent ${(r.addr - availB - 4n) / 2n}+${r.len / 2}`
          : r.addr >= descB && r.addr < descB + BigInt(16 * num)
            ? `desc ${(r.addr - descB) / 16n}+${r.len / 16}`
            : `len ${r.len}`;
    console.log(`${r.issue} -> ${r.done} ${k}`);
  }
  for (const q of reqs.filter((q) => q.sub >= from && q.sub < from + 1500))
    console.log(`${q.sub} submitted entry ${q.pos} head ${q.head}`);
}
sys.close();
