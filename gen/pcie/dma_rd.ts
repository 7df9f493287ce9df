// DMA read engine: copies `len` bytes of host memory at `host_addr` into device RAM at `ram_addr` with
// memory read requests, and writes the completions' data into the RAM as it arrives.
//
// Requests: split at Max_Read_Request_Size and aligned to it (so never across a 4 KB boundary, 2.2.7);
// byte-granular start and length through First/Last DW BE (2.2.5). Up to `tags` requests are outstanding,
// each with its own tag and bookkeeping: where its data ends in RAM and in host memory (low 7 bits), the
// bytes it still expects, and a completion timer. The device offset must equal the host address mod 4 (checked by
// the caller), so a completion's dwords land on RAM dwords without a byte shifter.
//
// Completions (2.3.1.1): a request may be answered by several completions, split at the Read Completion
// Boundary, in address order for one tag but in any order across tags. Each completion is placed by its
// tag and Byte Count (the bytes remaining for the request): its first byte goes to end - byte_count. The
// lower address must agree (else BAD_COMPLETION). Its byte count must be the bytes the tag still expects:
// then the tag expects the bytes after its payload, and a completion whose byte count fits in its payload is
// the tag's last and frees the tag, so a tag completes only once every byte of its request has arrived. A
// completion out of that sequence (a repeat of bytes already received, one after a lost completion, or one
// claiming more bytes than are outstanding) is dropped and counted (`ev_unexpected`); a request with a lost
// completion ends in its completion timeout. Byte enables keep bytes outside the requested range untouched.
// Errors: UR/CA status ends the request (its tag is freed); a poisoned completion's data is dropped (the
// receive sideband's error code says so: EP, or the hard IP's verdict); a tag with no answer for `timeout`
// cycles is freed with TIMEOUT (2.8); a completion for a tag that is not outstanding is dropped and counted
// (`ev_unexpected`). After an error no new request is issued, the
// outstanding ones are waited for (or time out), then `done` reports the first error.
import {
  bit,
  cat,
  defineModule,
  type Drivable,
  type Expr,
  lit,
  log2ceil,
  type ModuleBuilder,
  mux,
  orAll,
  paramError,
  type Signal,
  type SignalArray,
} from '../hdl';
import { isolateLowest, priorityEncode } from '../lib/priority';
import { DmaError, nextChunk, sizeFromCode } from './dma_common';
import { type BundleOf, type DataWidth, driveOneBeat, ramWrite, RxError, tlpRxStream, tlpStream } from './streams';
import { CplStatus, firstBeFrom, lastBeFrom, memReqHdr, requestShape, tlpFields } from './tlp';

export interface DmaRdParams {
  W: DataWidth;
  /** Outstanding read requests (tags 0..tags-1), 1..256; above 32 the Extended Tag Field Enable is needed. */
  tags: number;
  /** log2 of the device RAM size in bytes. */
  ramLog2: number;
  /** Bits of the transfer length in bytes. */
  lenBits: number;
  /** Bits of the completion timeout counter (cycles). */
  timeoutBits: number;
}

/** Per-tag bookkeeping of the outstanding reads. */
interface TagTable {
  valid: SignalArray;
  /**
   * Bytes the read still expects (its length until a completion arrives; completions of one request come in
   * address order, each with the byte count of what remains), so a completion is in sequence when its byte
   * count equals it: one compare after the lookup, no subtraction.
   */
  rem: SignalArray;
  /** RAM byte offset (one spare bit) just past the read's data. */
  end: SignalArray;
  /** Host address bits 6:0 just past the read's last byte (checks a completion's Lower Address). */
  hostEnd: SignalArray;
  /** Cycles left until the completion timeout. */
  timer: SignalArray;
  /**
   * Per tag: out of time (registered: the timer of an outstanding tag reached 0 in the previous cycle and
   * the tag was not freed then), so the wide zero test and the error logic are not one path.
   */
  timedOut: SignalArray;
  anyTimeout: Expr;
}

