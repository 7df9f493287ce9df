// The split-ring queue engine (docs/queue-engine.md "Split rings"; virtio 1.2 2.7, Linux virtio_ring.c): for
// `queues` split virtqueues it finds available buffers (avail->idx, then the available ring's entries in
// batches), walks and checks their descriptor chains (NEXT, INDIRECT tables) as the golden model
// (tb/virtio/ring/device.ts) does, hands each whole checked chain to the device (`chain`), writes the used
// elements of what the device completes (`done`), publishes them with used->idx after the elements, and decides
// the used buffer notification from avail->flags or used_event (EVENT_IDX). With EVENT_IDX it writes
// avail_event before it stops looking, so the driver's kick suppression cannot strand a buffer.
//
// One sequencer does the ring work, one DMA command at a time (reads of ring data land in the fetch half of
// the engine's scratch memory, writes leave from its out half: split_layout.ts); a checked chain waits in the
// chain buffer while the device takes it, so the sequencer goes on with completions meanwhile.
//
// A malformed ring (any error of the golden model's for split rings, a chain of more than maxChain
// descriptors, a DMA error on a ring access) pulses fatal_error and stops that queue: nothing more is read or
// written for it until it is reset. Device reset and queue reset (RING_RESET) wait for the sequencer's DMA,
// drop completions for the queue (a queue reset waits until the device has returned every chain it took from
// the queue), forget the queue's state and pulse reset_done / queue_reset_done.
import { bit, cat, defineModule, type Expr, intParam, lit, log2ceil, mux, paramError, select } from '../hdl';
import { dmaCommand, dmaStatus, lineBytes, lineRead, lineWrite } from '../dma/ports';
import { DmaUnitRam, DmaWordRam } from '../dma/ram';
import { featureDef } from '../virtio/regmap';
import { queueHandover } from '../virtio/ports';
import type { DataWidth } from '../pcie/streams';
import { chainDesc, chainDone } from './ports';
import { doorbellPending, pickQueue } from './sched';
import { fieldAt, splitLayout } from './split_layout';
import { VRING_DESC_F, VRING_SPLIT_F } from '../virtio/vring';

export interface SplitEngineParams {
  W: DataWidth;
  queues: number;
  /** Device address bits (the DMA engines' devBits). */
  devBits: number;
  /** The region's base device address (a multiple of its size). */
  base: number;
  /** log2 of the region's size in bytes. */
  regionBits: number;
  /** The DMA commands' length and id bits. */
  lenBits: number;
  idBits: number;
  /** Longest chain handed to the device (descriptors, indirect ones counted); a longer one is fatal. */
  maxChain: number;
  /** Available ring entries per read (a power of two). */
  availBatch: number;
  /** Descriptors per read (a power of two). */
  descBatch: number;
  /** Used elements per write. */
  usedBatch: number;
  /**
   * Descriptors read ahead for each available entry (a power of two, default 4): the head's and those after it
   * in the table, where a chain's next descriptors usually are.
   */
  prefetchDescs?: number;
  /**
   * Read INDIRECT tables ahead (default true): a slot whose head descriptor is a valid INDIRECT one gets the first
   * prefetchDescs - 1 entries of its table read into the slot after the head, before its chain is walked.
   */
  indirectAhead?: boolean;
  /**
   * Implement INDIRECT descriptors (default true). False for a device that does not offer VIRTIO_F_INDIRECT_DESC
   * (gen/virtq/blk_top.ts `indirect`): no table read ahead, no table state in the walk, and an INDIRECT
   * descriptor is the golden model's "INDIRECT without the feature" (fatal) whatever the features say.
   */
  indirect?: boolean;
  /**
   * avail->idx reads (polls) outstanding at once for the pool's queue (1..4, default 4), each issued `pollGap`
   * cycles (default 64) after the one before: a new avail->idx is seen about pollGap / 2 after the host's read
   * latency rather than half a round trip later (with EVENT_IDX the driver rarely kicks a busy ring).
   */
  polls?: number;
  pollGap?: number;
  /**
   * Read the likely heads' descriptors with the available entries (default true; not with IN_ORDER): once an
   * avail->idx read shows new entries, each new entry's slot gets the descriptors of the head Linux's free list
   * most likely gave it (the ids the device returned, oldest first, a batch in reverse: `detach_buf_split` pushes
   * and `virtqueue_add_split` pops), read before the entries themselves; a slot whose entry names that head is
   * ready without a read of its own, any other is read as before.
   */
  speculate?: boolean;
}

const { NEXT: VRING_DESC_F_NEXT, WRITE: VRING_DESC_F_WRITE, INDIRECT: VRING_DESC_F_INDIRECT } = VRING_DESC_F;
const VRING_AVAIL_F_NO_INTERRUPT = VRING_SPLIT_F.AVAIL_NO_INTERRUPT;
const featureBit = (name: string) => featureDef(name, 'blk').bit;
/** `e` at width `w` (a length that fits by construction). */
const fit = (e: Expr, w: number) => (e.width < w ? e.zext(w) : e.trunc(w));

const STATES = [
  'idle',
  'qreset',
  'load',
  'plan',
  // the available side
  'idx_cmd',
  'idx_wait',
  'idx_mem',
  'idx_check',
  'idx_act',
  'event_cmd',
  'event_wait',
  'heads_cmd',
  'heads_wait',
  // reading ahead (the queue that has the pool)
  'ahead_idx',
  'ahead_heads',
  'ahead_entry',
  'ahead_match',
  'ahead_desc',
  'spec_plan',
  'spec_load',
  'spec_cmd',
  'ahead_chain',
  'ahead_look',
  'ahead_table',
  'head_mem',
  'head_check',
  'desc_need',
  'desc_wait',
  'desc_mem',
  'desc_walk',
  'fatal',
] as const;
/** The used side's process: completions to used elements, then used->idx. */
const USED_STATES = ['idle', 'load', 'take', 'elems', 'idx', 'fatal'] as const;
/** The notification process: for a queue with used->idx published since its last decision, the decision. */
const NOTE_STATES = ['idle', 'load', 'read', 'wait', 'check', 'fatal'] as const;

function checkParams(p: SplitEngineParams): void {
  intParam('SplitEngine: queues', p.queues, 1, 64);
  // (the reads ahead are numbered in SEQ_BITS: an entry, a descriptor window per entry and avail->idx)
  intParam('SplitEngine: availBatch', p.availBatch, 2, 16);
  intParam('SplitEngine: maxChain', p.maxChain, 1, 4096);
  intParam('SplitEngine: usedBatch', p.usedBatch, 1, 256);
  intParam('SplitEngine: polls', p.polls ?? 4, 1, 4);
  intParam('SplitEngine: pollGap', p.pollGap ?? 64, 1, 1024);
  intParam('SplitEngine: idBits', p.idBits, 2, 64);
  const pf = p.prefetchDescs ?? 4;
  intParam('SplitEngine: prefetchDescs', pf, 1, p.descBatch);
  if (pf & (pf - 1)) throw paramError(`SplitEngine: prefetchDescs must be a power of two, got ${pf}`);
  for (const [k, v] of [
    ['availBatch', p.availBatch],
    ['descBatch', p.descBatch],
  ] as const) {
    intParam(`SplitEngine: ${k}`, v, 2, 256);
    if (v & (v - 1)) throw paramError(`SplitEngine: ${k} must be a power of two, got ${v}`);
  }
  intParam('SplitEngine: regionBits', p.regionBits, 6, p.devBits);
  if (p.base % 2 ** p.regionBits !== 0 || p.base < 0 || p.base >= 2 ** p.devBits)
    throw paramError(
      `SplitEngine: base 0x${p.base.toString(16)} is not a multiple of the region's size inside the device space`,
    );
  if (2 ** p.lenBits <= 16 * Math.max(p.descBatch, p.usedBatch, p.availBatch))
    throw paramError(`SplitEngine: lenBits ${p.lenBits} cannot express one batch`);
}

