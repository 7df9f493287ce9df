// The virtio-blk device (virtio 1.2 device-types/blk) behind the queue engines (docs/virtio-blk.md,
// docs/data-plane.md): it takes validated descriptor chains on `chain`, carries out each request with the DMA
// engines and the storage port, and hands each chain back on `done` with the bytes written. Its decisions are
// the golden model's (tb/virtio/blk/device.ts BlkDevice), check for check.
//
// One request at a time, in phases:
//   recv     the chain's descriptors into a buffer (seg_max + 2 of them), summing readable and writable bytes
//            and keeping the last non-empty writable descriptor (whose last byte is the status byte);
//   check    no writable byte: the chain cannot be completed (used length 0, `ev_bad_request`); too many
//            descriptors, one longer than size_max, or a header of fewer than 16 bytes: IOERR;
//   hdr      the header's 16 bytes from the readable bytes (any framing) into the scratch capture register;
//   decode   type and sector checked; IN / OUT / GET_ID move their data (one DMA command per descriptor piece),
//            DISCARD / WRITE_ZEROES fetch and check each segment, then fetch it again and zero its range;
//   status   after every data transfer has ended and storage has answered every write: the status byte, one
//            byte of DMA from the scratch region to the last writable byte;
//   done     the used element (len = data bytes written + 1).
//
// The device's region of the DMA address space (`devBits` bits at `base`): its lower half is the storage
// window (byte address = storage byte address, served through gen/blk/line_axi.ts on the AXI4 `storage`
// port); its upper half the scratch: the 16-byte capture register (written by the read engine, the header or
// one discard segment), the status byte and the identification string (read by the write engine).
//
// The device is built by parts, each a function that builds its logic in this module and is passed the signals it
// shares with the others explicitly (the records BlkCore, BlkIo, BlkSlots, BlkFront, ...): the slots' state, the
// back end's state, the DMA commands and statuses (here), the front end (front.ts, with the walker of walker.ts),
// the read engine's writes into the region (scratch.ts), the write engine's reads of it (reads.ts), the
// completions and the status stage (status.ts), the back end's request (request.ts). The module body only calls
// them; the order of the calls is the order of the generated Verilog's declarations and statements, so it stays.
import { createHash } from 'node:crypto';
import { bit, cat, connect, defineModule, type ModuleBuilder, lit, mux } from '../hdl';
import { stableJson } from '../hdl/names';
import { Fifo } from '../lib/fifo';
import { PipeReg } from '../lib/skid';
import { axi4 } from '../lib/axi';
import { dmaCommand, dmaStatus, lineRead, lineWrite } from '../dma/ports';
import { type DeviceConfigValues, featureDef } from '../virtio/regmap';
import { chainDesc, chainDone } from '../virtq/ports';
import { LineAxi } from './line_axi';
import { BLK_HDR_SIZE, SECTOR_SIZE } from './defs';
import { BLK_SCRATCH, blkCore, type BlkCore, type VirtioBlkParams } from './params';
import { blkWalker } from './walker';
import { frontEnd, type BlkFront } from './front';
import { scratchWrites, storageErrors, storageWrites } from './scratch';
import { lineReads } from './reads';
import { completions, statusStage } from './status';
import { backEndRequest } from './request';

export {
  BLK_DEFAULT_SLOTS,
  BLK_DEFAULT_STAGE,
  BLK_MAX_SLOTS,
  BLK_SCRATCH,
  type BlkSegLimits,
  blkGeometry,
  type VirtioBlkParams,
} from './params';

/** A short, stable name suffix for a parameter set (the full set would make an unwieldy Verilog name). */
export function paramHash(p: object): string {
  return createHash('sha256').update(stableJson(p)).digest('hex').slice(0, 10);
}

/**
 * What the endpoint offers for a device built with `p` (names and fields of gen/virtio/regmap.ts): the feature
 * bits the RTL honours and the device configuration values that describe it, for the layout's `features` and
 * VirtioRegs' `deviceConfig`. MQ: the device serves any queue (the queue engines tag each chain).
 */
