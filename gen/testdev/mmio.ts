// The test device's memory target: serves the memory requests that hit BAR0 or BAR2, one at a time, in
// arrival order (so a read never passes an earlier write, 2.4.1). Which BAR and where in it come with each
// request in the receive sideband (docs/tlp-stream.md); nothing here decodes addresses against the BARs.
//
//   BAR0 RAM window  : RAM_OFFSET .. +RAM_BYTES, any length and alignment, one beat per cycle through the
//                      banked RAM (writes) or one beat per two cycles (reads);
//   BAR0 elsewhere   : the register block, one dword per cycle over the register port (unmapped offsets
//                      read 0, writes to them are ignored);
//   BAR2             : the MSI-X table and PBA, same register port (`reg_bar2` tells which BAR).
// A request is routed by the offset of its first dword; it does not spill into the next region (the RAM
// window wraps).
//
// Errors (2.3.1, 2.7.2.2): requests that hit no BAR, or arrive while Memory Space is disabled, never get
// here (the RX classifier sends them to the UR responder). A read of more than `maxReadDw` dwords is
// answered with Completer Abort (the one completion must fit every Max_Payload_Size, 128 bytes). A poisoned
// write (sideband error POISONED) is dropped. Reads are answered by one completion (with data, status SC)
// through the completion generator, which derives byte count and lower address from the request.
import { bit, cat, defineModule, type Expr, lit, log2ceil, mux, select } from '../hdl';
import {
  cplReqStream,
  type DataWidth,
  lanesOf,
  ramRead,
  ramWrite,
  regBus,
  RxError,
  tlpRxStream,
} from '../pcie/streams';
import { CplStatus, tlpFields } from '../pcie/tlp';

export interface MmioParams {
  W: DataWidth;
  bar0Log2: number;
  bar2Log2: number;
  ramOffset: number;
  ramLog2: number;
  maxReadDw: number;
}

/** The BAR of the MSI-X table (the other is BAR0). */
const BAR2 = 2;

