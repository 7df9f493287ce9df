// The storage port of virtio-blk: the DMA engines' two-line accesses (gen/dma/ports.ts lineWrite / lineRead,
// lines of W bits) on an AXI4 master of 2W bits (gen/lib/axi.ts), so a card can attach its DRAM. A word of the
// bus is two lines (an even line and the odd line after it): an access at an even line is one single-beat
// transaction; one at an odd line touches two words (the high half of one, the low half of the next), so it is
// two single-beat transactions (a write drops a word none of whose bytes are enabled). Single beats never cross
// a 4 KB boundary, and every transaction has the same ID, so read data comes back in order.
//
// Writes: a lineWrite queue, then each word's AW and W offered together (each may be taken first); `wr_pending`
// is high while a write has no response yet (the device waits for it before completing a request, so storage
// never acknowledges what a later read could miss). Reads: each request's words asked for on AR; the data
// assembled into an output register (`rdata`, valid/ready) in request order, in word order (below).
//
// `rdata` is in word order too: its low half is the access's even line, its high half its odd line (for an access at
// an odd line, the lines swapped), so each half of the output register takes only its own lanes of R (the high half
// also those of the last word R gave); the reader (the DMA write engine, given the device's region as `wordOrder`)
// puts the lines in order in its byte shifter.
//
// `wr.data` comes in word order, not line order: its low half is the access's even line, its high half its odd
// line (for an access at an odd line, `wr.data` is the lineWrite's data with its halves swapped; `wr.be` keeps
// line order). The owner swaps the lines once for its own block RAM banks (even and odd lines, as DmaRam) and
// for this port, so a word's bytes are where AXI wants them without a lane select here: a word's bytes outside
// its strobes carry the other line.
//
// A write that comes in with `wr_zero` writes zeroes in its enabled bytes, whatever its data (DISCARD /
// WRITE_ZEROES zeroing). `cp` is a whole word written as it is (all strobes; `cp_word` is its index), taken only while the queue is empty: the owner's copy of a block RAM to storage, whose
// words need no queue (the RAM's read register holds a word until it is taken). The zero and `cp.data` are the
// two other inputs of the data's one LUT per bit, so neither costs a 2W-bit mux of its own.
//
// Errors (a response other than OKAY): a read's output carries `rdata_err` when a word it was built from came
// back with one. A write's B with one is reported on `werr` (one cycle, the word's address and the tag the write
// came in with: `wr_zero`), so the owner can be found; the word addresses of the writes awaiting B are kept for
// that (at most 16 outstanding). `b_ready` lets the owner hold B while it looks one up.
import { bit, cat, defineModule, type Expr, lit, mux, paramError, stream } from '../hdl';
import { Fifo } from '../lib/fifo';
import { AXI_BURST, axi4, axiSize } from '../lib/axi';
import type { DataWidth } from '../pcie/streams';
import { lineWrite } from '../dma/ports';

export interface LineAxiParams {
  W: DataWidth;
  /** Bits of a storage byte address (the AXI address width). */
  addrBits: number;
  /** Reads in flight on AXI (request asked, data not yet out). */
  reads: number;
}

/** Lines of W bits in a storage of addrBits byte-address bits. */
export const storageLineBits = (W: DataWidth, addrBits: number): number => addrBits - Math.log2(W / 8);