export function blkOffer(p: VirtioBlkParams, queues: number): { features: string[]; config: DeviceConfigValues } {
  const features = ['VIRTIO_BLK_F_SIZE_MAX', 'VIRTIO_BLK_F_SEG_MAX', 'VIRTIO_BLK_F_BLK_SIZE'];
  const config: Record<string, number> = {
    capacity: p.capacity,
    size_max: p.sizeMax,
    seg_max: p.segMax,
    blk_size: SECTOR_SIZE,
  };
  if (p.readOnly) features.push('VIRTIO_BLK_F_RO');
  if (p.flush) features.push('VIRTIO_BLK_F_FLUSH');
  if (queues > 1) {
    features.push('VIRTIO_BLK_F_MQ');
    config.num_queues = queues;
  }
  if (p.discard) {
    features.push('VIRTIO_BLK_F_DISCARD');
    Object.assign(config, {
      max_discard_sectors: p.discard.maxSectors,
      max_discard_seg: p.discard.maxSeg,
      discard_sector_alignment: 1,
    });
  }
  if (p.writeZeroes) {
    features.push('VIRTIO_BLK_F_WRITE_ZEROES');
    // The device always writes zeroes (it never deallocates), so it does not claim it may unmap.
    Object.assign(config, {
      max_write_zeroes_sectors: p.writeZeroes.maxSectors,
      max_write_zeroes_seg: p.writeZeroes.maxSeg,
      write_zeroes_may_unmap: 0,
    });
  }
  for (const f of features) featureDef(f, 'blk');
  return { features, config };
}

/** The module's ports. */
function blkPorts(m: ModuleBuilder, bc: BlkCore) {
  const { p, g, lineBits, W } = bc;
  const chain = m.input('chain', chainDesc(p.queueBits));
  const done = m.output('done', chainDone(p.queueBits));
  const features = m.input('features', 64);
  const rdCmdPort = m.output('rd_cmd', dmaCommand(g.addrBits, p.lenBits, p.idBits));
  const rdStatus = m.input('rd_status', dmaStatus(p.idBits));
  const wrCmdPort = m.output('wr_cmd', dmaCommand(g.addrBits, p.lenBits, p.idBits));
  const wrStatus = m.input('wr_status', dmaStatus(p.idBits));
  const memWr = m.input('mem_wr', lineWrite(W, lineBits));
  const memRd = m.input('mem_rd', lineRead(W, lineBits));
  const storage = m.output('storage', axi4(2 * W, p.devBits - 1));
  const evBad = m.output('ev_bad_request', bit);
  const evDmaError = m.output('ev_dma_error', bit);
  const busy = m.output('busy', bit);
  return {
    chain,
    done,
    features,
    rdCmdPort,
    rdStatus,
    wrCmdPort,
    wrStatus,
    memWr,
    memRd,
    storage,
    evBad,
    evDmaError,
    busy,
  };
}
type BlkPorts = ReturnType<typeof blkPorts>;

// The commands leave from forward pipeline registers (gen/lib PipeReg: flip-flops with an enable, no LUT per
// bit): a walker's command is its descriptor read and 34-bit range arithmetic, and the DMA fabric's command
// arbiter came after it, into the other clients' command registers (the whole function's deepest
// paths crossed this handover). `ready` stays combinational from the fabric (its grant is from registers).
function commandOut(m: ModuleBuilder, bc: BlkCore, name: string, port: BlkPorts['rdCmdPort']) {
  const { p, g } = bc;
  const cmd = m.wire(`${name}_in`, dmaCommand(g.addrBits, p.lenBits, p.idBits));
  const pipe = m.instance(`${name}_pipe`, PipeReg, { width: 64 + g.addrBits + p.lenBits + p.idBits }).io;
  pipe.in.valid.set(cmd.valid);
  pipe.in.data.set(cat(cmd.host_addr, cmd.dev_addr, cmd.len, cmd.id));
  cmd.ready.set(pipe.in.ready);
  const q = pipe.out.data;
  port.valid.set(pipe.out.valid);
  port.host_addr.set(q.bits(q.width - 1, q.width - 64));
  port.dev_addr.set(q.bits(g.addrBits + p.lenBits + p.idBits - 1, p.lenBits + p.idBits));
  port.len.set(q.bits(p.lenBits + p.idBits - 1, p.idBits));
  port.id.set(q.bits(p.idBits - 1, 0));
  pipe.out.ready.set(port.ready);
  return cmd;
}

/** The storage port: AXI4 through LineAxi (gen/blk/line_axi.ts), which the storage window's lines go through. */
function storagePort(m: ModuleBuilder, bc: BlkCore, storage: BlkPorts['storage']) {
  const { p, W } = bc;
  const la = m.instance('store', LineAxi, { W, addrBits: p.devBits - 1, reads: p.storageReads ?? 8 }).io;
  connect(storage, la.axi);
  return la;
}

/** The ports and the device's own command outputs and storage port: what every part may drive or read. */
export type BlkIo = BlkPorts & {
  rdCmd: ReturnType<typeof commandOut>;
  wrCmd: ReturnType<typeof commandOut>;
  la: ReturnType<typeof storagePort>;
};

