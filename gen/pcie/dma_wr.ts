// DMA write engine: copies `len` bytes of device RAM at `ram_addr` to host memory at `host_addr` with
// memory write requests.
//
// Each MWr carries at most Max_Payload_Size bytes (2.2.2) and ends at the next multiple of it, so none
// crosses a 4 KB boundary (2.2.7); start and length are byte-granular through First/Last DW BE (2.2.5). The
// device offset must equal the host address mod 4 (checked by the caller), so payload dword j is RAM dword
// (ram_addr >> 2) + j. Payload beats are read from the RAM ahead of the TLP into a small FIFO (reads are
// issued only when the FIFO has room for their data, since the RAM answers one cycle later no matter what).
// Bus Master Enable is checked before every TLP; `done` follows the acceptance of the last TLP's last beat.
import { bit, defineModule, lit, log2ceil, mux } from '../hdl';
import { Fifo } from '../lib/fifo';
import { DmaError, nextChunk, sizeFromCode } from './dma_common';
import { type DataWidth, lanesOf, ramRead, tlpStream } from './streams';
import { memReqHdr, requestShape } from './tlp';

export interface DmaWrParams {
  W: DataWidth;
  /** log2 of the device RAM size in bytes. */
  ramLog2: number;
  /** Bits of the transfer length in bytes. */
  lenBits: number;
  /** Largest Max_Payload_Size encoding the function supports (Device Capabilities). */
  mpsSupported: number;
}

const FIFO_DEPTH = 4;

export const DmaWr = defineModule(
  'pcie_dma_wr',
  (m, p: DmaWrParams) => {
    const L = lanesOf(p.W);
    const lw = log2ceil(L);
    const rb = p.ramLog2;

    const start = m.input('start', bit);
    const hostAddr = m.input('host_addr', 64);
    const ramAddr = m.input('ram_addr', rb);
    const len = m.input('len', p.lenBits);
    const busMaster = m.input('bus_master', bit);
    const mps = m.input('max_payload', 3);
    const requesterId = m.input('requester_id', 16);
    const busyOut = m.output('busy', bit);
    const done = m.output('done', bit);
    const error = m.output('error', 3);
    const req = m.output('req', tlpStream(p.W));
    const ramRd = m.output('ram_rd', ramRead(p.W, rb - 2));

    const st = m.fsm('state', ['idle', 'calc', 'send'] as const);
    const err = m.reg('err', 3, { reset: 0 });
    const host = m.reg('host', 64);
    const ram = m.reg('ram', rb);
    const rem = m.reg('rem', p.lenBits, { reset: 0 });

    // The TLP being sent.
    const hdr = m.reg('hdr', 128);
    const rdAddr = m.reg('rd_addr', rb - 2);
    const rdLeft = m.reg('rd_left', 11, { reset: 0 }); // beats still to read
    const txLeft = m.reg('tx_left', 11, { reset: 0 }); // beats still to send
    const lastKeep = m.reg('last_keep', L);
    const firstBeat = m.reg('first_beat', bit);
    const inflight = m.reg('inflight', bit, { reset: 0 });

    const fifo = m.instance('beats', Fifo, { width: p.W, depth: FIFO_DEPTH });

    // ---- next TLP
    const chunk = m.let('chunk', nextChunk(host, rem, sizeFromCode(mps, p.mpsSupported)));
    const shape = requestShape(host, chunk);
    const beats = shape.lengthDw
      .add(L - 1)
      .bits(11, lw)
      .zext(11);
    // keep of the TLP's last beat: the lanes its last lengthDw mod L dwords use (all of them when 0).
    const tailLanes = shape.lengthDw.bits(lw - 1, 0);
    const keepOf = (n: number) => lit(n === 0 ? (1 << L) - 1 : (1 << n) - 1, L);
    let keep = keepOf(0);
    for (let n = L - 1; n >= 1; n--) keep = mux(tailLanes.eq(n), keepOf(n), keep);

    const finishing = m.let('finish_now', st.is('calc').and(err.ne(0).or(rem.eq(0))));
    st.switch({
      idle: () => {
        m.if(start, () => {
          err.next(mux(busMaster, lit(DmaError.NONE, 3), lit(DmaError.BUS_MASTER_DISABLED, 3)));
          host.next(hostAddr);
          ram.next(ramAddr);
          rem.next(len);
          st.goto('calc');
        });
      },
      calc: () => {
        m.if(finishing, () => st.goto('idle'))
          .elseIf(busMaster.not(), () => err.next(DmaError.BUS_MASTER_DISABLED))
          .else(() => {
            hdr.next(
              memReqHdr({
                write: true,
                addr: host,
                length: shape.length,
                firstBe: shape.firstBe,
                lastBe: shape.lastBe,
                requesterId,
                tag: lit(0, 8),
              }),
            );
            rdAddr.next(ram.bits(rb - 1, 2));
            rdLeft.next(beats);
            txLeft.next(beats);
            lastKeep.next(keep);
            firstBeat.next(1);
            host.next(host.add(chunk.zext(64)));
            ram.next(ram.add(chunk.zext(rb)));
            rem.next(rem.sub(chunk.zext(p.lenBits)));
            st.goto('send');
          });
      },
    });

    // ---- RAM reads into the FIFO, never more than it can hold (count + the read in flight).
    const room = fifo.io.count.add(inflight.zext(fifo.io.count.width)).lt(FIFO_DEPTH);
    ramRd.valid.set(st.is('send').and(rdLeft.ne(0)).and(room));
    ramRd.addr.set(rdAddr);
    const rdFire = ramRd.valid.and(ramRd.ready);
    inflight.next(rdFire);
    m.if(rdFire, () => {
      rdAddr.next(rdAddr.add(L));
      rdLeft.next(rdLeft.dec());
    });
    fifo.io.enq.valid.set(ramRd.rvalid);
    fifo.io.enq.data.set(ramRd.rdata);

    // ---- the TLP: header beside the first beat, payload from the FIFO
    const eop = txLeft.eq(1);
    req.valid.set(st.is('send').and(fifo.io.deq.valid));
    req.hdr.set(hdr);
    req.data.set(fifo.io.deq.data);
    req.keep.set(mux(eop, lastKeep, keepOf(0)));
    req.sop.set(firstBeat);
    req.eop.set(eop);
    fifo.io.deq.ready.set(st.is('send').and(req.ready));
    m.if(req.valid.and(req.ready), () => {
      firstBeat.next(0);
      txLeft.next(txLeft.dec());
      m.if(eop, () => st.goto('calc'));
    });

    busyOut.set(st.is('idle').not());
    done.set(finishing);
    error.set(err);
    return {
      start,
      host_addr: hostAddr,
      ram_addr: ramAddr,
      len,
      bus_master: busMaster,
      max_payload: mps,
      requester_id: requesterId,
      busy: busyOut,
      done,
      error,
      req,
      ram_rd: ramRd,
    };
  },
  { name: (p) => `pcie_dma_wr_w${p.W}`, doc: 'DMA write engine: device RAM -> host memory; MWr split at MPS/4 KB.' },
);
