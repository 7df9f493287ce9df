// The virtio-blk device's front end (gen/blk/device.ts): chains into request slots, and their headers' DMA reads.
import { bit, cat, lit, type ModuleBuilder, mux } from '../hdl';
import { BLK_HDR_SIZE } from './defs';
import type { BlkIo, BlkSlots } from './device';
import type { BlkCore } from './params';
import { blkWalker } from './walker';

// ---- front end: a chain into a free slot, then its header's DMA reads issued (not waited for)
// What it learns about a chain it writes once into the slot's memories (BlkSlots); with staging it also starts
// the read-ahead of an OUT's data. It issues its header reads and does not wait for them (the back end does).
export function frontEnd(m: ModuleBuilder, bc: BlkCore, io: BlkIo, s: BlkSlots) {
  const { p, S, N, D, db, stage, advanceSlot, captureAt } = bc;
  const { chain } = io;
  const { descs, fHead, used, sReady, hdrDone, sErr, slotInfo, slotStatusAt, slotUsed } = s;
  const fst = m.fsm('f_state', ['recv', 'store', 'hdr'] as const);
  const fCnt = m.reg('f_count', 16, { reset: 0 });
  const fRd = m.reg('f_readable', N, { reset: 0 });
  const fWr = m.reg('f_writable', N, { reset: 0 });
  // The status byte's host address: the last byte of the last non-empty writable descriptor.
  const fStatusAt = m.reg('f_status_at', 64);
  const fQueue = m.reg('f_queue', p.queueBits);
  const fId = m.reg('f_id', 16);
  const fSlots = m.reg('f_slots', 16);
  const fBig = m.reg('f_too_big', bit, { reset: 0 });
  const fSplit = stage ? m.reg('f_hdr_split', bit, { reset: 0 }) : undefined;
  // The walk's end: the header's 16 bytes, or with the data read ahead all the readable bytes.
  const fEnd = m.reg('f_end', N, { reset: BLK_HDR_SIZE });
  // Per slot: its data is being read ahead (staged), all those reads have ended (spec_done), one failed.
  const staged = m.regArray('staged', S, bit, { reset: 0 });
  const specDone = m.regArray('spec_done', S, bit, { reset: 0 });
  const specErr = m.regArray('spec_error', S, bit, { reset: 0 });
  chain.ready.set(fst.is('recv').and(used.lt(S)));
  const beat = chain.fire();
  descs.write(cat(fHead, fCnt.trunc(db)), cat(chain.addr, chain.len, chain.write), beat.and(fCnt.lt(D)));
  const first = fCnt.eq(0);
  m.if(beat, () => {
    fCnt.next(mux(fCnt.andR(), fCnt, fCnt.inc()));
    const len = chain.len.zext(N);
    const rdNow = mux(first, lit(0, N), fRd).add(mux(chain.write, lit(0, N), len));
    fRd.next(rdNow);
    // The header ends a readable descriptor: the data's pieces never share a command with the header's.
    if (fSplit)
      fSplit.next(
        first
          .not()
          .and(fSplit)
          .or(chain.write.not().and(rdNow.eq(BLK_HDR_SIZE))),
      );
    fWr.next(mux(first, lit(0, N), fWr).add(mux(chain.write, len, lit(0, N))));
    fBig.next(first.not().and(fBig).or(chain.len.gt(p.sizeMax)));
    // One adder: len - 1 does not wrap (len is not 0 here).
    m.if(chain.write.and(chain.len.ne(0)), () => fStatusAt.next(chain.addr.add(chain.len.sub(1).zext(64))));
    fQueue.next(chain.queue);
    fId.next(chain.id);
    fSlots.next(chain.slots);
    m.if(chain.last, () => fst.goto('store'));
  });
  // The checks that need no header (the back end decides on the same values): no header read for those.
  const fNeedHdr = fWr.ne(0).and(fCnt.le(D)).and(fBig.not()).and(fRd.ge(BLK_HDR_SIZE));
  const fw = blkWalker(m, bc, s.descs, 'f_walk', fHead, fCnt, { dir: 0, off: 0, end: stage ? fEnd : BLK_HDR_SIZE });
  // Read ahead: the status byte is the only writable byte (what an OUT has), the header is in descriptors of its
  // own, and there are 1..stage data bytes. Whatever the header turns out to say, these are device-readable bytes
  // of the chain; they reach storage only once the back end has found a valid OUT.
  const fSpec = fSplit
    ? fSplit
        .and(fWr.eq(1))
        .and(fRd.gt(BLK_HDR_SIZE))
        .and(fRd.le(BLK_HDR_SIZE + stage))
    : lit(0, 1);
  const slotFreed = m.wire('slot_freed', bit);
  const fStored = fst.is('store');
  const fNoWritable = fWr.eq(0);
  slotInfo.write(fHead, cat(fCnt, fRd, fWr, fNoWritable, fNoWritable.or(fNeedHdr).not()), fStored);
  slotStatusAt.write(fHead, fStatusAt, fStored);
  slotUsed.write(fHead, cat(fQueue, fId, fSlots), fStored);
  m.if(fStored, () => {
    sErr.nextAt(fHead, 0);
    staged.nextAt(fHead, fNeedHdr.and(fSpec));
    specDone.nextAt(fHead, 0);
    specErr.nextAt(fHead, 0);
    fEnd.next(mux(fSpec, fRd, lit(BLK_HDR_SIZE, N)));
    m.if(fNeedHdr, () => {
      hdrDone.nextAt(fHead, 0);
      fw.start(0, lit(0, N), lit(BLK_HDR_SIZE, N), captureAt(fHead)); // the fixed range
      fst.goto('hdr');
    }).else(() => {
      hdrDone.nextAt(fHead, 1);
      sReady.nextAt(fHead, 1);
      fHead.next(advanceSlot(fHead));
      fCnt.next(0);
      fst.goto('recv');
    });
  });
  m.if(fst.is('hdr').and(fw.walking.not()), () => {
    sReady.nextAt(fHead, 1);
    fHead.next(advanceSlot(fHead));
    fCnt.next(0);
    fst.goto('recv');
  });
  m.if(fStored.and(slotFreed.not()), () => used.next(used.inc())).elseIf(fStored.not().and(slotFreed), () =>
    used.next(used.dec()),
  );
  return { fst, fCnt, fEnd, staged, specDone, specErr, fw, slotFreed, fStored };
}
export type BlkFront = ReturnType<typeof frontEnd>;
