// TLP stream register slice: a library slice (gen/lib/skid.ts) around a whole TLP stream beat (header, data,
// keep, sop, eop). Beats leave in the order they came: inserting one never reorders TLPs.
//  - full (default): a 2-entry FIFO in distributed RAM (gen/lib Fifo, depth 2), cycle for cycle the 2-entry skid
//    buffer RegSlice: `valid` and `ready` are registers and the beat is the RAM read at a registered pointer, so
//    it cuts the forward path (valid, header, data) and the backward one (ready) between two blocks, at full
//    throughput. The RAM (a RAM32M16 per 14 bits) replaces the skid's two flip-flops and 2:1 mux (a LUT) per bit.
//  - forward: PipeReg, one register with a clock enable (no LUT per bit); `in.ready` is `out.ready` or an empty
//    register, so the backward path goes through it. For a block whose output feeds a full slice (an arbiter's)
//    that registers the ready anyway.
import { cat, defineModule } from '../hdl';
import { Fifo } from '../lib/fifo';
import { PipeReg } from '../lib/skid';
import { type DataWidth, tlpStream } from './streams';

export interface TlpSliceParams {
  W: DataWidth;
  /** Cut only the forward path (a pipeline register); default false (a full slice). */
  forward?: boolean;
}

export const TlpSlice = defineModule(
  'pcie_tlp_slice',
  (m, p: TlpSliceParams) => {
    const L = p.W / 32;
    const inp = m.input('in', tlpStream(p.W));
    const out = m.output('out', tlpStream(p.W));
    const width = 128 + p.W + L + 2;
    const s = p.forward
      ? m.instance('slice', PipeReg, { width }).io
      : ((f) => ({ in: f.enq, out: f.deq }))(m.instance('slice', Fifo, { width, depth: 2 }).io);
    const sin = s.in;
    const sout = s.out;
    sin.valid.set(inp.valid);
    sin.data.set(cat(inp.hdr, inp.data, inp.keep, inp.sop, inp.eop));
    inp.ready.set(sin.ready);
    out.valid.set(sout.valid);
    sout.ready.set(out.ready);
    const d = sout.data;
    out.hdr.set(d.bits(width - 1, width - 128));
    out.data.set(d.bits(width - 129, L + 2));
    out.keep.set(d.bits(L + 1, 2));
    out.sop.set(d.bit(1));
    out.eop.set(d.bit(0));
    return { in: inp, out };
  },
  {
    name: (p) => (p.forward ? `pcie_tlp_pipe_w${p.W}` : `pcie_tlp_slice_w${p.W}`),
    doc: 'Register slice for a TLP stream: full (cuts valid/data and ready paths) or forward only.',
  },
);
