// Small blocks of the virtio endpoint's transmit side:
//  - IntxMessages: the INTx virtual wire (PCI Express Base 2.2.8.1): an Assert_INTA message when the function's
//    interrupt level rises, Deassert_INTA when it falls (also when Interrupt Disable is set while asserted: the
//    level includes it). One message at a time; a level that changes back before its message could leave sends
//    nothing (the wire's state as the root complex knows it is what counts). Messages need no Bus Master Enable.
//  - BusMasterGate: the data plane's requests leave only while Bus Master Enable is set (7.5.1.1.3); a TLP that
//    starts while it is clear is taken and dropped whole, and `dropped` pulses so the data plane can fail it.
import { bit, cat, defineModule, lit, mux } from '../hdl';
import { type DataWidth, tlpStream } from '../pcie/streams';
import { makeDw0 } from '../pcie/tlp';

/** Message codes (2.2.8.1) and the Msg type with routing "Local - Terminate at Receiver" (100b). */
export const INTX = { ASSERT_INTA: 0x20, DEASSERT_INTA: 0x24, MSG_TYPE_LOCAL: 0b10100 } as const;

export const IntxMessages = defineModule(
  'virtio_intx',
  (m, p: { W: DataWidth }) => {
    const level = m.input('level', bit);
    const requesterId = m.input('requester_id', 16);
    const msg = m.output('msg', tlpStream(p.W));
    /** The wire as the last message left it. */
    const asserted = m.output('asserted', bit);

    const sent = m.reg('wire_state', bit, { reset: 0 });
    const valid = m.reg('out_valid', bit, { reset: 0 });
    const code = m.reg('out_code', 8);
    m.if(valid.not().and(level.ne(sent)), () => {
      valid.next(1);
      code.next(mux(level, lit(INTX.ASSERT_INTA, 8), lit(INTX.DEASSERT_INTA, 8)));
      sent.next(level);
    }).elseIf(msg.ready, () => valid.next(0));
    // 4DW header without data (messages always use 4DW, 2.2.8), TC0, Length reserved (0); DW1: Requester ID,
    // Tag 0, Message Code; DW2/DW3 reserved.
    const dw0 = makeDw0({ fmt: 0b001, type: INTX.MSG_TYPE_LOCAL, length: lit(0, 10) });
    msg.valid.set(valid);
    msg.hdr.set(cat(dw0, requesterId, lit(0, 8), code, lit(0, 64)));
    msg.data.set(lit(0, p.W));
    msg.keep.set(lit(0, p.W / 32));
    msg.sop.set(1);
    msg.eop.set(1);
    asserted.set(sent);
    return { level, requester_id: requesterId, msg, asserted };
  },
  { name: (p) => `virtio_intx_w${p.W}`, doc: 'INTx virtual wire: Assert_INTA / Deassert_INTA messages from a level.' },
);

export const BusMasterGate = defineModule(
  'virtio_bme_gate',
  (m, p: { W: DataWidth }) => {
    const inp = m.input('in', tlpStream(p.W));
    const out = m.output('out', tlpStream(p.W));
    const busMaster = m.input('bus_master', bit);
    const dropped = m.output('dropped', bit);

    // The decision is taken when a TLP's first beat is first offered and kept until its last beat has gone, so
    // that `out.valid` never drops while a beat waits.
    const decided = m.reg('decided', bit, { reset: 0 });
    const dropQ = m.reg('drop_q', bit, { reset: 0 });
    const drop = mux(decided, dropQ, busMaster.not());
    out.valid.set(inp.valid.and(drop.not()));
    inp.ready.set(drop.or(out.ready));
    out.hdr.set(inp.hdr);
    out.data.set(inp.data);
    out.keep.set(inp.keep);
    out.sop.set(inp.sop);
    out.eop.set(inp.eop);
    m.if(inp.valid.and(decided.not()), () => {
      decided.next(1);
      dropQ.next(busMaster.not());
    });
    m.if(inp.valid.and(inp.ready).and(inp.eop), () => decided.next(0));
    dropped.set(inp.valid.and(inp.ready).and(inp.sop).and(drop));
    return { in: inp, out, bus_master: busMaster, dropped };
  },
  { name: (p) => `virtio_bme_gate_w${p.W}`, doc: 'Drops data-plane TLPs that start while Bus Master Enable is clear.' },
);