// ---- per-slot state: a chain received (front end) until its used element is handed back (done). What the
// front end learns about a chain is written once, when it stores the chain, into small memories (LUT RAM),
// each read by the one stage that needs it: the descriptors (both walkers), the byte counts (back end), the
// status byte's host address (status stage) and the used element's fields (completions).
function slotState(m: ModuleBuilder, bc: BlkCore) {
  const { p, S, N, db, sb } = bc;
  const descs = m.memory('descs', { width: 97, depth: S * 2 ** db });
  const INFO = 16 + 2 * N + 2;
  const slotInfo = m.memory('slot_info', { width: INFO, depth: S });
  const slotStatusAt = m.memory('slot_status_at', { width: 64, depth: S });
  const slotUsed = m.memory('slot_used', { width: p.queueBits + 32, depth: S });
  const sReady = m.regArray('slot_ready', S, bit, { reset: 0 });
  const hdrDone = m.regArray('hdr_done', S, bit, { reset: 0 });
  // A DMA transfer of the slot's request failed (header, data, segments).
  const sErr = m.regArray('slot_error', S, bit, { reset: 0 });
  // The status bytes, in a LUT RAM (one write port: the back end's decision, or the status stage's IOERR; two
  // reads: the two halves of a write engine access).
  const statusBytes = m.memory('status_byte', { width: 8, depth: S });
  const used = m.reg('slots_used', sb + 1, { reset: 0 });
  const fHead = m.reg('f_slot', sb, { reset: 0 });
  const bHead = m.reg('b_slot', sb, { reset: 0 });
  return { descs, INFO, slotInfo, slotStatusAt, slotUsed, sReady, hdrDone, sErr, statusBytes, used, fHead, bHead };
}
export type BlkSlots = ReturnType<typeof slotState>;

// ---- back end: the slot's request, in slot order. Its state machine, the byte counts and checks the front end
// made, and its walker: declared before the DMA commands, which the walker drives; the request's logic, which
// uses everything after it, is gen/blk/request.ts.
function backEndState(m: ModuleBuilder, bc: BlkCore, s: BlkSlots, front: BlkFront) {
  const { N, stage, atSlot } = bc;
  const { sErr, bHead } = s;
  const { staged, specDone, specErr } = front;
  const st = m.fsm('state', [
    'idle',
    'check',
    'hdr',
    'prep',
    'decode',
    'data',
    'seg',
    'seg_wait',
    'seg_eval',
    'seg_check',
    'zero',
    'copy',
    'post',
  ] as const);
  const cnt = m.reg('desc_count', 16, { reset: 0 });
  const rdBytes = m.reg('readable', N, { reset: 0 });
  const wrBytes = m.reg('writable', N, { reset: 0 });
  // The checks that need no header, made by the front end: no writable byte; too many descriptors, one over
  // size_max or a header of fewer than 16 bytes.
  const noWritable = m.reg('no_writable', bit, { reset: 0 });
  const malformed = m.reg('malformed', bit, { reset: 0 });
  // A DMA error of the back end's slot, registered: decisions that look at it come at least three cycles
  // after the slot's last read status (hdr or seg_wait, then prep or seg_eval), so it is never stale there.
  const slotErr = m.reg('slot_err', bit, { reset: 0 });
  slotErr.next(atSlot(sErr, bHead));
  const bw = blkWalker(m, bc, s.descs, 'walk', bHead, cnt);
  // The back end's slot's read-ahead state, registered (a cycle old: the slot's bits only rise while it is held).
  const slotFlag = (name: string, arr: typeof staged) => {
    if (!stage) return lit(0, 1);
    const r = m.reg(name, bit, { reset: 0 });
    r.next(atSlot(arr, bHead));
    return r;
  };
  const bStaged = slotFlag('b_staged', staged);
  const bSpecDone = slotFlag('b_spec_done', specDone);
  const bSpecErr = slotFlag('b_spec_error', specErr);
  return { st, cnt, rdBytes, wrBytes, noWritable, malformed, slotErr, bw, bStaged, bSpecDone, bSpecErr };
}
export type BlkBack = ReturnType<typeof backEndState>;

