// DMA read engine (host -> device), docs/dma.md: transfers of any length from any host address to any device
// byte address, queued as commands, each ended by a status in command order.
//
// Requests: each command is cut into memory reads of at most Max_Read_Request_Size bytes, never past the
// next MRRS multiple (so never across 4 KB, 2.2.7), byte-granular through First/Last DW BE (2.2.5); one read
// per two cycles while a tag is free (tags from 32 up only with the Extended Tag Field Enable) and Bus
// Master Enable is set. Reads of several commands may be outstanding at once: up to `slots` commands have a
// slot each (its id, first error, whether all its reads are issued, how many are outstanding).
// Completions: gen/dma/read_cpl.ts, at one beat per cycle, into the device memory's two-line write port.
// Status: the oldest command's, once all its reads are issued and ended (data in memory, or failed).
// After an error a command issues no more reads; those outstanding are waited for (or time out).
import { bit, bitsFor, cat, defineModule, type Expr, lit, log2ceil, mux, orAll, paramError } from '../hdl';
import { Fifo } from '../lib/fifo';
import { muxTree } from '../lib/mux';
import { priorityEncode } from '../lib/priority';
import { DmaError, nextChunk, sizeFromCode } from '../pcie/dma_common';
import { type DataWidth, driveOneBeat, tlpRxStream, tlpStream } from '../pcie/streams';
import { memReqHdr, requestShape } from '../pcie/tlp';
import { dmaCommand, dmaStatus, lineBytes, lineWrite } from './ports';
import { completionPath } from './read_cpl';
import { readTags, tagExpiry, updateReadTags } from './read_tags';

export interface DmaReadParams {
  W: DataWidth;
  /** Outstanding reads (tags 0..tags-1), 1..256; tags from 32 up need the Extended Tag Field Enable. */
  tags: number;
  /** Bits of a device byte address (the device memory is 2^devBits bytes). */
  devBits: number;
  /** Bits of a transfer's length in bytes. */
  lenBits: number;
  /** Bits of a command's id. */
  idBits: number;
  /** Bits of the completion timeout (cycles). */
  timeoutBits: number;
  /** Commands with reads outstanding at once: a power of two, 2..32. */
  slots: number;
}

