// The data plane (docs/data-plane.md): everything behind the virtio endpoint's handover. The queue engines of the
// build's ring formats (`rings`: the split engine, the packed engine, or both, the negotiated VIRTIO_F_RING_PACKED
// then picking the one that runs), the virtio-blk device, and the DMA fabric they are clients of: the engines
// present in the order split, packed, then virtio-blk last (fabricClients: 0 split, 1 packed, 2 blk with both; 0
// the engine, 1 blk with one).
//
//   dp (handover) --> split engine  --chain/done--+
//                 --> packed engine --chain/done--+--> virtio-blk --> storage (AXI4)
//   tx <- DmaFabric <- [engines..., blk] ; cpl -> DmaFabric
//   irq_queue <- fabric irq_out <- engines' irq_queue      (held behind the TLPs ahead of it)
//
// With both engines, the one not selected sees driver_ok, queue enables and doorbells as 0 (it stays idle), but
// every reset: reset_done and queue_reset_done are given once both engines have given theirs during that reset. The
// features go to 0 when a reset starts; the selection is held until it ends, so chains the device still holds go
// back to the engine they came from. With one engine the handover goes to it whole (the endpoint offers only its
// format: gen/virtq/blk_top.ts).
import {
  bit,
  cat,
  connect,
  defineModule,
  type Expr,
  lit,
  log2ceil,
  type ModuleBuilder,
  mux,
  orAll,
  paramError,
  type Signal,
} from '../hdl';
import { paramHash, VirtioBlk, type VirtioBlkParams } from '../blk/device';
import { axi4 } from '../lib/axi';
import { type DataWidth, tlpStream } from '../pcie/streams';
import { virtioHandover } from '../virtio/ports';
import { featureDef } from '../virtio/regmap';
import { DmaFabric, type DmaFabricParams } from './dma_fabric';
import { PackedEngine } from './packed_engine';
import type { PackedEngineParams } from './packed_params';
import { SplitEngine, type SplitEngineParams } from './split_engine';

type EngineOwn<T> = Omit<T, 'W' | 'queues' | 'devBits' | 'base' | 'lenBits' | 'idBits'>;

/** Which ring formats a build serves: one queue engine each ('both': the driver's choice picks one per session). */
export type RingEngines = 'split' | 'packed' | 'both';
export const RING_ENGINES: readonly RingEngines[] = ['split', 'packed', 'both'];

/** The ring formats (queue engines) a build has, in fabric client order. */
export function ringFormats(rings: RingEngines): ('split' | 'packed')[] {
  if (!RING_ENGINES.includes(rings))
    throw paramError(`data plane: rings '${String(rings)}' is not one of ${RING_ENGINES.join(', ')}`);
  return rings === 'both' ? ['split', 'packed'] : [rings];
}

export interface DataPlaneParams {
  W: DataWidth;
  queues: number;
  /** Bits of the handover's device configuration field index (the endpoint's). */
  cfgFieldBits: number;
  /** The queue engines built (the ring formats the endpoint offers must be these: gen/virtq/blk_top.ts). */
  rings: RingEngines;
  /** The split engine's parameters (used when `rings` has it). */
  split: EngineOwn<SplitEngineParams>;
  /** The packed engine's parameters (used when `rings` has it). */
  packed: EngineOwn<PackedEngineParams>;
  blk: Omit<VirtioBlkParams, 'W' | 'queueBits' | 'lenBits' | 'idBits' | 'addrBits' | 'base'>;
  /** The fabric's DMA settings. */
  dma: Omit<DmaFabricParams, 'W' | 'regions' | 'irqBits'>;
}

const RING_PACKED = featureDef('VIRTIO_F_RING_PACKED', 'blk').bit;

/**
 * The DMA fabric's clients, in client number order: the queue engines present (split before packed), then
 * virtio-blk; each with its region's log2 size (the fabric's `regions`).
 */
export function fabricClients(p: Pick<DataPlaneParams, 'rings' | 'split' | 'packed' | 'blk'>): {
  name: 'split' | 'packed' | 'blk';
  regionBits: number;
}[] {
  return [
    ...ringFormats(p.rings).map((r) => ({ name: r, regionBits: p[r].regionBits })),
    { name: 'blk' as const, regionBits: p.blk.devBits },
  ];
}

