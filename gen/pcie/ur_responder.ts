// Unsupported Request responder for the TLPs no block of this function handles (the RX demux's `other`
// port). A non-posted request (a memory read that hit no BAR, MRdLk, IO read/write, type-1 configuration,
// AtomicOps) gets a completion with status UR (2.3.1: "if the Request is Non-Posted, a Completion with UR status must be returned");
// posted requests (memory writes that hit no BAR, messages) and stray locked completions are dropped. Any
// payload is drained. The sideband is not needed.
//
// The completion request leaves from a one-entry register, which takes the next request only once it is
// empty: nothing behind the completion port (its arbiter) reaches the request's ready combinationally. A
// request waits for the previous one's completion to leave (Unsupported Requests are rare; a stream of them
// is answered at one per two cycles).
import { bit, defineModule, lit, orAll } from '../hdl';
import { cplReqStream, type DataWidth, driveOneBeat, tlpRxStream } from './streams';
import { CplStatus, tlpFields, Type } from './tlp';

export const UrResponder = defineModule(
  'pcie_ur_responder',
  (m, p: { W: DataWidth }) => {
    const req = m.input('req', tlpRxStream(p.W));
    const cpl = m.output('cpl', cplReqStream(p.W));
    /** A non-posted request was answered with UR (Device Status: Unsupported Request Detected). */
    const urDetected = m.output('ur_detected', 1);

    const f = tlpFields(req.hdr);
    const t = f.type;
    const nonPosted = f.fmt
      .bit(2)
      .not()
      .and(
        orAll(
          t.eq(Type.Mem).and(f.hasData.not()),
          t.eq(Type.MemLk).and(f.hasData.not()),
          t.eq(Type.Io),
          t.eq(Type.Cfg0),
          t.eq(Type.Cfg1),
          t.eq(Type.FetchAdd).and(f.hasData),
          t.eq(Type.Swap).and(f.hasData),
          t.eq(Type.Cas).and(f.hasData),
        ),
      );
    // Answer on the sop beat; later beats of the same TLP (payload) are drained.
    const answer = req.sop.and(nonPosted);
    const respValid = m.reg('resp_valid', bit, { reset: 0 });
    const respHdr = m.reg('resp_hdr', 128);
    m.if(req.valid.and(answer).and(respValid.not()), () => {
      respValid.next(1);
      respHdr.next(req.hdr);
    }).elseIf(cpl.ready, () => respValid.next(0));
    driveOneBeat(cpl, { valid: respValid, hdr: respHdr });
    cpl.status.set(lit(CplStatus.UR, 3));
    req.ready.set(answer.not().or(respValid.not()));
    urDetected.set(cpl.valid.and(cpl.ready));
    return { req, cpl, ur_detected: urDetected };
  },
  {
    name: (p) => `pcie_ur_responder_w${p.W}`,
    doc: 'Answers unsupported non-posted requests (and reads that hit no BAR) with UR; drops the rest.',
  },
);
