// TLP stream register slice: the library's full register slice (gen/lib/skid.ts RegSlice, a 2-entry skid
// buffer) around a whole TLP stream beat (header, data, keep, sop, eop). Every output is a register, so it
// cuts the forward path (valid, header, data) and the backward one (ready) between two blocks, at full
// throughput. Beats leave in the order they came: inserting it never reorders TLPs.
import { cat, defineModule } from '../hdl';
import { RegSlice } from '../lib/skid';
import { type DataWidth, tlpStream } from './streams';

export const TlpSlice = defineModule(
  'pcie_tlp_slice',
  (m, p: { W: DataWidth }) => {
    const L = p.W / 32;
    const inp = m.input('in', tlpStream(p.W));
    const out = m.output('out', tlpStream(p.W));
    const width = 128 + p.W + L + 2;
    const s = m.instance('slice', RegSlice, { width });
    const sin = s.io.in;
    const sout = s.io.out;
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
    name: (p) => `pcie_tlp_slice_w${p.W}`,
    doc: 'Full register slice for a TLP stream (cuts valid/data and ready paths).',
  },
);
