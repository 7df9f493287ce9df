// Register slices for valid/ready streams: cut long paths between blocks without losing throughput.
import { defineModule, intParam, stream } from '../hdl';

export interface SliceParams {
  /** Data width in bits. */
  width: number;
}

/**
 * Full register slice (a 2-entry skid buffer): every output is a register (`out.valid`, `out.data` and
 * `in.ready`), so it breaks both the forward (valid/data) and the backward (ready) timing paths; no input
 * reaches an output combinationally. Latency 1 cycle, throughput 1 beat per cycle under continuous flow.
 *
 * When `out` stalls, `in.ready` (registered) is still 1 for that cycle, so the beat arriving then is parked in
 * the skid register; the next beat waits for the skid to drain into the output register.
 * Behaves exactly as a 2-entry FIFO whose entries become visible the cycle after they are accepted.
 */
export const RegSlice = defineModule(
  'skid',
  (m, p: SliceParams) => {
    intParam('RegSlice: width', p.width, 1, 65536);
    const inp = m.input('in', stream(p.width));
    const out = m.output('out', stream(p.width));
    const outFull = m.reg('out_full', 1, { reset: 0 }); // the output register holds a beat
    const outData = m.reg('out_data_q', p.width);
    const skidFull = m.reg('skid_full', 1, { reset: 0 }); // the skid register holds a beat (output stalled)
    const skidData = m.reg('skid_data', p.width);

    inp.ready.set(skidFull.not());
    out.valid.set(outFull);
    out.data.set(outData);

    // The output register is free (empty or being read): refill it from the skid first, else from the input.
    m.if(out.ready.or(outFull.not()), () => {
      m.if(skidFull, () => {
        outData.next(skidData);
        skidFull.next(0);
      }).else(() => {
        outFull.next(inp.valid);
        outData.next(inp.data);
      });
    }).elseIf(inp.valid.and(skidFull.not()), () => {
      skidFull.next(1);
      skidData.next(inp.data);
    });
    return { in: inp, out };
  },
  { name: (p) => `skid_w${p.width}` },
);

/**
 * Forward-only pipeline register: `out.valid` and `out.data` are registers, `in.ready` is
 * `out.ready || !out.valid` (combinational from `out.ready`: this slice cuts only the forward path). One
 * entry, latency 1 cycle, throughput 1 beat per cycle under continuous flow; half the flip-flops of `RegSlice`.
 */
export const PipeReg = defineModule(
  'pipe',
  (m, p: SliceParams) => {
    intParam('PipeReg: width', p.width, 1, 65536);
    const inp = m.input('in', stream(p.width));
    const out = m.output('out', stream(p.width));
    const full = m.reg('out_full', 1, { reset: 0 });
    const data = m.reg('out_data_q', p.width);

    inp.ready.set(out.ready.or(full.not()));
    out.valid.set(full);
    out.data.set(data);
    m.if(inp.ready, () => {
      full.next(inp.valid);
      data.next(inp.data);
    });
    return { in: inp, out };
  },
  { name: (p) => `pipe_w${p.width}` },
);
