// The data plane's DMA fabric (docs/data-plane.md, "The DMA fabric"): N clients share one DmaRead and one
// DmaWrite (gen/dma).
//
//   c<i>_rd_cmd  -> rr arbiter -> [region check] -> dma_rd.cmd      dma_rd.status -> by id -> c<i>_rd_status
//   c<i>_wr_cmd  -> rr arbiter -> [region check] -> dma_wr.cmd      dma_wr.status -> by id -> c<i>_wr_status
//   dma_rd.mem_wr -> by device address -> c<i>_mem_wr       dma_wr.mem_rd -> by device address -> c<i>_mem_rd
//   tx <- tx_arb <- [dma_rd.req, dma_wr.req]                 cpl -> dma_rd.cpl
//   irq_in -> (held until the TLPs ahead of it have left on tx) -> irq_out
//
// Regions. Client i owns 2^regions[i] bytes; its command and memory addresses are offsets in that region. The
// engines see one device address space: {client, guard bit, offset} (the offset as wide as the largest region).
// A memory access of the engines is two consecutive lines, and the first line of a transfer's first access can
// lie before the transfer (the engines start a payload at a host dword boundary), so the first line of an access
// to a region's first line may be the line before the region. The guard bit keeps that line apart: it is in the
// upper, unused half of the previous client's slot, and an access whose first line is there goes to the next
// client (whose line 0 is its second line: the client sees line offset all-ones, wrapping to 0). A command that
// would run past its region's end never reaches the engine's memory side: it is passed on with length 0 and ends
// with BAD_PARAMS (in its place among the client's statuses), so no client's transfer touches another's memory.
//
// Statuses: the engines' command id is {rejected, client, the client's id}; statuses come in the engines'
// command order, so each client sees its own in its own command order. Each client's statuses leave from a
// register slice (a client that does not take its status stalls the engine's statuses for everyone).
//
// The write engine's memory reads come back in request order; clients' memories differ in latency. With
// `returnQueues`, each client's data waits in its own return queue until the reads before it have been handed to
// the engine: reads go to any client at one per cycle, a switch between clients costs nothing. Without, a read
// for another client than the last one waits until every read outstanding has come back (a run of reads to one
// client flows at one per cycle; a switch costs the first client's latency once).
//
// Interrupt ordering: an `irq_in` bit (a queue's used buffer notification, raised after the DMA write status
// of the write that publishes the used element) leaves on `irq_out` only once every TLP that had entered the
// transmit arbiter before it has been taken on `tx`. The endpoint takes `dp_tx` straight into its transmit
// arbiter (gen/virtio/top.ts: dp_gate is combinational, tx_arb's slice is in order), and its MSI-X message or
// INTx message for the notification enters that arbiter later: it cannot overtake the writes on the link.
import {
  bit,
  bitsFor,
  cat,
  connect,
  defineModule,
  type Expr,
  lit,
  log2ceil,
  mux,
  orAll,
  paramError,
  select,
} from '../hdl';
import { DmaRead } from '../dma/read_engine';
import { dmaCommand, dmaStatus, lineBytes, lineRead, lineWrite } from '../dma/ports';
import { DmaWrite } from '../dma/write_engine';
import { registeredRoundRobinArbiter } from '../lib/arbiter';
import { Fifo } from '../lib/fifo';
import { RegSlice } from '../lib/skid';
import { PacketArbiter } from '../pcie/arbiter';
import { DmaError } from '../pcie/dma_common';
import { type DataWidth, RxError, tlpStream } from '../pcie/streams';
import { tlpFields } from '../pcie/tlp';

