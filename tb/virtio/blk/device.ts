// The golden model of virtio-blk (virtio 1.2 device-types/blk) on the golden queue engine: it takes a request
// chain, parses the header from its device-readable bytes, does IN, OUT, FLUSH, GET_ID, DISCARD and
// WRITE_ZEROES on a SparseDisk, and writes the status byte as the last device-writable byte. Its choices where
// the spec leaves room (each a status the driver sees, and storage never touched out of range):
//  - a request without a device-writable byte cannot be completed: the queue stops (the device needs reset);
//  - with seg_max / size_max set: a chain of more than seg_max + 2 descriptors (seg_max "Maximum number of
//    segments in a request" counts the data; Linux's virtblk_probe adds 2 "for header & tailer"), or a
//    descriptor longer than size_max ("Maximum size of any single segment"): IOERR, before the header is read;
//  - a header shorter than 16 bytes, data in the wrong direction (IN with device-readable data after the
//    header, OUT with device-writable bytes before the status), a data length not a multiple of 512, a range
//    past the capacity, any write (OUT, DISCARD, WRITE_ZEROES) to a read-only device: IOERR, nothing stored;
//  - an unknown type, FLUSH / DISCARD / WRITE_ZEROES not negotiated, unknown segment flags, DISCARD with UNMAP,
//    more segments than max_*_seg: UNSUPP (the spec's "MUST set UNSUPP" cases and QEMU's choices);
//  - more sectors in a segment than max_*_sectors, a segment list not a multiple of 16 bytes: IOERR.
// The used length is the number of bytes written: data + status (GET_ID: the id bytes + status; errors: 1).
//
// A storage that fails (`storageFault`, e.g. an AXI4 error response the test injects): a request whose storage
// access fails completes IOERR with used length 1. What a failed read wrote to the host is unspecified (the model
// writes nothing but the status); what a failed write left on the disk is too (the model stores the data and
// lists the range in `unspecified`, which disk comparisons skip).
import { DeviceQueue, RingError, type Chain, type ChainSegment, type PublishResult } from '../ring/device';
import {
  BLK_DWZ_SEG_SIZE,
  BLK_HDR_SIZE,
  BLK_ID_BYTES,
  BLK_S,
  BLK_T,
  SECTOR_SIZE,
  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
  parseDwz,
} from './defs';
import { SparseDisk } from './disk';

export interface BlkLimits {
  /** max_*_sectors */
  readonly maxSectors: number;
  /** max_*_seg */
  readonly maxSeg: number;
}

export interface BlkDeviceConfig {
  /** capacity in 512-byte sectors. */
  readonly capacity: number;
  /** VIRTIO_BLK_F_RO negotiated. */
  readonly readOnly?: boolean;
  /** VIRTIO_BLK_F_FLUSH negotiated. */
  readonly flush?: boolean;
  /** VIRTIO_BLK_F_DISCARD negotiated, with max_discard_sectors / max_discard_seg. */
  readonly discard?: BlkLimits;
  /** VIRTIO_BLK_F_WRITE_ZEROES negotiated, with max_write_zeroes_sectors / max_write_zeroes_seg. */
  readonly writeZeroes?: BlkLimits;
  /** The identification string GET_ID returns (at most 20 bytes, NUL-padded). */
  readonly id?: string;
  /** VIRTIO_BLK_F_SEG_MAX: data descriptors per request (the chain may have two more). */
  readonly segMax?: number;
  /** VIRTIO_BLK_F_SIZE_MAX: bytes per descriptor. */
  readonly sizeMax?: number;
}

/** Whether a storage access fails: `dir` read or write, `len` bytes at disk byte `off`. */
export type StorageFault = (dir: 'read' | 'write', off: number, len: number) => boolean;

/** A disk range whose contents are unspecified (a failed write's). */
export interface DiskRange {
  readonly off: number;
  readonly len: number;
}

/**
 * What the device does with a chain's buffers (a DeviceQueue, or any memory a test serves them from). The device
 * never changes an array after handing it to writeData(), so an implementation may keep it rather than a copy.
 */
export type BlkChainIo = Pick<DeviceQueue, 'readData' | 'writeData' | 'abort'>;

/** What the device did with one request. */
export interface BlkOutcome {
  readonly chain: Chain;
  readonly type: number;
  readonly sector: bigint;
  readonly status: number;
  /** The used length. */
  readonly len: number;
  /** Why the status is not OK. */
  readonly reason?: string;
}

export class BlkDevice {
  readonly disk: SparseDisk;
  /** Storage failures to model (none by default). */
  storageFault?: StorageFault;
  /** Disk ranges failed writes left unspecified. */
  readonly unspecified: DiskRange[] = [];