// The DMA commands: the read commands (the back end's walker or the front end's), and the write commands (the
// status stage's status byte or the back end's walker). The status stage's queue and state are declared here,
// between the two, as its status write is one of the write commands.
function dmaCommands(m: ModuleBuilder, bc: BlkCore, io: BlkIo, s: BlkSlots, front: BlkFront, back: BlkBack) {
  const { p, g, S, sb, stage, slotId, scratchOff } = bc;
  const { rdCmd, wrCmd } = io;
  const { bHead, fHead, slotStatusAt } = s;
  const { fw, fEnd } = front;
  const { bw } = back;
  // Commands: the back end's reads first, then the front end's header reads.
  const rdBack = bw.need.and(bw.dir.not());
  const rdFront = fw.need.and(fw.dir.not());
  rdCmd.valid.set(rdBack.or(rdFront));
  rdCmd.host_addr.set(mux(rdBack, bw.host, fw.host));
  rdCmd.dev_addr.set(mux(rdBack, bw.dev, fw.dev));
  rdCmd.len.set(mux(rdBack, bw.len, fw.len));
  // A front-end piece is the header's (its last one ends at byte 16) or, read ahead, the data's (at or after 16;
  // its last one ends at the walk's end).
  const fData = fw.pos.ge(BLK_HDR_SIZE);
  const fLast = stage ? fw.e.eq(BLK_HDR_SIZE).or(fw.e.eq(fEnd)) : fw.last;
  rdCmd.id.set(mux(rdBack, slotId(false, 0, bHead), slotId(true, fLast, fHead, stage ? fData : 0)));
  fw.ready.set(rdCmd.ready.and(rdBack.not()));
  // The status byte's write (the status stage, below) goes before the back end's data writes.
  const sst = m.fsm('s_state', ['idle', 'reads', 'fence', 'issue'] as const);
  const fenceIoerr = m.wire('fence_ioerr', bit, { default: 0 });
  // The back end's status byte for its slot (written a cycle after its decision, below).
  const bStatus = m.reg('b_status', 8);
  const bStatusWrite = m.reg('b_status_write', bit, { reset: 0 });
  const stQ = m.instance('status_queue', Fifo, { width: sb + 1 + 1 + 32 + 16, depth: S }).io;
  const sSlot = stQ.deq.data.bits(sb + 49, 50);
  const statusCmd = sst.is('issue');
  wrCmd.valid.set(bw.need.and(bw.dir).or(statusCmd));
  wrCmd.host_addr.set(mux(statusCmd, slotStatusAt.readAsync(sSlot), bw.host));
  wrCmd.dev_addr.set(
    mux(statusCmd, lit(BigInt(g.base), g.addrBits).or(scratchOff(sSlot, BLK_SCRATCH.status).zext(g.addrBits)), bw.dev),
  );
  wrCmd.len.set(mux(statusCmd, lit(1, p.lenBits), bw.len));
  wrCmd.id.set(mux(statusCmd, slotId(true, 0, sSlot), slotId(false, 0, bHead)));
  bw.ready.set(mux(bw.dir, wrCmd.ready.and(statusCmd.not()), rdCmd.ready));
  return { rdBack, statusCmd, sst, fenceIoerr, bStatus, bStatusWrite, stQ, sSlot };
}
export type BlkCommands = ReturnType<typeof dmaCommands>;

