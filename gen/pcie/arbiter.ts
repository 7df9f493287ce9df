// Packet arbiter: merges N packet streams (TLP streams, completion requests) into one, whole packets at a
// time. A grant is taken on a packet's first beat and held until its eop beat is accepted, so beats of two
// packets never interleave (a TLP is contiguous on the link). Round robin among requesters (gen/lib
// roundRobinArbiter), so that no source (completions, DMA requests, MSI-X writes) can starve another.
//
// The output leaves from a full register slice (gen/lib RegSlice): every output (valid, the packet fields)
// and the slice's ready are registers, so neither the choice among the inputs nor the select of their
// fields reaches the next block combinationally, and nothing behind the output reaches the inputs' ready.
// Latency one cycle, one beat per cycle under continuous flow, no bubble between packets of different
// sources. The slice is in order: once a packet's beat is accepted here it leaves before any beat accepted
// later, so the order in which sources hand over packets is the order they leave. The DMA engines rely on
// that: they report "done" only after their last TLP was accepted, so a following MSI-X write cannot
// overtake the data it announces (PCIe ordering: posted writes stay in order, 2.4.1).
import {
  type BundleSpec,
  cat,
  defineModule,
  type Expr,
  type Fields,
  type Flipped,
  type HwType,
  intParam,
  paramError,
  select,
  Signal,
} from '../hdl';
import { roundRobinArbiter } from '../lib/arbiter';
import { RegSlice } from '../lib/skid';

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

export const PacketArbiter = defineModule(
  'pcie_pkt_arbiter',
  (m, p: PacketArbiterParams) => {
    intParam('PacketArbiter: n', p.n, 2);
    const ins = Array.from({ length: p.n }, (_, i) => m.input(`in${i}`, p.spec));
    const out = m.output('out', p.spec);

    // Every field but the handshake travels through the slice, packed (first field in the high bits).
    const fields = Object.keys(p.spec.fields).filter((k) => k !== 'valid' && k !== 'ready');
    const outFields: Signal[] = [];
    const inFields: Signal[][] = [];
    for (const k of fields) {
      const field = out[k];
      const options = ins.map((s) => s[k]);
      if (!(field instanceof Signal) || !options.every((o): o is Signal => o instanceof Signal)) {
        throw paramError(`PacketArbiter: field '${k}' of ${p.spec.kind} is a bundle (the packet stream must be flat)`);
      }
      outFields.push(field);
      inFields.push(options);
    }
    const width = outFields.reduce((w, f) => w + f.width, 0);
    const slice = m.instance('slice', RegSlice, { width }).io;

    // The grant: taken when a packet's first beat is presented, locked until its eop beat is accepted (a
    // stalled beat must stay the same beat, valid/ready rule, even if another source starts requesting).
    const accepted = m.wire('accepted', 1); // the granted packet's eop beat goes into the slice
    const arb = roundRobinArbiter(m, 'arb', cat(...ins.map((s) => s.valid).reverse()), accepted);
    const pick = (options: readonly Expr[]) => select(arb.index, options);
    const inValid = m.let('in_valid', arb.valid.and(pick(ins.map((s) => s.valid))));
    accepted.set(inValid.and(slice.in.ready).and(pick(ins.map((s) => s.eop))));
    ins.forEach((s, i) => s.ready.set(slice.in.ready.and(arb.grant.bit(i))));

    slice.in.valid.set(inValid);
    slice.in.data.set(cat(...inFields.map((options) => pick(options))));
    out.valid.set(slice.out.valid);
    slice.out.ready.set(out.ready);
    let hi = width - 1;
    for (const f of outFields) {
      f.set(slice.out.data.bits(hi, hi - f.width + 1));
      hi -= f.width;
    }
    return { in: ins, out };
  },
  {
    name: (p) => `pcie_${p.spec.kind}_arbiter_w${p.spec.params.dataWidth}_n${p.n}`,
    doc: 'Round-robin packet arbiter: whole packets, no interleaving, registered output.',
  },
);