  constructor(
    readonly config: BlkDeviceConfig,
    disk?: SparseDisk,
  ) {
    this.disk = disk ?? new SparseDisk(config.capacity * SECTOR_SIZE);
    if (this.disk.size < config.capacity * SECTOR_SIZE)
      throw new RangeError(`blk: a disk of ${this.disk.size} bytes is smaller than ${config.capacity} sectors`);
  }

  /**
   * Takes the next available request of `q` and carries it out (data DMA, storage, status byte), then queues
   * its used element (q.publish() writes it). A RingError when the ring is malformed or the request cannot be
   * completed; null when nothing is available.
   */
  processNext(q: DeviceQueue): BlkOutcome | RingError | null {
    const c = q.next();
    if (c === null || c instanceof RingError) return c;
    try {
      const o = this.handle(q, c);
      if (o instanceof RingError) return o;
      q.complete(c, o.len);
      return o;
    } catch (e) {
      if (e instanceof RingError) return e;
      throw e;
    }
  }

  /**
   * Everything available on `q`, then one publish: the outcomes and the notification decision. As QEMU's
   * virtio_blk_handle_vq: kicks off while the queue is drained, back on at the end, and drained again if a
   * buffer came in meanwhile (with EVENT_IDX, turning them on sets avail_event to the next index).
   */
  serve(q: DeviceQueue): { outcomes: BlkOutcome[]; publish: PublishResult; error?: RingError } {
    const outcomes: BlkOutcome[] = [];
    let error: RingError | undefined;
    do {
      q.setNotify(false);
      for (;;) {
        const o = this.processNext(q);
        if (o === null) break;
        if (o instanceof RingError) {
          error = o;
          break;
        }
        outcomes.push(o);
      }
      q.setNotify(true);
    } while (!error && q.hasAvailable());
    return { outcomes, publish: q.publish(), error };
  }

  /** Carries out one request on its chain's buffers (processNext() does it for the next available chain). */
  handle(q: BlkChainIo, c: Chain): BlkOutcome | RingError {
    if (c.writable === 0) return q.abort(c, 'virtio-blk request without a device-writable byte for the status');
    // No closures here: this runs per request, and under tsx each closure created costs a defineProperty (its
    // keepNames helper), measured at ~5% of the TypeScript time of the virtio-blk bench.
    const { segMax, sizeMax } = this.config;
    if (segMax !== undefined && c.segments.length > segMax + 2)
      return finish(q, c, BLK_S.IOERR, 0, -1, 0n, `${c.segments.length} descriptors, seg_max ${segMax} + 2`);
    let big: ChainSegment | undefined;
    if (sizeMax !== undefined)
      for (const x of c.segments)
        if (x.len > sizeMax) {
          big = x;
          break;
        }
    if (big) return finish(q, c, BLK_S.IOERR, 0, -1, 0n, `a descriptor of ${big.len} bytes, size_max ${sizeMax}`);
    if (c.readable < BLK_HDR_SIZE)
      return finish(q, c, BLK_S.IOERR, 0, -1, 0n, `header of ${c.readable} bytes (${BLK_HDR_SIZE} needed)`);
    const hdr = q.readData(c, 0, BLK_HDR_SIZE);
    const v = new DataView(hdr.buffer);
    const type = v.getUint32(0, true);
    const sector = v.getBigUint64(8, true);
    const outData = c.readable - BLK_HDR_SIZE;
    const inData = c.writable - 1;
    const cap = BigInt(this.config.capacity);
    switch (type) {
      case BLK_T.IN:
      case BLK_T.OUT: {
        const write = type === BLK_T.OUT;
        if (write ? inData !== 0 : outData !== 0)
          return finish(
            q,
            c,
            BLK_S.IOERR,
            0,
            type,
            sector,
            write ? 'device-writable data in a write' : 'device-readable data in a read',
          );
        const len = write ? outData : inData;
        if (len % SECTOR_SIZE)
          return finish(q, c, BLK_S.IOERR, 0, type, sector, `data of ${len} bytes is not whole sectors`);
        if (!(sector <= cap && BigInt(len / SECTOR_SIZE) <= cap - sector))
          return finish(
            q,
            c,
            BLK_S.IOERR,
            0,
            type,
            sector,
            `sectors ${sector}+${len / SECTOR_SIZE} past the capacity ${cap}`,
          );
        if (write && this.config.readOnly)
          return finish(q, c, BLK_S.IOERR, 0, type, sector, 'write to a read-only device');
        const off = Number(sector) * SECTOR_SIZE;
        const failed = len > 0 && this.storageFault?.(write ? 'write' : 'read', off, len);
        if (write) {
          this.disk.write(off, q.readData(c, BLK_HDR_SIZE, len));
          if (failed) {
            this.unspecified.push({ off, len });
            return finish(q, c, BLK_S.IOERR, 0, type, sector, 'storage write error');
          }
          return finish(q, c, BLK_S.OK, 0, type, sector);
        }
        if (failed) return finish(q, c, BLK_S.IOERR, 0, type, sector, 'storage read error');
        q.writeData(c, 0, this.disk.read(off, len));
        return finish(q, c, BLK_S.OK, len, type, sector);
      }
      case BLK_T.FLUSH:
        if (!this.config.flush) return finish(q, c, BLK_S.UNSUPP, 0, type, sector, 'FLUSH not negotiated');
        return finish(q, c, BLK_S.OK, 0, type, sector);
      case BLK_T.GET_ID: {
        if (outData !== 0) return finish(q, c, BLK_S.IOERR, 0, type, sector, 'device-readable data in GET_ID');
        const id = new TextEncoder().encode(this.config.id ?? '').subarray(0, BLK_ID_BYTES);
        const bytes = new Uint8Array(BLK_ID_BYTES);
        bytes.set(id);
        const n = Math.min(BLK_ID_BYTES, inData);
        q.writeData(c, 0, bytes.subarray(0, n));
        return finish(q, c, BLK_S.OK, n, type, sector);
      }
      case BLK_T.DISCARD:
      case BLK_T.WRITE_ZEROES:
        return this.discardOrZero(q, c, type, sector);
      default:
        return finish(q, c, BLK_S.UNSUPP, 0, type, sector, `unknown request type ${type}`);
    }
  }