export const SplitEngine = defineModule(
  'virtq_split',
  (m, p: SplitEngineParams) => {
    checkParams(p);
    const Q = p.queues;
    const qb = log2ceil(Q);
    const B = lineBytes(p.W);
    const lb = log2ceil(B);
    const PF = p.prefetchDescs ?? 4;
    // INDIRECT tables read ahead into the slot after the head (room for PF - 1 entries)
    const IND = p.indirect ?? true;
    const TA = IND && (p.indirectAhead ?? true) && PF >= 2;
    const SPEC = p.speculate ?? true;
    const NP = p.polls ?? 4;
    const lay = splitLayout({ lineBytes: B, ...p, prefetchDescs: PF, polls: NP });
    const halfLineBits = p.regionBits - 1 - lb;
    const devLineBits = p.devBits - lb;

    // ---- ports
    const features = m.input('features', 64);
    const driverOk = m.input('driver_ok', bit);
    const resetReq = m.input('reset_req', bit);
    const qs = Array.from({ length: Q }, (_, i) => m.input(`q${i}`, queueHandover()));
    const irqQueue = m.output('irq_queue', Q);
    const fatalError = m.output('fatal_error', bit);
    const queueResetDone = m.output('queue_reset_done', Q);
    const resetDone = m.output('reset_done', bit);
    const busy = m.output('busy', bit);
    const chain = m.output('chain', chainDesc(qb));
    const done = m.input('done', chainDone(qb));
    const rdCmd = m.output('rd_cmd', dmaCommand(p.devBits, p.lenBits, p.idBits));
    const rdStatus = m.input('rd_status', dmaStatus(p.idBits));
    const wrCmd = m.output('wr_cmd', dmaCommand(p.devBits, p.lenBits, p.idBits));
    const wrStatus = m.input('wr_status', dmaStatus(p.idBits));
    const memWr = m.input('mem_wr', lineWrite(p.W, devLineBits));
    const memRd = m.input('mem_rd', lineRead(p.W, devLineBits));

    const feat = (name: string) => features.bit(featureBit(name));
    // (not built: never negotiated, since the device does not offer it)
    const fIndirect = IND ? feat('VIRTIO_F_INDIRECT_DESC') : lit(0, 1);
    const fEventIdx = feat('VIRTIO_F_EVENT_IDX');
    const fInOrder = feat('VIRTIO_F_IN_ORDER');
    const running = m.let('running', driverOk.and(feat('VIRTIO_F_RING_PACKED').not()));

    // ---- scratch memory: the fetch half (DMA read engine -> sequencer), the out half (sequencer -> DMA write)
    // (each as large as its half's layout needs: the rest of a half is never written and aliases). The fetch
    // side takes 16-byte descriptors and the 2-byte words in them: the fetch half is read 16 aligned bytes at a
    // time. The out half is written 8-byte words (used elements; indices as whole words) and read as two lines
    // by the write engine (DmaWordRam: no line swap on either side).
    const fetchRam = m.instance('fetch_ram', DmaUnitRam, { W: p.W, bytes: lay.fetchBytes, readBytes: 16 }).io;
    const outRam = m.instance('out_ram', DmaWordRam, { W: p.W, bytes: lay.outBytes, wordBytes: 8 }).io;
    const fetchLineBits = log2ceil(lay.fetchBytes / B);
    const outLineBits = log2ceil(lay.outBytes / B);
    const fetchUnitBits = log2ceil(lay.fetchBytes / 16);
    const outWordBits = log2ceil(lay.outBytes / 8);
    const toOut = memWr.addr.bit(halfLineBits);
    fetchRam.wr.valid.set(memWr.valid.and(toOut.not()));
    fetchRam.wr.addr.set(memWr.addr.bits(fetchLineBits - 1, 0));
    fetchRam.wr.data.set(memWr.data);
    fetchRam.wr.be.set(memWr.be);
    memWr.ready.set(toOut.or(fetchRam.wr.ready));
    outRam.rd.valid.set(memRd.valid);
    outRam.rd.addr.set(memRd.addr.bits(outLineBits - 1, 0));
    memRd.ready.set(outRam.rd.ready);
    memRd.rvalid.set(outRam.rd.rvalid);
    memRd.rdata.set(outRam.rd.rdata);
    const devAddr = (half: 0 | 1, off: Expr | number) => {
      const baseLit = lit(p.base + half * lay.half, p.devBits);
      return typeof off === 'number' ? lit(p.base + half * lay.half + off, p.devBits) : baseLit.or(off.zext(p.devBits));
    };

    // ---- per-queue state
    const st = m.fsm('seq', STATES);
    const ust = m.fsm('used', USED_STATES);
    const uWriting = m.let('u_writing', ust.is('take').or(ust.is('elems')));
    const cq = m.reg('cq', qb, { reset: 0 });
    const uq = m.reg('uq', qb, { reset: 0 });
    // The current queue's configuration, registered (one cycle after cq changes: the `load` state waits for it).
    const cfgReg = <T extends Expr>(name: string, which: Expr, pick: (q: (typeof qs)[number]) => T) => {
      const r = m.reg(name, pick(qs[0]).width);
      r.next(select(which, qs.map(pick)));
      return r;
    };
    const num = cfgReg('num', cq, (q) => q.size);
    const numMask = cfgReg('num_mask', cq, (q) => q.size.sub(1));
    // (the walk's table base with INDIRECT; ring addresses of commands are taken from the transport: ringAt below)
    const descBase = IND ? cfgReg('desc_base', cq, (q) => q.desc) : lit(0, 64);

    const lastAvail = m.regArray('last_avail', Q, 16, { reset: 0 });
    const availSeen = m.regArray('avail_seen', Q, 16, { reset: 0 });
    const headsEnd = m.regArray('heads_end', Q, 16, { reset: 0 });
    const usedIdx = m.regArray('used_idx', Q, 16, { reset: 0 });
    const expectHead = m.regArray('expect_head', Q, 16, { reset: 0 });
    const eventSent = m.regArray('event_sent', Q, 16, { reset: 0 });
    const eventValid = m.reg('event_valid', Q, { reset: 0 });
    // chains handed to the device and not yet returned by it, per queue, modulo 2^16 (a queue reset waits until
    // none is): one counter instead of a count of each and their comparison
    const inDevice = m.regArray('in_device', Q, 16, { reset: 0 });
    const handOne = m.wire('hand_one', bit, { default: 0 });
    const returnOne = m.wire('return_one', bit, { default: 0 });
    const failed = m.reg('failed', Q, { reset: 0 });
    const qResetting = m.reg('q_resetting', Q, { reset: 0 });
    const devResetting = m.reg('dev_resetting', bit, { reset: 0 });
    const notifyBits = cat(...qs.map((q) => q.notify).reverse());
    const enableBits = cat(...qs.map((q) => q.enable.and(q.size.ne(0))).reverse());
    const qResetReq = cat(...qs.map((q) => q.reset_req).reverse());
    const onehot = (i: Expr) => lit(1, Q).shl(i);
    const cqBit = onehot(cq);
    const clearPending = m.wire('clear_pending', Q, { default: 0 });
    const forget = m.wire('forget', Q, { default: 0 });
    const pending = doorbellPending(m, 'pending', notifyBits, clearPending, forget);

    // ---- chain buffer: a checked chain waits here while the device takes it
    const cbBits = log2ceil(p.maxChain);
    const cbLenBits = log2ceil(p.maxChain + 1);
    const cbuf = m.memory('chain_buf', { width: 64 + 32 + 1, depth: 2 ** cbBits });
    const cbWr = m.wire('cb_wr', bit, { default: 0 });
    const cbLen = m.reg('cb_len', cbLenBits, { reset: 0 });
    const outActive = m.reg('out_active', bit, { reset: 0 });
    const outQueue = m.reg('out_queue', qb);
    const outId = m.reg('out_id', 16);
    const outSlots = m.reg('out_slots', 16);
    const outCount = m.reg('out_count', cbLenBits);
    const outPos = m.reg('out_pos', cbBits, { reset: 0 });
    const outWord = cbuf.readAsync(outPos);
    chain.valid.set(outActive);
    chain.queue.set(outQueue);
    chain.id.set(outId);
    chain.slots.set(outSlots);
    chain.addr.set(outWord.bits(96, 33));
    chain.len.set(outWord.bits(32, 1));
    chain.write.set(outWord.bit(0));
    const outLast = outPos.zext(cbLenBits).eq(outCount.sub(1));
    chain.last.set(outLast);
    m.if(chain.valid.and(chain.ready), () => {
      outPos.next(outPos.inc());
      m.if(outLast, () => outActive.next(0));
    });

    // ---- DMA commands: one read and one write command register, each shared by three owners (the command id):
    // the fetch side's reads it waits for (FETCH), the used side (USED) and the fetch side's reads ahead
    // (POOL: avail->idx, entries and descriptors read before they are needed). A side issues when the register
    // is free (or emptying this cycle), the used side only when the fetch side does not. Statuses come back by
    // id in command order: each owner numbers its commands (`seq` of the next one; a command has ended once
    // `ended` is past its number) and keeps a sticky error.
    const FETCH = 0;
    const USED = 1;
    const POOL = 2;
    const SEQ_BITS = 6;
    // A command's host address: `off` past the start of queue q's descriptor table, driver area or device area
    // (the transport's registers as they are: the driver does not change them while the queue is enabled, and a
    // reset waits for the engine to leave the queue), or (INDIRECT tables) past a 64-bit register. Each command register has one adder, base + off, the base chosen by the
    // issuing state's (area, q): a 64-bit sum per call site and a mux of the sums cost about 1k LUT at 256 bits.
    type Area = 'desc' | 'driver' | 'device';
    type HostAt = { area: Area; q: Expr; off: Expr | number } | { base: Expr; off: Expr | number };
    // (the largest offset: a descriptor at index 2^16 - 1, 16 bytes each)
    const OFF_BITS = 20;
    const ringAt = (area: Area, q: Expr, off: Expr | number): HostAt => ({ area, q, off });
    const cmdReg = (
      name: string,
      port: typeof rdCmd,
      status: typeof rdStatus,
      half: 0 | 1,
      areas: readonly Area[],
      regBase: boolean,
    ) => {
      const valid = m.reg(`${name}_valid`, bit, { reset: 0 });
      const host = m.reg(`${name}_host`, 64);
      const dev = m.reg(`${name}_dev`, p.devBits);
      const len = m.reg(`${name}_len`, p.lenBits);
      const id = m.reg(`${name}_id`, 2);
      // (cq unless another process issues: fewer conditions in the select)
      const atQ = m.wire(`${name}_at_q`, qb, { default: cq });
      const atArea = areas.length > 1 ? m.wire(`${name}_at_area`, log2ceil(areas.length), { default: 0 }) : undefined;
      const atOff = m.wire(`${name}_at_off`, OFF_BITS, { default: 0 });
      const atReg = regBase ? m.wire(`${name}_at_reg`, bit, { default: 0 }) : undefined;
      const atBase = regBase ? m.wire(`${name}_at_base`, 64, { default: 0 }) : undefined;
      const ofQ = (a: Area) =>
        select(
          atQ,
          qs.map((q) => q[a]),
        );
      const areaBase = atArea ? select(atArea, areas.map(ofQ)) : ofQ(areas[0]);
      const hostNext = m.let(
        `${name}_host_next`,
        (atReg && atBase ? mux(atReg, atBase, areaBase) : areaBase).add(atOff.zext(64)),
      );
      port.valid.set(valid);
      port.host_addr.set(host);
      port.dev_addr.set(dev);
      port.len.set(len);
      port.id.set(id.zext(p.idBits));
      m.if(port.ready, () => valid.next(0));
      const free = m.let(`${name}_free`, valid.not().or(port.ready));
      const taken = ['fetch', 'used', 'pool'].map((o) => m.wire(`${name}_by_${o}`, bit, { default: 0 }));
      status.ready.set(1);
      const sides = [FETCH, USED, POOL].map((owner) => {
        const seq = m.reg(`${name}_seq${owner}`, SEQ_BITS, { reset: 0 });
        const ended = m.reg(`${name}_ended${owner}`, SEQ_BITS, { reset: 0 });
        const err = m.reg(`${name}_err${owner}`, bit, { reset: 0 });
        const end = status.valid.and(status.id.bits(1, 0).eq(owner));
        m.if(taken[owner], () => seq.next(seq.inc()));
        m.if(end, () => ended.next(ended.inc()));
        m.if(end.and(status.error.ne(0)), () => err.next(1));
        /** Command number `n` of this owner has ended (at most 2^(SEQ_BITS-1) outstanding). */
        const past = (n: Expr) =>
          ended
            .sub(n)
            .sub(1)
            .bit(SEQ_BITS - 1)
            .not();
        return { seq, ended, err, past, end };
      });
      // Where the next command goes (`aim`) is chosen by the issuing state alone, apart from whether the register is
      // free (`fire`): the host address adder's inputs then do not wait for the DMA engine's ready, which comes
      // through the fabric's command queue (ready -> free -> the adder's input selects was the whole function's
      // deepest path). A state aims whether or not it then issues, so that only the state selects the adder's
      // inputs.
      const aim = (at: HostAt) => {
        if ('base' in at) {
          if (!atReg || !atBase) throw paramError(`SplitEngine: ${name} takes no register base`);
          atReg.set(1);
          atBase.set(at.base);
        } else {
          const a = areas.indexOf(at.area);
          if (a < 0) throw paramError(`SplitEngine: ${name} takes no ${at.area} address`);
          atArea?.set(a);
          atQ.set(at.q);
        }
        atOff.set(typeof at.off === 'number' ? lit(at.off, OFF_BITS) : fit(at.off, OFF_BITS));
      };
      /** The command aimed at this cycle, taken (where the register is free). */
      const fire = (owner: number, devOff: Expr | number, l: Expr | number) => {
        taken[owner].set(1);
        valid.next(1);
        host.next(hostNext);
        dev.next(devAddr(half, devOff));
        len.next(typeof l === 'number' ? lit(l, p.lenBits) : fit(l, p.lenBits));
        id.next(owner);
      };
      const issue = (owner: number, at: HostAt, devOff: Expr | number, l: Expr | number) => {
        aim(at);
        fire(owner, devOff, l);
      };
      /** No command of `owner` waiting or outstanding. */
      const quiet = (owner: number) => sides[owner].seq.eq(sides[owner].ended);
      // The same, registered for the states that wait for it (a cycle late, and never right after a command:
      // no path from the counts' comparison into the sequencers' next state).
      const settledReg = [FETCH, USED].map((owner) => {
        const r = m.reg(`${name}_settled${owner}`, bit, { reset: 0 });
        r.next(quiet(owner).and(taken[owner].not()));
        return r;
      });
      /** Every command of `owner` (FETCH or USED) has ended: a cycle late, never the cycle after one is taken. */
      const settled = (owner: typeof FETCH | typeof USED) => settledReg[owner];
      return { valid, free, aim, fire, issue, quiet, settled, sides };
    };
    const rd = cmdReg('rd', rdCmd, rdStatus, 0, ['desc', 'driver'], IND);
    const wr = cmdReg('wr', wrCmd, wrStatus, 1, ['device'], false);
    const rdValid = rd.valid;
    const wrValid = wr.valid;
    const write = (at: HostAt, devOff: number, len: Expr | number) => wr.issue(FETCH, at, devOff, len);
    // The out half's write port: a staged field (8-byte aligned) is written the cycle after as its whole 8-byte
    // word (the write engine sends only the command's bytes; every field has a word of its own, and its word is not
    // written again until the field's write has ended), several cycles before the write engine reads it.
    const outWr = {
      valid: m.wire('out_wr_valid', bit, { default: 0 }),
      off: m.wire('out_wr_off', p.regionBits - 1, { default: 0 }),
      data: m.wire('out_wr_data', 16, { default: 0 }),
    };
    const ow = {
      valid: m.reg('ow_valid', bit, { reset: 0 }),
      off: m.reg('ow_off', p.regionBits - 1),
      data: m.reg('ow_data', 64),
    };
    ow.valid.next(outWr.valid);
    ow.off.next(outWr.off);
    // Bytes 2-7 of the word are always the used element's (its le32 len and the upper half of its le32 id, 0),
    // whatever is staged: an index's write sends only its 2 bytes, so no select of 48 bits.
    ow.data.next(cat(done.len, lit(0, 16), outWr.data));
    outRam.wr.valid.set(ow.valid);
    outRam.wr.addr.set(ow.off.bits(outWordBits + 2, 3));
    outRam.wr.data.set(ow.data);
    /** Stage a 16-bit index (avail_event, used->idx), or a used element's id (`done`'s, with its len above). */
    const stage = (off: Expr | number, value: Expr) => {
      if (typeof off === 'number' && off % 8) throw paramError(`SplitEngine: staging offset ${off} is not 8-aligned`);
      if (value.width > 16) throw paramError(`SplitEngine: a ${value.width}-bit value for a 16-bit field`);
      outWr.valid.set(1);
      outWr.off.set(typeof off === 'number' ? lit(off, p.regionBits - 1) : off);
      outWr.data.set(value.zext(16));
    };

    // ---- fetch-half reads: the sequencer's window on what the DMA read engine fetched
    const memBusy = m.reg('mem_busy', bit, { reset: 0 });
    const memOff = m.reg('mem_off', 4);
    // What a *_mem state read: a 16-bit word and a descriptor, taken out of the 16 bytes read as they arrive.
    const word16 = m.reg('word', 16);
    const descRaw = m.reg('desc_raw', 128);
    const fields = (raw: Expr) => ({
      addr: raw.bits(63, 0),
      len: raw.bits(95, 64),
      flags: raw.bits(111, 96),
      next: raw.bits(127, 112),
    });
    /** A descriptor's INDIRECT table entries. */
    const tableEntriesOf = (raw: Expr) => fields(raw).len.bits(31, 4);
    /** `raw` (INDIRECT, outside a table) may not name a table: the golden model's checks but indirect-in-indirect. */
    const tableBadOf = (raw: Expr) => {
      const f = fields(raw);
      return fIndirect
        .not()
        .or(f.flags.bit(VRING_DESC_F_NEXT))
        .or(f.len.eq(0))
        .or(f.len.bits(3, 0).ne(0))
        .or(tableEntriesOf(raw).gt(num.zext(28)));
    };
    /** The entries of `raw`'s table read ahead into a slot. */
    const tableAheadOf = (raw: Expr) => {
      const n = tableEntriesOf(raw);
      return mux(n.lt(PF - 1), n, lit(PF - 1, 28));
    };
    // The table checks and the number of entries read ahead are registered beside desc_raw, from the same field of
    // the line read: computed from desc_raw, they sat between it and the read command's length and address
    // (desc_raw -> checks -> rd_len / rd_host was 10 LUT levels at 256 bits, the whole function's deepest path).
    // The states that look at them (ahead_table, desc_walk) follow the read, and fIndirect and num (cq's) are the
    // same then as at the read: cq changes only in idle.
    const tblBad = IND ? m.reg('tbl_bad', bit) : undefined;
    const tblAheadN = TA ? m.reg('tbl_ahead_n', Math.max(1, log2ceil(PF))) : undefined;
    const rawDesc = m.let('raw_desc', fetchRam.rd.rdata);
    // desc_walk's checks of a descriptor's next, registered beside desc_raw likewise (in desc_walk they were the
    // whole function's deepest path, desc_raw / next_idx -> seq, 10 levels): j, in_indirect and the table's size
    // are set in head_check or desc_walk, a cycle before desc_need can issue the read (next_idx a cycle after j:
    // by the read's data, a cycle later still).
    const nextBad = m.reg('next_bad', bit);
    const nextBadOf = (raw: Expr) => {
      const f = fields(raw);
      const outside = f.next.zext(17).ge(tblNNow.zext(17));
      return f.flags.bit(VRING_DESC_F_NEXT).and(outside.or(fInOrder.and(f.next.ne(nextIdx))));
    };
    fetchRam.rd.valid.set(0);
    fetchRam.rd.addr.set(0);
    /** In a *_mem state: read the 16 bytes holding byte `off`, then `then` once their fields are in registers. */
    const fetchWindow = (off: Expr, then: () => void) => {
      m.if(memBusy.not(), () => {
        fetchRam.rd.valid.set(1);
        fetchRam.rd.addr.set(off.bits(fetchUnitBits + 3, 4));
        memOff.next(off.bits(3, 0));
        memBusy.next(1);
      });
      m.if(fetchRam.rd.rvalid, () => {
        word16.next(fieldAt(fetchRam.rd.rdata, memOff, 2, 2));
        descRaw.next(rawDesc);
        tblBad?.next(tableBadOf(rawDesc));
        tblAheadN?.next(tableAheadOf(rawDesc).trunc(tblAheadN.width));
        nextBad.next(nextBadOf(rawDesc));
        memBusy.next(0);
        then();
      });
    };

    // ---- the available side's working registers
    // cq's indices, registered (a cycle after cq or the index changes: `load` waits for them, the fetch side
    // itself updates them at least two cycles before it looks again)
    const la = m.reg('la', 16);
    const seen = m.reg('seen', 16);
    const he = m.reg('he', 16);
    la.next(lastAvail.at(cq));
    seen.next(availSeen.at(cq));
    he.next(headsEnd.at(cq));
    const ahead = m.let('ahead', seen.sub(la));
    const head = m.reg('head', 16);
    // the table walked: cq's descriptor table, or (IND) an INDIRECT table
    const tblBase = IND ? m.reg('tbl_base', 64) : undefined;
    const tblN = IND ? m.reg('tbl_n', 16) : undefined;
    const j = m.reg('j', 16);
    const count = m.reg('count', 17);
    const slots = IND ? m.reg('slots', 16) : undefined;
    const inIndirectReg = IND ? m.reg('in_indirect', bit) : undefined;
    const inIndirect = inIndirectReg ?? lit(0, 1);
    // IN_ORDER: the next a descriptor at j must have (registered: j and in_indirect are set at least two cycles
    // before desc_walk looks, in head_check or desc_walk, then desc_need and desc_mem)
    const nextIdx = m.reg('next_idx', 16);
    nextIdx.next(IND ? mux(inIndirect, j.add(1), j.add(1).and(numMask)) : j.add(1).and(numMask));
    const sawWrite = m.reg('saw_write', bit);
    const total = m.reg('total', 34);
    const winValid = m.reg('win_valid', bit, { reset: 0 });
    const winStart = m.reg('win_start', 16);
    const winCount = m.reg('win_count', 17);
    // where the window is: the fetch side's own (read when needed) or an entry's descriptors read ahead
    const winOff = m.reg('win_off', p.regionBits - 1);
    const winAhead = m.reg('win_ahead', bit);
    const winSlot = m.reg('win_slot', log2ceil(p.availBatch));
    const headAhead = m.reg('head_ahead', bit);
    // The descriptor desc_mem reads: at j of the window.
    const descOff = m.let(
      'desc_off',
      winOff.add(
        j
          .sub(winStart)
          .trunc(log2ceil(p.descBatch) + 1)
          .zext(p.regionBits - 1)
          .shl(4),
      ),
    );
    const idxAhead = m.reg('idx_ahead', bit);
    /** Where poll k lands. */
    const pollWord = (k: Expr) => lit(lay.aheadWord, p.regionBits - 1).add(k.zext(p.regionBits - 1).shl(2));

    // ---- reading ahead: one queue at a time has the pool (pfQ). For it avail->idx is read while its chains
    // are walked, the entries up to it as soon as the window has room, and for each entry read the first
    // prefetchDescs descriptors from its head into the entry's slot: entries [la, pfNext) have their
    // descriptors on the way or there, [pfNext, headsEnd) are in the window, [headsEnd, seen) are known.
    const AB = p.availBatch;
    const abBits = log2ceil(AB);
    const pfActive = m.reg('pf_active', bit, { reset: 0 });
    const pfQ = m.reg('pf_q', qb, { reset: 0 });
    const pfNext = m.reg('pf_next', 16);
    // an entry with a head out of range: not read ahead (the walk finds it and fails)
    const pfBad = m.reg('pf_bad', bit);
    // Each slot's head and descriptors read (1..PF) in LUT RAM: one write port (ahead_desc, spec_cmd), one read
    // port at pfNext's slot (ahead_match) or la's (ahead_chain)
    const pfCountBits = log2ceil(PF + 1);
    const pfMem = m.memory('pf_head', { width: 16 + pfCountBits, depth: AB });
    const pfWr = {
      en: m.wire('pf_wr_en', bit, { default: 0 }),
      at: m.wire('pf_wr_at', abBits, { default: 0 }),
      head: m.wire('pf_wr_head', 16, { default: 0 }),
      count: m.wire('pf_wr_count', pfCountBits, { default: 0 }),
    };
    pfMem.write(pfWr.at, cat(pfWr.count, pfWr.head), pfWr.en);
    /** Slot `at`'s read ahead: the head `h`, `k` descriptors. */
    const pfWrite = (at: Expr, h: Expr, k: Expr) => {
      pfWr.en.set(1);
      pfWr.at.set(at);
      pfWr.head.set(h);
      pfWr.count.set(k.trunc(pfCountBits));
    };
    const pfRdAt = m.wire('pf_rd_at', abBits, { default: 0 });
    const pfRd = pfMem.readAsync(pfRdAt);
    const pfHeadRd = pfRd.bits(15, 0);
    const pfCountRd = pfRd.bits(15 + pfCountBits, 16);
    const pfSeq = m.regArray('pf_seq', AB, SEQ_BITS);
    // Entries [la, pfInsp) had their head descriptor looked at once their slot's read ended: a valid INDIRECT
    // one got the first entries of its table read into the slot after it (pf_tbl), and the slot is ready again
    // once that read has ended too (its pf_seq is the table read's). A chain is walked only once looked at.
    const pfInsp = m.reg('pf_insp', 16);
    const pfTbl = TA ? m.reg('pf_tbl', AB, { reset: 0 }) : undefined;
    // Speculation (SPEC): the ids the used side returned for the pool's queue, in used-ring order (the last RF of
    // them: rf_occ not yet taken as predictions, oldest at rf_wp - rf_occ), and the slots read for a predicted head
    // (pf_spec: pf_head is the prediction; the entry's own head is compared with it in ahead_match).
    const RF = 32;
    const rfBits = log2ceil(RF);
    const retFifo = m.memory('ret_fifo', { width: 16, depth: RF });
    const rfWp = m.reg('rf_wp', rfBits, { reset: 0 });
    const rfOcc = m.reg('rf_occ', rfBits + 1, { reset: 0 });
    const rfPush = m.wire('rf_push', bit, { default: 0 });
    const rfPushId = m.wire('rf_push_id', 16, { default: 0 });
    const rfPop = m.wire('rf_pop', rfBits + 1, { default: 0 });
    const rfClear = m.wire('rf_clear', bit, { default: 0 });
    retFifo.write(rfWp, rfPushId, rfPush);
    rfWp.next(rfWp.add(rfPush.zext(rfBits)));
    const rfGrown = mux(rfOcc.eq(RF), rfOcc, rfOcc.add(rfPush.zext(rfBits + 1)));
    rfOcc.next(mux(rfClear, lit(0, rfBits + 1), rfGrown.sub(rfPop)));
    const pfSpec = m.reg('pf_spec', AB, { reset: 0 });
    const specSet = m.wire('spec_set', AB, { default: 0 });
    const specClr = m.wire('spec_clr', AB, { default: 0 });
    pfSpec.next(mux(rfClear, lit(0, AB), pfSpec.and(specClr.not()).or(specSet)));
    // The last batch of new entries an avail->idx read showed: entries [bStart, bStart + bLen) have predictions,
    // entry bStart the one at FIFO position bTop, the next ones below it (the batch's newest id first: Linux's
    // free list hands out the last one returned first). idx_check takes them off the FIFO (specM).
    const specOn = m.reg('spec_on', bit);
    const specM = m.reg('spec_m', rfBits + 1);
    const bStart = m.reg('b_start', 16);
    const bLen = m.reg('b_len', rfBits + 1, { reset: 0 });
    const bTop = m.reg('b_top', rfBits);
    // ahead_heads' entries [specFrom, specTo) just asked for: those of the batch with a free slot get a read of
    // their predicted head's descriptors (specPos the next, specN left)
    const specFrom = m.reg('spec_from', 16);
    const specTo = m.reg('spec_to', 16);
    const specN = m.reg('spec_n', 17);
    const specRd = m.reg('spec_rd', rfBits);
    const specPos = m.reg('spec_pos', 16);
    const specPred = m.reg('spec_pred', 16);
    const specHit = m.reg('spec_hit', bit);
    const headsPend = m.reg('heads_pend', bit, { reset: 0 });
    const headsSeq = m.reg('heads_seq', SEQ_BITS);
    const headsFrom = m.reg('heads_from', 16);
    // A second entries read may be outstanding behind it (heads2: a read is cut at the window's end, entry
    // mod availBatch, and the entries after the cut waited a host round trip for the read before): the oldest
    // is always in heads_*, the second moves there when the first has ended.
    const heads2Pend = m.reg('heads2_pend', bit, { reset: 0 });
    const heads2Seq = m.reg('heads2_seq', SEQ_BITS);
    const heads2From = m.reg('heads2_from', 16);
    const headsIssue = m.wire('heads_issue', bit, { default: 0 });
    const headsIssueFrom = m.wire('heads_issue_from', 16, { default: 0 });
    // avail->idx reads ahead (polls): up to NP outstanding, poll k landing at aheadWord + 4k, taken in command
    // order (statuses come back in it): the oldest's value is `here` (idxHere, at hereSlot) once its read ended
    const npBits = Math.max(1, log2ceil(NP));
    const pollSeq = m.regArray('poll_seq', NP, SEQ_BITS);
    const pollHead = m.reg('poll_head', npBits, { reset: 0 });
    const pollTail = m.reg('poll_tail', npBits, { reset: 0 });
    const pollCount = m.reg('poll_count', log2ceil(NP + 1), { reset: 0 });
    const pollIssued = m.wire('poll_issued', bit, { default: 0 });
    const pollTaken = m.wire('poll_taken', bit, { default: 0 });
    const gapBits = log2ceil((p.pollGap ?? 64) + 1);
    const pollTimer = m.reg('poll_timer', gapBits, { reset: 0 });
    const pollGapDone = m.let('poll_gap_done', pollTimer.eq(p.pollGap ?? 64));
    m.if(pollGapDone.not(), () => pollTimer.next(pollTimer.inc()));
    const nextSlot = (r: Expr) =>
      NP === 1 ? lit(0, 1) : 2 ** npBits === NP ? r.inc() : mux(r.eq(NP - 1), lit(0, npBits), r.inc());
    const idxPend = m.let('idx_pend', pollCount.ne(0));
    const idxHere = m.reg('idx_here', bit, { reset: 0 });
    const hereSlot = m.reg('here_slot', npBits);
    // idx_check's findings: avail->idx jumped, shows what is known already, shows nothing new, avail_event due
    const idxJump = m.reg('idx_jump', bit);
    const idxSame = m.reg('idx_same', bit);
    const idxNone = m.reg('idx_none', bit);
    const idxAsk = m.reg('idx_ask', bit);
    // Which slots' reads have ended (set as a slot's status comes back, cleared as it is read again).
    const pfReady = m.reg('pf_ready', AB, { reset: 0 });
    const pool = rd.sides[POOL];
    {
      // (the first's end and a new read in one cycle: the new one goes where the second was)
      const end1 = headsPend.and(pool.past(headsSeq));
      const has1 = headsPend.and(end1.not()).or(heads2Pend);
      m.if(end1, () => {
        headsPend.next(heads2Pend);
        headsSeq.next(heads2Seq);
        headsFrom.next(heads2From);
        heads2Pend.next(0);
      });
      m.if(headsIssue, () => {
        m.if(has1, () => {
          heads2Pend.next(1);
          heads2Seq.next(pool.seq);
          heads2From.next(headsIssueFrom);
        }).else(() => {
          headsPend.next(1);
          headsSeq.next(pool.seq);
          headsFrom.next(headsIssueFrom);
        });
      });
    }
    m.if(idxPend.and(idxHere.not()).and(pool.past(pollSeq.at(pollHead))), () => {
      pollTaken.set(1);
      idxHere.next(1);
      hereSlot.next(pollHead);
      pollHead.next(nextSlot(pollHead));
    });
    pollCount.next(pollCount.add(pollIssued.zext(pollCount.width)).sub(pollTaken.zext(pollCount.width)));
    // A slot's read has ended once the status numbered its pf_seq came back: statuses come in command order, and a
    // slot is read again only once ready, so an equality with the status's number instead of a comparison of each
    // slot's with the count. Registered, as the count is: the slot is ready two cycles after its status (the fetch
    // RAM's write of the read's last data is not earlier than the status).
    const poolEnd = m.reg('pool_end', bit, { reset: 0 });
    const poolEndSeq = m.reg('pool_end_seq', SEQ_BITS);
    poolEnd.next(pool.end);
    poolEndSeq.next(pool.ended);
    const slotEnded = cat(...Array.from({ length: AB }, (_, i) => poolEnd.and(pfSeq.item(i).eq(poolEndSeq))).reverse());
    const readyClr = m.wire('pf_ready_clr', AB, { default: 0 });
    pfReady.next(pfReady.or(slotEnded).and(readyClr.not()));
    // Entry counts of an available-ring read, in abBits + 1 bits. Split ring sizes are powers of two (the transport
    // accepts no other: gen/virtio/regs.ts) as availBatch is, so a read from entry i stops at the end of i's batch
    // or of the ring, whichever is first, after M - (i mod M) entries for M = min(num, availBatch) (batch_mask is
    // M - 1): narrow counts instead of 17-bit subtracts and compares of the ring's size.
    const batchMask = cfgReg('batch_mask', cq, (q) =>
      mux(q.size.bits(15, abBits).orR(), lit(AB - 1, abBits), q.size.sub(1).trunc(abBits)),
    );
    const toBatchEnd = (i: Expr) =>
      i
        .bits(abBits - 1, 0)
        .not()
        .and(batchMask)
        .zext(abBits + 1)
        .inc();
    /** A 16-bit count, saturated at availBatch. */
    const satAB = (x: Expr) => mux(x.lt(AB), x.trunc(abBits + 1), lit(AB, abBits + 1));
    // A head h out of the table, and the descriptors read ahead from it: PF, or up to the table's end (the compares
    // on carry chains, which are no LUT levels: masks of h were a level or two more on the read length's path)
    const beyond = (h: Expr) => h.zext(17).ge(num.zext(17));
    const descsAhead = (h: Expr) => {
      const left = num.zext(17).sub(h.zext(17));
      return mux(left.lt(PF), left, lit(PF, 17));
    };
    const slotOff = (i: Expr) =>
      lit(lay.ahead, p.regionBits - 1).add(
        i
          .bits(abBits - 1, 0)
          .zext(p.regionBits - 1)
          .shl(4 + log2ceil(PF)),
      );
    const d = fields(descRaw);
    /** d's INDIRECT table entries. */
    const tableEntries = tableEntriesOf(descRaw);
    /** d may not name a table (registered with desc_raw; any INDIRECT descriptor when not built). */
    const tableBad = tblBad ?? lit(1, 1);
    /** The entries of d's table read ahead into a slot (registered with desc_raw). */
    const tableAhead = tblAheadN ?? lit(0, 1);
    /** The table walked's size (the queue's when INDIRECT is not built). */
    const tblNNow = tblN ?? num;
    const fatalPulse = m.wire('fatal_pulse', bit, { default: 0 });
    const uFatalPulse = m.wire('u_fatal_pulse', bit, { default: 0 });
    const failSet = m.wire('fail_set', Q, { default: 0 });
    const uFailSet = m.wire('u_fail_set', Q, { default: 0 });
    const nFatalPulse = m.wire('n_fatal_pulse', bit, { default: 0 });
    const nFailSet = m.wire('n_fail_set', Q, { default: 0 });
    const irqPulse = m.wire('irq_pulse', Q, { default: 0 });
    const qResetPulse = m.wire('q_reset_pulse', Q, { default: 0 });
    const resetPulse = m.wire('reset_pulse', bit, { default: 0 });
    const abandon = m.let('abandon', devResetting.or(qResetting.and(cqBit).orR()));
    const fail = () => st.goto('fatal');

    // Wait for the fetch side's reads: on an error the queue fails; abandoned work (a reset) goes back to idle.
    const onReadStatus = (then: () => void) => {
      m.if(rd.settled(FETCH), () => {
        m.if(abandon, () => st.goto('idle'))
          .elseIf(rd.sides[FETCH].err, fail)
          .else(then);
      });
    };

    // ---- the scheduler: which queue to look at next
    const idle = st.is('idle');
    const known = cat(...Array.from({ length: Q }, (_, i) => lastAvail.item(i).ne(availSeen.item(i))).reverse());
    // With EVENT_IDX a queue also needs a turn until avail_event names its next entry and avail->idx was read
    // after that write: otherwise the driver's kicks for new buffers could be suppressed for good.
    const eventDue = cat(
      ...Array.from({ length: Q }, (_, i) =>
        eventValid
          .bit(i)
          .not()
          .or(eventSent.item(i).ne(lastAvail.item(i))),
      ).reverse(),
    );
    // Registered (a cycle late: a turn given to a queue whose work just ended only reads avail->idx again);
    // failed and resetting queues are masked with the current bits.
    const workReg = m.reg('work_reg', Q, { reset: 0 });
    // The pool's queue also while its reads ahead of avail->idx or entries are outstanding.
    const aheadDue = onehot(pfQ).and(pfActive.and(idxPend.or(idxHere).or(headsPend)).rep(Q));
    workReg.next(
      pending
        .or(known)
        .or(eventDue.and(fEventIdx.rep(Q)))
        .or(aheadDue)
        .and(enableBits),
    );
    const work = m.let('work', workReg.and(failed.or(qResetting).not()));
    // (also while a chain is on its way out: the pool's reads ahead go on, only walking waits for the chain buffer)
    const canFetch = m.let('can_fetch', idle.and(running).and(devResetting.not()));
    const pick = pickQueue(m, 'sched', work.and(canFetch.rep(Q)), lit(1, 1));

    // Queue resets: done once the queue's chains are all back and neither side is on it.
    const uIdle = ust.is('idle');
    const nst = m.fsm('note', NOTE_STATES);
    const nq = m.reg('nq', qb, { reset: 0 });
    const nIdle = nst.is('idle');
    /** The fetch side is in a state that issues reads (and aims the read command register). */
    const seqReads = m.let(
      'seq_reads',
      (['ahead_idx', 'ahead_heads', 'ahead_desc', 'spec_cmd', 'idx_cmd', 'heads_cmd', 'desc_need'] as const)
        .map((s) => st.is(s))
        .concat(TA ? [st.is('ahead_table')] : [])
        .reduce((a, b) => a.or(b)),
    );
    const poolQuiet = m.let('pool_quiet', rd.quiet(POOL));
    // Every chain of the queue back, registered (a cycle late: a chain handed over in that cycle is on its way
    // out, which the check below sees; a queue never has more chains returned than handed over).
    const allBack = m.reg('all_back', Q, { reset: 0 });
    allBack.next(cat(...Array.from({ length: Q }, (_, i) => inDevice.item(i).eq(0)).reverse()));
    const rqDone = cat(
      ...Array.from({ length: Q }, (_, i) =>
        qResetting
          .bit(i)
          .and(allBack.bit(i))
          .and(outActive.and(outQueue.eq(i)).not())
          .and(uIdle.or(uq.ne(i)))
          .and(nIdle.or(nq.ne(i)))
          .and(pfActive.and(pfQ.eq(i)).not().or(poolQuiet)),
      ).reverse(),
    );
    const rqDoneReg = m.reg('rq_done', Q, { reset: 0 });
    rqDoneReg.next(rqDone);
    // The pool goes to another queue once nothing of its queue's is outstanding or read ahead unwalked.
    const poolFree = m.reg('pool_free', bit);
    poolFree.next(
      pfActive
        .not()
        .or(
          poolQuiet
            .and(idxPend.or(idxHere).or(headsPend).not())
            .and(pfNext.eq(lastAvail.at(pfQ)).or(failed.and(onehot(pfQ)).orR())),
        ),
    );
    const ownPool = m.let('own_pool', pfActive.and(pfQ.eq(cq)));
    // plan's comparisons of cq's indices with each other and with the pool's, registered from the per-queue
    // arrays and the pool's registers (so, like la/seen/he, a cycle after cq or an index changes; the states that
    // change pfNext or an index go through `load`, and what the read engine changes meanwhile (headsPend
    // clearing, slots becoming ready) only makes them a cycle late): no path from a comparison into `seq`.
    const cqLa = lastAvail.at(cq);
    const cqSeen = availSeen.at(cq);
    const cqHe = headsEnd.at(cq);
    const planFlag = (name: string, e: Expr) => {
      const r = m.reg(name, bit);
      r.next(e);
      return r;
    };
    const pHeNeSeen = planFlag('p_he_ne_seen', cqHe.ne(cqSeen));
    const pHeRoom = planFlag('p_he_room', cqHe.sub(pfNext).lt(AB));
    // entries before mux(headsPend, headsFrom, he) are in the window: one of them not read ahead yet
    const pEntryDue = planFlag('p_entry_due', pfNext.ne(mux(headsPend, headsFrom, cqHe)));
    const pEntryRoom = planFlag('p_entry_room', pfNext.sub(cqLa).lt(AB));
    // the entry at pfNext had its slot read for a predicted head: looked at once that read has ended
    const pfNextSlot = pfNext.bits(abBits - 1, 0);
    const pSpecWait = SPEC
      ? planFlag('p_spec_wait', pfSpec.bit(pfNextSlot).and(pfReady.bit(pfNextSlot).not()))
      : lit(0, 1);
    const pNextSpec = SPEC ? planFlag('p_next_spec', pfSpec.bit(pfNextSlot)) : lit(0, 1);
    const pLaNePf = planFlag('p_la_ne_pf', cqLa.ne(pfNext));
    const pLaReady = planFlag('p_la_ready', pfReady.bit(cqLa.bits(abBits - 1, 0)));
    const pLaNeHe = planFlag('p_la_ne_he', cqLa.ne(cqHe));
    const pLaNeSeen = planFlag('p_la_ne_seen', cqLa.ne(cqSeen));
    // the slot at pfInsp has its descriptors: its head to look at; the chain at la was looked at
    const pLookDue = TA
      ? planFlag('p_look_due', fIndirect.and(pfInsp.ne(pfNext)).and(pfReady.bit(pfInsp.bits(abBits - 1, 0))))
      : lit(0, 1);
    const pLaLooked = TA ? planFlag('p_la_looked', fIndirect.not().or(cqLa.ne(pfInsp))) : lit(1, 1);
    // The entries the next available-ring read asks for (ahead_heads, heads_cmd: both come from plan): from he, with
    // the pool, up to the window's room (the window holds [pfNext, he), fewer than availBatch entries when
    // ahead_heads is chosen: p_he_room), else from la; to the batch's or ring's end and avail->idx. In two
    // registered steps, so that its minimum is off the read command's paths: the counts from the per-queue arrays
    // like the flags (in `load`), their least in `plan` (with batch_mask, loaded by then).
    const hFrom = mux(ownPool, cqHe, cqLa);
    const hFromLow = m.reg('h_from_low', abBits);
    hFromLow.next(hFrom.bits(abBits - 1, 0));
    const hKnown = m.reg('h_known', abBits + 1);
    hKnown.next(satAB(cqSeen.sub(hFrom)));
    const hRoom = m.reg('h_room', abBits + 1);
    hRoom.next(mux(ownPool, lit(AB, abBits + 1).sub(cqHe.sub(pfNext).trunc(abBits + 1)), lit(AB, abBits + 1)));
    const hEnds = [toBatchEnd(hFromLow), hKnown, hRoom];
    // (the least of three from their three comparisons side by side)
    const [h01, h02, h12] = [hEnds[0].lt(hEnds[1]), hEnds[0].lt(hEnds[2]), hEnds[1].lt(hEnds[2])];
    const headsN = m.reg('heads_n', abBits + 1);
    headsN.next(mux(h01.and(h02), hEnds[0], mux(h01.not().and(h12), hEnds[1], hEnds[2])));
    // the chain buffer is free to walk into (a cycle late: a walk ends in `idle`, two cycles before `plan`)
    const pOutFree = planFlag('p_out_free', outActive.not());
    // headsPend as the flags saw it (its clearing a cycle late: the flags from headsFrom stay consistent with it)
    const pHeadsIdle = planFlag('p_heads_idle', headsPend.not());
    // room for another entries read (heads2 free: heads_pend is set whenever heads2_pend is)
    const pHeadsRoom = planFlag('p_heads_room', heads2Pend.not());
    // another poll due: none outstanding, or room for one and the gap since the last passed (or a doorbell)
    const pPollDue = planFlag(
      'p_poll_due',
      pollCount.eq(0).or(pollCount.lt(NP).and(pollGapDone.or(pending.and(onehot(pfQ)).orR()))),
    );

    m.if(resetReq, () => devResetting.next(1));
    qResetting.next(qResetting.or(qResetReq));

    st.switch({
      idle: () => {
        m.if(devResetting.and(uIdle).and(nIdle).and(poolQuiet), () => {
          // No DMA of either side is outstanding here; the chain on its way out is dropped.
          forget.set(lit((1n << BigInt(Q)) - 1n, Q));
          devResetting.next(resetReq);
          qResetting.next(0);
          outActive.next(0);
          resetPulse.set(resetReq.not());
        })
          .elseIf(rqDoneReg.orR(), () => st.goto('qreset'))
          .elseIf(devResetting.not().and(pick.valid), () => {
            cq.next(pick.index);
            st.goto('load');
          });
      },
      // queue resets done (rqDone, checked again: it was registered for the idle state's choice)
      qreset: () => {
        forget.set(rqDone);
        qResetting.next(qResetting.and(rqDone.not()).or(qResetReq));
        qResetPulse.set(rqDone);
        st.goto('idle');
      },
      // cq's configuration is in its registers from here on
      // cq's configuration and index registers are loading: the states after this one use them
      load: () => st.goto('plan'),
      // what next for cq (ahead_idx and ahead_desc come straight back here: they change no index register)
      plan: () => {
        // Reads ahead first (while the command register takes them), then the chain at la once its descriptors
        // are there; a queue waiting for its reads gives its turn back.
        const canRead = rd.free;
        const entryDue = canRead.and(pfBad.not()).and(pEntryDue).and(pEntryRoom).and(pSpecWait.not());
        const walkDue = pLaNePf.and(pLaReady).and(pLaLooked).and(pOutFree);
        m.if(ownPool, () => {
          m.if(abandon, () => st.goto('idle'))
            .elseIf(pool.err, fail)
            .elseIf(idxHere, () => {
              idxHere.next(0);
              idxAhead.next(1);
              st.goto('idx_mem');
            })
            .elseIf(canRead.and(pHeadsRoom).and(pHeNeSeen).and(pHeRoom), () => st.goto('ahead_heads'))
            // (an entry whose slot was read for its predicted head is only compared with it: the chain at la is
            // walked first, so that a burst of new entries reaches the device chain by chain instead of after all
            // its entries were looked at; an entry without that read gets its read first)
            .elseIf(entryDue.and(pNextSpec.not()), () => st.goto('ahead_entry'))
            .elseIf(canRead.and(pPollDue), () => st.goto('ahead_idx'))
            .elseIf(walkDue, () => st.goto('ahead_chain'))
            .elseIf(entryDue, () => st.goto('ahead_entry'))
            .elseIf(pLookDue, () => st.goto('ahead_look'))
            // (an entry whose head is out of range is walked without its reads ahead, to fail; any other entry
            // at la is read ahead first, so that pfNext never falls behind la)
            .elseIf(pfBad.and(pLaNePf.not()).and(pLaNeHe).and(pHeadsIdle).and(pOutFree), () => st.goto('head_mem'))
            .else(() => st.goto('idle'));
        })
          // (queues without the pool walk only into a free chain buffer)
          .elseIf(pOutFree.not(), () => st.goto('idle'))
          .elseIf(poolFree, () => {
            // the pool is cq's from the next cycle (its flags from the one after: through `load`)
            pfActive.next(1);
            pfQ.next(cq);
            pfNext.next(la);
            pfInsp.next(la);
            pfBad.next(0);
            pool.err.next(0);
            rfClear.set(1);
            st.goto('load');
          })
          .elseIf(pLaNeHe, () => st.goto('head_mem'))
          .elseIf(pLaNeSeen, () => st.goto('heads_cmd'))
          .else(() => st.goto('idx_cmd'));
      },

      // reading ahead: avail->idx (not waited for; plan's flags see the new poll count through `load`)
      ahead_idx: () => {
        rd.aim(ringAt('driver', cq, 2));
        m.if(rd.free, () => {
          clearPending.set(cqBit);
          rd.fire(POOL, pollWord(pollTail), 2);
          pollIssued.set(1);
          pollSeq.nextAt(pollTail, pool.seq);
          pollTail.next(nextSlot(pollTail));
          pollTimer.next(0);
          st.goto('load');
        });
      },
      // the entries after those in the window: up to the window's room, its end, the ring's end and avail->idx
      ahead_heads: () => {
        const slot = he.and(numMask);
        const inBatch = he.bits(abBits - 1, 0);
        const n = headsN;
        const off = lit(lay.avail, p.regionBits - 1).add(cat(cq, inBatch, lit(0, 1)).zext(p.regionBits - 1));
        rd.aim(ringAt('driver', cq, slot.zext(OFF_BITS).shl(1).add(4)));
        m.if(rd.free, () => {
          rd.fire(POOL, off, n.zext(abBits + 2).shl(1));
          headsIssue.set(1);
          headsIssueFrom.set(he);
          headsEnd.nextAt(cq, he.add(n.zext(16)));
          specFrom.next(he);
          specTo.next(he.add(n.zext(16)));
          st.goto(SPEC ? 'spec_plan' : 'load');
        });
      },
      // the entry at pfNext, then its head's descriptors into the entry's slot
      ahead_entry: () => {
        const off = lit(lay.avail, p.regionBits - 1).add(
          cat(cq, pfNext.bits(abBits - 1, 0), lit(0, 1)).zext(p.regionBits - 1),
        );
        fetchWindow(off, () => st.goto(SPEC ? 'ahead_match' : 'ahead_desc'));
      },
      // the entry's head against the head its slot was read for (registered for ahead_desc)
      ahead_match: () => {
        const at = pfNext.bits(abBits - 1, 0);
        pfRdAt.set(at);
        specHit.next(pfSpec.bit(at).and(pfHeadRd.eq(word16)));
        st.goto('ahead_desc');
      },
      ahead_desc: () => {
        const h = word16;
        const k = descsAhead(h);
        const at = pfNext.bits(abBits - 1, 0);
        if (SPEC) specClr.set(lit(1, AB).shl(at));
        rd.aim(ringAt('desc', cq, h.zext(OFF_BITS).shl(4)));
        m.if(beyond(h), () => {
          pfBad.next(1);
          st.goto('plan');
        })
          .elseIf(SPEC ? specHit : lit(0, 1), () => {
            // (read before the entries that name it: its read has ended, pf_head and pf_count are its)
            pfNext.next(pfNext.inc());
            st.goto('load');
          })
          .elseIf(rd.free, () => {
            rd.fire(POOL, slotOff(pfNext), k.shl(4));
            pfWrite(at, h, k);
            pfSeq.nextAt(at, pool.seq);
            readyClr.set(lit(1, AB).shl(at));
            pfNext.next(pfNext.inc());
            // (plan's flags see the new pfNext a cycle later)
            st.goto('load');
          });
      },
      // Speculation: for the entries ahead_heads just asked for [specFrom, specTo) that are of the last batch
      // and have a free slot (p - la < AB), the descriptors of their predicted heads into their slots. Issued
      // after the avail->idx read that published the entries ended, and only inside the descriptor table; a slot's
      // entry is looked at only once this read has ended (p_spec_wait), so a wrong guess is read again safely.
      spec_plan: () => {
        const inBatch = specFrom.sub(bStart);
        const from = mux(inBatch.bit(15), bStart, specFrom);
        const ends = [specTo, bStart.add(bLen.zext(16)), la.add(AB)].map((e) => e.sub(from));
        const n1 = mux(ends[0].lt(ends[1]), ends[0], ends[1]);
        const n = mux(n1.lt(ends[2]), n1, ends[2]);
        // (from past an end: nothing; that end - from is then at least 2^15)
        specN.next(mux(ends[0].bit(15).or(ends[1].bit(15)).or(ends[2].bit(15)), lit(0, 17), n.zext(17)));
        specPos.next(from);
        specRd.next(bTop.sub(from.sub(bStart).trunc(rfBits)));
        st.goto('spec_load');
      },
      spec_load: () => {
        m.if(specN.eq(0), () => st.goto('load')).else(() => {
          specPred.next(retFifo.readAsync(specRd));
          st.goto('spec_cmd');
        });
      },
      spec_cmd: () => {
        const h = specPred;
        const k = descsAhead(h);
        const at = specPos.bits(abBits - 1, 0);
        const next = () => {
          specN.next(specN.sub(1));
          specPos.next(specPos.inc());
          specRd.next(specRd.sub(1));
          st.goto('spec_load');
        };
        rd.aim(ringAt('desc', cq, h.zext(OFF_BITS).shl(4)));
        m.if(beyond(h), next).elseIf(rd.free, () => {
          rd.fire(POOL, slotOff(specPos), k.shl(4));
          pfWrite(at, h, k);
          pfSeq.nextAt(at, pool.seq);
          readyClr.set(lit(1, AB).shl(at));
          specSet.set(lit(1, AB).shl(at));
          next();
        });
      },
      // the head descriptor in the slot of entry pfInsp: a valid INDIRECT one has its table read ahead
      ...(TA ? { ahead_look: () => fetchWindow(slotOff(pfInsp), () => st.goto('ahead_table')) } : {}),
      ahead_table: () => {
        if (!pfTbl) return;
        const at = pfInsp.bits(abBits - 1, 0);
        const bit1 = lit(1, AB).shl(at);
        rd.aim({ base: d.addr, off: 0 });
        m.if(d.flags.bit(VRING_DESC_F_INDIRECT).and(tableBad.not()).not(), () => {
          pfTbl.next(pfTbl.and(bit1.not()));
          pfInsp.next(pfInsp.inc());
          st.goto('load');
        }).elseIf(rd.free, () => {
          rd.fire(POOL, slotOff(pfInsp).add(16), tableAhead.zext(p.lenBits).shl(4));
          pfTbl.next(pfTbl.or(bit1));
          pfSeq.nextAt(at, pool.seq);
          readyClr.set(bit1);
          pfInsp.next(pfInsp.inc());
          // (plan's flags see the new pfInsp a cycle later)
          st.goto('load');
        });
      },
      // the chain at la, from its entry's slot
      ahead_chain: () => {
        const at = la.bits(abBits - 1, 0);
        pfRdAt.set(at);
        word16.next(pfHeadRd);
        winStart.next(pfHeadRd);
        winCount.next(pfCountRd.zext(17));
        winOff.next(slotOff(la));
        winSlot.next(at);
        headAhead.next(1);
        st.goto('head_check');
      },

      // avail->idx: how far the driver has gone
      idx_cmd: () => {
        rd.aim(ringAt('driver', cq, 2));
        m.if(rd.free, () => {
          idxAhead.next(0);
          clearPending.set(cqBit);
          rd.fire(FETCH, lay.word, 2);
          st.goto('idx_wait');
        });
      },
      idx_wait: () => onReadStatus(() => st.goto('idx_mem')),
      idx_mem: () =>
        fetchWindow(mux(idxAhead, pollWord(hereSlot), lit(lay.word, p.regionBits - 1)), () => st.goto('idx_check')),
      // what the index says, into registers (idx_act acts on them: no path from the indices to the next state)
      idx_check: () => {
        const idx = word16;
        idxJump.next(idx.sub(la).zext(17).gt(num.zext(17)));
        // (a poll's value behind what an earlier one showed, as a host serving reads out of order could give:
        // nothing new)
        idxSame.next(idx.sub(la).le(ahead).and(la.ne(seen)));
        idxNone.next(idx.eq(la));
        idxAsk.next(fEventIdx.and(eventValid.and(cqBit).orR().not().or(eventSent.at(cq).ne(idx))));
        if (SPEC) {
          const nNew = idx.sub(seen);
          const mm = mux(nNew.lt(rfOcc.zext(16)), nNew.trunc(rfBits + 1), rfOcc);
          specOn.next(ownPool.and(fInOrder.not()));
          specM.next(mm);
          bTop.next(rfWp.sub(rfOcc.trunc(rfBits)).add(mm.trunc(rfBits)).sub(1));
        }
        st.goto('idx_act');
      },
      idx_act: () => {
        m.if(idxJump, fail)
          .elseIf(idxSame, () => st.goto('load'))
          // Nothing new. With EVENT_IDX ask for a kick at this index, then look once more.
          .elseIf(idxNone, () => m.if(idxAsk, () => st.goto('event_cmd')).else(() => st.goto('idle')))
          .else(() => {
            availSeen.nextAt(cq, word16);
            if (SPEC)
              m.if(specOn, () => {
                bStart.next(seen);
                bLen.next(specM);
                rfPop.set(specM);
              });
            st.goto('load');
          });
      },
      // avail_event = the index just read (word16; a state of its own: the write command's and the out half's
      // registers take nothing computed from the per-queue indices)
      event_cmd: () => {
        // (the out half's write port and the write command: the used side's while it stages)
        m.if(wr.free.and(uWriting.not()), () => {
          eventSent.nextAt(cq, word16);
          stage(lay.availEvent, word16);
          write(ringAt('device', cq, num.zext(OFF_BITS).shl(3).add(4)), lay.availEvent, 2);
          st.goto('event_wait');
        });
      },
      event_wait: () => {
        m.if(wr.settled(FETCH), () => {
          m.if(abandon, () => st.goto('idle'))
            .elseIf(wr.sides[FETCH].err, fail)
            .else(() => {
              eventValid.next(eventValid.or(cqBit));
              st.goto('idx_cmd');
            });
        });
      },

      // the available ring's entries from lastAvail: up to the batch's end, the ring's end and avail->idx
      heads_cmd: () => {
        const slot = la.and(numMask);
        const inBatch = la.bits(abBits - 1, 0);
        const n = headsN;
        const off = lit(lay.avail, p.regionBits - 1).add(cat(cq, inBatch, lit(0, 1)).zext(p.regionBits - 1));
        rd.aim(ringAt('driver', cq, slot.zext(OFF_BITS).shl(1).add(4)));
        m.if(rd.free, () => {
          rd.fire(FETCH, off, n.zext(abBits + 2).shl(1));
          headsEnd.nextAt(cq, la.add(n.zext(16)));
          st.goto('heads_wait');
        });
      },
      heads_wait: () => onReadStatus(() => st.goto('head_mem')),
      head_mem: () => {
        const inBatch = la.bits(log2ceil(p.availBatch) - 1, 0);
        const off = lit(lay.avail, p.regionBits - 1).add(cat(cq, inBatch, lit(0, 1)).zext(p.regionBits - 1));
        headAhead.next(0);
        fetchWindow(off, () => st.goto('head_check'));
      },
      head_check: () => {
        const h = word16;
        head.next(h);
        tblBase?.next(descBase);
        tblN?.next(num);
        j.next(h);
        count.next(0);
        inIndirectReg?.next(0);
        sawWrite.next(0);
        total.next(0);
        cbLen.next(0);
        // (ahead_chain set the window to the entry's slot)
        winValid.next(headAhead);
        winAhead.next(headAhead);
        m.if(beyond(h), fail)
          .elseIf(fInOrder.and(h.ne(expectHead.at(cq))), fail)
          .else(() => st.goto('desc_need'));
      },

      // the descriptor at j of the current table: from the window, or a new window from j
      desc_need: () => {
        const inWin = winValid.and(j.zext(17).sub(winStart.zext(17)).lt(winCount));
        // (a descriptor in the window whose slot is ready, or in the fetch side's own window: its fetch-RAM read
        // is issued here, a cycle before desc_mem would, which then waits for it; a chain's every descriptor
        // passes here, so this is a cycle per descriptor)
        const readNow = inWin.and(winAhead.not().or(pfReady.bit(winSlot).and(pool.err.not()))).and(memBusy.not());
        rd.aim(tblBase ? { base: tblBase, off: j.zext(OFF_BITS).shl(4) } : ringAt('desc', cq, j.zext(OFF_BITS).shl(4)));
        m.if(inWin, () => {
          m.if(readNow, () => {
            fetchRam.rd.valid.set(1);
            fetchRam.rd.addr.set(descOff.bits(fetchUnitBits + 3, 4));
            memOff.next(descOff.bits(3, 0));
            memBusy.next(1);
          });
          st.goto('desc_mem');
        }).elseIf(rd.free, () => {
          const left = tblNNow.zext(17).sub(j.zext(17));
          const k = mux(left.lt(p.descBatch), left, lit(p.descBatch, 17));
          rd.fire(FETCH, lay.desc, k.shl(4));
          winValid.next(1);
          winAhead.next(0);
          winOff.next(lay.desc);
          winStart.next(j);
          winCount.next(k);
          st.goto('desc_wait');
        });
      },
      desc_wait: () => onReadStatus(() => st.goto('desc_mem')),
      desc_mem: () => {
        // a slot's descriptors once their read has ended (a read ahead's error is the pool queue's: cq's). A
        // window read already asked for is waited for whatever arrives meanwhile: leaving with mem_busy set would
        // leave it set for good (its data would come to no state), and every later fetch-RAM read would wait.
        const notAsked = memBusy.not().and(winAhead);
        m.if(notAsked.and(pfReady.bit(winSlot).not()), () => {})
          .elseIf(notAsked.and(pool.err), fail)
          .else(() => fetchWindow(descOff, () => st.goto('desc_walk')));
      },
      // the checks of the golden model (tb/virtio/ring/device.ts nextSplit, walkSplitIndirect, addSeg)
      desc_walk: () => {
        const flags = d.flags;
        const isNext = flags.bit(VRING_DESC_F_NEXT);
        const isWrite = flags.bit(VRING_DESC_F_WRITE);
        const isIndirect = flags.bit(VRING_DESC_F_INDIRECT);
        const countNext = count.add(1);
        const newTotal = total.add(d.len.zext(34));
        m.if(countNext.gt(tblNNow.zext(17)), fail)
          .elseIf(isIndirect, () => {
            if (!IND) return fail();
            m.if(inIndirect.or(tableBad), fail).else(() => {
              slots?.next(countNext.trunc(16));
              inIndirectReg?.next(1);
              tblBase?.next(d.addr);
              tblN?.next(tableEntries.trunc(16));
              j.next(0);
              count.next(0);
              // the table's first entries in the head's slot when read ahead, else a window read when needed
              if (pfTbl)
                m.if(winAhead.and(pfTbl.bit(winSlot)), () => {
                  winOff.next(slotOff(winSlot).add(16));
                  winStart.next(0);
                  winCount.next(tableAhead.zext(17));
                }).else(() => winValid.next(0));
              else winValid.next(0);
              st.goto('desc_need');
            });
          })
          .elseIf(isWrite.not().and(sawWrite), fail)
          .elseIf(cbLen.eq(p.maxChain), fail)
          .elseIf(newTotal.gt(lit(2 ** 32, 34)), fail)
          .elseIf(nextBad, fail)
          .else(() => {
            cbWr.set(1);
            cbLen.next(cbLen.inc());
            count.next(countNext);
            total.next(newTotal);
            sawWrite.next(sawWrite.or(isWrite));
            m.if(isNext, () => {
              j.next(d.next);
              st.goto('desc_need');
            }).else(() => {
              // The chain is whole and checked: to the device.
              outActive.next(1);
              outQueue.next(cq);
              outId.next(head);
              const s = slots ? mux(inIndirect, slots, countNext.trunc(16)) : countNext.trunc(16);
              outSlots.next(s);
              outCount.next(cbLen.inc());
              outPos.next(0);
              lastAvail.nextAt(cq, la.add(1));
              expectHead.nextAt(cq, head.add(s).and(numMask));
              handOne.set(1);
              st.goto('idle');
            });
          });
      },

      fatal: () => {
        fatalPulse.set(1);
        m.if(abandon.not(), () => failSet.set(cqBit));
        st.goto('idle');
      },
    });

    // ---- the used side: completions of one queue at a time (consecutive `done`s up to the batch and the
    // ring's end; with IN_ORDER one element for the batch), written as one command, then used->idx; the queue is
    // then due a notification decision (the notification process below), which the used side does not wait for:
    // its read of used_event is a host round trip, during which the device's completions would wait
    const uqBit = onehot(uq);
    const uNum = cfgReg('u_num', uq, (q) => q.size);
    const uNumMask = cfgReg('u_num_mask', uq, (q) => q.size.sub(1));
    // queues with used->idx published past their last notification decision (notedIdx)
    const noteDue = m.reg('note_due', Q, { reset: 0 });
    const noteDueSet = m.wire('note_due_set', Q, { default: 0 });
    const noteDueClr = m.wire('note_due_clr', Q, { default: 0 });
    noteDue.next(noteDue.and(noteDueClr.not()).or(noteDueSet).and(forget.not()));
    const notedIdx = m.regArray('noted_idx', Q, 16, { reset: 0 });
    const uCount = m.reg('u_count', 9);
    const uOld = m.reg('u_old', 16);
    const uDrop = m.reg('u_drop', bit);
    const uSlot = m.let('u_slot', usedIdx.at(uq).and(uNumMask));
    const uNew = m.let('u_new', uOld.add(uCount.zext(16)));
    const uAbandon = m.let('u_abandon', devResetting.or(qResetting.and(uqBit).orR()));
    done.ready.set(0);
    // used_event / avail->flags, taken off mem_wr as the read engine writes it (the fetch side's window stays its own)
    const noteBytes = [m.reg('note_lo', 8), m.reg('note_hi', 8)];
    const noteWord = m.let('note_word', cat(noteBytes[1], noteBytes[0]));
    const noteLine = Math.floor((p.base + lay.note) / B);
    const noteAt = lay.note % B;
    const wrAccepted = memWr.valid.and(memWr.ready);
    // Which of the word's bytes were written since the notification read was issued (`noteClear`): both, and the
    // read has ended well (a failed or poisoned completion writes nothing; the 2-byte word never straddles a
    // completion), so the decision is made at once instead of at the read's status, which comes in command order
    // behind the device's earlier reads (a queue's worth of data on a busy link).
    const noteGot = [m.reg('note_got_lo', bit, { reset: 0 }), m.reg('note_got_hi', bit, { reset: 0 })];
    const noteClear = m.wire('note_clear', bit, { default: 0 });
    for (const [line, pos] of [
      [noteLine, noteAt],
      [noteLine - 1, B + noteAt],
    ] as const) {
      if (line < 0) continue;
      const hit = wrAccepted.and(memWr.addr.eq(line));
      for (let k = 0; k < 2; k++)
        m.if(hit.and(memWr.be.bit(pos + k)), () => {
          noteBytes[k].next(memWr.data.bits(8 * (pos + k) + 7, 8 * (pos + k)));
          noteGot[k].next(1);
        });
    }
    // (after the writes above: a clear wins; nothing of the new read is written in its issue cycle)
    m.if(noteClear, () => {
      for (const g of noteGot) g.next(0);
    });
    ust.switch({
      idle: () => {
        m.if(done.valid.and(devResetting.not()), () => {
          uq.next(done.queue);
          ust.goto('load');
        });
      },
      load: () => {
        uCount.next(0);
        // (a queue index past the last queue selects nothing: dropped)
        uDrop.next(failed.or(qResetting).or(enableBits.not()).and(uqBit).orR().or(uqBit.orR().not()).or(running.not()));
        uOld.next(usedIdx.at(uq));
        ust.goto('take');
      },
      // uq's configuration is in its registers from here on
      take: () => {
        const roomEnd = uSlot.zext(17).add(uCount.zext(17)).lt(uNum.zext(17));
        const take = done.valid.and(done.queue.eq(uq)).and(uCount.lt(p.usedBatch)).and(roomEnd.or(fInOrder).or(uDrop));
        m.if(take, () => {
          done.ready.set(1);
          returnOne.set(1);
          m.if(uDrop.not(), () => {
            // (the pool's queue: the id is what Linux's free list will most likely hand out next)
            if (SPEC)
              m.if(pfActive.and(pfQ.eq(uq)), () => {
                rfPush.set(1);
                rfPushId.set(done.id);
              });
            uCount.next(uCount.inc());
            const pos = mux(fInOrder, lit(0, 9), uCount);
            const off = lit(lay.elems, p.regionBits - 1).add(pos.zext(p.regionBits - 1).shl(3));
            stage(off, done.id);
          });
        })
          .elseIf(uCount.eq(0), () => ust.goto('idle'))
          .elseIf(wr.free, () => {
            const elems = mux(fInOrder, lit(1, 9), uCount);
            wr.issue(USED, ringAt('device', uq, uSlot.zext(OFF_BITS).shl(3).add(4)), lay.elems, elems.zext(12).shl(3));
            ust.goto('elems');
          });
      },
      elems: () => {
        // used->idx after the elements (the write engine keeps commands in order on the link)
        m.if(wr.free, () => {
          stage(lay.usedIdx, uNew);
          wr.issue(USED, ringAt('device', uq, 2), lay.usedIdx, 2);
          ust.goto('idx');
        });
      },
      // published once the writes' statuses are back: the queue is due a notification decision
      idx: () => {
        m.if(wr.settled(USED), () => {
          m.if(uAbandon, () => ust.goto('idle'))
            .elseIf(wr.sides[USED].err, () => ust.goto('fatal'))
            .else(() => {
              usedIdx.nextAt(uq, uNew);
              noteDueSet.set(uqBit);
              ust.goto('idle');
            });
        });
      },
      fatal: () => {
        uFatalPulse.set(1);
        m.if(uAbandon.not(), () => uFailSet.set(uqBit));
        ust.goto('idle');
      },
    });

    // ---- the notification process: for one queue at a time whose used->idx was published (the writes' statuses
    // back) past notedIdx, the driver's suppression read after the publishing writes (used_event or
    // avail->flags), then one decision for everything published in [notedIdx, the used->idx it saw): with
    // EVENT_IDX vring_need_event over the range is exactly "some batch of it needed one". Meanwhile the used side
    // goes on; what it publishes during the read makes the queue due again.
    const nqBit = onehot(nq);
    const nNum = cfgReg('n_num', nq, (q) => q.size);
    const nOld = m.reg('n_old', 16);
    const nNew = m.reg('n_new', 16);
    const nAbandon = m.let('n_abandon', devResetting.or(qResetting.and(nqBit).orR()));
    const notePick = pickQueue(m, 'note_sched', noteDue.and(failed.or(qResetting).not()), lit(1, 1));
    nst.switch({
      idle: () => {
        m.if(notePick.valid.and(devResetting.not()), () => {
          nq.next(notePick.index);
          nst.goto('load');
        });
      },
      // nq's configuration loads; the range is what was published so far (a publication in this very cycle
      // leaves the queue due)
      load: () => {
        nOld.next(notedIdx.at(nq));
        nNew.next(usedIdx.at(nq));
        noteDueClr.set(nqBit);
        nst.goto('read');
      },
      // (a read waits for the status of the one before, which may have been decided on without it: one status
      // outstanding at a time, so a status and an error are always the one outstanding read's)
      read: () => {
        // (used_event after the ring's entries, else avail->flags; the read command's address is the fetch side's
        // in a state of it that issues reads, whether or not it issues: this read waits for one that does not)
        m.if(nAbandon, () => nst.goto('idle')).elseIf(seqReads.not(), () => {
          const off = mux(fEventIdx, nNum.zext(OFF_BITS).shl(1).add(4), lit(0, OFF_BITS));
          rd.aim(ringAt('driver', nq, off));
          m.if(rd.free.and(rd.settled(USED)), () => {
            rd.fire(USED, lay.note, 2);
            noteClear.set(1);
            nst.goto('wait');
          });
        });
      },
      wait: () => {
        m.if(rd.settled(USED), () => {
          m.if(nAbandon, () => nst.goto('idle'))
            .elseIf(rd.sides[USED].err, () => nst.goto('fatal'))
            .else(() => nst.goto('check'));
        }).elseIf(noteGot[0].and(noteGot[1]), () => nst.goto('check'));
      },
      check: () => {
        const v = noteWord;
        // vring_need_event(used_event, new, old)
        const need = nNew.sub(v).sub(1).lt(nNew.sub(nOld));
        const notify = mux(fEventIdx, need, v.bit(VRING_AVAIL_F_NO_INTERRUPT).not());
        m.if(notify.and(nAbandon.not()), () => irqPulse.set(nqBit));
        notedIdx.nextAt(nq, nNew);
        nst.goto('idle');
      },
      fatal: () => {
        nFatalPulse.set(1);
        m.if(nAbandon.not(), () => nFailSet.set(nqBit));
        nst.goto('idle');
      },
    });
    failed.next(failed.or(failSet).or(uFailSet).or(nFailSet).and(forget.not()));
    // (a chain handed over and one returned in the same cycle, of one queue, leave its count; forget below wins)
    for (let i = 0; i < Q; i++) {
      const h = handOne.and(cq.eq(i));
      const r = returnOne.and(uq.eq(i));
      m.if(h.xor(r), () => inDevice.nextAt(i, inDevice.item(i).add(mux(h, lit(1, 16), lit(0xffff, 16)))));
    }
    m.if(forget.and(onehot(pfQ)).orR(), () => {
      rfClear.set(1);
      pfActive.next(0);
      headsPend.next(0);
      heads2Pend.next(0);
      pollCount.next(0);
      pollHead.next(0);
      pollTail.next(0);
      idxHere.next(0);
    });
    m.if(rfClear, () => bLen.next(0));
    m.if(forget.orR(), () => {
      eventValid.next(eventValid.and(forget.not()));
      for (let i = 0; i < Q; i++)
        m.if(forget.bit(i), () => {
          for (const a of [lastAvail, availSeen, headsEnd, usedIdx, notedIdx, expectHead, inDevice]) a.nextAt(i, 0);
        });
    });
    for (const c of [rd, wr]) m.if(idle, () => c.sides[FETCH].err.next(0));
    // (the used side's writes and the notification process's reads)
    m.if(uIdle, () => wr.sides[USED].err.next(0));
    m.if(nIdle, () => rd.sides[USED].err.next(0));
    cbuf.write(cbLen.trunc(cbBits), cat(d.addr, d.len, d.flags.bit(VRING_DESC_F_WRITE)), cbWr);

    irqQueue.set(irqPulse);
    fatalError.set(fatalPulse.or(uFatalPulse).or(nFatalPulse));
    queueResetDone.set(qResetPulse);
    resetDone.set(resetPulse);
    busy.set(
      idle
        .not()
        .or(uIdle.not())
        .or(nIdle.not())
        .or(outActive)
        .or(rdValid)
        .or(wrValid)
        .or(rd.quiet(FETCH).and(rd.quiet(USED)).and(poolQuiet).and(wr.quiet(FETCH)).and(wr.quiet(USED)).not()),
    );
    return {
      features,
      driver_ok: driverOk,
      reset_req: resetReq,
      ...Object.fromEntries(qs.map((q, i) => [`q${i}`, q])),
      irq_queue: irqQueue,
      fatal_error: fatalError,
      queue_reset_done: queueResetDone,
      reset_done: resetDone,
      busy,
      chain,
      done,
      rd_cmd: rdCmd,
      rd_status: rdStatus,
      wr_cmd: wrCmd,
      wr_status: wrStatus,
      mem_wr: memWr,
      mem_rd: memRd,
    };
  },
  {
    name: (p) =>
      `virtq_split_w${p.W}_q${p.queues}_d${p.devBits}_b${p.base.toString(16)}_r${p.regionBits}_l${p.lenBits}_i${p.idBits}` +
      `_c${p.maxChain}_a${p.availBatch}_e${p.descBatch}_u${p.usedBatch}_p${p.prefetchDescs ?? 4}` +
      (p.indirectAhead === false ? '_t0' : '') +
      (p.indirect === false ? '_x0' : '') +
      ((p.polls ?? 4) !== 4 || (p.pollGap ?? 64) !== 64 ? `_n${p.polls ?? 4}g${p.pollGap ?? 64}` : '') +
      (p.speculate === false ? '_s0' : ''),
    doc: 'Split virtqueue engine: avail ring and descriptor fetch in batches, chain checks, used ring write-back, notifications.',
  },
);