export const Mmio = defineModule(
  'testdev_mmio',
  (m, p: MmioParams) => {
    const L = lanesOf(p.W);
    const lw = log2ceil(L);
    const ramAw = p.ramLog2 - 2;
    const regAw = p.bar0Log2 - 2;
    if (p.ramOffset % (1 << p.ramLog2) !== 0) throw new Error('MMIO: the RAM window must be aligned to its size');
    if (p.bar2Log2 > p.bar0Log2) throw new Error('MMIO: BAR2 must not be larger than BAR0 (one register port)');

    const req = m.input('req', tlpRxStream(p.W));
    const cpl = m.output('cpl', cplReqStream(p.W));
    const ramWr = m.output('ram_wr', ramWrite(p.W, ramAw));
    const ramRd = m.output('ram_rd', ramRead(p.W, ramAw));
    const reg = m.output('reg', regBus(regAw));
    const regBar2 = m.output('reg_bar2', bit);
    const evCa = m.output('ev_ca', bit);
    const evPoisoned = m.output('ev_poisoned', bit);

    const st = m.fsm('state', ['idle', 'decode', 'wr_ram', 'rd_ram', 'wr_reg', 'rd_reg', 'resp', 'drop'] as const);

    // ---- the request being served
    const hdr = m.reg('hdr', 128);
    const len = m.reg('len', 11);
    const fbe = m.reg('first_be', 4);
    const lbe = m.reg('last_be', 4);
    const dwAddr = m.reg('dw_addr', regAw); // dword offset inside the BAR of the current beat / dword
    const pIdx = m.reg('p_idx', 11); // payload dword index of the current beat's lane 0 / current dword
    const lane = m.reg('lane', lw); // register paths: lane of the current dword
    const bar2Sel = m.reg('bar2_sel', bit, { reset: 0 });
    const respStatus = m.reg('resp_status', 3);
    // Read data being assembled, then sent.
    const beat = m.reg('rd_beat', p.W);
    const beatValid = m.reg('rd_beat_valid', bit, { reset: 0 });
    const sendLeft = m.reg('send_left', 11); // dwords still to send
    const sopPending = m.reg('sop_pending', bit);
    const issueLeft = m.reg('issue_left', 11, { reset: 0 }); // RAM beats still to read
    const inflight = m.reg('inflight', bit, { reset: 0 });

    // ---- a new request: its header and sideband are registered first (idle), then decoded (decode)
    const f = tlpFields(req.hdr);
    const isWrite = f.hasData;
    const lenNow = f.lengthDw;
    const offset = m.reg('offset', p.bar0Log2); // byte offset inside the BAR (BAR2's is the smaller)
    const poisoned = m.reg('poisoned', bit);
    const fq = tlpFields(hdr);
    const inRam = bar2Sel.not().and(offset.bits(p.bar0Log2 - 1, p.ramLog2).eq(p.ramOffset >> p.ramLog2));

    // ---- defaults
    req.ready.set(0);
    ramWr.valid.set(0);
    ramRd.valid.set(0);
    reg.wr.set(0);
    evCa.set(0);
    evPoisoned.set(0);

    const laneOf = (v: Expr, i: number) => v.bits(32 * i + 31, 32 * i);
    const isFirst = (pi: Expr) => pi.eq(0);
    const isLast = (pi: Expr) => pi.eq(len.sub(1)).and(len.ne(1));
    // Byte enables of payload dword pi: First DW BE on dword 0, Last DW BE on the last (2.2.5).
    const beOf = (pi: Expr) => mux(isFirst(pi), fbe, lit(0xf, 4)).and(mux(isLast(pi), lbe, lit(0xf, 4)));
    const lastOfBeat = m.let('last_of_beat', lane.eq(L - 1).or(pIdx.eq(len.sub(1))));

    st.switch({
      idle: () => {
        m.if(req.valid.and(req.sop), () => {
          hdr.next(req.hdr);
          offset.next(req.offset.trunc(p.bar0Log2));
          bar2Sel.next(req.bar.eq(BAR2));
          poisoned.next(req.error.eq(RxError.POISONED));
          len.next(lenNow);
          fbe.next(f.firstBe);
          lbe.next(f.lastBe);
          pIdx.next(0);
          lane.next(0);
          beatValid.next(0);
          sendLeft.next(lenNow);
          sopPending.next(1);
          issueLeft.next(
            lenNow
              .add(L - 1)
              .bits(10, lw)
              .zext(11),
          );
          req.ready.set(isWrite.not()); // a read is one beat: take it now; a write's beats are taken later
          st.goto('decode');
        });
      },
      decode: () => {
        const write = fq.hasData; // the registered request's
        dwAddr.next(offset.bits(p.bar0Log2 - 1, 2));
        m.if(write.not().and(len.gt(p.maxReadDw)), () => {
          evCa.set(1);
          respStatus.next(CplStatus.CA);
          st.goto('resp');
        })
          .elseIf(write.and(poisoned), () => {
            evPoisoned.set(1);
            st.goto('drop');
          })
          .elseIf(inRam, () => {
            m.if(write, () => st.goto('wr_ram')).else(() => st.goto('rd_ram'));
          })
          .else(() => {
            m.if(write, () => st.goto('wr_reg')).else(() => st.goto('rd_reg'));
          });
      },
      wr_ram: () => {
        ramWr.valid.set(req.valid);
        req.ready.set(ramWr.ready);
        m.if(req.valid.and(ramWr.ready), () => {
          dwAddr.next(dwAddr.add(L));
          pIdx.next(pIdx.add(L));
          m.if(req.eop, () => st.goto('idle'));
        });
      },
      rd_ram: () => {
        ramRd.valid.set(issueLeft.ne(0).and(beatValid.not()).and(inflight.not()));
        m.if(ramRd.valid.and(ramRd.ready), () => {
          dwAddr.next(dwAddr.add(L));
          issueLeft.next(issueLeft.dec());
        });
      },
      wr_reg: () => {
        reg.wr.set(req.valid);
        req.ready.set(lastOfBeat);
        m.if(req.valid, () => {
          pIdx.next(pIdx.inc());
          lane.next(lane.add(1));
          dwAddr.next(dwAddr.inc());
          m.if(lastOfBeat, () => lane.next(0));
          m.if(pIdx.eq(len.sub(1)), () => st.goto('idle'));
        });
      },
      rd_reg: () => {
        m.if(beatValid.not().and(pIdx.lt(len)), () => {
          const lanes: Expr[] = [];
          for (let i = L - 1; i >= 0; i--) lanes.push(mux(lane.eq(i), reg.rdata, laneOf(beat, i)));
          beat.next(cat(...lanes));
          pIdx.next(pIdx.inc());
          lane.next(lane.add(1));
          dwAddr.next(dwAddr.inc());
          m.if(lastOfBeat, () => {
            lane.next(0);
            beatValid.next(1);
          });
        });
      },
      resp: () => {
        m.if(cpl.ready, () => st.goto('idle'));
      },
      drop: () => {
        req.ready.set(1);
        m.if(req.valid.and(req.eop), () => st.goto('idle'));
      },
    });

    // RAM read data arrives the cycle after the request.
    inflight.next(ramRd.valid.and(ramRd.ready));
    m.if(ramRd.rvalid, () => {
      beat.next(ramRd.rdata);
      beatValid.next(1);
    });

    // RAM write beat: lane i is payload dword pIdx + i.
    const bes: Expr[] = [];
    for (let i = L - 1; i >= 0; i--) bes.push(mux(req.keep.bit(i), beOf(pIdx.add(i)), lit(0, 4)));
    ramWr.addr.set(dwAddr.trunc(ramAw));
    ramWr.data.set(req.data);
    ramWr.be.set(cat(...bes));
    ramRd.addr.set(dwAddr.trunc(ramAw));

    // Register port: one dword per cycle.
    reg.addr.set(dwAddr);
    reg.wdata.set(
      select(
        lane,
        Array.from({ length: L }, (_, i) => laneOf(req.data, i)),
      ),
    );
    reg.wbe.set(beOf(pIdx));
    regBar2.set(bar2Sel);

    // ---- completions: read data beats, or one beat without data for UR/CA
    const reading = st.is('rd_ram').or(st.is('rd_reg'));
    const eop = sendLeft.le(L);
    let keep = lit((1 << L) - 1, L);
    for (let n = L - 1; n >= 1; n--) keep = mux(sendLeft.eq(n), lit((1 << n) - 1, L), keep);
    cpl.valid.set(reading.and(beatValid).or(st.is('resp')));
    cpl.hdr.set(hdr);
    cpl.status.set(mux(st.is('resp'), respStatus, lit(CplStatus.SC, 3)));
    cpl.data.set(beat);
    cpl.keep.set(mux(st.is('resp'), lit(0, L), mux(eop, keep, lit((1 << L) - 1, L))));
    cpl.sop.set(mux(st.is('resp'), lit(1, 1), sopPending));
    cpl.eop.set(mux(st.is('resp'), lit(1, 1), eop));
    m.if(reading.and(beatValid).and(cpl.ready), () => {
      beatValid.next(0);
      sopPending.next(0);
      sendLeft.next(sendLeft.sub(L));
      m.if(eop, () => st.goto('idle'));
    });
  },
  { name: (p) => `testdev_mmio_w${p.W}`, doc: 'BAR decode and memory target: RAM window, registers, MSI-X table.' },
);
