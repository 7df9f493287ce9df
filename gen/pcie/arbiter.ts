// Packet arbiter: merges N packet streams (TLP streams, completion requests) into one, whole packets at a
// time. A grant is taken on a packet's first beat and held until its eop beat transfers, so beats of two
// packets never interleave (a TLP is contiguous on the link). Round robin among requesters, so that no
// source (completions, DMA requests, MSI-X writes) can starve another.
//
// The output is combinational from the inputs (no buffering): once a packet's beat is accepted here it is
// on the output, so the order in which sources hand over packets is the order they leave. The DMA engines
// rely on that: they report "done" only after their last TLP was accepted, so a following MSI-X write
// cannot overtake the data it announces (PCIe ordering: posted writes stay in order, 2.4.1).
import {
  type BundleSpec,
  defineModule,
  type Expr,
  type Fields,
  type Flipped,
  type HwType,
  intParam,
  lit,
  log2ceil,
  mux,
  paramError,
  select,
  Signal,
} from '../hdl';

/** The fields a packet stream must have; any others (payload) are passed through. */
export interface PacketFields extends Fields {
  valid: HwType<1>;
  ready: Flipped<HwType<1>>;
  sop: HwType<1>;
  eop: HwType<1>;
}

export interface PacketArbiterParams {
  /** The packet stream type: a flat bundle with valid, ready (flipped), sop, eop and any payload fields. */
  spec: BundleSpec<PacketFields>;
  /** Number of inputs, at least 2. */
  n: number;
}

/**
 * Round-robin choice: the first requester after `last` (wrapping), as an index; `any` if there is one.
 * Written as "requests above last, else all requests", each through a lowest-index priority encoder.
 */
export function roundRobin(req: Expr[], last: Expr): { any: Expr; index: Expr } {
  const w = last.width;
  const lowest = (bits: Expr[]): Expr => {
    let idx: Expr = lit(0, w);
    for (let i = bits.length - 1; i >= 0; i--) idx = mux(bits[i], lit(i, w), idx);
    return idx;
  };
  // Index 0 is never above `last` (and a constant comparison would be a lint warning).
  const above = req.map((r, i) => (i === 0 ? lit(0, 1) : r.and(lit(i, w).gt(last))));
  const anyAbove = above.reduce((a, b) => a.or(b));
  return { any: req.reduce((a, b) => a.or(b)), index: mux(anyAbove, lowest(above), lowest(req)) };
}

export const PacketArbiter = defineModule(
  'pcie_pkt_arbiter',
  (m, p: PacketArbiterParams) => {
    intParam('PacketArbiter: n', p.n, 2);
    const ins = Array.from({ length: p.n }, (_, i) => m.input(`in${i}`, p.spec));
    const out = m.output('out', p.spec);
    const w = log2ceil(p.n);

    // In the middle of a packet the grant is locked to its source.
    const locked = m.reg('locked', 1, { reset: 0 });
    const owner = m.reg('owner', w, { reset: 0 });
    const last = m.reg('last', w, { reset: p.n - 1 });
    const rr = roundRobin(
      ins.map((s) => s.valid),
      last,
    );
    const grant = m.let('grant', mux(locked, owner, rr.index));

    for (const k of Object.keys(p.spec.fields)) {
      if (k === 'ready') continue;
      const field = out[k];
      const options = ins.map((s) => s[k]);
      if (!(field instanceof Signal) || !options.every((o): o is Signal => o instanceof Signal)) {
        throw paramError(`PacketArbiter: field '${k}' of ${p.spec.kind} is a bundle (the packet stream must be flat)`);
      }
      field.set(select(grant, options));
    }
    ins.forEach((s, i) => s.ready.set(out.ready.and(grant.eq(i))));

    // Lock as soon as a beat is presented, not when it transfers: a stalled beat must stay the same beat
    // (valid/ready rule), even if another source starts requesting meanwhile.
    m.if(out.valid, () => {
      m.if(out.ready.and(out.eop), () => {
        locked.next(0);
        last.next(grant);
      }).else(() => {
        locked.next(1);
        owner.next(grant);
      });
    });
    return { in: ins, out };
  },
  {
    name: (p) => `pcie_${p.spec.kind}_arbiter_w${p.spec.params.dataWidth}_n${p.n}`,
    doc: 'Round-robin packet arbiter: whole packets, no interleaving.',
  },
);
