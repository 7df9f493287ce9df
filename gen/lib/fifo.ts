// A synchronous FIFO with valid/ready streams on both sides.
import { defineModule, log2ceil, stream, uint } from '../hdl';

export interface FifoParams {
  /** Data width in bits. */
  width: number;
  /** Number of entries (any positive integer; a power of two wastes no storage). */
  depth: number;
}

/**
 * First-in first-out buffer. `enq` accepts while not full; `deq` presents the oldest entry while not empty.
 * Storage is distributed RAM read asynchronously, so `deq.data` is valid in the same cycle as `deq.valid`.
 */
export const Fifo = defineModule(
  'fifo',
  (m, p: FifoParams) => {
    const enq = m.input('enq', stream(p.width));
    const deq = m.output('deq', stream(p.width));
    const count = m.output('count', log2ceil(p.depth + 1));

    const aw = log2ceil(p.depth);
    const mem = m.memory('mem', { width: p.width, depth: p.depth });
    const wrPtr = m.reg('wr_ptr', aw, { reset: 0 });
    const rdPtr = m.reg('rd_ptr', aw, { reset: 0 });
    const used = m.reg('used', count.width, { reset: 0 });

    const last = p.depth - 1;
    enq.ready.set(used.ne(p.depth));
    deq.valid.set(used.ne(0));
    deq.data.set(mem.readAsync(rdPtr));
    count.set(used);

    mem.write(wrPtr, enq.data, enq.fire());
    m.if(enq.fire(), () => wrPtr.next(wrPtr.eq(last).select(0, wrPtr.inc())));
    m.if(deq.fire(), () => rdPtr.next(rdPtr.eq(last).select(0, rdPtr.inc())));
    m.if(enq.fire().and(deq.fire().not()), () => used.next(used.inc()))
      .elseIf(deq.fire().and(enq.fire().not()), () => used.next(used.dec()));
  },
  { name: (p) => `fifo_w${p.width}_d${p.depth}` },
);
