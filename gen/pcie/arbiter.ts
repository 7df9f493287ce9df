// Packet arbiter: merges N packet streams (TLP streams, completion requests) into one, whole packets at a
// time. A grant is taken on a packet's first beat and held until its eop beat is accepted, so beats of two
// packets never interleave (a TLP is contiguous on the link). Round robin among requesters (gen/lib
// roundRobinArbiter), so that no source (completions, DMA requests, MSI-X writes) can starve another.
//
// The output leaves from a full slice: a 2-entry FIFO in distributed RAM (gen/lib Fifo, depth 2), which behaves
// cycle for cycle as the 2-entry skid buffer gen/lib RegSlice (an entry visible the cycle after it is taken,
// `ready` = not both entries held) at a fraction of its cost: the RAM holds both entries (a RAM32M16 per 14
// bits) where the skid needed two flip-flops and a 2:1 mux (a LUT) per bit. `valid` and the slice's ready are
// registers and the fields are the RAM read at a registered pointer, so neither the choice among the inputs nor
// the select of their fields reaches the next block combinationally, and nothing behind the output reaches the
// inputs' ready.
// The grant itself is a register chosen a cycle ahead (below), so an input's ready is two registers ANDed.
// Latency one cycle (two when the grant must first move to the requesting input), one beat per cycle under
// continuous flow, no bubble between packets of different sources that are waiting. The slice is in order: once a packet's beat is accepted here it leaves before any beat accepted
// later, so the order in which sources hand over packets is the order they leave. The DMA engines rely on
// that: they report "done" only after their last TLP was accepted, so a following MSI-X write cannot
// overtake the data it announces (PCIe ordering: posted writes stay in order, 2.4.1).
import {
  bit,
  type BundleSpec,
  cat,
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
import { roundRobinArbiter } from '../lib/arbiter';
import { Fifo } from '../lib/fifo';
import { PipeReg } from '../lib/skid';

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
  /**
   * Leave from a forward pipeline register (gen/lib PipeReg: no LUT per bit) instead of a full slice: the output's
   * ready then reaches the inputs' readies through one LUT. For an arbiter whose output feeds a block that
   * registers its ready itself (the virtio endpoint's completion requests, into the completion generator and the
   * TLP arbiter's slice). Default false.
   */
  forward?: boolean;
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
    const slice = p.forward
      ? m.instance('slice', PipeReg, { width }).io
      : ((f) => ({ in: f.enq, out: f.deq }))(m.instance('slice', Fifo, { width, depth: 2 }).io);

    // The grant is a register (one-hot), chosen a cycle ahead: each input's ready is its grant bit and the
    // slice's ready (both registers), and the field select is an AND-OR by the grant bits, so neither the
    // round robin nor anything behind the output reaches a source's ready. A grant holds from a packet's
    // first beat to its eop beat. In the eop cycle the next grant is chosen among the other inputs that are
    // requesting (round robin, gen/lib roundRobinArbiter); with none, it stays (parked) on the same input, so
    // one source's back-to-back packets flow without a gap. A grant parked on an input that is not
    // requesting moves to a requesting one for the next cycle (one cycle of latency then).
    const grant = m.reg('grant', p.n, { reset: 1 });
    const inPacket = m.reg('in_packet', bit, { reset: 0 }); // a packet's first beat taken, its eop not yet
    const grantIdx = m.reg('grant_idx', log2ceil(p.n), { reset: 0 }); // the same grant as an index
    const pick = (options: readonly Expr[]) => select(grantIdx, options);
    const valids = cat(...ins.map((s) => s.valid).reverse());
    const inValid = m.let('in_valid', pick(ins.map((s) => s.valid)));
    const take = inValid.and(slice.in.ready);
    const eopTaken = m.let('eop_taken', take.and(pick(ins.map((s) => s.eop))));
    m.if(take, () => inPacket.next(eopTaken.not()));
    const parkedIdle = inPacket.not().and(inValid.not());
    const candidates = mux(eopTaken, valids.and(grant.not()), mux(parkedIdle, valids, lit(0, p.n)));
    const arb = roundRobinArbiter(m, 'arb', candidates, lit(1, 1));
    m.if(arb.valid, () => {
      grant.next(arb.grant);
      grantIdx.next(arb.index);
    });
    ins.forEach((s, i) => s.ready.set(slice.in.ready.and(grant.bit(i))));

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
    name: (p) => `pcie_${p.spec.kind}_arbiter_w${p.spec.params.dataWidth}_n${p.n}${p.forward ? '_fwd' : ''}`,
    doc: 'Round-robin packet arbiter: whole packets, no interleaving, registered output.',
  },
);
