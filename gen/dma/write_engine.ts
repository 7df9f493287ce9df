// DMA write engine (device -> host), docs/dma.md: transfers of any length from any device byte address to
// any host address, queued as commands, each ended by a status in command order once its last TLP has left.
//
// Three stages, each with a small queue between:
//   1. cut: each command into memory writes of at most Max_Payload_Size bytes, never past the next MPS
//      multiple (so never across 4 KB, 2.2.7), byte-granular through First/Last DW BE (2.2.5); two cycles a
//      TLP. Bus Master Enable is checked before each; without it the command ends with BUS_MASTER_DISABLED.
//      Each TLP becomes a descriptor (header, beats, where its payload starts in device memory); each command
//      ends with a status descriptor.
//   2. read: one two-line read of device memory per payload beat, at one per cycle, while the beat queue has
//      room for the beat (the reads' data comes back some cycles later, in order, into the data queue).
//   3. send: each beat's bytes taken from its two-line window at the payload's byte offset
//      (gen/dma/shift.ts takeFromWindow) into the output register; a status leaves only after every beat
//      before it has been taken by `req`, so a later message (an MSI-X write) cannot overtake the data.
import { bit, cat, defineModule, type Expr, lit, log2ceil, mux, paramError } from '../hdl';
import { Fifo } from '../lib/fifo';
import { DmaError, nextChunk, sizeFromCode } from '../pcie/dma_common';
import { type DataWidth, lanesOf, tlpStream } from '../pcie/streams';
import { memReqHdr, requestShape } from '../pcie/tlp';
import { dmaCommand, dmaStatus, lineBytes, lineRead } from './ports';
import { takeFromWindow } from './shift';

export interface DmaWriteParams {
  W: DataWidth;
  devBits: number;
  lenBits: number;
  idBits: number;
  /** Largest Max_Payload_Size encoding the function supports (Device Capabilities): 0 (128 B) .. 5 (4 KB). */
  mpsSupported: number;
  /** Beats read ahead of the output: covers the device memory's read latency (depth >= latency + 2). */
  readAhead: number;
  /**
   * false: no data queue of its own. `mem_rd`'s `rvalid` / `rdata` then show the oldest read's data while it is
   * available (not a one-cycle pulse), and the engine takes it with `mem_rd_take` (the DMA fabric's return
   * queues hold the data: gen/virtq/dma_fabric.ts). Default true: the lineRead contract (data always taken).
   */
  dataQueue?: boolean;
  /**
   * Device byte ranges [from, to) whose memory answers reads in word order rather than line order: a read whose
   * first line is in one gets its two lines with the even one in the low half (for a read at an odd line, the
   * halves swapped). A memory of two-line words (virtio-blk's storage port: an odd access's lines are the high half
   * of one AXI word and the low half of the next) then needs no 2W-bit lane select to put them in line order: the
   * engine's byte shifter takes the swap as one more stage (a rotation of the window by a line), which the LUTs of
   * its first stage absorb. Default none.
   */
  wordOrder?: readonly (readonly [number, number])[];
}

/** A field list packed into one vector and unpacked again (the queues carry vectors). */
function packer(fields: [string, number][]) {
  const width = fields.reduce((a, [, w]) => a + w, 0);
  return {
    width,
    pack: (v: Record<string, Expr>) => cat(...fields.map(([k]) => v[k])),
    unpack: (e: Expr) => {
      const out: Record<string, Expr> = {};
      let hi = width - 1;
      for (const [k, w] of fields) {
        out[k] = e.bits(hi, hi - w + 1);
        hi -= w;
      }
      return out;
    },
  };
}