export const DmaRead = defineModule(
  'dma_read',
  (m, p: DmaReadParams) => {
    const T = p.tags;
    if (!Number.isInteger(T) || T < 1 || T > 256) throw paramError(`DmaRead: 1..256 tags, got ${T}`);
    if (![2, 4, 8, 16, 32].includes(p.slots))
      throw paramError(`DmaRead: slots must be 2, 4, 8, 16 or 32, got ${p.slots}`);
    const lb = log2ceil(lineBytes(p.W));
    if (!Number.isInteger(p.devBits) || p.devBits < lb + 2 || p.devBits > 48)
      throw paramError(`DmaRead: devBits must be ${lb + 2}..48 (at least four lines), got ${p.devBits}`);
    const tw = log2ceil(T);
    const S = p.slots;
    const sw = log2ceil(S);

    // ---- ports
    const cmd = m.input('cmd', dmaCommand(p.devBits, p.lenBits, p.idBits));
    const status = m.output('status', dmaStatus(p.idBits));
    const busMaster = m.input('bus_master', bit);
    const mrrs = m.input('max_read_req', 3);
    const extTagEn = m.input('ext_tag_en', bit);
    const requesterId = m.input('requester_id', 16);
    const timeout = m.input('timeout', p.timeoutBits);
    const req = m.output('req', tlpStream(p.W));
    const cpl = m.input('cpl', tlpRxStream(p.W));
    const memWr = m.output('mem_wr', lineWrite(p.W, p.devBits - lb));
    const busy = m.output('busy', bit);
    const outstanding = m.output('outstanding', bit);
    const evUnexpected = m.output('ev_unexpected', bit);
    const evUr = m.output('ev_ur', bit);
    const evCa = m.output('ev_ca', bit);
    const evPoisoned = m.output('ev_poisoned', bit);
    const evTimeout = m.output('ev_timeout', bit);

    // ---- commands wait here for a slot
    const cmdW = 64 + p.devBits + p.lenBits + p.idBits;
    const queue = m.instance('cmd_queue', Fifo, { width: cmdW, depth: 2 }).io;
    queue.enq.valid.set(cmd.valid);
    queue.enq.data.set(cat(cmd.host_addr, cmd.dev_addr, cmd.len, cmd.id));
    cmd.ready.set(queue.enq.ready);
    const q = queue.deq.data;
    const qHost = q.bits(cmdW - 1, cmdW - 64);
    const qDev = q.bits(cmdW - 65, p.lenBits + p.idBits);
    const qLen = q.bits(p.lenBits + p.idBits - 1, p.idBits);
    const qId = q.bits(p.idBits - 1, 0);

    // ---- command slots: a ring, allocated at the tail, retired in order at the head
    // The slots' ids: written when a command takes its slot, read when it retires (distributed RAM).
    const slotId = m.memory('slot_id', { width: p.idBits, depth: S });
    const slotIssued = m.regArray('slot_issued', S, bit);
    // Each slot's reads outstanding, as counts in distributed RAM (one writer each, below): reads issued (`I`), reads
    // ended (`E`: their last completion's data in memory, or failed) and reads timed out (`X`), modulo 2^cw; the
    // slot's reads are all done when I == E + X. A count per slot in flip-flops, changed by +1 .. -2 a cycle, was an
    // adder, its decoders and 7 flip-flops per slot (32 slots: ~350 LUT).
    const cw = bitsFor(T);
    const slotReads = m.memory('slot_reads', { width: cw, depth: S });
    const slotEnds = m.memory('slot_ends', { width: cw, depth: S });
    const slotEndsAtTail = m.memory('slot_ends_t', { width: cw, depth: S }); // a copy of slot_ends, read at the tail
    const slotExpired = m.memory('slot_expired', { width: cw, depth: S });
    const slotExpiredAtTail = m.memory('slot_expired_t', { width: cw, depth: S });
    const head = m.reg('slot_head', sw + 1, { reset: 0 });
    const tail = m.reg('slot_tail', sw + 1, { reset: 0 });
    const slotsFull = head
      .bit(sw)
      .ne(tail.bit(sw))
      .and(head.bits(sw - 1, 0).eq(tail.bits(sw - 1, 0)));
    const slotsEmpty = head.eq(tail);

    // ---- per-tag bookkeeping and the completion path
    const tags = readTags(m, { tags: T, devBits: p.devBits, slotBits: sw, timeout });
    const cplPath = completionPath(m, tags, { W: p.W, cpl, memWr, devBits: p.devBits });
    const expire = tagExpiry(m, tags, cplPath.inFlight);

    // ---- the command being issued
    const st = m.fsm('issue_state', ['idle', 'calc', 'issue'] as const);
    const host = m.reg('host', 64);
    const dev = m.reg('dev', p.devBits);
    const rem = m.reg('rem', p.lenBits, { reset: 0 });
    const cur = m.reg('cur_slot', sw);
    const chunk = m.reg('chunk', 13);
    const allocTag = m.reg('alloc_tag', tw);
    const reqValid = m.reg('mrd_valid', bit, { reset: 0 });
    const reqHdr = m.reg('mrd_hdr', 128);

    // The free tag is picked from registers, in two steps a cycle apart, so that no path runs from the tags'
    // valid bits through a 64-way priority encoder into `alloc_tag` (8-11 LUT levels in the whole function). A
    // cycle before, each group of 8 tags registers whether it has a free tag and the lowest one's index within the
    // group (`free_grp_*`); the pick takes the lowest group with one (tags from 32 up only with the Extended Tag
    // Field Enable, applied here so that it is never a cycle late). The registered groups are a cycle old: a tag
    // freed shows a cycle later (the pick waits a cycle when no other tag is free), and the tag given out last
    // (in `alloc_tag` while the state is `issue`, its valid bit set only when its request leaves) is masked out of
    // them, so the pick never offers a tag in use: the next pick is at least a cycle after `issue`, by which time
    // the tag's valid bit is set.
    const G = 8;
    const groups = Math.ceil(T / G);
    const pending = st.is('issue');
    const freeGroups = [...Array(groups).keys()].map((g) => {
      const n = Math.min(G, T - g * G);
      const any = m.reg(`free_grp_any_${g}`, bit, { reset: 0 });
      const idx = m.reg(`free_grp_idx_${g}`, Math.max(1, log2ceil(n)), { reset: 0 });
      const free = [...Array(n).keys()].map((i) => {
        const t = g * G + i;
        return tags.valid
          .item(t)
          .not()
          .and(pending.and(allocTag.eq(t)).not());
      });
      const enc =
        n === 1
          ? { valid: free[0], index: lit(0, 1) }
          : priorityEncode(m, `free_grp_${g}`, cat(...[...free].reverse()));
      any.next(enc.valid);
      idx.next(enc.index);
      return { any: g * G < 32 ? any : any.and(extTagEn), idx };
    });
    const free = ((): { valid: Expr; index: Expr } => {
      if (groups === 1) return { valid: freeGroups[0].any, index: freeGroups[0].idx.zext(tw).trunc(tw) };
      const g = priorityEncode(m, 'free_grp', cat(...freeGroups.map((f) => f.any).reverse()));
      const within = muxTree(
        g.index,
        freeGroups.map((f) => f.idx.zext(log2ceil(G))),
      );
      return { valid: g.valid, index: cat(g.index, within).trunc(tw) };
    })();
    // Whether the command being cut is done: all its bytes requested, or an error recorded for its slot. Both
    // are kept as registers beside `rem` and the slot errors (a compare over `rem` and a lookup of the slot's
    // error would be long paths into the slot registers): `remZero` is rem == 0, `curFailed` slot_err[cur] != 0.
    const remZero = m.reg('rem_zero', bit, { reset: 1 });
    const curFailed = m.reg('cur_failed', bit, { reset: 0 });
    const curDone = m.let('cur_done', remZero.or(curFailed));
    const issueNow = m.let('issue_now', st.is('issue').and(reqValid.not().or(req.ready)));
    const bmeLost = m.wire('bme_lost', bit, { default: 0 });

    st.switch({
      idle: () => {
        m.if(queue.deq.valid.and(slotsFull.not()), () => {
          host.next(qHost);
          dev.next(qDev);
          rem.next(qLen);
          remZero.next(qLen.eq(0));
          cur.next(tail.bits(sw - 1, 0));
          tail.next(tail.inc());
          st.goto('calc');
        });
      },
      calc: () => {
        m.if(curDone, () => st.goto('idle'))
          .elseIf(busMaster.not(), () => bmeLost.set(1))
          .elseIf(free.valid, () => {
            chunk.next(nextChunk(host, rem, sizeFromCode(mrrs, 5)));
            allocTag.next(free.index);
            st.goto('issue');
          });
      },
      issue: () => {
        m.if(issueNow, () => st.goto('calc'));
      },
    });
    queue.deq.ready.set(st.is('idle').and(slotsFull.not()));

    const shape = requestShape(host, chunk);
    m.if(issueNow, () => {
      reqValid.next(1);
      reqHdr.next(
        memReqHdr({
          write: false,
          addr: host,
          length: shape.length,
          firstBe: shape.firstBe,
          lastBe: shape.lastBe,
          requesterId,
          tag: allocTag.zext(8),
        }),
      );
      host.next(host.add(chunk.zext(64)));
      dev.next(dev.add(chunk.zext(Math.max(p.devBits, 13)).trunc(p.devBits)));
      const chunkLen = chunk.zext(Math.max(p.lenBits, 13)).trunc(p.lenBits);
      rem.next(rem.sub(chunkLen));
      remZero.next(rem.eq(chunkLen));
    }).elseIf(req.ready, () => reqValid.next(0));
    driveOneBeat(req, { valid: reqValid, hdr: reqHdr });

    updateReadTags(
      m,
      tags,
      expire,
      {
        en: issueNow,
        tag: allocTag,
        bytes: chunk,
        devEnd: dev.add(chunk.zext(Math.max(p.devBits, 13)).trunc(p.devBits)),
        hostEnd: host.bits(6, 0).add(chunk.bits(6, 0)),
        slot: cur,
      },
      cplPath.update,
      cplPath.release,
    );

    // ---- slots: errors (the first one stays), outstanding reads, allocation, retirement
    const expireSlot = expire.slot;
    const take = st.is('idle').and(queue.deq.valid).and(slotsFull.not());
    const curErrNow = bmeLost
      .or(expire.valid.and(expireSlot.eq(cur)))
      .or(cplPath.err.code.ne(0).and(cplPath.err.slot.eq(cur)));
    curFailed.next(mux(take, busMaster.not(), curFailed.or(curErrNow)));
    slotId.write(tail.bits(sw - 1, 0), qId, take);
    for (let s = 0; s < S; s++) {
      m.if(st.is('calc').and(cur.eq(s)).and(curDone), () => slotIssued.item(s).next(1));
      m.if(take.and(tail.bits(sw - 1, 0).eq(s)), () => slotIssued.item(s).next(0));
    }

    // The slots' errors (the first one is the status), in distributed RAM: one table per source, each with one
    // writer: Bus Master Enable (`bme`: a bit, written when a command takes its slot, clear or set, and when it is
    // lost while issuing), the timeout (`exp`) and the completions' errors (`cpl`, with the first one's code). The
    // timeout's and the completions' "set" bits have a second writer (a command taking the slot clears them), so
    // each is the XOR of two tables, as the tags' `fresh` (read_tags.ts): the source writes its table (`_t`) with
    // the other's bit inverted, the take writes its own (`_b`) with the source's bit. Which came first is recorded
    // as they are written: a completion's error whether no other error was recorded for the slot before it, a
    // timeout whether no Bus Master Enable error was (a completion's error after a timeout records that it was
    // not first, and Bus Master Enable is never lost after another error: the command stops issuing). In a tie
    // (the same cycle) the completion's error wins, then the timeout (a Bus Master Enable error in the cycle a
    // read of its slot times out is not recorded), as in the flip-flop version's order of assignment. As
    // flip-flops (3 bits a slot, each with three sources and the take) they were a next-state LUT or two per bit,
    // the sources' slot decoders and a 32-way select of 3 bits at retirement. Each table has at most four ports.
    const cplErr = cplPath.err;
    const tailSlot = tail.bits(sw - 1, 0);
    const expT = m.memory('slot_exp_t', { width: 2, depth: S }); // {toggle, first}
    const expB = m.memory('slot_exp_b', { width: 1, depth: S });
    const cplT = m.memory('slot_cpl_t', { width: 5, depth: S }); // {toggle, first, code}
    const cplB = m.memory('slot_cpl_b', { width: 1, depth: S });
    const bmeT = m.memory('slot_bme', { width: 1, depth: S });
    // Reads at the head (retirement), the tail (the take), and the two error sources' slots.
    const atExp = { expB: expB.readAsync(expireSlot), bme: bmeT.readAsync(expireSlot) };
    const atCpl = {
      exp: expT.readAsync(cplErr.slot),
      expB: expB.readAsync(cplErr.slot),
      bme: bmeT.readAsync(cplErr.slot),
      cpl: cplT.readAsync(cplErr.slot),
      cplB: cplB.readAsync(cplErr.slot),
    };
    const expSetAtCpl = atCpl.exp.bit(1).xor(atCpl.expB);
    const cplSetAtCpl = atCpl.cpl.bit(4).xor(atCpl.cplB);
    bmeT.write(
      mux(take, tailSlot, cur),
      mux(take, busMaster.not(), expire.valid.and(expireSlot.eq(cur)).not()),
      take.or(bmeLost),
    );
    expT.write(expireSlot, cat(atExp.expB.not(), atExp.bme.not()), expire.valid);
    cplT.write(
      cplErr.slot,
      cat(atCpl.cplB.not(), expSetAtCpl.or(atCpl.bme).not(), cplErr.code),
      cplErr.code.ne(0).and(cplSetAtCpl.not()),
    );
    expB.write(tailSlot, expT.readAsync(tailSlot).bit(1), take);
    cplB.write(tailSlot, cplT.readAsync(tailSlot).bit(4), take);
    const errorOf = (x: Expr): Expr => {
      const exp = expT.readAsync(x);
      const cpl = cplT.readAsync(x);
      const expFirst = exp.bit(1).xor(expB.readAsync(x)).and(exp.bit(0));
      const cplFirst = cpl.bit(4).xor(cplB.readAsync(x)).and(cpl.bit(3));
      return mux(
        cplFirst,
        cpl.bits(2, 0),
        mux(
          expFirst,
          lit(DmaError.TIMEOUT, 3),
          mux(bmeT.readAsync(x), lit(DmaError.BUS_MASTER_DISABLED, 3), lit(DmaError.NONE, 3)),
        ),
      );
    };

    // The counts: a read issued adds one to its slot's I, a read ended to its E, a timed-out read to its X (each a
    // read-modify-write of its own table, at most one a cycle); a command taking a slot sets its I to the slot's
    // E + X (so whatever the tables held, after a reset too, the new command has no reads).
    const ended = cplPath.retire;
    const endsNext = slotEnds.readAsync(ended.slot).add(1);
    slotEnds.write(ended.slot, endsNext, ended.en);
    slotEndsAtTail.write(ended.slot, endsNext, ended.en);
    const expiredNext = slotExpired.readAsync(expireSlot).add(1);
    slotExpired.write(expireSlot, expiredNext, expire.valid);
    slotExpiredAtTail.write(expireSlot, expiredNext, expire.valid);
    slotReads.write(
      mux(take, tailSlot, cur),
      mux(
        take,
        slotEndsAtTail.readAsync(tailSlot).add(slotExpiredAtTail.readAsync(tailSlot)),
        slotReads.readAsync(cur).add(1),
      ),
      take.or(issueNow),
    );

    const stValid = m.reg('st_valid', bit, { reset: 0 });
    const stId = m.reg('st_id', p.idBits);
    const stErr = m.reg('st_err', 3);
    const h = head.bits(sw - 1, 0);
    // The head's "all its reads issued and ended", registered, so that retirement selects one bit (selecting the
    // head's pending count and comparing it was 13 LUT levels at 32 slots): computed for the head and for the slot
    // after it (the head after a retirement), from the tables as they are at the start of the cycle. A cycle late,
    // which is safe: an ended slot stays ended until it is taken again, and taking it clears the bit.
    const slotDone = (x: Expr) =>
      take
        .and(tailSlot.eq(x))
        .not()
        .and(muxTree(x, slotIssued.items))
        .and(slotReads.readAsync(x).eq(slotEnds.readAsync(x).add(slotExpired.readAsync(x))));
    const h1 = m.let('slot_head_next', h.inc());
    const endedHead = m.reg('slot_ended_head', bit, { reset: 0 });
    const endedNext = m.reg('slot_ended_next', bit, { reset: 0 });
    const retired = m.reg('slot_retired', bit, { reset: 0 });
    endedHead.next(slotDone(h));
    endedNext.next(slotDone(h1));
    const retire = m.let(
      'retire',
      slotsEmpty
        .not()
        .and(mux(retired, endedNext, endedHead))
        .and(stValid.not().or(status.ready)),
    );
    retired.next(retire);
    m.if(retire, () => {
      stValid.next(1);
      stId.next(slotId.readAsync(h));
      stErr.next(errorOf(h));
      head.next(head.inc());
    }).elseIf(status.ready, () => stValid.next(0));
    status.valid.set(stValid);
    status.id.set(stId);
    status.error.set(stErr);

    const anyTag = orAll(...tags.valid.items);
    busy.set(queue.deq.valid.or(st.is('idle').not()).or(slotsEmpty.not()).or(stValid).or(reqValid).or(cplPath.busy));
    outstanding.set(anyTag);
    evUnexpected.set(cplPath.ev.unexpected);
    evUr.set(cplPath.ev.ur);
    evCa.set(cplPath.ev.ca);
    evPoisoned.set(cplPath.ev.poisoned);
    evTimeout.set(expire.valid);
    return {
      cmd,
      status,
      bus_master: busMaster,
      max_read_req: mrrs,
      ext_tag_en: extTagEn,
      requester_id: requesterId,
      timeout,
      req,
      cpl,
      mem_wr: memWr,
      busy,
      outstanding,
      ev_unexpected: evUnexpected,
      ev_ur: evUr,
      ev_ca: evCa,
      ev_poisoned: evPoisoned,
      ev_timeout: evTimeout,
    };
  },
  {
    name: (p) => `dma_read_w${p.W}_t${p.tags}_d${p.devBits}_l${p.lenBits}_i${p.idBits}_s${p.slots}_to${p.timeoutBits}`,
    doc: 'DMA read engine: host memory -> device memory, byte-granular, MRd split at MRRS/4 KB, completions at line rate.',
  },
);