function tagTable(m: ModuleBuilder, T: number, rb: number, timeoutBits: number): TagTable {
  const valid = m.regArray('tag_valid', T, bit, { reset: 0 });
  const rem = m.regArray('tag_rem', T, 13);
  const end = m.regArray('tag_end', T, rb + 1);
  const hostEnd = m.regArray('tag_host_end', T, 7);
  const timer = m.regArray('tag_timer', T, timeoutBits);
  const timedOut = m.regArray('tag_timed_out', T, bit, { reset: 0 });
  return { valid, rem, end, hostEnd, timer, timedOut, anyTimeout: orAll(...timedOut.items) };
}

/**
 * Each tag's bookkeeping: taken by a read being issued (`alloc`), moved on past each completion taken in
 * sequence (`advance`), freed by its last completion or an error (`free`), or on timeout; its timer counts
 * down while it is outstanding.
 */
function updateTags(
  m: ModuleBuilder,
  tags: TagTable,
  alloc: { en: Expr; tag: Expr[]; bytes: Expr; end: Expr; hostEnd: Expr; timeout: Expr },
  advance: { en: Expr; tag: Expr; to: Expr },
  free: { en: Expr; tag: Expr },
): void {
  tags.valid.items.forEach((_, t) => {
    const a = alloc.en.and(alloc.tag[t]);
    const freed = free.en.and(free.tag.eq(t));
    const f = freed.or(tags.timedOut.item(t));
    // Out of time once: not again in the cycle it is freed (a stale flag would free a reallocated tag).
    tags.timedOut.item(t).next(tags.valid.item(t).and(tags.timer.item(t).eq(0)).and(f.not()));
    // Never in the same cycle as an alloc of the tag (only an outstanding tag advances); alloc wins anyway.
    m.if(advance.en.and(advance.tag.eq(t)), () => tags.rem.item(t).next(advance.to));
    m.if(a, () => {
      tags.valid.item(t).next(1);
      tags.rem.item(t).next(alloc.bytes);
      tags.end.item(t).next(alloc.end);
      tags.hostEnd.item(t).next(alloc.hostEnd);
      tags.timer.item(t).next(alloc.timeout);
    })
      .elseIf(f, () => tags.valid.item(t).next(0))
      .elseIf(tags.valid.item(t), () => tags.timer.item(t).next(tags.timer.item(t).dec()));
  });
}

/** The transfer in progress: where the next request starts in host memory and RAM, and the bytes left. */
interface Transfer {
  busy: Signal;
  err: Signal;
  host: Signal;
  ram: Signal;
  rem: Signal;
}

/**
 * Memory read requests, one per cycle at most, while the transfer has bytes left, no error, Bus Master
 * Enable and a free tag (the lowest; tags from 32 up only with the Extended Tag Field Enable). Each reads up
 * to MRRS bytes, never past the next MRRS multiple.
 */
