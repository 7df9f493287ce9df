// The test device's memory target: serves the memory requests that hit BAR0 or BAR2, one at a time, in
// arrival order (so a read never passes an earlier write, 2.4.1). Which BAR and where in it come with each
// request in the receive sideband (docs/tlp-stream.md); nothing here decodes addresses against the BARs.
//
//   BAR0 RAM window  : RAM_OFFSET .. +RAM_BYTES, any length and alignment, one beat per cycle through the
//                      banked RAM (writes) or one beat per two cycles (reads);
//   BAR0 elsewhere   : the register block, one dword per cycle over the register port (unmapped offsets
//                      read 0, writes to them are ignored);
//   BAR2             : the MSI-X table and PBA, same register port (`reg_bar2` tells which BAR).
// Register writes reach the register port a cycle after their dword is taken (registered).
// A request is routed by the offset of its first dword; it does not spill into the next region (the RAM
// window wraps).
//
// Errors (2.3.1, 2.7.2.2): requests that hit no BAR, or arrive while Memory Space is disabled, never get
// here (the RX classifier sends them to the UR responder). A read of more than `maxReadDw` dwords is
// answered with Completer Abort (the one completion must fit every Max_Payload_Size, 128 bytes). A poisoned
// write (sideband error POISONED) is dropped. Reads are answered by one completion (with data, status SC)
// through the completion generator, which derives byte count and lower address from the request.
import {
  bit,
  cat,
  defineModule,
  type Drivable,
  type Expr,
  type Fsm,
  lit,
  log2ceil,
  type ModuleBuilder,
  mux,
  paramError,
  select,
} from '../hdl';
import {
  type BundleOf,
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

const STATES = ['idle', 'decode', 'wr_ram', 'rd_ram', 'wr_reg', 'rd_reg', 'resp', 'drop'] as const;
type State = (typeof STATES)[number];
type Handlers<K extends State> = Record<K, () => void>;

/** The request being served, and the read data being assembled for its completion. */
function requestRegs(m: ModuleBuilder, p: MmioParams, lanes: number) {
  const regAw = p.bar0Log2 - 2;
  return {
    hdr: m.reg('hdr', 128),
    len: m.reg('len', 11),
    fbe: m.reg('first_be', 4),
    lbe: m.reg('last_be', 4),
    dwAddr: m.reg('dw_addr', regAw), // dword offset inside the BAR of the current beat / dword
    pIdx: m.reg('p_idx', 11), // payload dword index of the current beat's lane 0 / current dword
    lane: m.reg('lane', log2ceil(lanes)), // register paths: lane of the current dword
    bar2Sel: m.reg('bar2_sel', bit, { reset: 0 }),
    respStatus: m.reg('resp_status', 3),
    // Read data being assembled, then sent.
    beat: m.reg('rd_beat', p.W),
    beatValid: m.reg('rd_beat_valid', bit, { reset: 0 }),
    sendLeft: m.reg('send_left', 11), // dwords still to send
    sopPending: m.reg('sop_pending', bit),
    issueLeft: m.reg('issue_left', 11, { reset: 0 }), // RAM beats still to read, or to write
    lastLane: m.reg('last_lane', log2ceil(lanes)), // lane of the last payload dword in its beat
    inflight: m.reg('inflight', bit, { reset: 0 }),
    offset: m.reg('offset', p.bar0Log2), // byte offset inside the BAR (BAR2's is the smaller)
    poisoned: m.reg('poisoned', bit),
  };
}

/** Everything the parts of the target share: parameters, ports, state machine, request registers. */
interface Target {
  m: ModuleBuilder;
  p: MmioParams;
  /** Dwords per beat. */
  L: number;
  st: Fsm<State>;
  r: ReturnType<typeof requestRegs>;
  req: BundleOf<ReturnType<typeof tlpRxStream>, 'in'>;
  cpl: BundleOf<ReturnType<typeof cplReqStream>, 'out'>;
  ramWr: BundleOf<ReturnType<typeof ramWrite>, 'out'>;
  ramRd: BundleOf<ReturnType<typeof ramRead>, 'out'>;
  reg: BundleOf<ReturnType<typeof regBus>, 'out'>;
  /** A register write of the current dword (this cycle; it reaches the register port a cycle later). */
  regWrite: Drivable;
  /** Byte enables of payload dword `pi`: First DW BE on dword 0, Last DW BE on the last (2.2.5). */
  beOf: (pi: Expr) => Expr;
}

const laneOf = (v: Expr, i: number) => v.bits(32 * i + 31, 32 * i);

/**
 * A new request: its header and sideband are registered (idle), then it is decided what to do with it
 * (decode): Completer Abort for a long read, drop a poisoned write, else the RAM or the register path. A
 * UR/CA answer (resp) is one completion without data; a dropped write's beats are drained (drop).
 */
function intakeStates(
  t: Target,
  ev: { ca: Drivable; poisoned: Drivable },
): Handlers<'idle' | 'decode' | 'resp' | 'drop'> {
  const { m, p, L, st, r, req, cpl } = t;
  const f = tlpFields(req.hdr);
  const lenNow = f.lengthDw;
  const fq = tlpFields(r.hdr);
  const inRam = r.bar2Sel.not().and(r.offset.bits(p.bar0Log2 - 1, p.ramLog2).eq(p.ramOffset >> p.ramLog2));
  return {
    idle: () => {
      m.if(req.valid.and(req.sop), () => {
        r.hdr.next(req.hdr);
        r.offset.next(req.offset.trunc(p.bar0Log2));
        r.bar2Sel.next(req.bar.eq(BAR2));
        r.poisoned.next(req.error.eq(RxError.POISONED));
        r.len.next(lenNow);
        r.fbe.next(f.firstBe);
        r.lbe.next(f.lastBe);
        r.pIdx.next(0);
        r.lane.next(0);
        r.beatValid.next(0);
        r.sendLeft.next(lenNow);
        r.sopPending.next(1);
        r.issueLeft.next(
          lenNow
            .add(L - 1)
            .bits(10, log2ceil(L))
            .zext(11),
        );
        r.lastLane.next(lenNow.sub(1).bits(log2ceil(L) - 1, 0));
        req.ready.set(f.hasData.not()); // a read is one beat: take it now; a write's beats are taken later
        st.goto('decode');
      });
    },
    decode: () => {
      const write = fq.hasData; // the registered request's
      r.dwAddr.next(r.offset.bits(p.bar0Log2 - 1, 2));
      m.if(write.not().and(r.len.gt(p.maxReadDw)), () => {
        ev.ca.set(1);
        r.respStatus.next(CplStatus.CA);
        st.goto('resp');
      })
        .elseIf(write.and(r.poisoned), () => {
          ev.poisoned.set(1);
          st.goto('drop');
        })
        .elseIf(inRam, () => {
          m.if(write, () => st.goto('wr_ram')).else(() => st.goto('rd_ram'));
        })
        .else(() => {
          m.if(write, () => st.goto('wr_reg')).else(() => st.goto('rd_reg'));
        });
    },
    resp: () => {
      m.if(cpl.ready, () => st.goto('idle'));
    },
    drop: () => {
      req.ready.set(1);
      m.if(req.valid.and(req.eop), () => st.goto('idle'));
    },
  };
}

/** The RAM window: a write beat per cycle; reads one beat at a time into the read-data register. */
function ramStates(t: Target): Handlers<'wr_ram' | 'rd_ram'> {
  const { m, L, st, r, req, ramWr, ramRd } = t;
  return {
    wr_ram: () => {
      ramWr.valid.set(req.valid);
      req.ready.set(ramWr.ready);
      m.if(req.valid.and(ramWr.ready), () => {
        r.dwAddr.next(r.dwAddr.add(L));
        r.pIdx.next(r.pIdx.add(L));
        r.issueLeft.next(r.issueLeft.dec());
        m.if(req.eop, () => st.goto('idle'));
      });
    },
    rd_ram: () => {
      ramRd.valid.set(r.issueLeft.ne(0).and(r.beatValid.not()).and(r.inflight.not()));
      m.if(ramRd.valid.and(ramRd.ready), () => {
        r.dwAddr.next(r.dwAddr.add(L));
        r.issueLeft.next(r.issueLeft.dec());
      });
    },
  };
}

/**
 * RAM ports: read data arrives the cycle after the request; write beat lane i is payload dword pIdx + i. Its
 * byte enables come from flags of the beat (the first beat, the last one and the last dword's lane), not
 * from comparing each lane's dword index with the length, which would be an adder and a compare per lane.
 */
function ramPorts(t: Target): void {
  const { m, p, L, r, req, ramWr, ramRd } = t;
  const ramAw = p.ramLog2 - 2;
  r.inflight.next(ramRd.valid.and(ramRd.ready));
  m.if(ramRd.rvalid, () => {
    r.beat.next(ramRd.rdata);
    r.beatValid.next(1);
  });
  const firstBeat = r.pIdx.eq(0);
  const lastBeat = r.issueLeft.eq(1).and(r.len.ne(1)); // a 1 DW request has First DW BE only (2.2.5)
  const bes: Expr[] = [];
  for (let i = L - 1; i >= 0; i--) {
    const first = i === 0 ? firstBeat : lit(0, 1);
    const last = lastBeat.and(r.lastLane.eq(i));
    const be = mux(first, r.fbe, lit(0xf, 4)).and(mux(last, r.lbe, lit(0xf, 4)));
    bes.push(mux(req.keep.bit(i), be, lit(0, 4)));
  }
  ramWr.addr.set(r.dwAddr.trunc(ramAw));
  ramWr.data.set(req.data);
  ramWr.be.set(cat(...bes));
  ramRd.addr.set(r.dwAddr.trunc(ramAw));
}

/** Registers (BAR0 outside the RAM window, BAR2): one dword per cycle over the register port. */
function regStates(t: Target): Handlers<'wr_reg' | 'rd_reg'> {
  const { m, L, st, r, req, reg, regWrite } = t;
  const lastOfBeat = m.let('last_of_beat', r.lane.eq(L - 1).or(r.pIdx.eq(r.len.sub(1))));
  return {
    wr_reg: () => {
      regWrite.set(req.valid);
      req.ready.set(lastOfBeat);
      m.if(req.valid, () => {
        r.pIdx.next(r.pIdx.inc());
        r.lane.next(r.lane.add(1));
        m.if(lastOfBeat, () => r.lane.next(0));
        m.if(r.pIdx.eq(r.len.sub(1)), () => st.goto('idle'));
      });
    },
    rd_reg: () => {
      m.if(r.beatValid.not().and(r.pIdx.lt(r.len)), () => {
        const lanes: Expr[] = [];
        for (let i = L - 1; i >= 0; i--) lanes.push(mux(r.lane.eq(i), reg.rdata, laneOf(r.beat, i)));
        r.beat.next(cat(...lanes));
        r.pIdx.next(r.pIdx.inc());
        r.lane.next(r.lane.add(1));
        r.dwAddr.next(r.dwAddr.inc());
        m.if(lastOfBeat, () => {
          r.lane.next(0);
          r.beatValid.next(1);
        });
      });
    },
  };
}

/**
 * Register port: `dw_addr` is the offset of the dword being read, or written. Writes leave from registers
 * (the dword and its byte enables) a cycle after the dword was taken, so that the payload lane select and the
 * byte enables end here rather than in the register blocks' write decode; `dw_addr` moves on as each write
 * lands. A write's last dword lands while the target is back in idle (the BAR is still the writer's until a
 * new request is taken there); the next request reads no earlier than two cycles after that.
 */
function regPort(t: Target, regBar2: Drivable): void {
  const { m, L, r, req, reg, beOf, regWrite } = t;
  const wrQ = m.reg('reg_wr_q', bit, { reset: 0 });
  const dataQ = m.reg('reg_wdata_q', 32);
  const beQ = m.reg('reg_wbe_q', 4);
  wrQ.next(regWrite);
  dataQ.next(
    select(
      r.lane,
      Array.from({ length: L }, (_, i) => laneOf(req.data, i)),
    ),
  );
  beQ.next(beOf(r.pIdx));
  m.if(wrQ, () => r.dwAddr.next(r.dwAddr.inc())); // never in decode, which sets dw_addr: no write lands then
  reg.wr.set(wrQ);
  reg.addr.set(r.dwAddr);
  reg.wdata.set(dataQ);
  reg.wbe.set(beQ);
  regBar2.set(r.bar2Sel);
}

/** Completions: read data beats, or one beat without data for UR/CA. */
function sendCompletions(t: Target): void {
  const { m, L, st, r, cpl } = t;
  const reading = st.is('rd_ram').or(st.is('rd_reg'));
  const eop = r.sendLeft.le(L);
  let keep = lit((1 << L) - 1, L);
  for (let n = L - 1; n >= 1; n--) keep = mux(r.sendLeft.eq(n), lit((1 << n) - 1, L), keep);
  cpl.valid.set(reading.and(r.beatValid).or(st.is('resp')));
  cpl.hdr.set(r.hdr);
  cpl.status.set(mux(st.is('resp'), r.respStatus, lit(CplStatus.SC, 3)));
  cpl.data.set(r.beat);
  cpl.keep.set(mux(st.is('resp'), lit(0, L), mux(eop, keep, lit((1 << L) - 1, L))));
  cpl.sop.set(mux(st.is('resp'), lit(1, 1), r.sopPending));
  cpl.eop.set(mux(st.is('resp'), lit(1, 1), eop));
  m.if(reading.and(r.beatValid).and(cpl.ready), () => {
    r.beatValid.next(0);
    r.sopPending.next(0);
    r.sendLeft.next(r.sendLeft.sub(L));
    m.if(eop, () => st.goto('idle'));
  });
}

export const Mmio = defineModule(
  'testdev_mmio',
  (m, p: MmioParams) => {
    const L = lanesOf(p.W);
    const ramAw = p.ramLog2 - 2;
    const regAw = p.bar0Log2 - 2;
    if (p.ramOffset % (1 << p.ramLog2) !== 0)
      throw paramError(`MMIO: the RAM window (0x${p.ramOffset.toString(16)}) must be aligned to its size`);
    if (p.bar2Log2 > p.bar0Log2) throw paramError('MMIO: BAR2 must not be larger than BAR0 (one register port)');

    const req = m.input('req', tlpRxStream(p.W));
    const cpl = m.output('cpl', cplReqStream(p.W));
    const ramWr = m.output('ram_wr', ramWrite(p.W, ramAw));
    const ramRd = m.output('ram_rd', ramRead(p.W, ramAw));
    const reg = m.output('reg', regBus(regAw));
    const regBar2 = m.output('reg_bar2', bit);
    const evCa = m.output('ev_ca', bit);
    const evPoisoned = m.output('ev_poisoned', bit);

    const st = m.fsm('state', STATES);

    // ---- the request being served
    const r = requestRegs(m, p, L);
    const isFirst = (pi: Expr) => pi.eq(0);
    const isLast = (pi: Expr) => pi.eq(r.len.sub(1)).and(r.len.ne(1));
    const beOf = (pi: Expr) => mux(isFirst(pi), r.fbe, lit(0xf, 4)).and(mux(isLast(pi), r.lbe, lit(0xf, 4)));
    const regWrite = m.wire('reg_write', bit);
    const t: Target = { m, p, L, st, r, req, cpl, ramWr, ramRd, reg, beOf, regWrite };

    // ---- defaults
    req.ready.set(0);
    ramWr.valid.set(0);
    ramRd.valid.set(0);
    regWrite.set(0);
    evCa.set(0);
    evPoisoned.set(0);

    // ---- the state machine: intake, RAM and register paths
    const intake = intakeStates(t, { ca: evCa, poisoned: evPoisoned });
    const ram = ramStates(t);
    const regs = regStates(t);
    st.switch({ idle: intake.idle, decode: intake.decode, ...ram, ...regs, resp: intake.resp, drop: intake.drop });

    // ---- ports: RAM, registers, completions
    ramPorts(t);
    regPort(t, regBar2);
    sendCompletions(t);
    return { req, cpl, ram_wr: ramWr, ram_rd: ramRd, reg, reg_bar2: regBar2, ev_ca: evCa, ev_poisoned: evPoisoned };
  },
  { name: (p) => `testdev_mmio_w${p.W}`, doc: 'BAR decode and memory target: RAM window, registers, MSI-X table.' },
);