export interface DmaFabricParams {
  W: DataWidth;
  /** log2 of each client's region in bytes (client i: regions[i]); at least four lines, at most 46. */
  regions: readonly number[];
  /** Bits of a transfer's length. */
  lenBits: number;
  /** Bits of a client's command id. */
  idBits: number;
  /** The read engine's tags (outstanding reads) and command slots (gen/dma/read_engine.ts). */
  tags: number;
  slots: number;
  timeoutBits: number;
  /** The write engine's largest Max_Payload_Size code and read-ahead (gen/dma/write_engine.ts). */
  mpsSupported: number;
  readAhead: number;
  /** Width of irq_in / irq_out (one bit per queue). */
  irqBits: number;
  /**
   * The write engine's memory reads through per-client return queues (a read never waits for another client's;
   * `readAhead` x 2W bits of distributed RAM per client, and the engine's own data queue dropped). Default false:
   * a read for another client than the last waits until every outstanding read has come back.
   */
  returnQueues?: boolean;
  /**
   * The clients whose memory answers the write engine's reads in word order (gen/dma/write_engine.ts `wordOrder`):
   * virtio-blk's storage port. Default none.
   */
  wordOrder?: readonly number[];
}

/** Bits of the client number in the engines' device address and command id (at least 1). */
export const fabricClientBits = (clients: number): number => Math.max(1, log2ceil(clients));

/** The engines' parameters inside the fabric: device address {client, guard, offset}, id {rejected, client, id}. */
export function fabricEngineParams(p: DmaFabricParams) {
  const cb = fabricClientBits(p.regions.length);
  const slotBits = Math.max(...p.regions) + 1;
  const devBits = cb + slotBits;
  const idBits = 1 + cb + p.idBits;
  return {
    cb,
    slotBits,
    read: {
      W: p.W,
      tags: p.tags,
      devBits,
      lenBits: p.lenBits,
      idBits,
      timeoutBits: p.timeoutBits,
      slots: p.slots,
    },
    // With return queues the engine takes its reads' data from them (no queue of its own).
    write: {
      W: p.W,
      devBits,
      lenBits: p.lenBits,
      idBits,
      mpsSupported: p.mpsSupported,
      readAhead: p.readAhead,
      dataQueue: !p.returnQueues,
      // Client i's reads: its slot's lower half and the guard half before it (the slot before's upper half, or for
      // client 0 the last slot's).
      ...(p.wordOrder?.length
        ? {
            wordOrder: p.wordOrder.flatMap((i): [number, number][] => {
              const slot = 2 ** slotBits;
              return i === 0
                ? [
                    [0, slot / 2],
                    [2 ** devBits - slot / 2, 2 ** devBits],
                  ]
                : [[i * slot - slot / 2, i * slot + slot / 2]];
            }),
          }
        : {}),
    },
  };
}

