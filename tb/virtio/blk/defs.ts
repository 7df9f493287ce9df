// virtio-blk request format (virtio 1.2 device-types/blk, Linux include/uapi/linux/virtio_blk.h): the constants
// (gen/blk/defs.ts, shared with the RTL) and the request header and discard / write-zeroes segment as bytes.

import { BLK_DWZ_SEG_SIZE, BLK_HDR_SIZE, BLK_S, BLK_T } from '../../../gen/blk/defs';

export {
  BLK_DWZ_SEG_SIZE,
  BLK_HDR_SIZE,
  BLK_ID_BYTES,
  BLK_S,
  BLK_T,
  SECTOR_SIZE,
  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
} from '../../../gen/blk/defs';

export function blkTypeName(t: number): string {
  return Object.entries(BLK_T).find(([, v]) => v === t)?.[0] ?? `type ${t}`;
}

export function blkStatusName(s: number): string {
  return Object.entries(BLK_S).find(([, v]) => v === s)?.[0] ?? `status ${s}`;
}

/** The request header as bytes. */
export function blkHeader(type: number, sector: bigint, ioprio = 0): Uint8Array {
  const b = new Uint8Array(BLK_HDR_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, ioprio, true);
  v.setBigUint64(8, sector, true);
  return b;
}

/** One discard / write-zeroes segment. */
export interface DwzSegment {
  readonly sector: bigint;
  readonly numSectors: number;
  readonly flags: number;
}

export function dwzBytes(segs: readonly DwzSegment[]): Uint8Array {
  const b = new Uint8Array(BLK_DWZ_SEG_SIZE * segs.length);
  const v = new DataView(b.buffer);
  segs.forEach((s, k) => {
    v.setBigUint64(16 * k, s.sector, true);
    v.setUint32(16 * k + 8, s.numSectors, true);
    v.setUint32(16 * k + 12, s.flags, true);
  });
  return b;
}

export function parseDwz(b: Uint8Array): DwzSegment[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: DwzSegment[] = [];
  for (let o = 0; o + BLK_DWZ_SEG_SIZE <= b.length; o += BLK_DWZ_SEG_SIZE)
    out.push({
      sector: v.getBigUint64(o, true),
      numSectors: v.getUint32(o + 8, true),
      flags: v.getUint32(o + 12, true),
    });
  return out;
}