export const DmaWrite = defineModule(
  'dma_write',
  (m, p: DmaWriteParams) => {
    const L = lanesOf(p.W);
    const lw = log2ceil(L);
    const lb = log2ceil(lineBytes(p.W));
    const lineBits = p.devBits - lb;
    if (!Number.isInteger(p.devBits) || p.devBits < lb + 2 || p.devBits > 48)
      throw paramError(`DmaWrite: devBits must be ${lb + 2}..48 (at least four lines), got ${p.devBits}`);
    if (!Number.isInteger(p.mpsSupported) || p.mpsSupported < 0 || p.mpsSupported > 5)
      throw paramError(`DmaWrite: mpsSupported must be 0..5, got ${p.mpsSupported}`);
    if (!Number.isInteger(p.readAhead) || p.readAhead < 2 || p.readAhead > 64)
      throw paramError(`DmaWrite: readAhead must be 2..64, got ${p.readAhead}`);

    const cmd = m.input('cmd', dmaCommand(p.devBits, p.lenBits, p.idBits));
    const status = m.output('status', dmaStatus(p.idBits));
    const busMaster = m.input('bus_master', bit);
    const mps = m.input('max_payload', 3);
    const requesterId = m.input('requester_id', 16);
    const req = m.output('req', tlpStream(p.W));
    const memRd = m.output('mem_rd', lineRead(p.W, lineBits));
    const busy = m.output('busy', bit);

    // ---- commands
    const cmdW = 64 + p.devBits + p.lenBits + p.idBits;
    const queue = m.instance('cmd_queue', Fifo, { width: cmdW, depth: 2 }).io;
    queue.enq.valid.set(cmd.valid);
    queue.enq.data.set(cat(cmd.host_addr, cmd.dev_addr, cmd.len, cmd.id));
    cmd.ready.set(queue.enq.ready);
    const q = queue.deq.data;

    // ---- 1. cut the command into TLP descriptors
    const beatBits = 11 - lw; // beats of a TLP: up to 1024 dwords / L
    const desc = packer([
      ['statusOnly', 1],
      ['id', p.idBits],
      ['err', 3],
      ['hdr', 128],
      ['beats', beatBits + 1],
      ['line', lineBits],
      ['shift', lb],
      ['lastKeep', L],
    ]);
    const descQ = m.instance('desc_queue', Fifo, { width: desc.width, depth: 2 }).io;
    const st = m.fsm('cut_state', ['idle', 'calc', 'hdr'] as const);
    const host = m.reg('host', 64);
    const dev = m.reg('dev', p.devBits);
    const rem = m.reg('rem', p.lenBits, { reset: 0 });
    const id = m.reg('id', p.idBits);
    const err = m.reg('err', 3, { reset: 0 });
    const chunk = m.reg('chunk', 13);
    const shape = requestShape(host, chunk);
    const beats = shape.lengthDw.add(L - 1).bits(11, lw);
    // keep of the TLP's last beat: the lanes its last lengthDw mod L dwords use (all of them when 0)
    const tail = shape.lengthDw.bits(lw - 1, 0);
    const keepOf = (n: number) => lit(n === 0 ? (1 << L) - 1 : (1 << n) - 1, L);
    let lastKeep = keepOf(0);
    for (let n = L - 1; n >= 1; n--) lastKeep = mux(tail.eq(n), keepOf(n), lastKeep);
    // Payload byte 0 is the first byte of the dword holding the first byte: device byte dev - host[1:0].
    const payloadStart = m.let('payload_start', dev.sub(host.bits(1, 0).zext(p.devBits)));
    const ending = m.let('cut_ending', st.is('calc').and(rem.eq(0).or(err.ne(0))));

    descQ.enq.valid.set(0);
    descQ.enq.data.set(
      desc.pack({
        statusOnly: ending,
        id,
        err,
        hdr: memReqHdr({
          write: true,
          addr: host,
          length: shape.length,
          firstBe: shape.firstBe,
          lastBe: shape.lastBe,
          requesterId,
          tag: lit(0, 8),
        }),
        beats: beats.trunc(beatBits + 1),
        line: payloadStart.bits(p.devBits - 1, lb),
        shift: payloadStart.bits(lb - 1, 0),
        lastKeep,
      }),
    );
    st.switch({
      idle: () => {
        m.if(queue.deq.valid, () => {
          host.next(q.bits(cmdW - 1, cmdW - 64));
          dev.next(q.bits(cmdW - 65, p.lenBits + p.idBits));
          rem.next(q.bits(p.lenBits + p.idBits - 1, p.idBits));
          id.next(q.bits(p.idBits - 1, 0));
          err.next(mux(busMaster, lit(DmaError.NONE, 3), lit(DmaError.BUS_MASTER_DISABLED, 3)));
          st.goto('calc');
        });
      },
      calc: () => {
        m.if(ending, () => {
          descQ.enq.valid.set(1);
          m.if(descQ.enq.ready, () => st.goto('idle'));
        })
          .elseIf(busMaster.not(), () => err.next(DmaError.BUS_MASTER_DISABLED))
          .else(() => {
            chunk.next(nextChunk(host, rem, sizeFromCode(mps, p.mpsSupported)));
            st.goto('hdr');
          });
      },
      hdr: () => {
        descQ.enq.valid.set(1);
        m.if(descQ.enq.ready, () => {
          host.next(host.add(chunk.zext(64)));
          dev.next(dev.add(chunk.zext(Math.max(p.devBits, 13)).trunc(p.devBits)));
          rem.next(rem.sub(chunk.zext(Math.max(p.lenBits, 13)).trunc(p.lenBits)));
          st.goto('calc');
        });
      },
    });
    queue.deq.ready.set(st.is('idle'));

    // ---- 2. one device-memory read per payload beat
    const meta = packer([
      ['hasData', 1],
      ['id', p.idBits],
      ['err', 3],
      ['hdr', 128],
      ['sop', 1],
      ['eop', 1],
      ['keep', L],
      ['shift', lb],
      ...(p.wordOrder?.length ? ([['rot', 1]] as [string, number][]) : []),
    ]);
    const metaQ = m.instance('beat_queue', Fifo, { width: meta.width, depth: p.readAhead }).io;
    const ownQueue = p.dataQueue !== false;
    const take = ownQueue ? undefined : m.output('mem_rd_take', bit);
    let dataQ: { deq: { valid: Expr; data: Expr; ready: { set: (e: Expr) => void } } };
    if (take === undefined) {
      const q = m.instance('data_queue', Fifo, { width: 2 * p.W, depth: p.readAhead }).io;
      q.enq.valid.set(memRd.rvalid);
      q.enq.data.set(memRd.rdata);
      dataQ = q;
    } else dataQ = { deq: { valid: memRd.rvalid, data: memRd.rdata, ready: take } };
    const d = desc.unpack(descQ.deq.data);
    const beat = m.reg('beat', beatBits + 1, { reset: 0 });
    const lastBeat = beat.eq(d.beats.sub(1));
    const isStatus = d.statusOnly.bit(0);
    memRd.valid.set(descQ.deq.valid.and(isStatus.not()).and(metaQ.enq.ready));
    memRd.addr.set(d.line.add(beat.zext(Math.max(lineBits, beatBits + 1)).trunc(lineBits)));
    const readFire = memRd.valid.and(memRd.ready);
    // A read at an odd line of a word-order memory: its data comes with the halves swapped.
    const wordOrder = p.wordOrder ?? [];
    const lineOf = (byte: number) => {
      if (byte % lineBytes(p.W) !== 0 || byte < 0 || byte > 2 ** p.devBits)
        throw paramError(`DmaWrite: wordOrder bound 0x${byte.toString(16)} is not a line address of the device space`);
      return BigInt(byte / lineBytes(p.W));
    };
    const inWordOrder = wordOrder
      .map(([from, to]) => {
        const [a, b] = [lineOf(from), lineOf(to)];
        const lo = a === 0n ? lit(1, 1) : memRd.addr.zext(lineBits + 1).ge(lit(a, lineBits + 1));
        const hi = b === 1n << BigInt(lineBits) ? lit(1, 1) : memRd.addr.zext(lineBits + 1).lt(lit(b, lineBits + 1));
        return lo.and(hi);
      })
      .reduce<Expr>((x, y) => x.or(y), lit(0, 1));
    const rot = memRd.addr.bit(0).and(inWordOrder);
    const statusFire = descQ.deq.valid.and(isStatus).and(metaQ.enq.ready);
    metaQ.enq.valid.set(readFire.or(statusFire));
    metaQ.enq.data.set(
      meta.pack({
        hasData: isStatus.not(),
        id: d.id,
        err: d.err,
        hdr: d.hdr,
        sop: beat.eq(0),
        eop: lastBeat,
        keep: mux(lastBeat, d.lastKeep, keepOf(0)),
        shift: d.shift,
        ...(p.wordOrder?.length ? { rot } : {}),
      }),
    );
    descQ.deq.ready.set(statusFire.or(readFire.and(lastBeat)));
    m.if(readFire, () => beat.next(mux(lastBeat, lit(0, beatBits + 1), beat.inc())));

    // ---- 3. send: beats into the output register, statuses after the beats before them have left
    const out = {
      valid: m.reg('out_valid', bit, { reset: 0 }),
      hdr: m.reg('out_hdr', 128),
      data: m.reg('out_data', p.W),
      keep: m.reg('out_keep', L),
      sop: m.reg('out_sop', bit),
      eop: m.reg('out_eop', bit),
    };
    const stValid = m.reg('st_valid', bit, { reset: 0 });
    const stId = m.reg('st_id', p.idBits);
    const stErr = m.reg('st_err', 3);
    const h = meta.unpack(metaQ.deq.data);
    const outFree = out.valid.not().or(req.ready);
    const sendBeat = m.let('send_beat', metaQ.deq.valid.and(h.hasData.bit(0)).and(dataQ.deq.valid).and(outFree));
    const sendStatus = m.let(
      'send_status',
      metaQ.deq.valid.and(h.hasData.bit(0).not()).and(outFree).and(stValid.not().or(status.ready)),
    );
    metaQ.deq.ready.set(sendBeat.or(sendStatus));
    dataQ.deq.ready.set(sendBeat);
    m.if(sendBeat, () => {
      out.valid.next(1);
      out.hdr.next(h.hdr);
      // (For a read at an odd line of a word-order memory, the halves back into line order; without wordOrder ranges
      // there is no `rot` field and no select.)
      const win = dataQ.deq.data;
      const lineOrder = p.wordOrder?.length
        ? mux(h.rot.bit(0), cat(win.bits(p.W - 1, 0), win.bits(2 * p.W - 1, p.W)), win)
        : win;
      out.data.next(takeFromWindow(lineOrder, h.shift));
      out.keep.next(h.keep);
      out.sop.next(h.sop.bit(0));
      out.eop.next(h.eop.bit(0));
    }).elseIf(req.ready, () => out.valid.next(0));
    req.valid.set(out.valid);
    req.hdr.set(out.hdr);
    req.data.set(out.data);
    req.keep.set(out.keep);
    req.sop.set(out.sop);
    req.eop.set(out.eop);
    m.if(sendStatus, () => {
      stValid.next(1);
      stId.next(h.id);
      stErr.next(h.err);
    }).elseIf(status.ready, () => stValid.next(0));
    status.valid.set(stValid);
    status.id.set(stId);
    status.error.set(stErr);

    busy.set(queue.deq.valid.or(st.is('idle').not()).or(descQ.deq.valid).or(metaQ.deq.valid).or(out.valid).or(stValid));
    return {
      cmd,
      status,
      bus_master: busMaster,
      max_payload: mps,
      requester_id: requesterId,
      req,
      mem_rd: memRd,
      mem_rd_take: take,
      busy,
    };
  },
  {
    name: (p) =>
      `dma_write_w${p.W}_d${p.devBits}_l${p.lenBits}_i${p.idBits}_mps${p.mpsSupported}_ra${p.readAhead}` +
      (p.dataQueue === false ? '_pull' : '') +
      (p.wordOrder?.length ? `_wo${p.wordOrder.map(([a, b]) => `${a.toString(16)}_${b.toString(16)}`).join('_')}` : ''),
    doc: 'DMA write engine: device memory -> host memory, byte-granular, MWr split at MPS/4 KB, one beat per cycle.',
  },
);
