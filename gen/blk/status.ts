// The virtio-blk device's last two stages (gen/blk/device.ts): the status stage (each request's status byte
// written once what it must follow has ended) and the completions (each used element once its status byte is
// written).
import { bit, cat, type Expr, lit, type ModuleBuilder, mux } from '../hdl';
import { Fifo } from '../lib/fifo';
import type { BlkCommands, BlkIo, BlkSlots, BlkStatuses } from './device';
import type { BlkFront } from './front';
import type { BlkCore } from './params';
import type { BlkStorageErrors } from './scratch';

// ---- completions: a slot's used element once its status byte is written (status writes end in order)
export function completions(m: ModuleBuilder, bc: BlkCore, io: BlkIo, s: BlkSlots, front: BlkFront) {
  const { p, S, sb, TAG, atSlot } = bc;
  const { done, wrStatus } = io;
  const { slotUsed, sErr } = s;
  const { slotFreed } = front;
  const comp = m.instance('completions', Fifo, { width: sb + 1 + 32, depth: S }).io;
  const statusesDone = m.reg('statuses_done', sb + 1, { reset: 0 });
  const stWrDone = wrStatus.valid.and(wrStatus.id.bit(TAG));
  const cSlot = comp.deq.data.bits(sb + 32, 33);
  const cNoStatus = comp.deq.data.bit(32);
  done.valid.set(comp.deq.valid.and(cNoStatus.or(statusesDone.ne(0))));
  const usedFields = slotUsed.readAsync(cSlot);
  done.queue.set(usedFields.bits(p.queueBits + 31, 32));
  done.id.set(usedFields.bits(31, 16));
  done.slots.set(usedFields.bits(15, 0));
  // A storage read error found when the status byte went out (above) makes the used length 1.
  done.len.set(mux(cNoStatus.not().and(atSlot(sErr, cSlot)), lit(1, 32), comp.deq.data.bits(31, 0)));
  comp.deq.ready.set(done.fire());
  const usesStatus = done.fire().and(cNoStatus.not());
  m.if(stWrDone.and(usesStatus.not()), () => statusesDone.next(statusesDone.inc())).elseIf(
    stWrDone.not().and(usesStatus),
    () => statusesDone.next(statusesDone.dec()),
  );
  slotFreed.set(done.fire());
  return comp;
}

// ---- the status stage: each request's status byte, in slot order, once what it must follow has ended: its
// reads (a running-total mark) and, after them, the storage writes taken until then (a fence)
export function statusStage(
  m: ModuleBuilder,
  bc: BlkCore,
  io: BlkIo,
  s: BlkSlots,
  cmds: BlkCommands,
  stats: BlkStatuses,
  errs: BlkStorageErrors,
  comp: ReturnType<typeof completions>,
) {
  const { atSlot } = bc;
  const { la, wrCmd } = io;
  const { sErr } = s;
  const { sst, stQ, sSlot, bStatusWrite, fenceIoerr } = cmds;
  const { rdEnded } = stats;
  const { outActive, scanIdle } = errs;
  const sMark = stQ.deq.data.bits(15, 0);
  const sLen = stQ.deq.data.bits(47, 16);
  const sFence = stQ.deq.data.bit(48);
  const sNoStatus = stQ.deq.data.bit(49);
  const wMark = m.reg('s_write_mark', 16);
  const sLenErr = m.reg('s_len_error', bit, { reset: 0 });
  const after = (now: Expr, mark: Expr) => now.sub(mark).bit(15).not();
  comp.enq.valid.set(0);
  comp.enq.data.set(cat(sSlot, lit(0, 1), mux(sLenErr, lit(1, 32), sLen)));
  stQ.deq.ready.set(0);
  sst.switch({
    idle: () => {
      sLenErr.next(0);
      m.if(stQ.deq.valid.and(sNoStatus), () => {
        // Nothing to write the status into: handed back with used length 0.
        comp.enq.valid.set(1);
        comp.enq.data.set(cat(sSlot, lit(1, 1), lit(0, 32)));
        stQ.deq.ready.set(comp.enq.ready);
      }).elseIf(stQ.deq.valid, () => {
        m.if(sFence, () => sst.goto('reads')).else(() => sst.goto('issue'));
      });
    },
    reads: () =>
      m.if(after(rdEnded, sMark), () => {
        wMark.next(la.wr_accepted);
        sst.goto('fence');
      }),
    // (Not in a cycle the back end writes a status byte: the status bytes have one write port.)
    fence: () =>
      m.if(after(la.wr_answered, wMark).and(scanIdle).and(bStatusWrite.not()), () => {
        outActive.nextAt(sSlot, 0);
        m.if(atSlot(sErr, sSlot), () => {
          fenceIoerr.set(1);
          sLenErr.next(1);
        });
        sst.goto('issue');
      }),
    issue: () => {
      m.if(wrCmd.ready.and(comp.enq.ready), () => {
        comp.enq.valid.set(1);
        stQ.deq.ready.set(1);
        sst.goto('idle');
      });
    },
  });
}
