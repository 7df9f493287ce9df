// The virtio-blk device's side of the DMA write engine's reads (gen/blk/device.ts): each line from the scratch
// image (status bytes, the identification string) or from storage, answered in request order.
import { bit, cat, type Expr, lit, type ModuleBuilder, mux } from '../hdl';
import { Fifo } from '../lib/fifo';
import { BLK_ID_BYTES, BLK_S } from './defs';
import type { BlkIo, BlkSlots } from './device';
import { BLK_SCRATCH, type BlkCore } from './params';
import type { BlkScratch } from './scratch';

// ---- reads: each line from the scratch image or storage, answered in request order
// What a scratch line reads: slot k's status byte at 16 of its scratch, the id at 32 of slot 0's, else 0.
// The status byte is looked up when the line is asked for (it is final by then: the status stage issues the
// write that reads it), so the answer only places it.
// The answer is in word order (gen/blk/line_axi.ts: the storage port's `rdata`), as the DMA write engine is told
// for the device's region (`wordOrder`): its low half is the access's even line, its high half its odd line. So
// a storage half is LineAxi's half as it is, and a scratch line's contents depend on its parity only: the status
// byte's line has one parity, and the id's lines are each of a fixed parity (a slot's scratch is an even number
export function lineReads(m: ModuleBuilder, bc: BlkCore, io: BlkIo, s: BlkSlots, scratch: BlkScratch) {
  const { g, B, lineBits, W, sb } = bc;
  const { memRd, la } = io;
  const { statusBytes, sErr } = s;
  const { inSlots, slotLineBits } = scratch;
  // of lines), so each half places only what lines of its parity hold.
  const rdOdd = memRd.addr.bit(0);
  const rdEvenLine = cat(memRd.addr.bits(lineBits - 1, 1).add(rdOdd.zext(lineBits - 1)), lit(0, 1));
  const rdOddLine = cat(memRd.addr.bits(lineBits - 1, 1), lit(1, 1));
  const statusLine = Math.floor(BLK_SCRATCH.status / B);
  const statusLane = BLK_SCRATCH.status % B;
  const statusPar = statusLine % 2;
  const lisBits = slotLineBits - 1; // a line's index in its slot's scratch, without its parity bit
  // A half: {scratch, in a slot's scratch, slot 0, line in the slot without its parity, slot, the slot's status
  // byte (the status line's parity only)}.
  const askHalf = (line: Expr, par: number) => {
    const scratch = line.bit(lineBits - 1);
    const k = line.bits(lineBits - 2, 0);
    const slot = k.bits(sb + slotLineBits - 1, slotLineBits);
    const fields: Expr[] = [scratch, inSlots(k), slot.eq(0)];
    if (lisBits > 0) fields.push(k.bits(slotLineBits - 1, 1));
    fields.push(slot);
    if (par === statusPar) fields.push(statusBytes.readAsync(slot));
    return cat(...fields);
  };
  const halfOf = (h: Expr, par: number) => {
    let hi = h.width - 1;
    const take = (w: number) => {
      const v = h.bits(hi, hi - w + 1);
      hi -= w;
      return v;
    };
    const scratch = take(1);
    const inImage = take(1);
    const slot0 = take(1);
    const lisHi = lisBits > 0 ? take(lisBits) : undefined;
    const slot = take(sb);
    const status = par === statusPar ? take(8) : undefined;
    return { scratch, inImage, slot0, lis: lisHi ? cat(lisHi, lit(par, 1)) : lit(par, 1), slot, status };
  };
  const evenAsk = askHalf(rdEvenLine, 0);
  const oddAsk = askHalf(rdOddLine, 1);
  const order = m.instance('rd_order', Fifo, { width: 1 + evenAsk.width + oddAsk.width, depth: 16 }).io;
  const rdStorage = rdEvenLine
    .bit(lineBits - 1)
    .and(rdOddLine.bit(lineBits - 1))
    .not();
  // Ready from registers only (a scratch read also waits for room in the storage read queue), as for mem_wr.
  const canAsk = order.enq.ready.and(la.rd.ready);
  memRd.ready.set(canAsk);
  order.enq.valid.set(memRd.valid.and(canAsk));
  order.enq.data.set(cat(rdOdd, oddAsk, evenAsk));
  la.rd.valid.set(memRd.valid.and(rdStorage).and(order.enq.ready));
  la.rd.data.set(memRd.addr.trunc(lineBits - 1));
  const idLines = new Map<number, Expr>();
  for (let c = Math.floor(BLK_SCRATCH.id / B); c <= Math.floor((BLK_SCRATCH.id + BLK_ID_BYTES - 1) / B); c++) {
    const bytes: Expr[] = [];
    for (let j = c * B + B - 1; j >= c * B; j--) {
      const i = j - BLK_SCRATCH.id;
      bytes.push(lit(i >= 0 && i < BLK_ID_BYTES ? (g.id[i] ?? 0) : 0, 8));
    }
    idLines.set(c, cat(...bytes));
  }
  const head = order.deq.data;
  const headOddFirst = head.bit(head.width - 1);
  const hOdd = halfOf(head.bits(head.width - 2, evenAsk.width), 1);
  const hEven = halfOf(head.bits(evenAsk.width - 1, 0), 0);
  const par = statusPar === 0 ? hEven : hOdd;
  const other = statusPar === 0 ? hOdd : hEven;
  const lineOf = (h: ReturnType<typeof halfOf>, hPar: number, status: Expr | undefined): Expr => {
    let v: Expr = status ? mux(h.lis.eq(statusLine), status.zext(W).shl(8 * statusLane), lit(0, W)) : lit(0, W);
    for (const [c, line] of idLines) if (c % 2 === hPar) v = v.or(mux(h.slot0.and(h.lis.eq(c)), line, lit(0, W)));
    return mux(h.inImage, v, lit(0, W));
  };
  const headStorage = hEven.scratch.and(hOdd.scratch).not();
  const rOutValid = m.reg('rd_out_valid', bit, { reset: 0 });
  const rOutData = m.reg('rd_out_data', 2 * W);
  la.rdata.ready.set(order.deq.valid.and(headStorage));
  const take = order.deq.valid.and(headStorage.not().or(la.rdata.valid));
  order.deq.ready.set(take);
  rOutValid.next(take);
  const st2 = la.rdata.data;
  // A storage read error (an IN's data) is pending until the next status write's read of its status line,
  // which is that IN's: an IN's (and GET_ID's) data commands are issued only while the status stage is empty
  // (decode's `blocked`), so on the write engine nothing comes between an IN's data and its status write. That
  // read answers IOERR and marks the slot (its used length becomes 1).
  // (A status write's access starts up to 3 bytes before the status byte, so its line is either of the access's
  // two; an access whose first line is storage is an IN's data, even when its second is slot 0's status line.)
  const rdErrPending = m.reg('rd_err_pending', bit, { reset: 0 });
  // The status line's half is the access's first line (the access is at a line of its parity) or its second
  // after a scratch line.
  const parFirst = statusPar === 1 ? headOddFirst : headOddFirst.not();
  const isStatus = par.scratch.and(par.inImage).and(par.lis.eq(statusLine)).and(parFirst.or(other.scratch));
  const failStatus = take.and(isStatus).and(rdErrPending);
  m.if(take.and(headStorage).and(la.rdata_err), () => rdErrPending.next(1)).elseIf(failStatus, () =>
    rdErrPending.next(0),
  );
  m.if(failStatus, () => sErr.nextAt(par.slot, 1));
  const statusOut = mux(isStatus.and(rdErrPending), lit(BLK_S.IOERR, 8), par.status!);
  const halfOut = (h: ReturnType<typeof halfOf>, hPar: number, lanes: Expr) =>
    mux(h.scratch, lineOf(h, hPar, hPar === statusPar ? statusOut : undefined), lanes);
  m.if(take, () => rOutData.next(cat(halfOut(hOdd, 1, st2.bits(2 * W - 1, W)), halfOut(hEven, 0, st2.bits(W - 1, 0)))));
  memRd.rvalid.set(rOutValid);
  memRd.rdata.set(rOutData);
}
