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
import { createHash } from 'node:crypto';
import { bit, bitsFor, cat, connect, defineModule, type Expr, lit, log2ceil, mux, paramError, Signal } from '../hdl';
import { stableJson } from '../hdl/names';
import { Fifo } from '../lib/fifo';
import { PipeReg } from '../lib/skid';
import { muxTree } from '../lib/mux';
import { axi4 } from '../lib/axi';
import { dmaCommand, dmaStatus, lineBytes, lineRead, lineWrite } from '../dma/ports';
import { type DataWidth } from '../pcie/streams';
import { type DeviceConfigValues, featureDef } from '../virtio/regmap';
import { chainDesc, chainDone } from '../virtq/ports';
import { LineAxi } from './line_axi';
import { BLK_HDR_SIZE, BLK_ID_BYTES, BLK_S, BLK_T, SECTOR_SIZE } from './defs';

export interface BlkSegLimits {
  /** max_*_sectors: sectors per segment. */
  maxSectors: number;
  /** max_*_seg: segments per request. */
  maxSeg: number;
}

export interface VirtioBlkParams {
  W: DataWidth;
  queueBits: number;
  /** log2 of the device's DMA region: the storage window is its lower half (2^(devBits-1) bytes). */
  devBits: number;
  /** Bits of a device address on the DMA engines (default devBits). */
  addrBits?: number;
  /** The region's base device address (a multiple of 2^devBits, default 0). */
  base?: number;
  /** DMA command length and id widths (the engines' lenBits / idBits). */
  lenBits: number;
  idBits: number;
  /** Capacity in 512-byte sectors: at most the storage window. */
  capacity: number;
  /** seg_max: data descriptors per request (a chain may have seg_max + 2: header and status). */
  segMax: number;
  /** size_max: bytes per descriptor (below 2^lenBits). */
  sizeMax: number;
  /** VIRTIO_BLK_F_RO: every write refused. */
  readOnly?: boolean;
  /** VIRTIO_BLK_F_FLUSH offered. */
  flush?: boolean;
  /** VIRTIO_BLK_F_DISCARD offered, with its limits. */
  discard?: BlkSegLimits;
  /** VIRTIO_BLK_F_WRITE_ZEROES offered, with its limits. */
  writeZeroes?: BlkSegLimits;
  /** The identification string GET_ID returns (at most 20 bytes, NUL-padded). */
  id?: string;
  /** AXI reads in flight on the storage port. */
  storageReads?: number;
  /**
   * Requests in the device at once (received, header fetched or being fetched, served, completing): 2..32,
   * default BLK_DEFAULT_SLOTS. Each costs a few LUT RAM bits and ten registers; many hide the host's read latency.
   */
  slots?: number;
  /**
   * Bytes of an OUT's data read ahead per slot (0: none): a chain whose readable bytes are a 16-byte header in
   * descriptors of its own and at most this many data bytes, with the status byte as its only writable byte, has
   * its data read together with its header, into a staging buffer, and copied to storage once the header says it
   * is a valid OUT. A power of two, at least 512. Default BLK_DEFAULT_STAGE when the region's upper quarter holds
   * slots x 2 x stage bytes, else 0.
   */
  stage?: number;
}

/** Request slots by default: enough to keep 512-byte reads short at 1 us host latency. */
export const BLK_DEFAULT_SLOTS = 16;
/** The most request slots a build may have. */
export const BLK_MAX_SLOTS = 32;
/** Bytes of an OUT's data read ahead per slot by default (a page: Linux's 4 KiB writes). */
export const BLK_DEFAULT_STAGE = 4096;

/** Scratch layout (byte offsets in the region's upper half). */
export const BLK_SCRATCH = { capture: 0, status: 16, id: 32, image: 64 } as const;

/** Checked parameters and derived sizes. */
export function blkGeometry(p: VirtioBlkParams) {
  const addrBits = p.addrBits ?? p.devBits;
  const base = p.base ?? 0;
  const B = lineBytes(p.W);
  const lb = log2ceil(B);
  if (!Number.isInteger(p.devBits) || p.devBits < 12 || p.devBits > 48)
    throw paramError(`VirtioBlk: devBits must be 12..48, got ${p.devBits}`);
  if (addrBits < p.devBits) throw paramError(`VirtioBlk: addrBits ${addrBits} below devBits ${p.devBits}`);
  if (base % 2 ** p.devBits !== 0 || base < 0 || base + 2 ** p.devBits > 2 ** addrBits)
    throw paramError(
      `VirtioBlk: base 0x${base.toString(16)} is not a multiple of 2^${p.devBits} inside the address space`,
    );
  const window = 2 ** (p.devBits - 1);
  if (!Number.isSafeInteger(p.capacity) || p.capacity < 1 || p.capacity * SECTOR_SIZE > window)
    throw paramError(`VirtioBlk: capacity ${p.capacity} sectors does not fit the ${window}-byte storage window`);
  if (!Number.isInteger(p.segMax) || p.segMax < 1 || p.segMax > 1022)
    throw paramError(`VirtioBlk: segMax must be 1..1022, got ${p.segMax}`);
  if (!Number.isInteger(p.sizeMax) || p.sizeMax < 512 || p.sizeMax >= 2 ** p.lenBits)
    throw paramError(`VirtioBlk: sizeMax must be 512..2^lenBits-1 (${2 ** p.lenBits - 1}), got ${p.sizeMax}`);
  for (const [name, l] of [
    ['discard', p.discard],
    ['writeZeroes', p.writeZeroes],
  ] as const)
    if (l && (l.maxSeg < 1 || l.maxSeg > 256 || l.maxSectors < 1 || l.maxSectors >= 2 ** 32))
      throw paramError(`VirtioBlk: ${name} limits maxSeg 1..256, maxSectors 1..2^32-1, got ${JSON.stringify(l)}`);
  const slots = p.slots ?? BLK_DEFAULT_SLOTS;
  if (!Number.isInteger(slots) || slots < 2 || slots > BLK_MAX_SLOTS || 2 ** (p.idBits - 2) < slots)
    throw paramError(`VirtioBlk: slots must be 2..${BLK_MAX_SLOTS} (and fit idBits - 2 bits), got ${slots}`);
  // The staging buffers: slot k's at the region's upper quarter + k x 2 x stage + stage (its capture register in
  // the 16 bytes before, so one walk over a chain's readable bytes puts the header there and the data after it).
  const sb = log2ceil(slots);
  const stageFits = (n: number) => 2 ** sb * 2 * n <= window / 2 && 2 ** (p.idBits - 3) >= slots;
  const stage = p.stage ?? (stageFits(BLK_DEFAULT_STAGE) ? BLK_DEFAULT_STAGE : 0);
  if (stage !== 0 && (!Number.isInteger(stage) || stage < 512 || (stage & (stage - 1)) !== 0 || !stageFits(stage)))
    throw paramError(
      `VirtioBlk: stage ${stage} must be 0 or a power of two of at least 512 whose ${slots} slots' buffers (twice its size each) fit the ${window / 2}-byte upper quarter of the region (and the slot fit idBits - 3 bits)`,
    );
  const id = new TextEncoder().encode(p.id ?? '');
  if (id.length > BLK_ID_BYTES) throw paramError(`VirtioBlk: id '${p.id}' is longer than ${BLK_ID_BYTES} bytes`);
  // A slot's scratch: 64 bytes, or two lines when a line is wider (so one access never reaches the capture
  // registers of two slots).
  const strideBits = Math.max(6, lb + 1);
  if (slots << strideBits > window)
    throw paramError(`VirtioBlk: ${slots} slots' scratch does not fit the ${window}-byte upper half of the region`);
  if (slots << strideBits > (stage ? window / 2 : window))
    throw paramError(`VirtioBlk: ${slots} slots' scratch does not fit below the staging buffers`);
  return { addrBits, base, B, lb, lineBits: p.devBits - lb, window, descs: p.segMax + 2, id, slots, strideBits, stage };
}

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