// Statuses: the back end counts its own transfers (reads as running totals, so the status stage can wait
// for a request's last one); header reads mark their slot; status writes complete; errors mark the slot.
function dmaStatuses(m: ModuleBuilder, bc: BlkCore, io: BlkIo, s: BlkSlots, front: BlkFront, cmds: BlkCommands) {
  const { sb, TAG, LAST, DATA, stage } = bc;
  const { rdCmd, wrCmd, rdStatus, wrStatus, evDmaError } = io;
  const { hdrDone, sErr } = s;
  const { specErr, specDone } = front;
  const { rdBack, statusCmd } = cmds;
  const rdIssued = m.reg('rd_issued', 16, { reset: 0 });
  const rdEnded = m.reg('rd_ended', 16, { reset: 0 });
  const wrOut = m.reg('wr_outstanding', 8, { reset: 0 });
  rdStatus.ready.set(1);
  wrStatus.ready.set(1);
  const rdBackFire = rdCmd.fire().and(rdBack);
  const rdBackDone = rdStatus.valid.and(rdStatus.id.bit(TAG).not());
  const wrBackFire = wrCmd.fire().and(statusCmd.not());
  const wrBackDone = wrStatus.valid.and(wrStatus.id.bit(TAG).not());
  m.if(rdBackFire, () => rdIssued.next(rdIssued.inc()));
  m.if(rdBackDone, () => rdEnded.next(rdEnded.inc()));
  const rdQuiet = m.let('rd_quiet', rdIssued.eq(rdEnded));
  m.if(wrBackFire.and(wrBackDone.not()), () => wrOut.next(wrOut.inc())).elseIf(wrBackFire.not().and(wrBackDone), () =>
    wrOut.next(wrOut.dec()),
  );
  const rdBad = rdStatus.valid.and(rdStatus.error.ne(0));
  const wrBad = wrStatus.valid.and(wrStatus.error.ne(0));
  // A read-ahead data piece: its error is the slot's only if the header turns out to be a valid OUT (then the
  // back end reports it: `spec_fail`); other requests never used those bytes.
  const specPiece = stage ? rdStatus.id.bit(TAG).and(rdStatus.id.bit(DATA)) : lit(0, 1);
  const specFail = m.wire('spec_fail', bit, { default: 0 });
  evDmaError.set(rdBad.and(specPiece.not()).or(wrBad).or(specFail));
  const rdSlot = rdStatus.id.trunc(sb);
  // A header is done when its 16 bytes have landed in the capture register (below), not at its read's status:
  // the read engine gives statuses in command order, so a header read issued after another request's data read
  // would wait for all of that data. Its status still ends it when it failed (the bytes never all come): on the
  // last piece's status, with an error of that piece or an earlier one. A header whose bytes all came cannot
  // fail (a completion that is not taken is not written), so a late success status of a slot's earlier request
  // (the slot freed and taken again meanwhile) is ignored.
  // Slot by slot, so that a slot's own error bit is looked at rather than a mux of all of them.
  const hdrEnds = rdStatus.valid.and(rdStatus.id.bit(TAG)).and(rdStatus.id.bit(LAST)).and(specPiece.not());
  hdrDone.items.forEach((done, k) => m.if(hdrEnds.and(rdSlot.eq(k)).and(rdBad.or(sErr.items[k])), () => done.next(1)));
  m.if(rdBad.and(specPiece.not()), () => sErr.nextAt(rdSlot, 1));
  if (stage) {
    m.if(rdBad.and(specPiece), () => specErr.nextAt(rdSlot, 1));
    m.if(rdStatus.valid.and(specPiece).and(rdStatus.id.bit(LAST)), () => specDone.nextAt(rdSlot, 1));
  }
  m.if(wrBad, () => sErr.nextAt(wrStatus.id.trunc(sb), 1));
  return { rdIssued, rdEnded, wrOut, rdQuiet, specFail };
}
export type BlkStatuses = ReturnType<typeof dmaStatuses>;

export const VirtioBlk = defineModule(
  'virtio_blk',
  (m, p: VirtioBlkParams) => {
    const bc = blkCore(p);
    const ports = blkPorts(m, bc);
    const rdCmd = commandOut(m, bc, 'rd_cmd', ports.rdCmdPort);
    const wrCmd = commandOut(m, bc, 'wr_cmd', ports.wrCmdPort);
    const io: BlkIo = { ...ports, rdCmd, wrCmd, la: storagePort(m, bc, ports.storage) };
    const s = slotState(m, bc);
    const front = frontEnd(m, bc, io, s);
    const back = backEndState(m, bc, s, front);
    const cmds = dmaCommands(m, bc, io, s, front, back);
    const stats = dmaStatuses(m, bc, io, s, front, cmds);
    const scratch = scratchWrites(m, bc, io, s, front);
    const writes = storageWrites(m, bc, io, s, back, scratch, stats);
    const errs = storageErrors(m, bc, io, s);
    lineReads(m, bc, io, s, scratch);
    const comp = completions(m, bc, io, s, front);
    statusStage(m, bc, io, s, cmds, stats, errs, comp);
    backEndRequest(m, bc, io, s, back, cmds, stats, scratch, writes, errs);
    // Busy while any part holds a request: the back end or the status stage not idle, the front end receiving or
    // storing a chain, or a slot taken.
    ports.busy.set(
      back.st
        .is('idle')
        .not()
        .or(cmds.sst.is('idle').not())
        .or(front.fst.is('recv').not())
        .or(front.fCnt.ne(0))
        .or(s.used.ne(0)),
    );
    return {
      chain: ports.chain,
      done: ports.done,
      features: ports.features,
      rd_cmd: ports.rdCmdPort,
      rd_status: ports.rdStatus,
      wr_cmd: ports.wrCmdPort,
      wr_status: ports.wrStatus,
      mem_wr: ports.memWr,
      mem_rd: ports.memRd,
      storage: ports.storage,
      ev_bad_request: ports.evBad,
      ev_dma_error: ports.evDmaError,
      busy: ports.busy,
    };
  },
  {
    name: (p) => `virtio_blk_w${p.W}_${paramHash(p)}`,
    doc: 'virtio-blk device: requests from validated chains, data through the DMA engines, AXI4 storage.',
  },
);
