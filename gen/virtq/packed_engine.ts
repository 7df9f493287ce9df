// The packed-ring queue engine (issue 8; docs/queue-engine.md, "Packed rings"; docs/data-plane.md): available
// chains fetched in batches, validated and handed to the device (`chain`), used elements written back for the
// device's `done`s, used buffer notifications (`irq_queue`) as the driver's event suppression asks, malformed
// rings stopped with `fatal_error`, device and queue resets. The parts are built by functions in
// packed_fetch.ts (available side) and packed_used.ts (used side); this module holds the per-queue state they
// share, the doorbells, the resets and the DMA read command they share.
import { bit, bitsFor, cat, defineModule, type Expr, lit, log2ceil, mux, orAll } from '../hdl';
import { dmaCommand, dmaStatus, lineBytes, lineRead, lineWrite } from '../dma/ports';
import { queueHandover } from '../virtio/ports';
import { featureDef } from '../virtio/regmap';
import { chainDesc, chainDone } from './ports';
import { chainStaging, fetchSlots, itemLayout, type PackedQueueState, type ReadRequest } from './packed_fetch';
import { packedWalker } from './packed_walker';
import { packedStager } from './packed_expand';
import { Fifo } from '../lib/fifo';
import { PACKED_DEFAULTS, packedLayout, type PackedEngineParams, PACKED_FAULT_BITS } from './packed_params';
import { type EventWrite, notifier, usedWriter } from './packed_used';

const featureBit = (name: string) => featureDef(name, 'blk').bit;