export const LineAxi = defineModule(
  'line_axi',
  (m, p: LineAxiParams) => {
    const W = p.W;
    const lb = Math.log2(W / 8);
    const lineBits = storageLineBits(W, p.addrBits);
    if (lineBits < 2) throw paramError(`LineAxi: addrBits ${p.addrBits} leaves fewer than four lines at W=${W}`);
    const B = W / 8;
    const wr = m.input('wr', lineWrite(W, lineBits));
    const rd = m.input('rd', stream(lineBits));
    const rdata = m.output('rdata', stream(2 * W));
    const axi = m.output('axi', axi4(2 * W, p.addrBits));
    const wrPending = m.output('wr_pending', bit);
    // The write on `wr` is a zeroing one (DISCARD / WRITE_ZEROES): zeroes in its enabled bytes, its data ignored;
    // the tag is reported with a failed B.
    const wrZero = m.input('wr_zero', bit);
    const cp = m.input('cp', stream(2 * W));
    const cpWord = m.input('cp_word', lineBits - 1);
    const bReady = m.input('b_ready', bit);
    const werr = m.output('werr', bit);
    const werrZero = m.output('werr_zero', bit);
    const werrWord = m.output('werr_word', lineBits - 1);
    const rdataErr = m.output('rdata_err', bit);
    // Words taken (counted when their access is taken) and answered, modulo 2^16: a fence for a caller that
    // must know its writes are done while later ones keep coming.
    const wrAccepted = m.output('wr_accepted', 16);
    const wrAnswered = m.output('wr_answered', 16);
    const wordAddr = (k: Expr) => cat(k, lit(0, lb + 1));

    // ---- writes
    // Each entry carries whether each line has a byte (found on the way in, off the AXI handshake's path).
    const QW = lineBits + 2 * W + 2 * B + 3;
    const wq = m.instance('wr_queue', Fifo, { width: QW, depth: 2 }).io;
    const loAnyIn = wr.be.bits(B - 1, 0).orR();
    const hiAnyIn = wr.be.bits(2 * B - 1, B).orR();
    wq.enq.valid.set(wr.valid);
    wq.enq.data.set(cat(wrZero, wr.addr, wr.data, wr.be, hiAnyIn, loAnyIn));
    wr.ready.set(wq.enq.ready);
    const qa = wq.deq.data.bits(QW - 2, QW - 1 - lineBits);
    const qZero = wq.deq.data.bit(QW - 1);
    const qd = wq.deq.data.bits(2 * W + 2 * B + 1, 2 * B + 2);
    const qbe = wq.deq.data.bits(2 * B + 1, 2);
    const odd = qa.bit(0);
    const k = qa.bits(lineBits - 1, 1);
    const loBe = qbe.bits(B - 1, 0);
    const hiBe = qbe.bits(2 * B - 1, B);
    // The second word of an odd access is pending (its first was sent or had no bytes).
    const second = m.reg('w_second', bit, { reset: 0 });
    const needFirst = odd.not().or(wq.deq.data.bit(0));
    const needSecond = odd.and(wq.deq.data.bit(1));
    const onSecond = second.or(needFirst.not());
    // The queue's head goes first; `cp` only while the queue is empty (and a `cp` word whose AW or W was taken
    // stays the word until both are, whatever comes into the queue meanwhile).
    const awSent = m.reg('aw_sent', bit, { reset: 0 });
    const wSent = m.reg('w_sent', bit, { reset: 0 });
    const cpMid = m.reg('w_cp_mid', bit, { reset: 0 });
    const qv = m.let('w_from_queue', wq.deq.valid.and(cpMid.not()));
    const word = m.let('w_word', mux(qv, mux(onSecond, k.add(1), k), cpWord));
    // The data is in word order already (an odd access's lines are in the other halves of its two words); the
    // bytes of the half a word does not take are masked by its strobes.
    const data = mux(qv, mux(qZero, lit(0, 2 * W), qd), cp.data);
    const strb = mux(
      qv,
      mux(odd, mux(onSecond, cat(lit(0, B), hiBe), cat(loBe, lit(0, B))), qbe),
      lit((1n << BigInt(2 * B)) - 1n, 2 * B),
    );
    const hasWord = qv.and(needFirst.or(needSecond)).or(qv.not().and(cp.valid));
    const pending = m.reg('w_pending', 8, { reset: 0 });
    // The outstanding writes' words (and tags), in AW order: B answers them in that order (one ID).
    const awInfo = m.instance('aw_info', Fifo, { width: lineBits, depth: 16 }).io;
    const room = awInfo.enq.ready;
    axi.awvalid.set(hasWord.and(awSent.not()).and(room));
    axi.awaddr.set(wordAddr(word));
    axi.awlen.set(0);
    axi.awsize.set(axiSize(2 * W));
    axi.awburst.set(AXI_BURST.INCR);
    // W needs no room (the slave may take write data ahead of its address), and once high must stay high.
    axi.wvalid.set(hasWord.and(wSent.not()));
    axi.wdata.set(data);
    axi.wstrb.set(strb);
    axi.wlast.set(1);
    axi.bready.set(bReady);
    const awDone = awSent.or(axi.awready.and(axi.awvalid));
    const wDone = wSent.or(axi.wready.and(axi.wvalid));
    const wordDone = m.let('w_word_done', hasWord.and(awDone).and(wDone));
    m.if(wordDone, () => {
      awSent.next(0);
      wSent.next(0);
      cpMid.next(0);
    }).else(() => {
      m.if(axi.awready.and(axi.awvalid).or(axi.wready.and(axi.wvalid)), () => cpMid.next(qv.not()));
      m.if(axi.awready.and(axi.awvalid), () => awSent.next(1));
      m.if(axi.wready.and(axi.wvalid), () => wSent.next(1));
    });
    // The entry leaves after its last word (or at once when it has none).
    const lastWord = onSecond.or(needSecond.not());
    wq.deq.ready.set(qv.and(hasWord.not().or(wordDone.and(lastWord))));
    m.if(wordDone.and(qv), () => second.next(lastWord.not()));
    const cpFire = qv.not().and(wordDone);
    cp.ready.set(cpFire);
    const awFire = axi.awready.and(axi.awvalid);
    const bFire = axi.bvalid.and(bReady);
    awInfo.enq.valid.set(awFire);
    awInfo.enq.data.set(cat(qv.and(qZero), word));
    awInfo.deq.ready.set(bFire);
    werr.set(bFire.and(axi.bresp.ne(0)));
    werrZero.set(awInfo.deq.data.bit(lineBits - 1));
    werrWord.set(awInfo.deq.data.bits(lineBits - 2, 0));
    m.if(awFire.and(bFire.not()), () => pending.next(pending.inc())).elseIf(awFire.not().and(bFire), () =>
      pending.next(pending.dec()),
    );
    wrPending.set(pending.ne(0).or(wq.deq.valid));
    const accepted = m.reg('w_accepted', 16, { reset: 0 });
    const answered = m.reg('w_answered', 16, { reset: 0 });
    const inOdd = wr.addr.bit(0);
    const inWords = mux(inOdd, loAnyIn.zext(2).add(hiAnyIn.zext(2)), lit(1, 2));
    // (A `cp` word is taken only while the queue is empty, so in practice never with a queued access.)
    const enqWords = mux(wr.valid.and(wq.enq.ready), inWords, lit(0, 2));
    m.if(wr.valid.and(wq.enq.ready).or(cpFire), () =>
      accepted.next(accepted.add(enqWords.zext(16)).add(cpFire.zext(16))),
    );
    m.if(bFire, () => answered.next(answered.inc()));
    wrAccepted.set(accepted);
    wrAnswered.set(answered);

    // ---- reads
    // The output is in word order, as the write side's input: its low half is the access's even line, its high half
    // its odd line. So the low half of the output register takes only the low lanes of R (an access's last word),
    // and the high half the high lanes of R or of the last word R gave (`r_prev_hi`: an odd access's first word,
    // or a reused word): one 2:1 select on the high half only (a line-order output had one on every bit: the
    // odd-line join and the reused word). The DMA write engine puts the lines back in order in its byte shifter
    // (gen/dma/write_engine.ts wordOrder).
    // The last word asked for is reused when the next access starts with it: a stream of reads at successive lines
    // (the write engine's beats) asks for each word once. Any storage write forgets it. The last word asked for is
    // the previous access's last word, so the comparison is made when an access is queued (`r_prev_last`: the last
    // word of the access queued before), off the AR handshake's path. A reused word's low half is the output
    // register's already (it was the previous access's last word).
    const rq = m.instance('rd_queue', Fifo, { width: lineBits + 1, depth: 2 }).io;
    const prevLast = m.reg('r_prev_last', lineBits - 1);
    const inK = rd.data.bits(lineBits - 1, 1);
    rq.enq.valid.set(rd.valid);
    rq.enq.data.set(cat(rd.data, inK.eq(prevLast)));
    rd.ready.set(rq.enq.ready);
    m.if(rq.enq.fire(), () => prevLast.next(mux(rd.data.bit(0), inK.add(1), inK)));
    const info = m.instance('rd_info', Fifo, { width: 2, depth: p.reads }).io;
    const ra = rq.deq.data.bits(lineBits, 1);
    const rOdd = ra.bit(0);
    const rk = ra.bits(lineBits - 1, 1);
    const lastArValid = m.reg('ar_last_valid', bit, { reset: 0 });
    const arSecond = m.reg('ar_second', bit, { reset: 0 });
    const reuse = lastArValid.and(rq.deq.data.bit(0));
    const firstStep = arSecond.not();
    const skipFirst = firstStep.and(reuse);
    const arWord = mux(arSecond.or(skipFirst), rk.add(1), rk);
    const wantAr = rq.deq.valid.and(arSecond.or(reuse.not()).or(rOdd));
    // The first step enqueues the access's info, so it needs room there.
    axi.arvalid.set(wantAr.and(arSecond.or(info.enq.ready)));
    axi.araddr.set(wordAddr(arWord));
    axi.arlen.set(0);
    axi.arsize.set(axiSize(2 * W));
    axi.arburst.set(AXI_BURST.INCR);
    const arFire = axi.arvalid.and(axi.arready);
    const noAr = rq.deq.valid.and(firstStep).and(reuse).and(rOdd.not()).and(info.enq.ready);
    info.enq.valid.set(arFire.and(firstStep).or(noAr));
    info.enq.data.set(cat(rOdd, reuse));
    const arLast = arSecond.or(rOdd.not()).or(skipFirst);
    rq.deq.ready.set(arFire.and(arLast).or(noAr));
    m.if(arFire, () => {
      arSecond.next(arLast.not());
      lastArValid.next(1);
    });
    m.if(wq.enq.fire().or(cpFire), () => lastArValid.next(0));

    const outValid = m.reg('out_valid', bit, { reset: 0 });
    const outLo = m.reg('out_lo', W);
    const outHi = m.reg('out_hi', W);
    const errLo = m.reg('out_err_lo', bit, { reset: 0 });
    const errHi = m.reg('out_err_hi', bit, { reset: 0 });
    const prevHi = m.reg('r_prev_hi', W);
    const prevErr = m.reg('r_prev_err', bit, { reset: 0 });
    const rBad = axi.rresp.ne(0);
    const haveFirst = m.reg('r_have_first', bit, { reset: 0 });
    const outFree = outValid.not().or(rdata.ready);
    const iOdd = info.deq.data.bit(1);
    const iReuse = info.deq.data.bit(0);
    const zeroBeats = info.deq.valid.and(iOdd.not()).and(iReuse);
    const completes = iOdd.not().or(haveFirst).or(iReuse);
    axi.rready.set(info.deq.valid.and(zeroBeats.not()).and(completes.not().or(outFree)));
    const rFire = axi.rvalid.and(axi.rready);
    const finish = rFire.and(completes).or(zeroBeats.and(outFree));
    info.deq.ready.set(finish);
    // The high half: an even access's word from R, else (an odd access's first word, a reused word) the last word R
    // gave. The low half: the access's last word from R, or kept (a reused word is the previous access's last).
    m.if(finish, () => {
      outValid.next(1);
      const fromPrev = zeroBeats.or(iOdd);
      outHi.next(mux(fromPrev, prevHi, axi.rdata.bits(2 * W - 1, W)));
      errHi.next(mux(fromPrev, prevErr, rBad));
      haveFirst.next(0);
    }).elseIf(rFire, () => haveFirst.next(1));
    m.if(rFire.and(completes), () => {
      outLo.next(axi.rdata.bits(W - 1, 0));
      errLo.next(rBad);
    });
    m.if(rFire, () => {
      prevHi.next(axi.rdata.bits(2 * W - 1, W));
      prevErr.next(rBad);
    });
    m.if(finish.not().and(rdata.ready), () => outValid.next(0));
    rdata.valid.set(outValid);
    rdata.data.set(cat(outHi, outLo));
    rdataErr.set(errHi.or(errLo));
    return {
      wr,
      rd,
      rdata,
      axi,
      wr_pending: wrPending,
      wr_accepted: wrAccepted,
      wr_answered: wrAnswered,
      wr_zero: wrZero,
      cp,
      cp_word: cpWord,
      b_ready: bReady,
      werr,
      werr_zero: werrZero,
      werr_word: werrWord,
      rdata_err: rdataErr,
    };
  },
  {
    name: (p) => `line_axi_w${p.W}_a${p.addrBits}_r${p.reads}`,
    doc: 'Two-line accesses of the DMA engines on an AXI4 master of twice the line width (virtio-blk storage).',
  },
);
