// A virtio-blk driver on the ring driver, as drivers/block/virtio_blk.c builds requests: virtblk_setup_cmd (type,
// sector), virtblk_add_req (the header out, the data out for types with bit 0 set (OUT, DISCARD, WRITE_ZEROES)
// and in otherwise, the status byte in), virtio_queue_rq's kick (kick_prepare, then notify), and virtblk_done
// (disable_cb, get_buf until empty, again while enable_cb finds more). The header, status byte and discard
// segments live in host memory the driver allocates (kmalloc'ed, DMA-mapped): device-readable for the header and
// segments, device-writable for the status.
import type { HostMemory, Region } from '../../pcie/hostmem';
import { createVirtqueue } from '../ring/create';
import type { RingAddresses, RingFeatures, Sg } from '../ring/defs';
import type { DriverObserver, Virtqueue } from '../ring/virtqueue';
import { BLK_S, BLK_T, blkHeader, dwzBytes, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, type DwzSegment } from './defs';

export type BlkOp =
  | { readonly type: 'read' | 'write'; readonly sector: bigint; readonly bufs: readonly Sg[] }
  | { readonly type: 'flush' }
  | { readonly type: 'get-id'; readonly buf: Sg }
  | {
      readonly type: 'discard' | 'write-zeroes';
      readonly ranges: readonly { sector: bigint; numSectors: number; unmap?: boolean }[];
    };

/** blk_status_t as virtblk_result maps the status byte. */
export type BlkResult = 'ok' | 'notsupp' | 'ioerr';

export interface BlkRequest {
  readonly op: BlkOp;
  readonly queue: number;
  /** The status byte, once completed. */
  status?: number;
  result?: BlkResult;
  /** The used length the driver got. */
  len?: number;
  /** Regions the request owns (header, status, segments), freed at completion. */
  readonly regions: Region[];
  readonly statusAddr: bigint;
}

export interface VirtioBlkDriverOptions {
  mem: HostMemory;
  rings: readonly RingAddresses[];
  features: RingFeatures;
  /** Rings queue q's doorbell; `data`: the ring's notification data (for VIRTIO_F_NOTIFICATION_DATA). */
  notify: (q: number, data: number) => boolean;
  observer?: DriverObserver<BlkRequest>;
}

/** virtblk_result */
export function blkResult(status: number): BlkResult {
  return status === BLK_S.OK ? 'ok' : status === BLK_S.UNSUPP ? 'notsupp' : 'ioerr';
}

export class VirtioBlkDriver {
  readonly vqs: Virtqueue<BlkRequest>[];
  /** Requests completed, in completion order (tests take them with takeCompleted()). */
  private completed: BlkRequest[] = [];
  private readonly mem: HostMemory;

  constructor(opts: VirtioBlkDriverOptions) {
    this.mem = opts.mem;
    this.vqs = opts.rings.map((ring, index) =>
      createVirtqueue<BlkRequest>({
        mem: opts.mem,
        index,
        ring,
        features: opts.features,
        observer: opts.observer,
        notify: (vq) => opts.notify(index, vq.notificationData()),
        callback: (vq) => this.done(vq),
      }),
    );
  }

  /** virtblk_done: the queue's callback. */
  private done(vq: Virtqueue<BlkRequest>): void {
    do {
      vq.disableCb();
      for (let b = vq.getBuf(); b; b = vq.getBuf()) {
        const r = b.data;
        r.status = this.mem.readU8(r.statusAddr);
        r.result = blkResult(r.status);
        r.len = b.len;
        for (const g of r.regions) this.mem.unmap(g);
        this.completed.push(r);
      }
      if (vq.broken) break;
    } while (!vq.enableCb());
  }

  takeCompleted(): BlkRequest[] {
    return this.completed.splice(0);
  }

  /**
   * virtio_queue_rq: sets up the command, adds it to queue `q` and (unless `kick` is false: more requests follow,
   * bd->last clear) kicks. 'ENOSPC' when the ring is full (BLK_STS_DEV_RESOURCE: the block layer retries later).
   */
  submit(op: BlkOp, q = 0, kick = true): BlkRequest | 'ENOSPC' | 'EIO' {
    const vq = this.vqs[q];
    const { type, sector, data, dataIn } = this.setupCmd(op);
    const hdr = this.mem.alloc(16, { perm: 'ro', align: 8, name: 'blk.hdr' });
    hdr.write(0, blkHeader(type, sector));
    const status = this.mem.alloc(1, { perm: 'wo', align: 1, name: 'blk.status' });
    const regions = [hdr, status];
    let bufs = data;
    if (op.type === 'discard' || op.type === 'write-zeroes') {
      const segs: DwzSegment[] = op.ranges.map((r) => ({
        sector: r.sector,
        numSectors: r.numSectors,
        flags: r.unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0,
      }));
      const bytes = dwzBytes(segs);
      const seg = this.mem.alloc(bytes.length, { perm: 'ro', align: 8, name: 'blk.dwz' });
      seg.write(0, bytes);
      regions.push(seg);
      bufs = [{ addr: seg.addr, len: bytes.length }];
    }
    const req: BlkRequest = { op, queue: q, regions, statusAddr: status.addr };
    const out: Sg[] = [{ addr: hdr.addr, len: 16 }];
    const inn: Sg[] = [];
    (dataIn ? inn : out).push(...bufs);
    inn.push({ addr: status.addr, len: 1 });
    const r = vq.add(out, inn, req);
    if (r !== 'ok') {
      for (const g of regions) this.mem.unmap(g);
      return r;
    }
    if (kick && vq.kickPrepare()) vq.notify();
    return req;
  }

  /** Kicks queue q after submits with kick false (commit_rqs). */
  kick(q = 0): boolean {
    return this.vqs[q].kick();
  }

  /**
   * virtblk_setup_cmd: the type and the sector (0 but for reads and writes); virtblk_add_req then sends the data
   * device-readable when the type has VIRTIO_BLK_T_OUT's bit (OUT, DISCARD, WRITE_ZEROES), else device-writable.
   */
  private setupCmd(op: BlkOp): { type: number; sector: bigint; data: readonly Sg[]; dataIn: boolean } {
    switch (op.type) {
      case 'read':
        return cmd(BLK_T.IN, op.sector, op.bufs);
      case 'write':
        return cmd(BLK_T.OUT, op.sector, op.bufs);
      case 'flush':
        return cmd(BLK_T.FLUSH, 0n, []);
      case 'get-id':
        return cmd(BLK_T.GET_ID, 0n, [op.buf]);
      case 'discard':
        return cmd(BLK_T.DISCARD, 0n, []);
      case 'write-zeroes':
        return cmd(BLK_T.WRITE_ZEROES, 0n, []);
    }
  }
}

/** A command as setupCmd returns it (module level: a closure per request costs a function object each time). */
function cmd(type: number, sector: bigint, data: readonly Sg[]) {
  return { type, sector, data, dataIn: (type & BLK_T.OUT) === 0 };
}