function issueReads(
  m: ModuleBuilder,
  tr: Transfer,
  tags: TagTable,
  o: {
    req: BundleOf<ReturnType<typeof tlpStream>, 'out'>;
    busMaster: Expr;
    extTagEn: Expr;
    mrrs: Expr;
    requesterId: Expr;
    rb: number;
    lenBits: number;
  },
): { issue: Expr; alloc: Expr[]; chunk: Expr; stop: Expr; reqValid: Signal } {
  const usable = (t: number) => (t < 32 ? lit(1, 1) : o.extTagEn);
  const free = tags.valid.items.map((v, t) => v.not().and(usable(t)));
  // The lowest free tag: one-hot for each tag's own enable (not behind an index encode and decode), and its
  // number for the header from the tree encoder (gen/lib priority.ts, logarithmic depth both).
  const freeVec = cat(...[...free].reverse());
  const lowestVec = isolateLowest(m, 'alloc', freeVec);
  const lowest = free.map((_, t) => lowestVec.bit(t));
  const freeIdx = priorityEncode(m, 'free_tag_enc', freeVec).index;
  const anyFree = free.reduce((a, b) => a.or(b));
  const stop = tr.err.ne(0).or(tr.rem.eq(0));
  const reqValid = m.reg('mrd_valid', bit, { reset: 0 });
  const reqHdr = m.reg('mrd_hdr', 128);
  const issue = m.let(
    'issue',
    tr.busy.and(stop.not()).and(o.busMaster).and(anyFree).and(reqValid.not().or(o.req.ready)),
  );
  const chunk = m.let('chunk', nextChunk(tr.host, tr.rem, sizeFromCode(o.mrrs, 5)));
  const shape = requestShape(tr.host, chunk);
  const allocIdx = m.let('alloc_tag', freeIdx);

  m.if(issue, () => {
    reqValid.next(1);
    reqHdr.next(
      memReqHdr({
        write: false,
        addr: tr.host,
        length: shape.length,
        firstBe: shape.firstBe,
        lastBe: shape.lastBe,
        requesterId: o.requesterId,
        tag: allocIdx.zext(8),
      }),
    );
    tr.host.next(tr.host.add(chunk.zext(64)));
    tr.ram.next(tr.ram.add(chunk.zext(o.rb + 1)));
    tr.rem.next(tr.rem.sub(chunk.zext(o.lenBits)));
  }).elseIf(o.req.ready, () => reqValid.next(0));
  driveOneBeat(o.req, { valid: reqValid, hdr: reqHdr });
  return { issue, alloc: lowest, chunk, stop, reqValid };
}

/**
 * The completion stream's intake register: each beat is registered before the completion FSM looks at it,
 * and with a beat the tag table entry of its tag (valid, bytes expected, ends), so that the FSM's check
 * starts from registers. One cycle of latency, no loss of throughput (a beat enters in the cycle the FSM
 * takes the one before it). The entry reflects the updates landing in the cycle it is read (`bypass`: the
 * previous completion's advance or free of its tag), so a completion right behind one of the same tag sees
 * it.
 */
function intakeStage(
  m: ModuleBuilder,
  tags: TagTable,
  cpl: BundleOf<ReturnType<typeof tlpRxStream>, 'in'>,
  bypass: { advEn: Expr; freeEn: Expr; tag: Expr; advTo: Expr },
) {
  const T = tags.valid.items.length;
  const tw = log2ceil(T);
  const rb = tags.end.items[0].width - 1;
  const valid = m.reg('in_valid', bit, { reset: 0 });
  const beat = {
    hdr: m.reg('in_hdr', 128),
    data: m.reg('in_data', cpl.data.width),
    keep: m.reg('in_keep', cpl.keep.width),
    sop: m.reg('in_sop', bit),
    eop: m.reg('in_eop', bit),
    error: m.reg('in_error', cpl.error.width),
  };
  const entry = {
    known: m.reg('lk_known', bit),
    rem: m.reg('lk_rem', 13),
    end: m.reg('lk_end', rb + 1),
    hostEnd: m.reg('lk_host_end', 7),
  };
  const take = m.wire('in_take', bit, { default: 0 }); // the FSM is done with the registered beat
  const enter = m.let('in_enter', cpl.valid.and(valid.not().or(take)));
  cpl.ready.set(valid.not().or(take));
  const tag = tlpFields(cpl.hdr).cplTag;
  const idx = tag.trunc(tw);
  const hit = bypass.tag.eq(idx);
  m.if(enter, () => {
    valid.next(1);
    beat.hdr.next(cpl.hdr);
    beat.data.next(cpl.data);
    beat.keep.next(cpl.keep);
    beat.sop.next(cpl.sop);
    beat.eop.next(cpl.eop);
    beat.error.next(cpl.error);
    const inRange = T >= 1024 ? lit(1, 1) : tag.lt(T);
    entry.known.next(inRange.and(tags.valid.at(idx)).and(bypass.freeEn.and(hit).not()));
    entry.rem.next(mux(bypass.advEn.and(hit), bypass.advTo, tags.rem.at(idx)));
    entry.end.next(tags.end.at(idx));
    entry.hostEnd.next(tags.hostEnd.at(idx));
  }).elseIf(take, () => valid.next(0));
  return { valid, ...beat, entry, take };
}