const FLUSH_BIT = featureDef('VIRTIO_BLK_F_FLUSH', 'blk').bit;
const DISCARD_BIT = featureDef('VIRTIO_BLK_F_DISCARD', 'blk').bit;
const WRITE_ZEROES_BIT = featureDef('VIRTIO_BLK_F_WRITE_ZEROES', 'blk').bit;

export const VirtioBlk = defineModule(
  'virtio_blk',
  (m, p: VirtioBlkParams) => {
    const g = blkGeometry(p);
    const { B, lb, lineBits } = g;
    const W = p.W;
    const S = g.slots;
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

    // The commands leave from forward pipeline registers (gen/lib PipeReg: flip-flops with an enable, no LUT per
    // bit): a walker's command is its descriptor read and 34-bit range arithmetic, and the DMA fabric's command
    // arbiter came after it, into the other clients' command registers (the whole function's deepest
    // paths crossed this handover). `ready` stays combinational from the fabric (its grant is from registers).
    const commandOut = (name: string, port: typeof rdCmdPort) => {
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
    };
    const rdCmd = commandOut('rd_cmd', rdCmdPort);
    const wrCmd = commandOut('wr_cmd', wrCmdPort);

    const la = m.instance('store', LineAxi, { W, addrBits: p.devBits - 1, reads: p.storageReads ?? 8 }).io;
    connect(storage, la.axi);

    const N = 34; // byte counts of a chain (at most 2^32, validated by the queue engine)
    const D = g.descs;
    const db = log2ceil(D);
    const sb = log2ceil(S);
    const ib = log2ceil(D + 1);
    const slotLit = (k: number) => lit(k, sb);
    // A per-slot register at a slot given by an expression: a balanced mux tree (the hdl's select is deeper).
    const atSlot = (arr: { items: readonly Expr[] }, slot: Expr) => muxTree(slot, arr.items);
    // DMA command ids: bit idBits-1 tags the front end's header reads and the status writes; the slot is in
    // the low bits; bit idBits-2 marks a header's last piece.
    // With staging (g.stage), bit idBits-3 marks the front end's data pieces (read ahead into the staging buffer),
    // for which bit idBits-2 marks the last one instead.
    const TAG = p.idBits - 1;
    const LAST = p.idBits - 2;
    const DATA = p.idBits - 3;
    const stage = g.stage;
    const flag1 = (v: Expr | number) => (typeof v === 'number' ? lit(v, 1) : v);
    const slotId = (tag: boolean, last: Expr | number, slot: Expr, data: Expr | number = 0) =>
      stage
        ? cat(lit(tag ? 1 : 0, 1), flag1(last), flag1(data), slot.zext(p.idBits - 3))
        : cat(lit(tag ? 1 : 0, 1), flag1(last), slot.zext(p.idBits - 2));

    // ---- per-slot state: a chain received (front end) until its used element is handed back (done). What the
    // front end learns about a chain is written once, when it stores the chain, into small memories (LUT RAM),
    // each read by the one stage that needs it: the descriptors (both walkers), the byte counts (back end), the
    // status byte's host address (status stage) and the used element's fields (completions).
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
    const advanceSlot = (r: Expr) => (2 ** sb === S ? r.inc() : mux(r.eq(S - 1), slotLit(0), r.inc()));

    // ---- the walker: one DMA command per descriptor overlapping bytes [off, end) of the readable (dir 0:
    // DMA read, host -> device) or writable (dir 1: DMA write, device -> host) bytes of a slot's chain; byte
    // `off` goes to device offset `dev`. The front end has one (headers: always the same direction and range,
    // `fixed`, so those are constants rather than registers), the back end one (everything else).
    const walker = (name: string, slot: Expr, count: Expr, fixed?: { dir: 0 | 1; off: number; end: number | Expr }) => {
      const walking = m.reg(`${name}_walking`, bit, { reset: 0 });
      const dir = fixed ? lit(fixed.dir, 1) : m.reg(`${name}_dir`, bit);
      const off = fixed ? lit(fixed.off, N) : m.reg(`${name}_off`, N);
      const end = fixed ? (typeof fixed.end === 'number' ? lit(fixed.end, N) : fixed.end) : m.reg(`${name}_end`, N);
      const dev = m.reg(`${name}_dev`, p.devBits);
      const idx = m.reg(`${name}_idx`, ib);
      const pos = m.reg(`${name}_pos`, N);
      const d = descs.readAsync(cat(slot, idx.trunc(db)));
      const dLen = d.bits(32, 1).zext(N);
      const atEnd = m.let(`${name}_at_end`, idx.zext(16).ge(count).or(pos.ge(end)));
      const match = d.bit(0).eq(dir);
      const dEnd = pos.add(dLen);
      // A range from byte 0 (the header walker's) starts at or before every descriptor: its piece starts at `pos`,
      // so no comparison with `off` and no host-address adder (s - pos is 0).
      const fromStart = fixed !== undefined && fixed.off === 0;
      const s = m.let(`${name}_s`, fromStart ? pos : mux(off.gt(pos), off, pos));
      const e = m.let(`${name}_e`, mux(end.lt(dEnd), end, dEnd));
      const need = m.let(`${name}_need`, walking.and(atEnd.not()).and(match).and(s.lt(e)));
      const ready = m.wire(`${name}_cmd_ready`, bit);
      const advance = walking.and(atEnd.not()).and(need.not().or(ready));
      m.if(walking.and(atEnd), () => walking.next(0));
      m.if(advance, () => {
        idx.next(idx.inc());
        m.if(match, () => pos.next(dEnd));
      });
      return {
        walking,
        dir,
        need,
        ready,
        /** The command's last piece: it reaches the range's end. */
        last: e.eq(end),
        pos,
        e,
        host: fromStart ? d.bits(96, 33) : d.bits(96, 33).add(s.sub(pos).zext(64)),
        dev: lit(BigInt(g.base), g.addrBits).or(dev.add(s.sub(off).trunc(p.devBits)).zext(g.addrBits)),
        len: e.sub(s).trunc(p.lenBits),
        start: (dr: 0 | 1, from: Expr, to: Expr, at: Expr) => {
          walking.next(1);
          if (dir instanceof Signal && off instanceof Signal && end instanceof Signal) {
            dir.next(dr);
            off.next(from.zext(N));
            end.next(to.zext(N));
          }
          dev.next(at.zext(p.devBits));
          idx.next(0);
          pos.next(0);
        },
      };
    };
    const scratchOff = (slot: Expr, off: number) =>
      cat(lit(1, 1), slot.zext(p.devBits - 1 - g.strideBits), lit(off, g.strideBits));
    // The capture register: at 0 of the slot's scratch, or with staging the 16 bytes before its staging buffer.
    const stageStrideBits = stage ? log2ceil(2 * stage) : 0;
    const captureAt = (slot: Expr) =>
      stage
        ? cat(lit(3, 2), slot.zext(p.devBits - 2 - stageStrideBits), lit(stage - BLK_HDR_SIZE, stageStrideBits))
        : scratchOff(slot, BLK_SCRATCH.capture);

    // ---- front end: a chain into a free slot, then its header's DMA reads issued (not waited for)
    const fst = m.fsm('f_state', ['recv', 'store', 'hdr'] as const);
    const fCnt = m.reg('f_count', 16, { reset: 0 });
    const fRd = m.reg('f_readable', N, { reset: 0 });
    const fWr = m.reg('f_writable', N, { reset: 0 });
    // The status byte's host address: the last byte of the last non-empty writable descriptor.
    const fStatusAt = m.reg('f_status_at', 64);
    const fQueue = m.reg('f_queue', p.queueBits);
    const fId = m.reg('f_id', 16);
    const fSlots = m.reg('f_slots', 16);
    const fBig = m.reg('f_too_big', bit, { reset: 0 });
    const fSplit = stage ? m.reg('f_hdr_split', bit, { reset: 0 }) : undefined;
    // The walk's end: the header's 16 bytes, or with the data read ahead all the readable bytes.
    const fEnd = m.reg('f_end', N, { reset: BLK_HDR_SIZE });
    // Per slot: its data is being read ahead (staged), all those reads have ended (spec_done), one failed.
    const staged = m.regArray('staged', S, bit, { reset: 0 });
    const specDone = m.regArray('spec_done', S, bit, { reset: 0 });
    const specErr = m.regArray('spec_error', S, bit, { reset: 0 });
    chain.ready.set(fst.is('recv').and(used.lt(S)));
    const beat = chain.fire();
    descs.write(cat(fHead, fCnt.trunc(db)), cat(chain.addr, chain.len, chain.write), beat.and(fCnt.lt(D)));
    const first = fCnt.eq(0);
    m.if(beat, () => {
      fCnt.next(mux(fCnt.andR(), fCnt, fCnt.inc()));
      const len = chain.len.zext(N);
      const rdNow = mux(first, lit(0, N), fRd).add(mux(chain.write, lit(0, N), len));
      fRd.next(rdNow);
      // The header ends a readable descriptor: the data's pieces never share a command with the header's.
      if (fSplit)
        fSplit.next(
          first
            .not()
            .and(fSplit)
            .or(chain.write.not().and(rdNow.eq(BLK_HDR_SIZE))),
        );
      fWr.next(mux(first, lit(0, N), fWr).add(mux(chain.write, len, lit(0, N))));
      fBig.next(first.not().and(fBig).or(chain.len.gt(p.sizeMax)));
      // One adder: len - 1 does not wrap (len is not 0 here).
      m.if(chain.write.and(chain.len.ne(0)), () => fStatusAt.next(chain.addr.add(chain.len.sub(1).zext(64))));
      fQueue.next(chain.queue);
      fId.next(chain.id);
      fSlots.next(chain.slots);
      m.if(chain.last, () => fst.goto('store'));
    });
    // The checks that need no header (the back end decides on the same values): no header read for those.
    const fNeedHdr = fWr.ne(0).and(fCnt.le(D)).and(fBig.not()).and(fRd.ge(BLK_HDR_SIZE));
    const fw = walker('f_walk', fHead, fCnt, { dir: 0, off: 0, end: stage ? fEnd : BLK_HDR_SIZE });
    // Read ahead: the status byte is the only writable byte (what an OUT has), the header is in descriptors of its
    // own, and there are 1..stage data bytes. Whatever the header turns out to say, these are device-readable bytes
    // of the chain; they reach storage only once the back end has found a valid OUT.
    const fSpec = fSplit
      ? fSplit
          .and(fWr.eq(1))
          .and(fRd.gt(BLK_HDR_SIZE))
          .and(fRd.le(BLK_HDR_SIZE + stage))
      : lit(0, 1);
    const slotFreed = m.wire('slot_freed', bit);
    const fStored = fst.is('store');
    const fNoWritable = fWr.eq(0);
    slotInfo.write(fHead, cat(fCnt, fRd, fWr, fNoWritable, fNoWritable.or(fNeedHdr).not()), fStored);
    slotStatusAt.write(fHead, fStatusAt, fStored);
    slotUsed.write(fHead, cat(fQueue, fId, fSlots), fStored);
    m.if(fStored, () => {
      sErr.nextAt(fHead, 0);
      staged.nextAt(fHead, fNeedHdr.and(fSpec));
      specDone.nextAt(fHead, 0);
      specErr.nextAt(fHead, 0);
      fEnd.next(mux(fSpec, fRd, lit(BLK_HDR_SIZE, N)));
      m.if(fNeedHdr, () => {
        hdrDone.nextAt(fHead, 0);
        fw.start(0, lit(0, N), lit(BLK_HDR_SIZE, N), captureAt(fHead)); // the fixed range
        fst.goto('hdr');
      }).else(() => {
        hdrDone.nextAt(fHead, 1);
        sReady.nextAt(fHead, 1);
        fHead.next(advanceSlot(fHead));
        fCnt.next(0);
        fst.goto('recv');
      });
    });
    m.if(fst.is('hdr').and(fw.walking.not()), () => {
      sReady.nextAt(fHead, 1);
      fHead.next(advanceSlot(fHead));
      fCnt.next(0);
      fst.goto('recv');
    });
    m.if(fStored.and(slotFreed.not()), () => used.next(used.inc())).elseIf(fStored.not().and(slotFreed), () =>
      used.next(used.dec()),
    );

    // ---- back end: the slot's request, in slot order
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
    const bw = walker('walk', bHead, cnt);
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
      mux(
        statusCmd,
        lit(BigInt(g.base), g.addrBits).or(scratchOff(sSlot, BLK_SCRATCH.status).zext(g.addrBits)),
        bw.dev,
      ),
    );
    wrCmd.len.set(mux(statusCmd, lit(1, p.lenBits), bw.len));
    wrCmd.id.set(mux(statusCmd, slotId(true, 0, sSlot), slotId(false, 0, bHead)));
    bw.ready.set(mux(bw.dir, wrCmd.ready.and(statusCmd.not()), rdCmd.ready));

    // Statuses: the back end counts its own transfers (reads as running totals, so the status stage can wait
    // for a request's last one); header reads mark their slot; status writes complete; errors mark the slot.
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
    hdrDone.items.forEach((done, k) =>
      m.if(hdrEnds.and(rdSlot.eq(k)).and(rdBad.or(sErr.items[k])), () => done.next(1)),
    );
    m.if(rdBad.and(specPiece.not()), () => sErr.nextAt(rdSlot, 1));
    if (stage) {
      m.if(rdBad.and(specPiece), () => specErr.nextAt(rdSlot, 1));
      m.if(rdStatus.valid.and(specPiece).and(rdStatus.id.bit(LAST)), () => specDone.nextAt(rdSlot, 1));
    }
    m.if(wrBad, () => sErr.nextAt(wrStatus.id.trunc(sb), 1));

    // ---- scratch capture (the read engine's writes into the upper half) and storage writes. The two lines of
    // an access are routed one by one: an access starts up to 3 bytes before its first byte (the dword the
    // host address is in), so one may straddle the storage window's end and the scratch's start, or (wrapping)
    // the scratch's end and the storage's line 0.
    const halves = (addr: Expr) => {
      const hi = addr.add(1).trunc(lineBits);
      return {
        loScratch: addr.bit(lineBits - 1),
        hiScratch: hi.bit(lineBits - 1),
        loK: addr.bits(lineBits - 2, 0),
        hiK: hi.bits(lineBits - 2, 0),
      };
    };
    const wh = halves(memWr.addr);
    // The access's lines in word order (its even line in the low half, its odd line in the high half), swapped once
    // (a LUT per bit) for every user: the staging banks (even and odd lines), the capture register (whose lines have
    // a fixed parity) and the storage port (LineAxi takes word order).
    const wrOdd = memWr.addr.bit(0);
    const wordData = m.let(
      'mem_wr_words',
      mux(wrOdd, cat(memWr.data.bits(W - 1, 0), memWr.data.bits(2 * W - 1, W)), memWr.data),
    );
    // The capture registers: one 16-byte word per slot in a LUT RAM with byte enables. A slot's scratch is at
    // least two lines, so an access reaches at most one slot's capture bytes (at 64 bits, lines 0 and 1 of one
    // slot at most).
    const capture = m.memory('capture', { width: 8 * BLK_HDR_SIZE, depth: S });
    const slotLineBits = g.strideBits - lb;
    const capLines = Math.ceil(BLK_HDR_SIZE / B);
    // A scratch line index as slot and line in the slot; lines past the last slot's scratch are no slot's.
    const inSlots = (k: Expr) => {
      const top = sb + slotLineBits;
      const above = top < k.width ? k.bits(k.width - 1, top).eq(0) : lit(1, 1);
      return 2 ** sb === S ? above : above.and(k.bits(top - 1, slotLineBits).lt(S));
    };
    // With staging: a line of the region's upper quarter as slot and line in the slot's 2 x stage bytes (the
    // capture register just below the middle, the staging buffer above it).
    const strideLines = stage ? log2ceil((2 * stage) / B) : 0;
    const halfLines = stage / B;
    const stageArea = (scratch: Expr, k: Expr) => {
      const kk = k.bits(lineBits - 3, 0);
      const top = sb + strideLines;
      const above = top < kk.width ? kk.bits(kk.width - 1, top).eq(0) : lit(1, 1);
      const slot = kk.bits(top - 1, strideLines);
      const ok = scratch.and(k.bit(lineBits - 2)).and(2 ** sb === S ? above : above.and(slot.lt(S)));
      return { slot, lin: kk.bits(strideLines - 1, 0), ok };
    };
    const capHalf = (scratch: Expr, k: Expr) => {
      if (stage) {
        const a = stageArea(scratch, k);
        const cl = log2ceil(capLines);
        const hit = a.ok.and(a.lin.bits(strideLines - 1, cl).eq((halfLines - capLines) >> cl));
        return { slot: a.slot, lis: capLines === 1 ? lit(0, 1) : a.lin.bit(0), hit };
      }
      const lis = k.bits(slotLineBits - 1, 0);
      const slot = k.bits(sb + slotLineBits - 1, slotLineBits);
      return { slot, lis, hit: scratch.and(lis.lt(capLines)).and(inSlots(k)) };
    };
    const cLo = capHalf(wh.loScratch, wh.loK);
    const cHi = capHalf(wh.hiScratch, wh.hiK);
    const capBytes: Expr[] = [];
    const capStrb: Expr[] = [];
    // The capture register's first byte in its first line.
    const capOff = stage ? (stage - BLK_HDR_SIZE) % B : 0;
    // The capture register's lines have a fixed parity (its first line's index in a slot's scratch is fixed and a
    // slot's scratch is an even number of lines), so each byte is one lane of the word-order data: no select.
    const capLine0 = stage ? halfLines - capLines : 0;
    for (let i = BLK_HDR_SIZE - 1; i >= 0; i--) {
      const c = Math.floor((capOff + i) / B);
      const lane = (capOff + i) % B;
      const selLo = cLo.hit.and(cLo.lis.eq(c));
      const selHi = cHi.hit.and(cHi.lis.eq(c));
      const at = 8 * (((capLine0 + c) % 2) * B + lane);
      capBytes.push(wordData.bits(at + 7, at));
      capStrb.push(selLo.and(memWr.be.bit(lane)).or(selHi.and(memWr.be.bit(B + lane))));
    }
    const capSlot = mux(cLo.hit, cLo.slot, cHi.slot);
    const capWe = memWr.valid.and(memWr.ready).and(cLo.hit.or(cHi.hit));
    capture.write(capSlot, cat(...capBytes), capWe, cat(...capStrb));

    // The staging buffers (block RAM): even lines in bank 0, odd lines in bank 1, so an access's two lines are one
    // write per bank (as gen/dma/ram.ts), and a copy reads a storage word (two lines) from both at one row.
    const stageRowBits = stage ? log2ceil(halfLines / 2) : 0;
    const stageBanks = stage
      ? [0, 1].map((b) => m.memory(`stage_bank${b}`, { width: W, depth: 2 ** (sb + stageRowBits) }))
      : [];
    if (stage) {
      const sHalf = (scratch: Expr, k: Expr) => {
        const a = stageArea(scratch, k);
        return { row: cat(a.slot, a.lin.bits(strideLines - 2, 1)), hit: a.ok.and(a.lin.bit(strideLines - 1)) };
      };
      const sLo = sHalf(wh.loScratch, wh.loK);
      const sHi = sHalf(wh.hiScratch, wh.hiK);
      stageBanks.forEach((bank, b) => {
        const useLo = b === 0 ? wrOdd.not() : wrOdd;
        const be = mux(useLo, memWr.be.bits(B - 1, 0), memWr.be.bits(2 * B - 1, B));
        bank.write(
          mux(useLo, sLo.row, sHi.row),
          wordData.bits(W * b + W - 1, W * b),
          memWr.valid.and(memWr.ready).and(mux(useLo, sLo.hit, sHi.hit)),
          { strb: be },
        );
      });
    }
    // The capture bytes each slot's header has received (registered a cycle after the write, with the slot
    // decoded); the header is done once all 16 have. Cleared when the front end stores a chain that needs a header
    // (hdr_done is cleared with them, so a full mask always has hdr_done set); a discard segment's bytes later only
    // set bits already set.
    // Counted rather than kept as a byte mask (a count per slot, one shared adder: the mask cost a LUT per byte per
    // slot): the read engine writes each byte of a header read once, and once the header is done nothing is added
    // (a discard segment's bytes later go into a done slot).
    const capSelQ = m.regArray('cap_sel_q', S, bit, { reset: 0 });
    const capSlotQ = m.reg('cap_slot_q', sb);
    const capStrbQ = m.reg('cap_strb_q', BLK_HDR_SIZE);
    capSelQ.items.forEach((sel, k) => sel.next(capWe.and(capSlot.eq(k))));
    capSlotQ.next(capSlot);
    capStrbQ.next(cat(...capStrb));
    const cb = bitsFor(BLK_HDR_SIZE);
    let ones: Expr[] = Array.from({ length: BLK_HDR_SIZE }, (_, i) => capStrbQ.bit(i));
    for (let w = 1; ones.length > 1; w++) {
      const pairs: Expr[] = [];
      for (let i = 0; i < ones.length; i += 2)
        pairs.push(i + 1 < ones.length ? ones[i].zext(w + 1).add(ones[i + 1].zext(w + 1)) : ones[i].zext(w + 1));
      ones = pairs;
    }
    const hdrCount = m.regArray('hdr_count', S, cb, { reset: 0 });
    const hdrSum = m.let('hdr_sum', atSlot(hdrCount, capSlotQ).add(ones[0].zext(cb)));
    const hdrFull = hdrSum.eq(BLK_HDR_SIZE);
    hdrCount.items.forEach((count, k) => {
      m.if(fStored.and(fHead.eq(k)), () => count.next(0)).elseIf(capSelQ.items[k].and(hdrDone.items[k].not()), () => {
        count.next(hdrSum);
        m.if(hdrFull, () => hdrDone.items[k].next(1));
      });
    });
    // The back end's slot's capture register, registered before anything looks at it.
    const cap = m.reg('cap', 8 * BLK_HDR_SIZE);
    const capField = (lo: number, n: number) => cap.bits(8 * (lo + n) - 1, 8 * lo);

    // Zeroing (DISCARD / WRITE_ZEROES) has the storage write path to itself (no DMA is moving then).
    const zeroing = st.is('zero');
    const zLine = m.reg('zero_line', lineBits - 1);
    const zLeft = m.reg('zero_left', 40);
    // No zeroing write left (registered: zero_left reaching 0 is seen a cycle ahead).
    const zDone = m.reg('zero_done', bit, { reset: 1 });
    const wrStorage = wh.loScratch.and(wh.hiScratch).not();
    const storageBe = cat(
      mux(wh.hiScratch, lit(0, B), memWr.be.bits(2 * B - 1, B)),
      mux(wh.loScratch, lit(0, B), memWr.be.bits(B - 1, 0)),
    );
    // Copying a staging buffer to storage (a read-ahead OUT) has it too: it starts once no back-end read is
    // outstanding, so no DMA write into the storage window can come meanwhile (the front end's reads go to the
    // capture registers and staging buffers). `zero_line` is the copy's storage line as well.
    const copying = stage ? st.is('copy') : lit(0, 1);
    const cpValid = m.reg('copy_valid', bit, { reset: 0 });
    const cpRow = m.reg('copy_row', Math.max(1, stageRowBits));
    const cpLeft = m.reg('copy_left', stageRowBits + 1, { reset: 0 });
    // The next word is read when the one on the banks' outputs is taken (a read enable holds it meanwhile): the
    // storage port takes it as it is (`cp`, once its queue is empty), so it needs no select in front of the queue.
    const cpAdvance = cpValid.not().or(la.cp.ready);
    const cpEn = copying.and(cpAdvance).and(cpLeft.ne(0)).and(rdQuiet);
    const cpWord = stage
      ? cat(...stageBanks.map((b) => b.readSync(cat(bHead, cpRow.trunc(stageRowBits)), { en: cpEn })).reverse())
      : undefined;
    // A storage-window write cannot come while copying (the copy starts once no back-end read is outstanding).
    la.wr.valid.set(mux(zeroing, zDone.not(), memWr.valid.and(wrStorage)));
    la.wr.addr.set(mux(zeroing, zLine, memWr.addr.trunc(lineBits - 1)));
    // A zeroing write's data is ignored (LineAxi writes zeroes for `wr_zero`).
    la.wr.data.set(wordData);
    la.wr.be.set(mux(zeroing, lit((1n << BigInt(2 * B)) - 1n, 2 * B), storageBe));
    la.cp.valid.set(cpValid);
    la.cp.data.set(cpWord ?? lit(0, 2 * W));
    la.cp_word.set(zLine.bits(lineBits - 2, 1));
    // Ready from registers only, whatever the access (a scratch write also waits while the storage queue is full or
    // zeroing runs): the read engine's stall logic sits behind this ready, so the address's route through the
    // fabric and the halves' decode stay out of that path.
    memWr.ready.set(zeroing.not().and(la.wr.ready));
    la.wr_zero.set(zeroing);

    // ---- failed storage writes (a B response other than OKAY), found their request. A zeroing write's (tagged
    // `wr_zero`) is the zeroing request's, which waits for its writes' answers. Any other is an OUT's data: the
    // word is looked up in the storage ranges of the OUTs whose writes may be outstanding (`out_active`, from the
    // data's issue until the status stage has passed the slot's fence), one slot a cycle while B is held, and
    // every slot whose range holds it fails (two OUTs in flight whose ranges overlap both do). The status stage's
    // fence waits for the lookup, so a request's status sees every failure of its writes.
    const wordBits = lineBits - 2; // a storage word (2W bits) index: the storage window is the region's lower half
    const outRange = m.memory('out_range', { width: 2 * wordBits + 1, depth: S });
    const outActive = m.regArray('out_active', S, bit, { reset: 0 });
    const outStart = m.wire('out_start', bit);
    outStart.set(0);
    const scanBusy = m.reg('scan_busy', bit, { reset: 0 });
    const scanSlot = m.reg('scan_slot', sb, { reset: 0 });
    const scanWord = m.reg('scan_word', wordBits);
    const scanIdle = scanBusy.not();
    la.b_ready.set(scanIdle);
    const zErr = m.reg('zero_error', bit, { reset: 0 });
    m.if(la.werr.and(la.werr_zero), () => zErr.next(1));
    const range = outRange.readAsync(scanSlot);
    const inOutRange = scanWord
      .ge(range.bits(wordBits - 1, 0))
      .and(scanWord.zext(wordBits + 1).lt(range.bits(2 * wordBits, wordBits)));
    m.if(scanBusy, () => {
      m.if(atSlot(outActive, scanSlot).and(inOutRange), () => sErr.nextAt(scanSlot, 1));
      scanSlot.next(advanceSlot(scanSlot));
      m.if(scanSlot.eq(S - 1), () => scanBusy.next(0));
    }).elseIf(la.werr.and(la.werr_zero.not()), () => {
      scanBusy.next(1);
      scanSlot.next(0);
      scanWord.next(la.werr_word);
    });

    // ---- reads: each line from the scratch image or storage, answered in request order
    // What a scratch line reads: slot k's status byte at 16 of its scratch, the id at 32 of slot 0's, else 0.
    // The status byte is looked up when the line is asked for (it is final by then: the status stage issues the
    // write that reads it), so the answer only places it.
    // The answer is in word order (gen/blk/line_axi.ts: the storage port's `rdata`), as the DMA write engine is told
    // for the device's region (`wordOrder`): its low half is the access's even line, its high half its odd line. So
    // a storage half is LineAxi's half as it is, and a scratch line's contents depend on its parity only: the status
    // byte's line has one parity, and the id's lines are each of a fixed parity (a slot's scratch is an even number
    // of lines), so each half places only what lines of its parity hold.
    const rdOdd = memRd.addr.bit(0);
    const rdEvenLine = cat(memRd.addr.bits(lineBits - 1, 1).add(rdOdd.zext(lineBits - 1)), lit(0, 1));
    const rdOddLine = cat(memRd.addr.bits(lineBits - 1, 1), lit(1, 1));
    const statusLine = Math.floor(BLK_SCRATCH.status / B);
    const statusLane = BLK_SCRATCH.status % B;
    const statusPar = statusLine % 2;
    const lisBits = slotLineBits - 1; // a line's index in its slot's scratch, without its parity bit
    // A half: {scratch, in a slot's scratch, slot 0, line in the slot without its parity, slot, the slot's status
    // byte (the status line's parity only)}.
    const askHalf = (line: Expr, par: number) => {
      const scratch = line.bit(lineBits - 1);
      const k = line.bits(lineBits - 2, 0);
      const slot = k.bits(sb + slotLineBits - 1, slotLineBits);
      const fields: Expr[] = [scratch, inSlots(k), slot.eq(0)];
      if (lisBits > 0) fields.push(k.bits(slotLineBits - 1, 1));
      fields.push(slot);
      if (par === statusPar) fields.push(statusBytes.readAsync(slot));
      return cat(...fields);
    };
    const halfOf = (h: Expr, par: number) => {
      let hi = h.width - 1;
      const take = (w: number) => {
        const v = h.bits(hi, hi - w + 1);
        hi -= w;
        return v;
      };
      const scratch = take(1);
      const inImage = take(1);
      const slot0 = take(1);
      const lisHi = lisBits > 0 ? take(lisBits) : undefined;
      const slot = take(sb);
      const status = par === statusPar ? take(8) : undefined;
      return { scratch, inImage, slot0, lis: lisHi ? cat(lisHi, lit(par, 1)) : lit(par, 1), slot, status };
    };
    const evenAsk = askHalf(rdEvenLine, 0);
    const oddAsk = askHalf(rdOddLine, 1);
    const order = m.instance('rd_order', Fifo, { width: 1 + evenAsk.width + oddAsk.width, depth: 16 }).io;
    const rdStorage = rdEvenLine
      .bit(lineBits - 1)
      .and(rdOddLine.bit(lineBits - 1))
      .not();
    // Ready from registers only (a scratch read also waits for room in the storage read queue), as for mem_wr.
    const canAsk = order.enq.ready.and(la.rd.ready);
    memRd.ready.set(canAsk);
    order.enq.valid.set(memRd.valid.and(canAsk));
    order.enq.data.set(cat(rdOdd, oddAsk, evenAsk));
    la.rd.valid.set(memRd.valid.and(rdStorage).and(order.enq.ready));
    la.rd.data.set(memRd.addr.trunc(lineBits - 1));
    const idLines = new Map<number, Expr>();
    for (let c = Math.floor(BLK_SCRATCH.id / B); c <= Math.floor((BLK_SCRATCH.id + BLK_ID_BYTES - 1) / B); c++) {
      const bytes: Expr[] = [];
      for (let j = c * B + B - 1; j >= c * B; j--) {
        const i = j - BLK_SCRATCH.id;
        bytes.push(lit(i >= 0 && i < BLK_ID_BYTES ? (g.id[i] ?? 0) : 0, 8));
      }
      idLines.set(c, cat(...bytes));
    }
    const head = order.deq.data;
    const headOddFirst = head.bit(head.width - 1);
    const hOdd = halfOf(head.bits(head.width - 2, evenAsk.width), 1);
    const hEven = halfOf(head.bits(evenAsk.width - 1, 0), 0);
    const par = statusPar === 0 ? hEven : hOdd;
    const other = statusPar === 0 ? hOdd : hEven;
    const lineOf = (h: ReturnType<typeof halfOf>, hPar: number, status: Expr | undefined): Expr => {
      let v: Expr = status ? mux(h.lis.eq(statusLine), status.zext(W).shl(8 * statusLane), lit(0, W)) : lit(0, W);
      for (const [c, line] of idLines) if (c % 2 === hPar) v = v.or(mux(h.slot0.and(h.lis.eq(c)), line, lit(0, W)));
      return mux(h.inImage, v, lit(0, W));
    };
    const headStorage = hEven.scratch.and(hOdd.scratch).not();
    const rOutValid = m.reg('rd_out_valid', bit, { reset: 0 });
    const rOutData = m.reg('rd_out_data', 2 * W);
    la.rdata.ready.set(order.deq.valid.and(headStorage));
    const take = order.deq.valid.and(headStorage.not().or(la.rdata.valid));
    order.deq.ready.set(take);
    rOutValid.next(take);
    const st2 = la.rdata.data;
    // A storage read error (an IN's data) is pending until the next status write's read of its status line,
    // which is that IN's: an IN's (and GET_ID's) data commands are issued only while the status stage is empty
    // (decode's `blocked`), so on the write engine nothing comes between an IN's data and its status write. That
    // read answers IOERR and marks the slot (its used length becomes 1).
    // (A status write's access starts up to 3 bytes before the status byte, so its line is either of the access's
    // two; an access whose first line is storage is an IN's data, even when its second is slot 0's status line.)
    const rdErrPending = m.reg('rd_err_pending', bit, { reset: 0 });
    // The status line's half is the access's first line (the access is at a line of its parity) or its second
    // after a scratch line.
    const parFirst = statusPar === 1 ? headOddFirst : headOddFirst.not();
    const isStatus = par.scratch.and(par.inImage).and(par.lis.eq(statusLine)).and(parFirst.or(other.scratch));
    const failStatus = take.and(isStatus).and(rdErrPending);
    m.if(take.and(headStorage).and(la.rdata_err), () => rdErrPending.next(1)).elseIf(failStatus, () =>
      rdErrPending.next(0),
    );
    m.if(failStatus, () => sErr.nextAt(par.slot, 1));
    const statusOut = mux(isStatus.and(rdErrPending), lit(BLK_S.IOERR, 8), par.status!);
    const halfOut = (h: ReturnType<typeof halfOf>, hPar: number, lanes: Expr) =>
      mux(h.scratch, lineOf(h, hPar, hPar === statusPar ? statusOut : undefined), lanes);
    m.if(take, () =>
      rOutData.next(cat(halfOut(hOdd, 1, st2.bits(2 * W - 1, W)), halfOut(hEven, 0, st2.bits(W - 1, 0)))),
    );
    memRd.rvalid.set(rOutValid);
    memRd.rdata.set(rOutData);

    // ---- completions: a slot's used element once its status byte is written (status writes end in order)
    const comp = m.instance('completions', Fifo, { width: sb + 1 + 32, depth: S }).io;
    const statusesDone = m.reg('statuses_done', sb + 1, { reset: 0 });
    const stWrDone = wrStatus.valid.and(wrStatus.id.bit(TAG));
    const cSlot = comp.deq.data.bits(sb + 32, 33);
    const cNoStatus = comp.deq.data.bit(32);
    done.valid.set(comp.deq.valid.and(cNoStatus.or(statusesDone.ne(0))));
    const usedFields = slotUsed.readAsync(cSlot);
    done.queue.set(usedFields.bits(p.queueBits + 31, 32));
    done.id.set(usedFields.bits(31, 16));
    done.slots.set(usedFields.bits(15, 0));
    // A storage read error found when the status byte went out (above) makes the used length 1.
    done.len.set(mux(cNoStatus.not().and(atSlot(sErr, cSlot)), lit(1, 32), comp.deq.data.bits(31, 0)));
    comp.deq.ready.set(done.fire());
    const usesStatus = done.fire().and(cNoStatus.not());
    m.if(stWrDone.and(usesStatus.not()), () => statusesDone.next(statusesDone.inc())).elseIf(
      stWrDone.not().and(usesStatus),
      () => statusesDone.next(statusesDone.dec()),
    );
    slotFreed.set(done.fire());

    // ---- the status stage: each request's status byte, in slot order, once what it must follow has ended: its
    // reads (a running-total mark) and, after them, the storage writes taken until then (a fence)
    const sMark = stQ.deq.data.bits(15, 0);
    const sLen = stQ.deq.data.bits(47, 16);
    const sFence = stQ.deq.data.bit(48);
    const sNoStatus = stQ.deq.data.bit(49);
    const wMark = m.reg('s_write_mark', 16);
    const sLenErr = m.reg('s_len_error', bit, { reset: 0 });
    const after = (now: Expr, mark: Expr) => now.sub(mark).bit(15).not();
    comp.enq.valid.set(0);
    comp.enq.data.set(cat(sSlot, lit(0, 1), mux(sLenErr, lit(1, 32), sLen)));
    stQ.deq.ready.set(0);
    sst.switch({
      idle: () => {
        sLenErr.next(0);
        m.if(stQ.deq.valid.and(sNoStatus), () => {
          // Nothing to write the status into: handed back with used length 0.
          comp.enq.valid.set(1);
          comp.enq.data.set(cat(sSlot, lit(1, 1), lit(0, 32)));
          stQ.deq.ready.set(comp.enq.ready);
        }).elseIf(stQ.deq.valid, () => {
          m.if(sFence, () => sst.goto('reads')).else(() => sst.goto('issue'));
        });
      },
      reads: () =>
        m.if(after(rdEnded, sMark), () => {
          wMark.next(la.wr_accepted);
          sst.goto('fence');
        }),
      // (Not in a cycle the back end writes a status byte: the status bytes have one write port.)
      fence: () =>
        m.if(after(la.wr_answered, wMark).and(scanIdle).and(bStatusWrite.not()), () => {
          outActive.nextAt(sSlot, 0);
          m.if(atSlot(sErr, sSlot), () => {
            fenceIoerr.set(1);
            sLenErr.next(1);
          });
          sst.goto('issue');
        }),
      issue: () => {
        m.if(wrCmd.ready.and(comp.enq.ready), () => {
          comp.enq.valid.set(1);
          stQ.deq.ready.set(1);
          sst.goto('idle');
        });
      },
    });

    // ---- the request
    const written = m.reg('written', N);
    const isDiscard = m.reg('is_discard', bit);
    const segIdx = m.reg('seg_idx', 9);
    const segCount = m.reg('seg_count', 9);
    const segPass2 = m.reg('seg_pass2', bit);
    const dmaIdle = m.let('dma_idle', bw.walking.not().and(rdQuiet).and(wrOut.eq(0)));
    // sector <= capacity and n <= capacity - sector (no wrap), as: the sector's bits above the capacity's are 0 and
    // sector + n <= capacity in a sum wide enough not to wrap (a 64-bit subtract and compare is twice the LUTs and
    // levels; the capacity is at most 2^38 sectors).
    const capBits = bitsFor(p.capacity);
    const inRange = (sector: Expr, n: Expr) => {
      const w = Math.max(capBits, n.width) + 1;
      const sum = sector.trunc(capBits).zext(w).add(n.zext(w));
      return sector
        .bits(63, capBits)
        .eq(0)
        .and(sum.le(lit(BigInt(p.capacity), w)));
    };
    // The back end's status byte goes into the slot's register a cycle later (it is read only once the request
    // has left the back end), so the decisions do not drive every slot's status register.
    bStatusWrite.next(0);
    statusBytes.write(
      mux(bStatusWrite, bHead, sSlot),
      mux(bStatusWrite, bStatus, lit(BLK_S.IOERR, 8)),
      bStatusWrite.or(fenceIoerr),
    );
    const setStatus = (v: number | Expr) => {
      bStatus.next(v);
      bStatusWrite.next(1);
    };
    const fence = m.reg('fence', bit);
    const finish = (status: number | Expr, n: Expr | number) => {
      setStatus(status);
      written.next(n);
      fence.next(1);
      st.goto('post');
    };
    const negotiated = (b: number) => features.bit(b);
    stQ.enq.valid.set(0);
    stQ.enq.data.set(cat(bHead, lit(0, 1), fence, written.trunc(32).add(1), rdIssued));
    evBad.set(0);
    const capRead = capture.readAsync(bHead);

    // The decode's inputs, each registered one step before it is used: the data byte counts (check), then from
    // the header the request type's class and every comparison the decision needs (prep).
    const outData = m.reg('out_data', N); // readable bytes after the header
    const inData = m.reg('in_data', N); // writable bytes before the status byte
    const flag = (name: string) => m.reg(name, bit);
    const tIn = flag('t_in');
    const tOut = flag('t_out');
    const tFlush = flag('t_flush');
    const tGetId = flag('t_get_id');
    const tDiscard = flag('t_discard');
    const tWz = flag('t_write_zeroes');
    const ioBad = flag('io_bad');
    const dwzBad = flag('dwz_bad');
    const dwzTooMany = flag('dwz_too_many');
    const storageOff = m.reg('storage_off', p.devBits - 1);
    const idLen = m.reg('id_len', N);
    const segUnsupp = flag('seg_unsupp');
    const segIoerr = flag('seg_ioerr');
    const segLast = flag('seg_last');
    const segEmpty = flag('seg_empty');
    const idBad = flag('id_bad');
    // Requests take effect in order. A request that writes storage waits until the reads of storage before it
    // (earlier requests' data on its way to the host through the write engine) have ended; one that reads
    // storage waits for every storage write before it (OUT data still coming). Registered: while the back end
    // is in prep and decode it issues nothing, so what it waits for only ends, and a value a cycle old is safe.
    const blocked = flag('blocked');
    const wordShift = lb + 1;
    const outFirst = storageOff.bits(p.devBits - 2, wordShift);
    outRange.write(
      bHead,
      cat(outFirst.zext(wordBits + 1).add(outData.bits(wordBits + wordShift, wordShift)), outFirst),
      outStart,
    );
    // One that writes host memory from the device (IN, GET_ID) waits for the status stage to be empty, so that
    // an IN's status write follows its data with nothing between (how a storage read error finds its request).
    const stageBusy = stQ.deq.valid.or(sst.is('idle').not());
    const mustWait = (reads: Expr, writes: Expr, hostWrites: Expr) =>
      writes
        .and(wrOut.ne(0))
        .or(reads.and(rdQuiet.not().or(la.wr_pending)))
        .or(hostWrites.and(stageBusy));

    // A read-ahead OUT's copy also waits until no back-end read is outstanding (no DMA write into the storage
    // window can come while the copy has the storage write path).
    const blockNow = mustWait(tIn, tOut.or(tDiscard).or(tWz), tIn.or(tGetId)).or(tOut.and(bStaged).and(rdQuiet.not()));
    st.switch({
      idle: () => {
        m.if(atSlot(sReady, bHead), () => {
          sReady.nextAt(bHead, 0);
          const info = slotInfo.readAsync(bHead);
          cnt.next(info.bits(INFO - 1, 2 * N + 2));
          rdBytes.next(info.bits(2 * N + 1, N + 2));
          wrBytes.next(info.bits(N + 1, 2));
          noWritable.next(info.bit(1));
          malformed.next(info.bit(0));
          st.goto('check');
        });
      },
      check: () => {
        outData.next(rdBytes.sub(BLK_HDR_SIZE));
        inData.next(wrBytes.sub(1));
        m.if(noWritable, () => {
          // Nothing to write the status into: handed back with used length 0 (ev_bad_request).
          stQ.enq.valid.set(1);
          stQ.enq.data.set(cat(bHead, lit(1, 1), lit(0, 1), lit(0, 32), rdIssued));
          m.if(stQ.enq.ready, () => {
            evBad.set(1);
            bHead.next(advanceSlot(bHead));
            st.goto('idle');
          });
        })
          .elseIf(malformed, () => finish(BLK_S.IOERR, lit(0, N)))
          .else(() => st.goto('hdr'));
      },
      hdr: () =>
        m.if(atSlot(hdrDone, bHead), () => {
          cap.next(capRead);
          // The type's class, registered with the header (not from `cap` in prep: the 32-bit compares there were
          // the front of prep's deepest path, into `blocked`).
          const type = capRead.bits(31, 0);
          tIn.next(type.eq(BLK_T.IN));
          tOut.next(type.eq(BLK_T.OUT));
          tFlush.next(type.eq(BLK_T.FLUSH));
          tGetId.next(type.eq(BLK_T.GET_ID));
          tDiscard.next(type.eq(BLK_T.DISCARD));
          tWz.next(type.eq(BLK_T.WRITE_ZEROES));
          st.goto('prep');
        }),
      prep: () => {
        const sector = capField(8, 8);
        const isOut = tOut;
        blocked.next(blockNow);
        // IN / OUT: data in the wrong direction, not whole sectors, past the capacity, OUT on a read-only build.
        // One range check, of the data bytes in the request's direction.
        const ioBadOut = inData
          .ne(0)
          .or(outData.bits(8, 0).ne(0))
          .or(p.readOnly ? 1 : 0);
        const ioBadIn = outData.ne(0).or(inData.bits(8, 0).ne(0));
        const sectors = mux(isOut, outData, inData).bits(N - 1, 9);
        ioBad.next(mux(isOut, ioBadOut, ioBadIn).or(inRange(sector, sectors).not()));
        storageOff.next(sector.trunc(p.devBits - 10).cat(lit(0, 9)));
        idLen.next(mux(inData.lt(BLK_ID_BYTES), inData, lit(BLK_ID_BYTES, N)));
        // GET_ID: readable data.
        idBad.next(outData.ne(0));
        // DISCARD / WRITE_ZEROES: writable data besides the status byte, no segment or a partial one; too many.
        dwzBad.next(wrBytes.ne(1).or(outData.eq(0)).or(outData.bits(3, 0).ne(0)));
        const nseg = outData.bits(N - 1, 4);
        dwzTooMany.next(mux(tDiscard, nseg.gt(p.discard?.maxSeg ?? 0), nseg.gt(p.writeZeroes?.maxSeg ?? 0)));
        st.goto('decode');
      },
      decode: () => {
        const dwz = (limits: BlkSegLimits | undefined, bitNo: number, discard: boolean) => {
          m.if(
            lit(limits ? 1 : 0, 1)
              .and(negotiated(bitNo))
              .not(),
            () => finish(BLK_S.UNSUPP, lit(0, N)),
          )
            .elseIf(dwzBad, () => finish(BLK_S.IOERR, lit(0, N)))
            .elseIf(dwzTooMany, () => finish(BLK_S.UNSUPP, lit(0, N)))
            .else(() => {
              isDiscard.next(discard ? 1 : 0);
              zErr.next(0);
              segIdx.next(0);
              segCount.next(outData.bits(12, 4));
              segPass2.next(0);
              st.goto('seg');
            });
        };
        blocked.next(blockNow);
        m.if(blocked, () => st.goto('decode'))
          // A read-ahead slot's request is decided once its data reads have ended (so none still writes its staging
          // buffer when the slot is taken again).
          .elseIf(bStaged.and(bSpecDone.not()), () => st.goto('decode'))
          .elseIf(slotErr, () => finish(BLK_S.IOERR, lit(0, N)))
          // A read-ahead of the chain's readable bytes failed (UR, CA, poison, timeout): the host refused a buffer
          // the driver gave, whatever the header asks for (an OUT's data, a DISCARD's segments): its DMA error now.
          .elseIf(bStaged.and(bSpecErr), () => {
            specFail.set(1);
            finish(BLK_S.IOERR, lit(0, N));
          })
          .elseIf(tIn.or(tOut), () => {
            m.if(ioBad, () => finish(BLK_S.IOERR, lit(0, N))).else(() => {
              m.if(tOut, () => {
                outStart.set(1);
                outActive.nextAt(bHead, 1);
                m.if(bStaged, () => {
                  // Copy the staging buffer: whole storage words (the data is whole sectors).
                  cpRow.next(0);
                  cpLeft.next(outData.bits(stageRowBits + lb + 1, lb + 1));
                  zLine.next(storageOff.bits(p.devBits - 2, lb));
                }).else(() => bw.start(0, lit(BLK_HDR_SIZE, N), rdBytes, storageOff));
              }).else(() => bw.start(1, lit(0, N), inData, storageOff));
              setStatus(BLK_S.OK);
              written.next(mux(tOut, lit(0, N), inData));
              fence.next(tOut);
              m.if(tOut.and(bStaged), () => st.goto('copy')).else(() => st.goto('data'));
            });
          })
          .elseIf(tFlush, () =>
            finish(mux(lit(p.flush ? 1 : 0, 1).and(negotiated(FLUSH_BIT)), lit(BLK_S.OK, 8), lit(BLK_S.UNSUPP, 8)), 0),
          )
          .elseIf(tGetId, () => {
            m.if(idBad, () => finish(BLK_S.IOERR, lit(0, N))).else(() => {
              bw.start(1, lit(0, N), idLen, lit(g.window + BLK_SCRATCH.id, p.devBits));
              setStatus(BLK_S.OK);
              written.next(idLen);
              fence.next(0);
              st.goto('data');
            });
          })
          .elseIf(tDiscard, () => dwz(p.discard, DISCARD_BIT, true))
          .elseIf(tWz, () => dwz(p.writeZeroes, WRITE_ZEROES_BIT, false))
          .else(() => finish(BLK_S.UNSUPP, lit(0, N)));
      },
      // A device-to-host request's status byte can follow its data at once (the write engine keeps order);
      // anything that read host memory or wrote storage waits for it to end.
      data: () => m.if(bw.walking.not(), () => st.goto('post')),
      seg: () => {
        // Segment segIdx into the capture register.
        const off = segIdx.zext(N).shl(4).add(BLK_HDR_SIZE);
        bw.start(0, off, off.add(16), captureAt(bHead));
        st.goto('seg_wait');
      },
      seg_wait: () =>
        m.if(dmaIdle, () => {
          cap.next(capRead);
          st.goto('seg_eval');
        }),
      seg_eval: () => {
        const sSector = capField(0, 8);
        const sNum = capField(8, 4);
        const sFlags = capField(12, 4);
        const maxSectors = mux(isDiscard, lit(p.discard?.maxSectors ?? 0, 32), lit(p.writeZeroes?.maxSectors ?? 0, 32));
        segUnsupp.next(
          sFlags
            .bits(31, 1)
            .ne(0)
            .or(isDiscard.and(sFlags.bit(0))),
        );
        segIoerr.next(sNum.gt(maxSectors).or(inRange(sSector, sNum).not()));
        segLast.next(segIdx.add(1).eq(segCount));
        segEmpty.next(sNum.eq(0));
        st.goto('seg_check');
      },
      seg_check: () => {
        m.if(slotErr.or(segPass2.and(segUnsupp.or(segIoerr))), () => finish(BLK_S.IOERR, lit(0, N)))
          .elseIf(segUnsupp, () => finish(BLK_S.UNSUPP, lit(0, N)))
          .elseIf(segIoerr, () => finish(BLK_S.IOERR, lit(0, N)))
          .elseIf(segPass2, () => {
            // Zero the segment's range: whole two-line writes (a sector is a multiple of 2W bits).
            zLine.next(
              capField(0, 8)
                .trunc(p.devBits - 10)
                .cat(lit(0, 9 - lb)),
            );
            zLeft.next(
              capField(8, 4)
                .zext(40)
                .shl(9 - lb - 1),
            );
            zDone.next(segEmpty);
            st.goto('zero');
          })
          .elseIf(segLast.and(p.readOnly ? 1 : 0), () => finish(BLK_S.IOERR, lit(0, N)))
          .else(() => {
            segIdx.next(mux(segLast, lit(0, 9), segIdx.inc()));
            m.if(segLast, () => segPass2.next(1));
            st.goto('seg');
          });
      },
      copy: () => {
        m.if(cpEn, () => {
          cpRow.next(cpRow.inc());
          cpLeft.next(cpLeft.dec());
          cpValid.next(1);
        }).elseIf(cpAdvance, () => cpValid.next(0));
        m.if(la.cp.ready, () => zLine.next(zLine.add(2)));
        m.if(cpLeft.eq(0).and(cpValid.not()), () => st.goto('post'));
      },
      zero: () => {
        m.if(la.wr.ready.and(zDone.not()), () => {
          zLine.next(zLine.add(2));
          zLeft.next(zLeft.dec());
          zDone.next(zLeft.eq(1));
        });
        m.if(zDone, () => {
          // The last segment's request ends once storage has answered its writes (a failed one: IOERR).
          m.if(segLast, () =>
            m.if(la.wr_pending.not(), () => finish(mux(zErr, lit(BLK_S.IOERR, 8), lit(BLK_S.OK, 8)), lit(0, N))),
          ).else(() => {
            segIdx.next(segIdx.inc());
            st.goto('seg');
          });
        });
      },
      post: () => {
        // The request goes to the status stage; the next slot's request starts.
        stQ.enq.valid.set(1);
        m.if(stQ.enq.ready, () => {
          bHead.next(advanceSlot(bHead));
          st.goto('idle');
        });
      },
    });
    busy.set(st.is('idle').not().or(sst.is('idle').not()).or(fst.is('recv').not()).or(fCnt.ne(0)).or(used.ne(0)));
    return {
      chain,
      done,
      features,
      rd_cmd: rdCmdPort,
      rd_status: rdStatus,
      wr_cmd: wrCmdPort,
      wr_status: wrStatus,
      mem_wr: memWr,
      mem_rd: memRd,
      storage,
      ev_bad_request: evBad,
      ev_dma_error: evDmaError,
      busy,
    };
  },
  {
    name: (p) => `virtio_blk_w${p.W}_${paramHash(p)}`,
    doc: 'virtio-blk device: requests from validated chains, data through the DMA engines, AXI4 storage.',
  },
);
