// Synchronous FIFOs with valid/ready streams on both sides: distributed RAM (small, zero read latency) and block
// RAM (large, synchronous read, with a prefetch stage so `deq` still shows data with `valid`).
import { bitsFor, defineModule, intParam, log2ceil, type Signal, stream } from '../hdl';
import { occupancyCounter } from './counter';
import { RegSlice } from './skid';
import { dropDefaults, optionalOutput, withDefaults } from './util';

export interface FifoParams {
  /** Data width in bits. */
  width: number;
  /** Number of entries (any positive integer; a power of two wastes no storage). */
  depth: number;
  /** Adds an `almost_full` output (a register): count >= this threshold (1..depth). */
  almostFull?: number;
}

/** Pointer to the next entry of a ring of `depth` entries (a full power-of-two range wraps by itself). */
function advance(ptr: Signal, depth: number) {
  return 2 ** ptr.width === depth ? ptr.inc() : ptr.eq(depth - 1).select(0, ptr.inc());
}

function checkFifoParams(what: string, p: FifoParams): void {
  intParam(`${what}: width`, p.width, 1, 65536);
  intParam(`${what}: depth`, p.depth, 1);
  if (p.almostFull !== undefined) intParam(`${what}: almostFull`, p.almostFull, 1, p.depth);
}

const fifoName = (base: string, p: FifoParams) =>
  `${base}_w${p.width}_d${p.depth}${p.almostFull !== undefined ? `_af${p.almostFull}` : ''}`;

/**
 * First-in first-out buffer in distributed RAM. `enq` accepts while not full; `deq` presents the oldest entry
 * while not empty, in the same cycle as `valid` (asynchronous read): an entry is visible the cycle after it is
 * enqueued. Throughput 1 beat per cycle with depth >= 2 (`enq.ready` does not look at `deq`, so one entry
 * alone gives half rate). `count` is the number of entries held. `enq.ready`, `deq.valid`, `count` and
 * `almost_full` are registers; `deq.data` is the RAM read at the registered read pointer.
 */
export const Fifo = defineModule(
  'fifo',
  (m, p: FifoParams) => {
    checkFifoParams('Fifo', p);
    const enq = m.input('enq', stream(p.width));
    const deq = m.output('deq', stream(p.width));
    const count = m.output('count', bitsFor(p.depth));

    const aw = log2ceil(p.depth);
    const mem = m.memory('mem', { width: p.width, depth: p.depth });
    const wrPtr = m.reg('wr_ptr', aw, { reset: 0 });
    const rdPtr = m.reg('rd_ptr', aw, { reset: 0 });
    const used = occupancyCounter(m, 'used', { max: p.depth, inc: enq.fire(), dec: deq.fire(), atLeast: p.almostFull });

    enq.ready.set(used.full.not());
    deq.valid.set(used.empty.not());
    deq.data.set(mem.readAsync(rdPtr));
    count.set(used.count);
    const almostFull = optionalOutput(m, 'almost_full', used.atLeast);

    mem.write(wrPtr, enq.data, enq.fire());
    m.if(enq.fire(), () => wrPtr.next(advance(wrPtr, p.depth)));
    m.if(deq.fire(), () => rdPtr.next(advance(rdPtr, p.depth)));
    return { enq, deq, count, almost_full: almostFull };
  },
  { name: (p) => fifoName('fifo', p) },
);

export interface BramFifoParams extends FifoParams {
  /**
   * true (default): a register slice after the RAM, so every port is a register (`deq.ready` reaches only
   * flip-flops) and `deq.data` comes from fabric flip-flops, not the RAM's clock-to-out. Latency 3.
   * false: `deq` is the RAM's read register itself (2 wide registers fewer), `deq.ready` reaches the RAM's read
   * enable combinationally. Latency 2.
   */
  outReg?: boolean;
}

