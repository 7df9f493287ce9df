// virtio-blk request format constants (virtio 1.2 device-types/blk, Linux include/uapi/linux/virtio_blk.h), the
// one copy: the RTL (gen/blk) and the testbench (tb/virtio/blk/defs.ts re-exports them with its byte helpers).

/** struct virtio_blk_outhdr: type (le32), ioprio (le32), sector (le64). */
export const BLK_HDR_SIZE = 16;
/** Sectors are 512 bytes whatever the block size. */
export const SECTOR_SIZE = 512;
/** VIRTIO_BLK_ID_BYTES: the identification string's length. */
export const BLK_ID_BYTES = 20;
/** struct virtio_blk_discard_write_zeroes: sector (le64), num_sectors (le32), flags (le32). */
export const BLK_DWZ_SEG_SIZE = 16;
export const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;

export const BLK_T = {
  IN: 0,
  OUT: 1,
  FLUSH: 4,
  GET_ID: 8,
  GET_LIFETIME: 10,
  DISCARD: 11,
  WRITE_ZEROES: 13,
  SECURE_ERASE: 14,
} as const;

export const BLK_S = { OK: 0, IOERR: 1, UNSUPP: 2 } as const;
