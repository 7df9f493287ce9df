// The BAR access engine of the virtio endpoint: turns each memory request that hit a BAR (and each PCI_CFG
// window access) into a sequence of one-dword operations for the register file (regs.ts), one per cycle, in
// address order, and answers reads with one completion.
//
//   idle   take a window access (first: it was accepted by configuration space before any later memory
//          request), or the sop beat of a memory request when configuration space is not busy; tell the
//          register file to sample its selectors (choices.ts "partialWrites": once per access);
//   check  claim it (tb/virtio/golden/choices.ts "claimWholeRequestOnly": every byte inside the BAR, else
//          Unsupported Request: UR completion for a read, a write dropped); reads longer than `maxReadDw` get
//          Completer Abort (one completion must fit the smallest Max_Payload_Size; choices.ts "longReads");
//          poisoned writes are dropped (Detected Parity Error);
//   rd/wr  one op per cycle: the dword, its byte enables (a read's span from its first to its last enabled
//          byte: choices.ts "readSpan"; a write's First/Last DW BE), the write data lane by lane;
//   drain  wait for the register file's pipeline (BarRegsLatency cycles) to finish;
//   emit   the read data, collected dword by dword into one LUTRAM bank per lane, as completion beats.
// Requests are served one at a time in arrival order, so a read never passes an earlier write (2.4.1).
import { bit, cat, defineModule, type Expr, lit, log2ceil, mux, paramError, select } from '../hdl';
import { cplReqStream, type DataWidth, lanesOf, RxError, tlpRxStream } from '../pcie/streams';
import { CplStatus, firstBeFrom, highestBe, lastBeFrom, lowestBe, tlpFields } from '../pcie/tlp';
import type { BarDef } from './layout';
import { barDwordBits, barOp, pciCfgWindow } from './ports';

/** Cycles from an op leaving the access engine to its read data (regs.ts: decode, then execute). */
export const BAR_REGS_LATENCY = 2;

export interface VirtioAccessParams {
  W: DataWidth;
  bars: readonly BarDef[];
  /** Longest read answered (dwords); longer reads get Completer Abort. */
  maxReadDw: number;
}

const laneOf = (v: Expr, i: number) => v.bits(32 * i + 31, 32 * i);