// The definition; `BramFifo` (below, documented) wraps it so that `{ outReg: true }` and `{}` are one module.
const bramFifo = defineModule(
  'fifo_bram',
  (m, p: BramFifoParams) => {
    checkFifoParams('BramFifo', p);
    const outReg = p.outReg ?? true;
    const enq = m.input('enq', stream(p.width));
    const deq = m.output('deq', stream(p.width));
    const count = m.output('count', bitsFor(p.depth));

    const aw = log2ceil(p.depth);
    const mem = m.memory('mem', { width: p.width, depth: p.depth });
    const wrPtr = m.reg('wr_ptr', aw, { reset: 0 });
    const rdPtr = m.reg('rd_ptr', aw, { reset: 0 });
    const rdValid = m.reg('rd_valid', 1, { reset: 0 }); // the RAM's read register holds an entry

    // The read stage hands its entry on when the next stage takes it: the output slice (ready is a
    // register) or, without one, `deq` itself.
    const slice = outReg ? m.instance('out_slice', RegSlice, { width: p.width }) : undefined;
    const nextReady = slice ? slice.io.in.ready : deq.ready;
    const rdMove = m.let('rd_move', rdValid.and(nextReady));

    // Entries written to the RAM and not yet read from it; every entry held (for `enq.ready`, `count`).
    const rdEn = m.wire('rd_en', 1);
    const inRam = occupancyCounter(m, 'in_ram', { max: p.depth, inc: enq.fire(), dec: rdEn });
    const used = occupancyCounter(m, 'used', { max: p.depth, inc: enq.fire(), dec: deq.fire(), atLeast: p.almostFull });
    // Read ahead whenever the read stage is empty or hands its entry on this cycle. Only registers feed this
    // (with the output slice), so the RAM's enable sees one LUT.
    rdEn.set(inRam.empty.not().and(rdValid.not().or(nextReady)));

    mem.write(wrPtr, enq.data, enq.fire());
    const rdData = mem.readSync(rdPtr, rdEn);
    m.if(enq.fire(), () => wrPtr.next(advance(wrPtr, p.depth)));
    m.if(rdEn, () => {
      rdPtr.next(advance(rdPtr, p.depth));
      rdValid.next(1);
    }).elseIf(rdMove, () => rdValid.next(0));

    enq.ready.set(used.full.not());
    count.set(used.count);
    const almostFull = optionalOutput(m, 'almost_full', used.atLeast);
    if (slice) {
      slice.io.in.valid.set(rdValid);
      slice.io.in.data.set(rdData);
      deq.valid.set(slice.io.out.valid);
      deq.data.set(slice.io.out.data);
      slice.io.out.ready.set(deq.ready);
    } else {
      deq.valid.set(rdValid);
      deq.data.set(rdData);
    }
    return { enq, deq, count, almost_full: almostFull };
  },
  { name: (p) => fifoName('fifo_bram', p) + (p.outReg === false ? '_direct' : '') },
);

/**
 * First-in first-out buffer in block RAM (synchronous read), first-word fall-through: `deq.data` is valid
 * with `deq.valid`, with no bubbles: the RAM is read ahead into a prefetch stage whenever that stage is empty
 * or being emptied. Throughput 1 beat per cycle with depth >= 4 (>= 3 with `outReg: false`): an entry's slot is
 * taken from its enqueue until a cycle after it leaves, since `enq.ready` is a register.
 *
 * Capacity is exactly `depth` (entries held in the prefetch stages count), and `count` is the number held.
 * Latency: an entry enqueued in cycle t is visible on `deq` from cycle t+3 (t+2 with `outReg: false`), or as
 * soon as the entries before it have left, whichever is later. `enq.ready`, `count` and `almost_full` are
 * registers. The RAM never reads and writes one address in the same cycle (a read needs an entry written in an
 * earlier cycle; a write needs a free slot), so any block-RAM read-during-write mode will do.
 */
export const BramFifo = withDefaults(bramFifo, (p) => dropDefaults(p, { outReg: true }));