export const PackedEngine = defineModule(
  'virtq_packed',
  (m, p: PackedEngineParams) => {
    const layout = packedLayout(p);
    const Q = p.queues;
    const qb = log2ceil(Q);
    const lineBits = p.devBits - log2ceil(lineBytes(p.W));

    // ---- ports
    const features = m.input('features', 64);
    const driverOk = m.input('driver_ok', bit);
    const resetReq = m.input('reset_req', bit);
    const qs = Array.from({ length: Q }, (_, i) => m.input(`q${i}`, queueHandover()));
    const irqQueue = m.output('irq_queue', Q);
    const fatalError = m.output('fatal_error', bit);
    const fatalCode = m.output('fatal_code', PACKED_FAULT_BITS);
    const queueResetDone = m.output('queue_reset_done', Q);
    const resetDone = m.output('reset_done', bit);
    const busy = m.output('busy', bit);
    const chain = m.output('chain', chainDesc(qb));
    const done = m.input('done', chainDone(qb));
    const rdCmd = m.output('rd_cmd', dmaCommand(p.devBits, p.lenBits, p.idBits));
    const rdStatus = m.input('rd_status', dmaStatus(p.idBits));
    const wrCmd = m.output('wr_cmd', dmaCommand(p.devBits, p.lenBits, p.idBits));
    const wrStatus = m.input('wr_status', dmaStatus(p.idBits));
    const memWr = m.input('mem_wr', lineWrite(p.W, lineBits));
    const memRd = m.input('mem_rd', lineRead(p.W, lineBits));

    // ---- per-queue state
    const st: PackedQueueState = {
      pending: m.regArray('pending', Q, bit, { reset: 0 }),
      failed: m.regArray('failed', Q, bit, { reset: 0 }),
      resetting: m.regArray('resetting', Q, bit, { reset: 0 }),
      availPos: m.regArray('avail_pos', Q, 16, { reset: 0 }),
      availWrap: m.regArray('avail_wrap', Q, bit, { reset: 1 }),
      usedPos: m.regArray('used_pos', Q, 16, { reset: 0 }),
      usedWrap: m.regArray('used_wrap', Q, bit, { reset: 1 }),
      unsignalled: m.regArray('unsignalled', Q, 16, { reset: 0 }),
      inflight: m.regArray('inflight', Q, 16, { reset: 0 }),
      halted: m.regArray('halted', Q, bit, { reset: 0 }),
      items: m.regArray('items_of', Q, bitsFor(p.itemDepth + 1), { reset: 0 }),
      evOff: m.regArray('ev_off', Q, bit, { reset: 0 }),
      evArmed: m.regArray('ev_armed', Q, bit, { reset: 0 }),
    };
    const cfg = qs.map((q) => ({ size: q.size, enable: q.enable, desc: q.desc, driver: q.driver, device: q.device }));
    const feat = (name: string) => features.bit(featureBit(name));

    // ---- the read command, shared by the fetcher (id 0: ring batches), the notifier (id 1: the event
    // structure), the walker (id 2: a table's first batch) and the stager (id 3: a table's further batches);
    // statuses come in command order and are routed by id. Priority: whatever the chains in order wait for first.
    const slotBits = log2ceil(layout.slots);
    const request = (name: string, withSlot: boolean): ReadRequest => ({
      valid: m.wire(`${name}_rd_valid`, bit),
      host: m.wire(`${name}_rd_host`, 64),
      slot: withSlot ? m.wire(`${name}_rd_slot`, slotBits) : undefined,
      len: m.wire(`${name}_rd_len`, p.lenBits),
      grant: m.wire(`${name}_rd_grant`, bit),
    });
    const ringRead = request('ring', true);
    const eventRead = request('event', false);
    const tableRead = request('table', true);
    const moreRead = request('more', true);
    const byPriority: [ReadRequest, number][] = [
      [moreRead, 3],
      [tableRead, 2],
      [eventRead, 1],
      [ringRead, 0],
    ];
    const slotAddr = (r: ReadRequest) =>
      lit(p.base, p.devBits).or(r.slot!.zext(p.devBits).shl(log2ceil(layout.bufBytes)));
    let taken: Expr = lit(0, 1);
    let host: Expr = lit(0, 64);
    let dev: Expr = lit(p.base + layout.eventOffset, p.devBits);
    let len: Expr = lit(0, p.lenBits);
    let id: Expr = lit(0, p.idBits);
    for (const [r, code] of [...byPriority].reverse()) {
      const v = r.valid as Expr;
      host = mux(v, r.host as Expr, host);
      dev = mux(v, r.slot ? slotAddr(r) : lit(p.base + layout.eventOffset, p.devBits), dev);
      len = mux(v, r.len as Expr, len);
      id = mux(v, lit(code, p.idBits), id);
    }
    for (const [r] of byPriority) {
      r.grant.set(rdCmd.ready.and(r.valid as Expr).and(taken.not()));
      taken = taken.or(r.valid as Expr);
    }
    rdCmd.valid.set(taken);
    rdCmd.host_addr.set(host);
    rdCmd.dev_addr.set(dev);
    rdCmd.len.set(len);
    rdCmd.id.set(id);
    rdStatus.ready.set(1);
    const statusOf = (code: number) => ({
      valid: rdStatus.valid.and(rdStatus.id.bits(1, 0).eq(code)),
      error: rdStatus.error,
    });

    // ---- available side: fetch slots, walker, item queue, stager, staging
    memWr.ready.set(1);
    memRd.ready.set(1);
    const slotsMem = fetchSlots(m, p, layout, memWr);
    const staging = chainStaging(m, p, qb, chain);
    const item = itemLayout(qb, bitsFor(p.maxChain));
    const itemQ = m.instance('items', Fifo, { width: item.width, depth: p.itemDepth }).io;
    // ---- the device event structure's writes (walker -> used writer), and whether a notification decision on
    // the walker's queue is to come (driven below, once the notifier exists)
    const eventWrite: EventWrite = {
      valid: m.wire('ev_wr_valid', bit),
      queue: m.wire('ev_wr_queue', qb),
      word: m.wire('ev_wr_word', 32),
      full: m.wire('ev_wr_full', bit),
      grant: m.wire('ev_wr_grant', bit),
      done: m.wire('ev_wr_done', bit),
      error: m.wire('ev_wr_error', bit),
      busy: m.wire('ev_wr_busy', bit),
    };
    const expectDecision = m.wire('expect_decision', bit);
    const decided = { valid: m.wire('poll_reload', bit), queue: m.wire('poll_reload_queue', qb) };
    const walker = packedWalker(m, {
      p,
      layout,
      queueBits: qb,
      cfg,
      st,
      driverOk,
      featIndirect: feat('VIRTIO_F_INDIRECT_DESC'),
      featInOrder: feat('VIRTIO_F_IN_ORDER'),
      featEventIdx: feat('VIRTIO_F_EVENT_IDX'),
      expectDecision,
      decided,
      event: eventWrite,
      desc: slotsMem.ring,
      ringStatus: statusOf(0),
      tableStatus: statusOf(2),
      items: { valid: itemQ.enq.valid, ready: itemQ.enq.ready, data: itemQ.enq.data },
      item,
      ringRead,
      tableRead,
    });
    const stager = packedStager(m, {
      p,
      queueBits: qb,
      st,
      items: { valid: itemQ.deq.valid, ready: itemQ.deq.ready, data: itemQ.deq.data },
      item,
      staging,
      desc: slotsMem.table,
      tableFill: walker.tableFill,
      tableErr: walker.tableErr,
      read: moreRead,
      status: statusOf(3),
    });
    walker.tableCons.set(stager.tableCons);

    // ---- used side
    const used = usedWriter(m, {
      p,
      layout,
      queueBits: qb,
      cfg,
      st,
      done,
      chain,
      featInOrder: feat('VIRTIO_F_IN_ORDER'),
      wrCmd,
      wrStatus: { valid: wrStatus.valid, id: wrStatus.id, error: wrStatus.error },
      memRd,
      event: eventWrite,
    });
    wrStatus.ready.set(1);
    const notify = notifier(m, {
      p,
      queueBits: qb,
      cfg,
      st,
      featEventIdx: feat('VIRTIO_F_EVENT_IDX'),
      event: slotsMem.event,
      eventGot: slotsMem.eventGot,
      eventClear: slotsMem.eventClear,
      seq: used.seq,
      seqDone: used.seqDone,
      status: statusOf(1),
      read: eventRead,
    });
    decided.valid.set(notify.polled);
    decided.queue.set(notify.queue);
    const wq = walker.queue;
    expectDecision.set(
      orAll(
        st.inflight.at(wq).ne(0),
        st.items.at(wq).ne(0),
        st.unsignalled.at(wq).ne(0),
        notify.active.and(notify.queue.eq(wq)),
      ),
    );

    // ---- per-queue counters: chains in flight (committed .. done), positions not yet signalled
    const doneFire = done.valid.and(done.ready);
    qs.forEach((_, i) => {
      const inc = staging.committed.and(stager.queue.eq(i));
      const dec = doneFire.and(done.queue.eq(i));
      st.inflight.item(i).next(st.inflight.item(i).add(inc.zext(16)).sub(dec.zext(16)));
      const add = mux(used.accept.and(used.acceptQueue.eq(i)), used.acceptSlots, lit(0, 16));
      // the notifier's snapshot takes all of the count (its adv): the count restarts from this cycle's positions
      // (no subtraction of a value chosen by the notifier's pick)
      const taken = notify.taken.and(notify.takenQueue.eq(i));
      st.unsignalled.item(i).next(mux(taken, add, st.unsignalled.item(i).add(add)));
      const pushed = itemQ.enq.valid.and(itemQ.enq.ready).and(walker.queue.eq(i));
      const retired = stager.retire.and(stager.retireQueue.eq(i));
      const w = st.items.item(i).width;
      st.items.item(i).next(st.items.item(i).add(pushed.zext(w)).sub(retired.zext(w)));
    });

    // ---- doorbells (after the walker's clear, so a doorbell in the cycle of a pick is kept)
    qs.forEach((q, i) => m.if(q.notify, () => st.pending.item(i).next(1)));

    // ---- fatal errors: the queue stops; one pulse, with the first part's code
    const fatals = [stager.fatal, used.fatal, notify.fatal];
    fatals.forEach((x) => m.if(x.valid, () => st.failed.nextAt(x.queue, 1)));
    const fatalReg = m.reg('fatal_pulse', bit, { reset: 0 });
    const codeReg = m.reg('fatal_code_reg', PACKED_FAULT_BITS, { reset: 0 });
    const anyFatal = orAll(...fatals.map((x) => x.valid));
    fatalReg.next(anyFatal);
    let code: Expr = lit(0, PACKED_FAULT_BITS);
    for (const x of [...fatals].reverse()) code = mux(x.valid, x.code, code);
    m.if(anyFatal, () => codeReg.next(code));
    fatalError.set(fatalReg);
    fatalCode.set(codeReg);

    // ---- resets: stop taking work, wait for the queue's DMA and chains, then forget its state
    const devResetting = m.reg('dev_resetting', bit, { reset: 0 });
    const qResetDone = m.reg('queue_reset_done_reg', Q, { reset: 0 });
    const devResetDone = m.reg('reset_done_reg', bit, { reset: 0 });
    const usedQuiet = used.seq.eq(used.seqDone).and(used.busy.not());
    const finishing = qs.map((_, i) =>
      m.let(
        `reset_finish_${i}`,
        st.resetting
          .item(i)
          .and(st.inflight.item(i).eq(0))
          .and(walker.busyWith(i).not())
          .and(st.items.item(i).eq(0))
          .and(notify.active.and(notify.queue.eq(i)).not())
          .and(usedQuiet),
      ),
    );
    qs.forEach((q, i) => {
      m.if(finishing[i], () => {
        st.resetting.item(i).next(0);
        st.pending.item(i).next(0);
        st.failed.item(i).next(0);
        st.halted.item(i).next(0);
        st.availPos.item(i).next(0);
        st.availWrap.item(i).next(1);
        st.usedPos.item(i).next(0);
        st.usedWrap.item(i).next(1);
        st.unsignalled.item(i).next(0);
        st.evOff.item(i).next(0);
        st.evArmed.item(i).next(0);
      });
      // after the clear: a reset asked for in the cycle another one finishes is not lost
      m.if(q.reset_req.or(resetReq), () => st.resetting.item(i).next(1));
    });
    qResetDone.next(cat(...[...finishing].reverse()));
    m.if(resetReq, () => devResetting.next(1));
    const allQuiet = orAll(...st.resetting.items).not();
    devResetDone.next(devResetting.and(allQuiet).and(resetReq.not()));
    m.if(devResetting.and(allQuiet).and(resetReq.not()), () => devResetting.next(0));
    queueResetDone.set(qResetDone);
    resetDone.set(devResetDone);

    // ---- interrupts: a pulse per queue, a cycle after the decision
    const irqReg = m.reg('irq_reg', Q, { reset: 0 });
    irqReg.next(notify.irq);
    irqQueue.set(irqReg);

    busy.set(
      orAll(
        walker.active,
        stager.active,
        itemQ.deq.valid,
        notify.active,
        notify.statusOut,
        used.busy,
        staging.empty.not(),
      ),
    );
    return {
      features,
      driver_ok: driverOk,
      reset_req: resetReq,
      q: qs,
      irq_queue: irqQueue,
      fatal_error: fatalError,
      fatal_code: fatalCode,
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
      `virtq_packed_w${p.W}_q${p.queues}_d${p.devBits}_b${p.base.toString(16)}_r${p.regionBits}` +
      `_l${p.lenBits}_i${p.idBits}_f${p.batch}_c${p.maxChain}_u${p.usedSlots}` +
      `_rs${p.ringSlots}_ts${p.tableSlots}_it${p.itemDepth}${p.kickSuppression ? '' : '_nks'}` +
      (p.usedBatch === PACKED_DEFAULTS.usedBatch && p.usedHold === PACKED_DEFAULTS.usedHold
        ? ''
        : `_ub${p.usedBatch}_uh${p.usedHold}`),
    doc: 'Packed-ring virtqueue engine: batched descriptor fetch, chain validation, used write-back, notifications.',
  },
);