  private discardOrZero(q: BlkChainIo, c: Chain, type: number, sector: bigint): BlkOutcome {
    const discard = type === BLK_T.DISCARD;
    const name = discard ? 'DISCARD' : 'WRITE_ZEROES';
    const limits = discard ? this.config.discard : this.config.writeZeroes;
    if (!limits) return finish(q, c, BLK_S.UNSUPP, 0, type, sector, `${name} not negotiated`);
    if (c.writable !== 1) return finish(q, c, BLK_S.IOERR, 0, type, sector, `device-writable data in ${name}`);
    const payload = c.readable - BLK_HDR_SIZE;
    if (payload === 0 || payload % BLK_DWZ_SEG_SIZE)
      return finish(
        q,
        c,
        BLK_S.IOERR,
        0,
        type,
        sector,
        `${name} segments of ${payload} bytes (a multiple of ${BLK_DWZ_SEG_SIZE})`,
      );
    // The segment count is checked before the segments are read (a huge list is never fetched).
    const nseg = payload / BLK_DWZ_SEG_SIZE;
    if (nseg > limits.maxSeg)
      return finish(q, c, BLK_S.UNSUPP, 0, type, sector, `${nseg} segments, max ${limits.maxSeg}`);
    const segs = parseDwz(q.readData(c, BLK_HDR_SIZE, payload));
    const cap = BigInt(this.config.capacity);
    // Every segment is checked before storage is touched.
    for (const s of segs) {
      if (s.flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
        return finish(q, c, BLK_S.UNSUPP, 0, type, sector, `unknown flags 0x${s.flags.toString(16)}`);
      if (discard && s.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
        return finish(q, c, BLK_S.UNSUPP, 0, type, sector, 'DISCARD with UNMAP');
      if (s.numSectors > limits.maxSectors)
        return finish(
          q,
          c,
          BLK_S.IOERR,
          0,
          type,
          sector,
          `${s.numSectors} sectors in a segment, max ${limits.maxSectors}`,
        );
      if (s.sector > cap || BigInt(s.numSectors) > cap - s.sector)
        return finish(
          q,
          c,
          BLK_S.IOERR,
          0,
          type,
          sector,
          `sectors ${s.sector}+${s.numSectors} past the capacity ${cap}`,
        );
    }
    if (this.config.readOnly) return finish(q, c, BLK_S.IOERR, 0, type, sector, `${name} on a read-only device`);
    // DISCARD may deallocate (the model does: reads return zeroes; a comparison treats the range as don't-care);
    // WRITE_ZEROES must read back as zeroes.
    const ranges = segs.map((s) => ({ off: Number(s.sector) * SECTOR_SIZE, len: s.numSectors * SECTOR_SIZE }));
    for (const r of ranges) this.disk.zero(r.off, r.len);
    if (ranges.some((r) => r.len > 0 && this.storageFault?.('write', r.off, r.len))) {
      this.unspecified.push(...ranges);
      return finish(q, c, BLK_S.IOERR, 0, type, sector, 'storage write error');
    }
    return finish(q, c, BLK_S.OK, 0, type, sector);
  }
}

/** Writes the request's status byte (the chain's last device-writable byte) and returns its outcome. */
function finish(
  q: BlkChainIo,
  c: Chain,
  status: number,
  written: number,
  type: number,
  sector: bigint,
  reason?: string,
): BlkOutcome {
  q.writeData(c, c.writable - 1, Uint8Array.of(status));
  return { chain: c, type, sector, status, len: written + 1, reason };
}
