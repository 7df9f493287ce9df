// Completion generator: turns a completion request (the request's header, a status, payload beats) into a
// Cpl/CplD TLP (2.2.9). Every completion field is derived here from the request, in one place:
//  - CplD only for a successful read (memory, configuration, IO); everything else is a Cpl (2.2.9: only
//    SC completions carry data); a locked read (MRdLk) is answered with CplLk/CplDLk.
//  - Byte Count: for memory reads, from Length and the byte enables (table "Calculating Byte Count from
//    Length and Byte Enables"); 4 for configuration and IO requests. The whole request is answered by one
//    completion, so the byte count is the full remaining count (callers keep reads within Max_Payload_Size).
//    Unsuccessful completions of memory reads report the same byte count and lower address a successful
//    one would have.
//  - Lower Address: address bits 6:2 plus the first enabled byte for memory reads, 0 otherwise.
//  - Requester ID, Tag (10 bits), TC and Attr copied from the request (2.2.9: completions carry the
//    request's TC and Attr); Completer ID from the function's captured bus/device number.
// For a completion without data keep is forced to 0. The completion leaves from a forward pipeline register
// (TlpSlice forward): the byte count and lower address arithmetic ends there, not in the next block. Its ready
// is the next block's ready or an empty register: every user feeds a packet arbiter, whose inputs' readies are
// registers (its grant and its full slice's ready), so a full slice here would only add a 2:1 mux per bit (about
// W + 140 LUTs) to cut a path that is already one LUT long. Latency one cycle, one beat per cycle.
import { connect, defineModule, lit, mux } from '../hdl';
import { cplReqStream, type DataWidth, tlpStream } from './streams';
import { TlpSlice } from './tlp_slice';
import { cplHdr, CplStatus, memReadByteCount, memReadLowerAddr, tlpFields, Type } from './tlp';

export const CplGen = defineModule(
  'pcie_cpl_gen',
  (m, p: { W: DataWidth }) => {
    const req = m.input('req', cplReqStream(p.W));
    const cpl = m.output('cpl', tlpStream(p.W));
    const completerId = m.input('completer_id', 16);

    const f = tlpFields(req.hdr);
    const isMem = f.type.eq(Type.Mem).or(f.type.eq(Type.MemLk));
    const withData = m.let('with_data', f.hasData.not().and(req.status.eq(CplStatus.SC)));
    const byteCount = mux(isMem, memReadByteCount(f.lengthDw, f.firstBe, f.lastBe), lit(4, 13));
    const lowerAddr = mux(isMem, memReadLowerAddr(f.addr, f.firstBe), lit(0, 7));

    const hdr = cplHdr({
      withData,
      locked: f.type.eq(Type.MemLk),
      length: f.lengthField,
      status: req.status,
      byteCount,
      lowerAddr,
      completerId,
      requesterId: f.requesterId,
      tag: f.tag,
      tc: f.tc,
      attr: f.attr,
    });

    // The completion beat, registered.
    const slice = m.instance('slice', TlpSlice, { W: p.W, forward: true }).io;
    slice.in.valid.set(req.valid);
    req.ready.set(slice.in.ready);
    slice.in.hdr.set(hdr);
    slice.in.data.set(req.data);
    slice.in.keep.set(mux(withData, req.keep, lit(0, p.W / 32)));
    slice.in.sop.set(req.sop);
    slice.in.eop.set(req.eop);
    connect(cpl, slice.out);
    return { req, cpl, completer_id: completerId };
  },
  {
    name: (p) => `pcie_cpl_gen_w${p.W}`,
    doc: 'Builds Cpl/CplD TLPs (byte count, lower address, status) from completion requests; registered output.',
  },
);