/**
 * A pulse per bit once every source has pulsed that bit while `armed` (that bit's reset in progress) was set; a
 * source's pulse outside its reset (the packed engine also reports its queues quiet after a device reset) is not
 * kept, and what was kept is forgotten when the reset ends.
 */
function allDone(m: ModuleBuilder, name: string, sources: Expr[], armed: Expr): Expr {
  const n = sources[0].width;
  const seen = sources.map((_, i) => m.reg(`${name}_seen${i}`, n, { reset: 0 }));
  const now = sources.map((s, i) => seen[i].or(s).and(armed));
  const all = now.reduce((a, b) => a.and(b));
  sources.forEach((_, i) => seen[i].next(now[i].and(all.not())));
  const out = m.reg(`${name}_q`, n, { reset: 0 });
  out.next(all);
  return out;
}

export const DataPlane = defineModule(
  'virtio_dataplane',
  (m, p: DataPlaneParams) => {
    const W = p.W;
    const Q = p.queues;
    const qb = Math.max(1, log2ceil(Q));
    const { lenBits, idBits } = p.dma;
    const dp = m.input('dp', virtioHandover(Q, p.cfgFieldBits));
    const tx = m.output('tx', tlpStream(W));
    const cpl = m.input('cpl', tlpStream(W));
    const timeout = m.input('timeout', p.dma.timeoutBits);
    const storage = m.output('storage', axi4(2 * W, p.blk.devBits - 1));
    const busy = m.output('busy', bit);
    const evBad = m.output('ev_bad_request', bit);
    const evDma = m.output('ev_dma_error', bit);

    const own = { W, queues: Q, base: 0, lenBits, idBits };
    const formats = ringFormats(p.rings);
    const split = formats.includes('split')
      ? m.instance('split_eng', SplitEngine, { ...own, ...p.split, devBits: p.split.regionBits }).io
      : undefined;
    const packed = formats.includes('packed')
      ? m.instance('packed_eng', PackedEngine, { ...own, ...p.packed, devBits: p.packed.regionBits }).io
      : undefined;
    const blk = m.instance('blk', VirtioBlk, { ...p.blk, W, queueBits: qb, lenBits, idBits }).io;
    const clients = fabricClients(p);
    const fabric = m.instance('fabric', DmaFabric, {
      ...p.dma,
      W,
      regions: clients.map((c) => c.regionBits),
      irqBits: Q,
      // virtio-blk's reads are answered in word order (its storage port's words unjoined: gen/blk/line_axi.ts).
      wordOrder: [clients.findIndex((c) => c.name === 'blk')],
    }).io;

    // ---- the handover into the engines. With both, the one not selected idles; the selection holds through a
    // device reset: the features read 0 from the reset's first cycle, while the engine that ran still takes back the
    // chains the device holds (its reset waits for them).
    let usePacked: Expr | undefined;
    if (split && packed) {
      const held = m.reg('use_packed_held', bit, { reset: 0 });
      usePacked = m.let('use_packed', mux(dp.reset_busy, held, dp.features.bit(RING_PACKED)));
      held.next(usePacked);
    }
    // `on`: the engine runs (undefined: the only engine, always).
    const engines: { e: NonNullable<typeof split> | NonNullable<typeof packed>; on?: Expr }[] = [];
    if (split) engines.push({ e: split, on: usePacked?.not() });
    if (packed) engines.push({ e: packed, on: usePacked });
    const gate = (x: Expr, on?: Expr) => (on ? x.and(on) : x);
    for (const { e, on } of engines) {
      e.features.set(dp.features);
      e.driver_ok.set(gate(dp.driver_ok, on));
      e.reset_req.set(dp.reset_req);
      // The split engine names its queue ports q0, q1, ...; the packed engine returns them as an array `q`.
      const eq = e as unknown as Record<string, Record<string, Signal>> & { q?: Record<string, Signal>[] };
      const dq = dp as unknown as Record<string, Record<string, Signal>>;
      for (let i = 0; i < Q; i++) {
        const to = eq.q ? eq.q[i] : eq[`q${i}`];
        const from = dq[`q${i}`];
        for (const k of Object.keys(from)) {
          if (k === 'enable' || k === 'notify') to[k].set(gate(from[k], on));
          else to[k].set(from[k]);
        }
      }
    }

    // ---- chains: the running engine's to the device; completions back to it
    const c = blk.chain;
    const d = blk.done;
    if (split && packed && usePacked) {
      const sel = <T extends Expr>(a: T, b: T) => mux(usePacked, b, a);
      c.valid.set(sel(split.chain.valid, packed.chain.valid));
      for (const k of ['queue', 'id', 'slots', 'addr', 'len', 'write', 'last'] as const)
        c[k].set(sel(split.chain[k], packed.chain[k]));
      split.chain.ready.set(c.ready.and(usePacked.not()));
      packed.chain.ready.set(c.ready.and(usePacked));
      d.ready.set(sel(split.done.ready, packed.done.ready));
    } else {
      const e = engines[0].e;
      c.valid.set(e.chain.valid);
      for (const k of ['queue', 'id', 'slots', 'addr', 'len', 'write', 'last'] as const) c[k].set(e.chain[k]);
      e.chain.ready.set(c.ready);
      d.ready.set(e.done.ready);
    }
    for (const { e, on } of engines) {
      e.done.valid.set(gate(d.valid, on));
      for (const k of ['queue', 'id', 'slots', 'len'] as const) e.done[k].set(d[k]);
    }
    blk.features.set(dp.features);
    connect(storage, blk.storage);

    // ---- DMA: every block a client of the fabric, numbered as fabricClients says
    const blocks = { split, packed, blk };
    clients.forEach(({ name }, i) => {
      const e = blocks[name]!;
      const f = fabric.clients[i];
      connect(f.rd_cmd, e.rd_cmd);
      connect(e.rd_status, f.rd_status);
      connect(f.wr_cmd, e.wr_cmd);
      connect(e.wr_status, f.wr_status);
      connect(e.mem_wr, f.mem_wr);
      connect(e.mem_rd, f.mem_rd);
    });
    connect(tx, fabric.tx);
    connect(fabric.cpl, cpl);
    fabric.bus_master.set(dp.bus_master);
    fabric.max_payload.set(dp.max_payload);
    fabric.max_read_req.set(dp.max_read_req);
    fabric.ext_tag_en.set(dp.ext_tag_en);
    fabric.requester_id.set(dp.requester_id);
    fabric.timeout.set(timeout);

    // ---- what the data plane reports
    const es = engines.map((x) => x.e);
    fabric.irq_in.set(orAll(...es.map((e) => e.irq_queue)));
    dp.irq_queue.set(fabric.irq_out);
    // DEVICE_NEEDS_RESET: a malformed ring (an engine's), and virtio-blk's two errors the chain interface cannot
    // carry back to the queue engine (docs/virtio-blk.md): a chain without a device-writable byte (no status byte to
    // report in) and a DMA error on a request's transfers (its status reads IOERR if the status write got through;
    // the golden model stops the queue on a DMA fault).
    dp.fatal_error.set(orAll(...es.map((e) => e.fatal_error), blk.ev_bad_request, blk.ev_dma_error));
    const dq = dp as unknown as Record<string, Record<string, Signal>>;
    if (es.length > 1) {
      dp.reset_done.set(
        allDone(
          m,
          'reset_done',
          es.map((e) => e.reset_done),
          dp.reset_busy,
        ),
      );
      const pending = cat(...Array.from({ length: Q }, (_, i) => dq[`q${Q - 1 - i}`].reset_pending));
      dp.queue_reset_done.set(
        allDone(
          m,
          'queue_reset_done',
          es.map((e) => e.queue_reset_done),
          pending,
        ),
      );
    } else {
      // One engine: its pulses are the data plane's (it gives them only for a reset in progress).
      dp.reset_done.set(es[0].reset_done);
      dp.queue_reset_done.set(es[0].queue_reset_done);
    }
    dp.dma_outstanding.set(fabric.outstanding);
    dp.cfg_valid.set(0);
    dp.cfg_field.set(lit(0, p.cfgFieldBits));
    dp.cfg_value.set(lit(0, 64));
    busy.set(orAll(...es.map((e) => e.busy), blk.busy, fabric.busy));
    evBad.set(blk.ev_bad_request);
    evDma.set(blk.ev_dma_error);
    return { dp, tx, cpl, timeout, storage, busy, ev_bad_request: evBad, ev_dma_error: evDma };
  },
  {
    name: (p) => `virtio_dataplane_${p.rings}_w${p.W}_q${p.queues}_${paramHash(p)}`,
    doc: 'virtio data plane: the queue engines of its ring formats (split, packed or both), virtio-blk, the DMA fabric they share.',
  },
);