/**
 * Completions: checked against their tag's bookkeeping, then their payload written into the RAM, beat by
 * beat, with byte enables for the first and last byte of the request; a completion taken in sequence moves
 * its tag's expected byte count on (`advEn`/`advTag`/`advTo`); errors end the request (`cplErr`,
 * `freeEn`/`freeTag`). Returns the completion FSM (idle between completions).
 *
 * The check of a completion's first beat (idle) only decides where the FSM goes: its effects on the tag
 * table, the error and the event outputs are registered and take effect in the next cycle (while the FSM
 * is in data or drop, so before the next completion is checked), and the write position registers are
 * loaded on every idle cycle whether or not they are used. That keeps the tag lookup, the byte count
 * arithmetic and the per-tag updates out of one path.
 */
function receiveCompletions(
  m: ModuleBuilder,
  tags: TagTable,
  o: {
    cpl: BundleOf<ReturnType<typeof tlpRxStream>, 'in'>;
    ramWr: BundleOf<ReturnType<typeof ramWrite>, 'out'>;
    rb: number;
    ev: { unexpected: Drivable; ur: Drivable; ca: Drivable; poisoned: Drivable };
    cplErr: Drivable;
    freeEn: Drivable;
    freeTag: Drivable;
    advEn: Drivable;
    advTag: Drivable;
    advTo: Drivable;
  },
) {
  const { ramWr, rb, ev } = o;
  const T = tags.valid.items.length;
  const tw = log2ceil(T);
  const L = o.cpl.keep.width;
  const dwb = rb - 1; // dword addresses with one spare bit, so lanes past the RAM end compare correctly
  const st = m.fsm('cpl_state', ['idle', 'data', 'drop'] as const);
  const curTag = m.reg('cur_tag', tw);
  const advToQ = m.reg('adv_to_q', 13);
  const advQ = m.reg('chk_adv_q', bit, { reset: 0 });
  const freeQ = m.reg('chk_free_q', bit, { reset: 0 });
  // A tag is freed by the check (an error, a poisoned last completion: the FSM is then in drop) or by the
  // eop beat of its last completion (data): never both in one cycle, and both name cur_tag.
  const eopFree = m.wire('eop_free', bit, { default: 0 });
  const freeNow = freeQ.or(eopFree);
  const cpl = intakeStage(m, tags, o.cpl, { advEn: advQ, freeEn: freeNow, tag: curTag, advTo: advToQ });
  const f = tlpFields(cpl.hdr);
  const idx = m.let('cpl_tag', f.cplTag.trunc(tw));
  const known = cpl.entry.known;
  const tEnd = cpl.entry.end;
  const bc = f.byteCount;
  const first = m.let('cpl_first_byte', tEnd.sub(bc.zext(rb + 1))); // RAM offset of this completion's first byte
  // Lower address + byte count lands on the end of the read (mod 128): the arithmetic is on the header alone.
  const laOk = cpl.entry.hostEnd.eq(f.lowerAddr.add(bc.bits(6, 0)));
  // Its byte count is exactly the bytes still outstanding: not a repeat, nothing lost before it.
  const inSequence = m.let('cpl_in_sequence', cpl.entry.rem.eq(bc));
  const carried = cat(f.lengthDw, lit(0, 2)).sub(f.lowerAddr.bits(1, 0).zext(13));
  const isLast = m.let('cpl_is_last', bc.le(carried));
  const tEndM1 = tEnd.sub(1);
  // The verdict as flat terms (no priority chain), so that the lookups enter its last levels.
  const go = cpl.valid.and(cpl.sop);
  const status = f.cplStatus;
  const sc = status.eq(CplStatus.SC);
  const shapeOk = f.hasData.and(laOk); // SC with data and a consistent lower address
  const poisoned = cpl.error.eq(RxError.POISONED);
  const checked = m.let('cpl_checked', known.and(sc).and(shapeOk).and(inSequence)); // in sequence
  const badShape = sc.and(shapeOk.not());

  const wrAddr = m.reg('wr_addr', dwb);
  const lastDw = m.reg('last_dw', dwb);
  const fbe = m.reg('first_be', 4);
  const lbe = m.reg('last_be', 4);
  const firstBeat = m.reg('first_beat', bit);
  const lastCpl = m.reg('last_cpl', bit);

  // The check's verdict (idle), applied a cycle later through these registers.
  const vAdv = m.wire('chk_adv', bit, { default: 0 });
  const vFree = m.wire('chk_free', bit, { default: 0 });
  const vErr = m.wire('chk_err', 3, { default: 0 });
  const vUnexpected = m.wire('chk_unexpected', bit, { default: 0 });
  const vUr = m.wire('chk_ur', bit, { default: 0 });
  const vCa = m.wire('chk_ca', bit, { default: 0 });
  const vPoisoned = m.wire('chk_poisoned', bit, { default: 0 });
  const errQ = m.reg('chk_err_q', 3, { reset: 0 });
  const unexpectedQ = m.reg('ev_unexpected_q', bit, { reset: 0 });
  const urQ = m.reg('ev_ur_q', bit, { reset: 0 });
  const caQ = m.reg('ev_ca_q', bit, { reset: 0 });
  const poisonedQ = m.reg('ev_poisoned_q', bit, { reset: 0 });
  advQ.next(vAdv);
  freeQ.next(vFree);
  errQ.next(vErr);
  unexpectedQ.next(vUnexpected);
  urQ.next(vUr);
  caQ.next(vCa);
  poisonedQ.next(vPoisoned);

  ramWr.valid.set(0);
  ev.unexpected.set(unexpectedQ);
  ev.ur.set(urQ);
  ev.ca.set(caQ);
  ev.poisoned.set(poisonedQ);
  o.cplErr.set(errQ);
  o.advEn.set(advQ);
  o.advTag.set(curTag);
  o.advTo.set(advToQ);
  o.freeEn.set(freeNow);
  o.freeTag.set(curTag);
  st.switch({
    idle: () => {
      // Where the completion's data goes, loaded whether or not it is taken (used in data only).
      curTag.next(idx);
      advToQ.next(bc.sub(carried)); // what the tag expects after this one (unless it is the last)
      wrAddr.next(first.bits(rb - 1, 2).zext(dwb));
      fbe.next(firstBeFrom(first.bits(1, 0)));
      lastDw.next(
        mux(
          isLast,
          tEndM1.bits(rb - 1, 2).zext(dwb),
          first
            .bits(rb - 1, 2)
            .zext(dwb)
            .add(f.lengthDw.zext(dwb))
            .sub(1),
        ),
      );
      lbe.next(mux(isLast, lastBeFrom(tEndM1.bits(1, 0)), lit(0xf, 4)));
      firstBeat.next(1);
      lastCpl.next(isLast);
      vUnexpected.set(go.and(known.not().or(sc.and(shapeOk).and(inSequence.not()))));
      vAdv.set(go.and(checked));
      vFree.set(go.and(known).and(sc.not().or(badShape).or(checked.and(poisoned).and(isLast))));
      vErr.set(
        mux(
          go.and(known),
          mux(
            status.eq(CplStatus.UR),
            lit(DmaError.UNSUPPORTED_REQUEST, 3),
            mux(
              status.eq(CplStatus.CA),
              lit(DmaError.COMPLETER_ABORT, 3),
              mux(
                sc.not().or(badShape),
                lit(DmaError.BAD_COMPLETION, 3),
                mux(inSequence.and(poisoned), lit(DmaError.POISONED, 3), lit(0, 3)),
              ),
            ),
          ),
          lit(0, 3),
        ),
      );
      vUr.set(go.and(known).and(status.eq(CplStatus.UR)));
      vCa.set(go.and(known).and(status.eq(CplStatus.CA)));
      vPoisoned.set(go.and(checked).and(poisoned));
      m.if(go, () => {
        m.if(checked.and(poisoned.not()), () => st.goto('data')).else(() => st.goto('drop'));
      });
    },
    data: () => {
      ramWr.valid.set(cpl.valid);
      cpl.take.set(ramWr.ready);
      m.if(cpl.valid.and(ramWr.ready), () => {
        wrAddr.next(wrAddr.add(L));
        firstBeat.next(0);
        m.if(cpl.eop, () => {
          eopFree.set(lastCpl);
          st.goto('idle');
        });
      });
    },
    drop: () => {
      cpl.take.set(1);
      m.if(cpl.valid.and(cpl.eop), () => st.goto('idle'));
    },
  });

  // Lane i of a beat holds dword wrAddr + i: written if present (keep) and not past the last dword, with
  // the first dword's and the last dword's byte enables applied.
  const bes: Expr[] = [];
  for (let i = 0; i < L; i++) {
    const a = wrAddr.add(i);
    const en = cpl.keep.bit(i).and(a.le(lastDw));
    const firstMask = i === 0 ? mux(firstBeat, fbe, lit(0xf, 4)) : lit(0xf, 4);
    const be = mux(en, firstMask.and(mux(a.eq(lastDw), lbe, lit(0xf, 4))), lit(0, 4));
    bes.unshift(be);
  }
  ramWr.addr.set(wrAddr.trunc(rb - 2));
  ramWr.data.set(cpl.data);
  ramWr.be.set(cat(...bes));
  return st;
}