export const DmaFabric = defineModule(
  'dma_fabric',
  (m, p: DmaFabricParams) => {
    const N = p.regions.length;
    const lb = log2ceil(lineBytes(p.W));
    if (N < 2) throw paramError(`DmaFabric: at least two clients (regions), got ${N}`);
    for (const [i, r] of p.regions.entries())
      if (!Number.isInteger(r) || r < lb + 2 || r > 46)
        throw paramError(`DmaFabric: regions[${i}] must be ${lb + 2}..46 (log2 bytes, at least four lines), got ${r}`);
    if (!Number.isInteger(p.irqBits) || p.irqBits < 1) throw paramError(`DmaFabric: irqBits must be >= 1`);
    const e = fabricEngineParams(p);
    const { cb, slotBits } = e;
    const offBits = slotBits - 1;
    const engIdBits = e.read.idBits;

    // ---- ports
    const clients = p.regions.map((bits, i) => {
      const lineBits = bits - lb;
      return {
        bits,
        lineBits,
        rd_cmd: m.input(`c${i}_rd_cmd`, dmaCommand(bits, p.lenBits, p.idBits)),
        rd_status: m.output(`c${i}_rd_status`, dmaStatus(p.idBits)),
        wr_cmd: m.input(`c${i}_wr_cmd`, dmaCommand(bits, p.lenBits, p.idBits)),
        wr_status: m.output(`c${i}_wr_status`, dmaStatus(p.idBits)),
        mem_wr: m.output(`c${i}_mem_wr`, lineWrite(p.W, lineBits)),
        mem_rd: m.output(`c${i}_mem_rd`, lineRead(p.W, lineBits)),
      };
    });
    const tx = m.output('tx', tlpStream(p.W));
    const cpl = m.input('cpl', tlpStream(p.W));
    const busMaster = m.input('bus_master', bit);
    const mps = m.input('max_payload', 3);
    const mrrs = m.input('max_read_req', 3);
    const extTagEn = m.input('ext_tag_en', bit);
    const requesterId = m.input('requester_id', 16);
    const timeout = m.input('timeout', p.timeoutBits);
    const irqIn = m.input('irq_in', p.irqBits);
    const irqOut = m.output('irq_out', p.irqBits);
    const busy = m.output('busy', bit);
    const outstanding = m.output('outstanding', bit);
    const evUnexpected = m.output('ev_unexpected', bit);
    const evUr = m.output('ev_ur', bit);
    const evCa = m.output('ev_ca', bit);
    const evPoisoned = m.output('ev_poisoned', bit);
    const evTimeout = m.output('ev_timeout', bit);

    const rd = m.instance('dma_rd', DmaRead, e.read).io;
    const wr = m.instance('dma_wr', DmaWrite, e.write).io;
    const arb = m.instance('tx_arb', PacketArbiter, { spec: tlpStream(p.W), n: 2 }).io;

    // ---- commands: round robin among the clients, one per cycle, into a register in front of the engine
    type Cmd = (typeof clients)[number]['rd_cmd'];
    type Status = (typeof clients)[number]['rd_status'];
    const commands = (
      name: string,
      pick: (c: (typeof clients)[number]) => { cmd: Cmd; status: Status },
      eng: { cmd: typeof rd.cmd; status: typeof rd.status },
    ) => {
      const ins = clients.map((c) => pick(c).cmd);
      const valid = m.reg(`${name}_valid`, bit, { reset: 0 });
      const host = m.reg(`${name}_host`, 64);
      const dev = m.reg(`${name}_dev`, e.read.devBits);
      const len = m.reg(`${name}_len`, p.lenBits);
      const id = m.reg(`${name}_id`, engIdBits - 1);
      const free = m.let(`${name}_free`, valid.not().or(eng.cmd.ready));
      const req = cat(...ins.map((c) => c.valid).reverse());
      // The grant is a register (picked a cycle ahead, parked on the last client when no other asks): a client's
      // `ready` is its grant bit and `free`, two registers deep, so no client's next state (the split engine's
      // command register) sees the other clients' `valid` through the arbiter's priority logic (that path was the
      // whole function's only one of 10 LUT levels). A command from the client the grant is parked on is taken in
      // the cycle it is offered; one from another client a cycle later.
      const a = registeredRoundRobinArbiter(m, `${name}_arb`, req, free);
      ins.forEach((c, i) => c.ready.set(a.grant.bit(i).and(free)));
      // Only a command still offered is taken (the packed engine drops a ring read it no longer wants), or an
      // empty command (id 0, length 0) would end with a status the client never asked for.
      const offered = m.let(`${name}_offered`, a.grant.and(req).ne(0));
      const idx = a.index;
      m.if(free, () => {
        valid.next(offered);
        host.next(
          select(
            a.index,
            ins.map((c) => c.host_addr),
          ),
        );
        dev.next(
          cat(
            idx,
            lit(0, 1),
            select(
              a.index,
              ins.map((c) => c.dev_addr.zext(offBits)),
            ),
          ),
        );
        len.next(
          select(
            a.index,
            ins.map((c) => c.len),
          ),
        );
        id.next(
          cat(
            idx,
            select(
              a.index,
              ins.map((c) => c.id),
            ),
          ),
        );
      });
      eng.cmd.valid.set(valid);
      eng.cmd.host_addr.set(host);
      eng.cmd.dev_addr.set(dev);
      // The region check, once, on the registered command (a check per client before the arbiter was an adder
      // and a compare each): a command fits when offset + len <= 2^bits of its client's region (len 0 fits
      // anywhere). One that does not goes on with length 0 and the rejected bit of its id set.
      const client = dev.bits(e.read.devBits - 1, e.read.devBits - cb);
      const sw = Math.max(offBits, p.lenBits) + 1;
      const end = m.let(
        `${name}_end`,
        dev
          .bits(offBits - 1, 0)
          .zext(sw)
          .add(len.zext(sw)),
      );
      const fit = m.let(
        `${name}_fit`,
        select(
          client,
          clients.map((c) => end.le(lit(2 ** c.bits, sw))),
          lit(0, 1),
        ),
      );
      eng.cmd.len.set(mux(fit, len, lit(0, p.lenBits)));
      eng.cmd.id.set(cat(fit.not(), id));

      // statuses back to the client in the id, through a register slice each
      const sid = eng.status.id;
      const to = sid.bits(engIdBits - 2, p.idBits);
      const rejected = sid.bit(engIdBits - 1);
      const slices = clients.map((c, i) => {
        const s = m.instance(`${name}_status_${i}`, RegSlice, { width: p.idBits + 3 }).io;
        s.in.valid.set(eng.status.valid.and(to.eq(i)));
        s.in.data.set(cat(sid.bits(p.idBits - 1, 0), mux(rejected, lit(DmaError.BAD_PARAMS, 3), eng.status.error)));
        const out = pick(c).status;
        out.valid.set(s.out.valid);
        out.id.set(s.out.data.bits(p.idBits + 2, 3));
        out.error.set(s.out.data.bits(2, 0));
        s.out.ready.set(out.ready);
        return s;
      });
      eng.status.ready.set(
        select(
          to,
          slices.map((s) => s.in.ready),
          lit(1, 1),
        ),
      );
      return { busy: orAll(valid, ...slices.map((s) => s.out.valid)) };
    };
    const rdCmds = commands('rd_cmd', (c) => ({ cmd: c.rd_cmd, status: c.rd_status }), rd);
    const wrCmds = commands('wr_cmd', (c) => ({ cmd: c.wr_cmd, status: c.wr_status }), wr);

    // ---- memory accesses by device address: {client, guard, line offset}; a first line in the guard half of a
    // slot is the line before the next client's region (the second line carries the access's bytes).
    const lineAddrBits = e.read.devBits - lb;
    const route = (addr: Expr) => {
      const client = addr.bits(lineAddrBits - 1, lineAddrBits - cb);
      const guard = addr.bit(lineAddrBits - cb - 1);
      return { target: client.add(guard.zext(cb)), offset: addr.bits(offBits - lb - 1, 0) };
    };
    const w = route(rd.mem_wr.addr);
    clients.forEach((c, i) => {
      c.mem_wr.valid.set(rd.mem_wr.valid.and(w.target.eq(i)));
      c.mem_wr.addr.set(w.offset.trunc(c.lineBits));
      c.mem_wr.data.set(rd.mem_wr.data);
      c.mem_wr.be.set(rd.mem_wr.be);
    });
    // A target with no client (unreachable: commands stay in their regions) takes the write and drops it.
    rd.mem_wr.ready.set(
      select(
        w.target,
        clients.map((c) => c.mem_wr.ready),
        lit(1, 1),
      ),
    );

    const r = route(wr.mem_rd.addr);
    /** Reads in flight between the clients and the engine, with return queues. */
    const returnQueues = (take: Expr): Expr => {
      // The write engine's reads: issued to any client at once, whatever is outstanding elsewhere; each client's
      // data lands in its own return queue and leaves for the engine in request order (the order queue holds the
      // client of each read not yet handed over). Every read has a place in the engine's beat queue until its beat
      // is sent, so at most `readAhead` reads are between issue and hand-over: no queue here can overflow.
      const order = m.instance('rd_order', Fifo, { width: cb, depth: p.readAhead }).io;
      clients.forEach((c, i) => {
        c.mem_rd.valid.set(wr.mem_rd.valid.and(order.enq.ready).and(r.target.eq(i)));
        c.mem_rd.addr.set(r.offset.trunc(c.lineBits));
      });
      wr.mem_rd.ready.set(
        order.enq.ready.and(
          select(
            r.target,
            clients.map((c) => c.mem_rd.ready),
            lit(0, 1),
          ),
        ),
      );
      order.enq.valid.set(wr.mem_rd.valid.and(wr.mem_rd.ready));
      order.enq.data.set(r.target);
      const returns = clients.map((c, i) => {
        const q = m.instance(`rd_return_${i}`, Fifo, { width: 2 * p.W, depth: p.readAhead }).io;
        q.enq.valid.set(c.mem_rd.rvalid);
        q.enq.data.set(c.mem_rd.rdata);
        return q;
      });
      // The oldest read's data, once its client's queue has it: the engine takes it when it sends the beat.
      const head = order.deq.data;
      wr.mem_rd.rvalid.set(
        order.deq.valid.and(
          select(
            head,
            returns.map((q) => q.deq.valid),
            lit(0, 1),
          ),
        ),
      );
      wr.mem_rd.rdata.set(
        select(
          head,
          returns.map((q) => q.deq.data),
        ),
      );
      order.deq.ready.set(take);
      returns.forEach((q, i) => q.deq.ready.set(take.and(head.eq(i))));
      return order.deq.valid;
    };
    /** Without: a read for another client waits until every outstanding read has come back. */
    const waitOnSwitch = (): Expr => {
      const cur = m.reg('rd_target', cb, { reset: 0 });
      const pending = m.reg('rd_pending', bitsFor(p.readAhead + 1), { reset: 0 });
      const sameTarget = r.target.eq(cur).or(pending.eq(0));
      clients.forEach((c, i) => {
        c.mem_rd.valid.set(wr.mem_rd.valid.and(sameTarget).and(r.target.eq(i)));
        c.mem_rd.addr.set(r.offset.trunc(c.lineBits));
      });
      const rdReady = select(
        r.target,
        clients.map((c) => c.mem_rd.ready),
        lit(0, 1),
      );
      wr.mem_rd.ready.set(sameTarget.and(rdReady));
      const rdFire = wr.mem_rd.valid.and(wr.mem_rd.ready);
      const rvalid = select(
        cur,
        clients.map((c) => c.mem_rd.rvalid),
        lit(0, 1),
      );
      m.if(rdFire, () => cur.next(r.target));
      const pw = pending.width;
      pending.next(pending.add(rdFire.zext(pw)).sub(rvalid.zext(pw)));
      wr.mem_rd.rvalid.set(rvalid);
      wr.mem_rd.rdata.set(
        select(
          cur,
          clients.map((c) => c.mem_rd.rdata),
        ),
      );
      return pending.ne(0);
    };
    const readsInFlight = p.returnQueues ? returnQueues(wr.mem_rd_take!) : waitOnSwitch();

    // ---- link side: the engines' requests, whole TLPs, round robin; completions to the read engine
    // The read engine's requests carry no payload (`keep` 0: their data lanes are don't care, docs/tlp-stream.md),
    // so they take the write engine's data lanes: the arbiter's 256-bit data select folds away (~250 LUT).
    const rdIn = arb.in[0] as unknown as typeof tx;
    rdIn.valid.set(rd.req.valid);
    rd.req.ready.set(rdIn.ready);
    rdIn.hdr.set(rd.req.hdr);
    rdIn.data.set(wr.req.data);
    rdIn.keep.set(rd.req.keep);
    rdIn.sop.set(rd.req.sop);
    rdIn.eop.set(rd.req.eop);
    connect(arb.in[1], wr.req);
    connect(tx, arb.out);
    rd.cpl.valid.set(cpl.valid);
    cpl.ready.set(rd.cpl.ready);
    rd.cpl.hdr.set(cpl.hdr);
    rd.cpl.data.set(cpl.data);
    rd.cpl.keep.set(cpl.keep);
    rd.cpl.sop.set(cpl.sop);
    rd.cpl.eop.set(cpl.eop);
    rd.cpl.bar.set(0);
    rd.cpl.offset.set(0);
    rd.cpl.func.set(0);
    rd.cpl.error.set(mux(tlpFields(cpl.hdr).ep, lit(RxError.POISONED, 4), lit(RxError.NONE, 4)));

    for (const eng of [rd, wr]) {
      eng.bus_master.set(busMaster);
      eng.requester_id.set(requesterId);
    }
    rd.max_read_req.set(mrrs);
    rd.ext_tag_en.set(extTagEn);
    rd.timeout.set(timeout);
    wr.max_payload.set(mps);

    // ---- interrupt ordering: TLPs between the engines and `tx`; a notification waits for those ahead of it.
    // Two groups: `a` waits for its count of TLPs to leave; notifications arriving meanwhile gather in `b` (its
    // count the TLPs in the path when the latest joined), which becomes `a` when `a` leaves.
    const eopIn = (s: { valid: Expr; ready: Expr; eop: Expr }) => s.valid.and(s.ready).and(s.eop);
    const cw = 4; // the arbiter holds at most two beats (two TLPs)
    const inPath = m.reg('tx_in_path', cw, { reset: 0 });
    const left = eopIn(tx);
    const inPathNext = inPath.add(eopIn(rd.req).zext(cw)).add(eopIn(wr.req).zext(cw)).sub(left.zext(cw));
    inPath.next(inPathNext);
    const aMask = m.reg('irq_a', p.irqBits, { reset: 0 });
    const aLeft = m.reg('irq_a_ahead', cw, { reset: 0 });
    const bMask = m.reg('irq_b', p.irqBits, { reset: 0 });
    const bLeft = m.reg('irq_b_ahead', cw, { reset: 0 });
    const outReg = m.reg('irq_out_q', p.irqBits, { reset: 0 });
    const dec = (n: Expr) => mux(n.ne(0).and(left), n.sub(1), n);
    const arrived = irqIn.orR();
    const release = aMask.orR().and(aLeft.eq(0));
    outReg.next(mux(release, aMask, lit(0, p.irqBits)));
    m.if(aMask.orR().not(), () => {
      aMask.next(irqIn);
      aLeft.next(inPathNext);
    })
      .elseIf(release, () => {
        m.if(bMask.orR(), () => {
          aMask.next(bMask);
          aLeft.next(dec(bLeft));
          bMask.next(irqIn);
          bLeft.next(inPathNext);
        }).else(() => {
          aMask.next(irqIn);
          aLeft.next(inPathNext);
        });
      })
      .else(() => {
        aLeft.next(dec(aLeft));
        bMask.next(bMask.or(irqIn));
        bLeft.next(mux(arrived, inPathNext, dec(bLeft)));
      });
    irqOut.set(outReg);

    busy.set(rd.busy.or(wr.busy).or(rdCmds.busy).or(wrCmds.busy).or(readsInFlight).or(inPath.ne(0)).or(aMask.orR()));
    outstanding.set(rd.outstanding);
    evUnexpected.set(rd.ev_unexpected);
    evUr.set(rd.ev_ur);
    evCa.set(rd.ev_ca);
    evPoisoned.set(rd.ev_poisoned);
    evTimeout.set(rd.ev_timeout);
    return {
      clients: clients.map(({ rd_cmd, rd_status, wr_cmd, wr_status, mem_wr, mem_rd }) => ({
        rd_cmd,
        rd_status,
        wr_cmd,
        wr_status,
        mem_wr,
        mem_rd,
      })),
      tx,
      cpl,
      bus_master: busMaster,
      max_payload: mps,
      max_read_req: mrrs,
      ext_tag_en: extTagEn,
      requester_id: requesterId,
      timeout,
      irq_in: irqIn,
      irq_out: irqOut,
      busy,
      outstanding,
      ev_unexpected: evUnexpected,
      ev_ur: evUr,
      ev_ca: evCa,
      ev_poisoned: evPoisoned,
      ev_timeout: evTimeout,
    };
  },
  {
    name: (p) =>
      `dma_fabric_w${p.W}_r${p.regions.join('_')}_l${p.lenBits}_i${p.idBits}_t${p.tags}_s${p.slots}` +
      `_to${p.timeoutBits}_mps${p.mpsSupported}_ra${p.readAhead}_q${p.irqBits}${p.returnQueues ? '_rq' : ''}` +
      (p.wordOrder?.length ? `_wo${p.wordOrder.join('_')}` : ''),
    doc: 'DMA fabric: N clients share a DMA read and a DMA write engine; commands arbitrated, statuses and memory accesses routed back.',
  },
);