export const VirtioAccess = defineModule(
  'virtio_access',
  (m, p: VirtioAccessParams) => {
    const L = lanesOf(p.W);
    const aw = barDwordBits(p.bars);
    if (!Number.isInteger(Math.log2(p.maxReadDw)) || p.maxReadDw < L || p.maxReadDw > 1024)
      throw paramError(`VirtioAccess: maxReadDw ${p.maxReadDw} must be a power of two from ${L} to 1024`);

    const req = m.input('req', tlpRxStream(p.W));
    const cpl = m.output('cpl', cplReqStream(p.W));
    const win = m.input('win', pciCfgWindow(aw));
    const op = m.output('op', barOp(aw));
    const rdValid = m.input('rd_valid', bit);
    const rdData = m.input('rd_data', 32);
    /** Pulse at the start of an access: the register file samples its selectors. */
    const latchSel = m.output('latch_sel', bit);
    const cfgBusy = m.input('cfg_busy', bit);
    const idle = m.output('idle', bit);
    const evUr = m.output('ev_ur', bit);
    const evCa = m.output('ev_ca', bit);
    const evPoisoned = m.output('ev_poisoned', bit);

    const st = m.fsm('state', ['idle', 'check', 'rd', 'wr', 'wr_fetch', 'drop', 'drain', 'emit', 'err'] as const);
    const hdr = m.reg('hdr', 128);
    const bar = m.reg('bar', 3);
    const len = m.reg('len', 11);
    const left = m.reg('left', 11);
    const fbe = m.reg('fbe', 4);
    const lbe = m.reg('lbe', 4);
    const isWrite = m.reg('is_write', bit);
    const isWin = m.reg('is_win', bit, { reset: 0 });
    const poisoned = m.reg('poisoned', bit);
    const eopSeen = m.reg('eop_seen', bit);
    const beat = m.reg('beat', p.W);
    const lane = m.reg('lane', log2ceil(L));
    const first = m.reg('first', bit);
    const beFirst = m.reg('be_first', 4);
    const beLast = m.reg('be_last', 4);
    const status = m.reg('status', 3);

    // ---- the op register (the register file's input)
    const opValid = m.reg('op_valid_q', bit, { reset: 0 });
    const opWrite = m.reg('op_write_q', bit);
    const opBar = m.reg('op_bar_q', 3);
    const opDw = m.reg('op_dw_q', aw);
    const opBe = m.reg('op_be_q', 4);
    const opData = m.reg('op_wdata_q', 32);
    op.valid.set(opValid);
    op.write.set(opWrite);
    op.bar.set(opBar);
    op.dw.set(opDw);
    op.be.set(opBe);
    op.wdata.set(opData);
    opValid.next(0);

    // ---- ops in flight in the register file (fixed latency)
    const inflight = m.reg('inflight', BAR_REGS_LATENCY, { reset: 0 });
    inflight.next(cat(inflight.bits(BAR_REGS_LATENCY - 2, 0), opValid));
    const drained = opValid.not().and(inflight.orR().not());

    // ---- defaults
    req.ready.set(0);
    win.ready.set(0);
    latchSel.set(0);
    evUr.set(0);
    evCa.set(0);
    evPoisoned.set(0);
    idle.set(st.is('idle'));

    const f = tlpFields(req.hdr);
    const issue = (write: boolean, be: Expr, data: Expr) => {
      opValid.next(1);
      opWrite.next(write ? 1 : 0);
      opBar.next(bar);
      opBe.next(be);
      opData.next(data);
    };
    const isLast = left.eq(1);
    const opDwNext = m.reg('dw', aw); // the next op's dword
    const spanFrom = (b: Expr) => firstBeFrom(lowestBe(b));
    const spanTo = (b: Expr) => lastBeFrom(highestBe(b));

    // ---- read data: dword k into bank k mod L at k / L; then the completion beats
    const depth = p.maxReadDw / L;
    const cntBits = log2ceil(p.maxReadDw);
    const laneBits = log2ceil(L);
    const cnt = m.reg('rd_cnt', cntBits);
    const beatIdx = m.reg('beat_idx', Math.max(1, cntBits - laneBits));
    const sendLeft = m.reg('send_left', 11);
    const sop = m.reg('send_sop', bit);
    m.if(st.is('check'), () => {
      cnt.next(0);
      beatIdx.next(0);
      sendLeft.next(len);
      sop.next(1);
    });
    const banks: Expr[] = [];
    for (let i = 0; i < L; i++) {
      const bank = m.memory(`rbank${i}`, { width: 32, depth: Math.max(depth, 2) });
      const addrBits = log2ceil(Math.max(depth, 2));
      const wAddr =
        L === p.maxReadDw
          ? lit(0, addrBits)
          : cnt
              .bits(cntBits - 1, laneBits)
              .zext(addrBits)
              .trunc(addrBits);
      const laneHit = L === 1 ? lit(1, 1) : cnt.bits(laneBits - 1, 0).eq(i);
      bank.write(wAddr, rdData, rdValid.and(isWin.not()).and(laneHit));
      banks.push(bank.readAsync(beatIdx.zext(addrBits).trunc(addrBits)));
    }
    m.if(rdValid, () => cnt.next(cnt.inc()));
    const lastBeat = sendLeft.le(L);
    let keep: Expr = lit((1 << L) - 1, L);
    for (let n = L - 1; n >= 1; n--) keep = mux(sendLeft.eq(n), lit((1 << n) - 1, L), keep);
    const emitting = st.is('emit');
    cpl.valid.set(emitting.or(st.is('err')));
    cpl.hdr.set(hdr);
    cpl.status.set(mux(emitting, lit(CplStatus.SC, 3), status));
    cpl.data.set(cat(...[...banks].reverse()));
    cpl.keep.set(mux(emitting, mux(lastBeat, keep, lit((1 << L) - 1, L)), lit(0, L)));
    cpl.sop.set(mux(emitting, sop, lit(1, 1)));
    cpl.eop.set(mux(emitting, lastBeat, lit(1, 1)));
    m.if(emitting.and(cpl.ready), () => {
      sop.next(0);
      sendLeft.next(sendLeft.sub(L));
      beatIdx.next(beatIdx.inc());
    });

    st.switch({
      idle: () => {
        m.if(win.valid, () => {
          // A PCI_CFG window access: one op, always claimed (the window checked its target).
          win.ready.set(1);
          latchSel.set(1);
          isWin.next(1);
          isWrite.next(win.write);
          opValid.next(1);
          opWrite.next(win.write);
          opBar.next(win.bar);
          opDw.next(win.dw);
          opBe.next(win.be);
          opData.next(win.wdata);
          st.goto('drain');
        }).elseIf(req.valid.and(req.sop).and(cfgBusy.not()), () => {
          req.ready.set(1);
          latchSel.set(1);
          isWin.next(0);
          hdr.next(req.hdr);
          bar.next(req.bar);
          opDwNext.next(req.offset.bits(aw + 1, 2));
          len.next(f.lengthDw);
          left.next(f.lengthDw);
          fbe.next(f.firstBe);
          lbe.next(f.lastBe);
          isWrite.next(f.hasData);
          poisoned.next(req.error.eq(RxError.POISONED));
          eopSeen.next(req.eop);
          beat.next(req.data);
          lane.next(0);
          first.next(1);
          st.goto('check');
        });
      },
      check: () => {
        // Every byte inside the BAR: the last dword's index is below the BAR's size in dwords.
        const ew = Math.max(aw, 11) + 1;
        const end = opDwNext.zext(ew).add(len.zext(ew));
        let claimed: Expr = lit(0, 1);
        for (const b of p.bars) claimed = claimed.or(bar.eq(b.index).and(end.le(b.size / 4)));
        const single = len.eq(1);
        beFirst.next(
          mux(isWrite, fbe, mux(single, mux(fbe.eq(0), lit(0, 4), spanFrom(fbe).and(spanTo(fbe))), spanFrom(fbe))),
        );
        beLast.next(mux(isWrite, lbe, spanTo(lbe)));
        m.if(isWrite, () => {
          m.if(claimed.not().or(poisoned), () => {
            evUr.set(claimed.not());
            evPoisoned.set(claimed.and(poisoned));
            m.if(eopSeen, () => st.goto('idle')).else(() => st.goto('drop'));
          }).else(() => st.goto('wr'));
        })
          .elseIf(claimed.not(), () => {
            evUr.set(1);
            status.next(CplStatus.UR);
            st.goto('err');
          })
          .elseIf(len.gt(p.maxReadDw), () => {
            evCa.set(1);
            status.next(CplStatus.CA);
            st.goto('err');
          })
          .else(() => st.goto('rd'));
      },
      rd: () => {
        issue(false, mux(first, beFirst, mux(isLast, beLast, lit(0xf, 4))), lit(0, 32));
        opDw.next(opDwNext);
        opDwNext.next(opDwNext.inc());
        first.next(0);
        left.next(left.dec());
        m.if(isLast, () => st.goto('drain'));
      },
      wr: () => {
        const data = selectLane(beat, lane, L);
        issue(true, mux(first, beFirst, mux(isLast, beLast, lit(0xf, 4))), data);
        opDw.next(opDwNext);
        opDwNext.next(opDwNext.inc());
        first.next(0);
        left.next(left.dec());
        lane.next(lane.add(1));
        m.if(isLast, () => st.goto('drain')).elseIf(lane.eq(L - 1), () => st.goto('wr_fetch'));
      },
      wr_fetch: () => {
        req.ready.set(1);
        m.if(req.valid, () => {
          beat.next(req.data);
          lane.next(0);
          eopSeen.next(req.eop);
          st.goto('wr');
        });
      },
      drop: () => {
        req.ready.set(1);
        m.if(req.valid.and(req.eop), () => st.goto('idle'));
      },
      drain: () => {
        m.if(drained, () => {
          m.if(isWin.or(isWrite), () => st.goto('idle')).else(() => st.goto('emit'));
        });
      },
      emit: () => {
        m.if(cpl.ready.and(sendLeft.le(L)), () => st.goto('idle'));
      },
      err: () => m.if(cpl.ready, () => st.goto('idle')),
    });

    // ---- the window's answer: the op's read data (or "written") when it leaves the register file
    win.done.set(isWin.and(inflight.bit(BAR_REGS_LATENCY - 1)));
    win.rdata.set(rdData);

    return {
      req,
      cpl,
      win,
      op,
      rd_valid: rdValid,
      rd_data: rdData,
      latch_sel: latchSel,
      cfg_busy: cfgBusy,
      idle,
      ev_ur: evUr,
      ev_ca: evCa,
      ev_poisoned: evPoisoned,
    };
  },
  {
    name: (p) => `virtio_access_w${p.W}_${p.bars.map((b) => `b${b.index}s${Math.log2(b.size)}`).join('_')}`,
    doc: 'virtio endpoint BAR access engine: memory requests and PCI_CFG window accesses as one-dword ops.',
  },
);

/** Lane `lane` of a beat (a case over the lanes: a balanced multiplexer). */
function selectLane(beat: Expr, lane: Expr, L: number): Expr {
  return select(
    lane,
    Array.from({ length: L }, (_x, i) => laneOf(beat, i)),
  );
}