export const DmaRd = defineModule(
  'pcie_dma_rd',
  (m, p: DmaRdParams) => {
    const T = p.tags;
    if (!Number.isInteger(T) || T < 1 || T > 256) throw paramError(`DmaRd: 1..256 tags, got ${T}`);
    const tw = log2ceil(T);
    const rb = p.ramLog2;

    // ---- ports
    const start = m.input('start', bit);
    const hostAddr = m.input('host_addr', 64);
    const ramAddr = m.input('ram_addr', rb);
    const len = m.input('len', p.lenBits);
    const busMaster = m.input('bus_master', bit);
    const mrrs = m.input('max_read_req', 3);
    const extTagEn = m.input('ext_tag_en', bit);
    const requesterId = m.input('requester_id', 16);
    const timeout = m.input('timeout', p.timeoutBits);
    const busyOut = m.output('busy', bit);
    const done = m.output('done', bit);
    const error = m.output('error', 3);
    const outstanding = m.output('outstanding', bit);
    const req = m.output('req', tlpStream(p.W));
    const cpl = m.input('cpl', tlpRxStream(p.W));
    const ramWr = m.output('ram_wr', ramWrite(p.W, rb - 2));
    const evUnexpected = m.output('ev_unexpected', bit);
    const evUr = m.output('ev_ur', bit);
    const evCa = m.output('ev_ca', bit);
    const evPoisoned = m.output('ev_poisoned', bit);

    // ---- transfer state
    const tr: Transfer = {
      busy: m.reg('running', bit, { reset: 0 }),
      err: m.reg('err', 3, { reset: 0 }),
      host: m.reg('host', 64),
      ram: m.reg('ram', rb + 1),
      rem: m.reg('rem', p.lenBits, { reset: 0 }),
    };

    // ---- per-tag bookkeeping
    const tags = tagTable(m, T, rb, p.timeoutBits);

    // A completion path error, a tag freed by it, and a tag moved on past a completion, decided below.
    const cplErr = m.wire('cpl_err', 3, { default: 0 });
    const freeEn = m.wire('free_en', bit, { default: 0 });
    const freeTag = m.wire('free_tag', tw, { default: 0 });
    const advEn = m.wire('adv_en', bit, { default: 0 });
    const advTag = m.wire('adv_tag', tw, { default: 0 });
    const advTo = m.wire('adv_to', 13, { default: 0 });

    // ---- request issue
    const rd = issueReads(m, tr, tags, { req, busMaster, extTagEn, mrrs, requesterId, rb, lenBits: p.lenBits });
    updateTags(
      m,
      tags,
      {
        en: rd.issue,
        tag: rd.alloc,
        bytes: rd.chunk,
        end: tr.ram.add(rd.chunk.zext(rb + 1)),
        hostEnd: tr.host.bits(6, 0).add(rd.chunk.bits(6, 0)),
        timeout,
      },
      { en: advEn, tag: advTag, to: advTo },
      { en: freeEn, tag: freeTag },
    );

    // ---- completions
    const cplSt = receiveCompletions(m, tags, {
      cpl,
      ramWr,
      rb,
      ev: { unexpected: evUnexpected, ur: evUr, ca: evCa, poisoned: evPoisoned },
      cplErr,
      freeEn,
      freeTag,
      advEn,
      advTag,
      advTo,
    });

    // ---- errors, done
    const newErr = mux(
      cplErr.ne(0),
      cplErr,
      mux(
        tags.anyTimeout,
        lit(DmaError.TIMEOUT, 3),
        mux(tr.busy.and(busMaster.not()).and(tr.rem.ne(0)), lit(DmaError.BUS_MASTER_DISABLED, 3), lit(0, 3)),
      ),
    );
    const anyValid = orAll(...tags.valid.items);
    const finishing = m.let(
      'finishing',
      tr.busy.and(rd.stop).and(anyValid.not()).and(cplSt.is('idle')).and(rd.reqValid.not()),
    );
    m.if(start.and(tr.busy.not()), () => {
      tr.busy.next(1);
      tr.err.next(mux(busMaster, lit(DmaError.NONE, 3), lit(DmaError.BUS_MASTER_DISABLED, 3)));
      tr.host.next(hostAddr);
      tr.ram.next(ramAddr.zext(rb + 1));
      tr.rem.next(len);
    })
      .elseIf(finishing, () => tr.busy.next(0))
      .elseIf(tr.err.eq(0).and(newErr.ne(0)), () => tr.err.next(newErr));

    // `done` leaves from a register (the end test, the tag scan and the error are one path otherwise); busy
    // covers that cycle, so the transfer never reads as neither busy nor done.
    const doneQ = m.reg('done_q', bit, { reset: 0 });
    doneQ.next(finishing);
    busyOut.set(tr.busy.or(doneQ));
    done.set(doneQ);
    error.set(tr.err);
    outstanding.set(anyValid);
    return {
      start,
      host_addr: hostAddr,
      ram_addr: ramAddr,
      len,
      bus_master: busMaster,
      max_read_req: mrrs,
      ext_tag_en: extTagEn,
      requester_id: requesterId,
      timeout,
      busy: busyOut,
      done,
      error,
      outstanding,
      req,
      cpl,
      ram_wr: ramWr,
      ev_unexpected: evUnexpected,
      ev_ur: evUr,
      ev_ca: evCa,
      ev_poisoned: evPoisoned,
    };
  },
  {
    name: (p) => `pcie_dma_rd_w${p.W}_t${p.tags}`,
    doc: 'DMA read engine: host memory -> device RAM; MRd split at MRRS/4 KB, tagged, completions placed by tag and byte count.',
  },
);
