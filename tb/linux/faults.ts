// A deliberately broken device for the Linux run (`npm run linux -- --fault <kind>`): the link between the model
// and the root complex changes one of the device's memory writes, as a device bug would, and the run must fail
// with a message that names what went wrong. Each kind is caught by someone else:
//  - 'used-len': one used element's length is off by 512: Linux ignores used lengths (virtio_blk reads the
//    status byte), the host's used-element check (usedcheck.ts) catches it;
//  - 'used-id': one used element's id is out of the ring: Linux's virtio_ring catches it (BAD_RING, "id ... out of
//    range"), the host ends the run on that console line;
//  - 'data': one read's data has a byte flipped (the first data write that is not all zeros, so not Linux's
//    partition scan of the empty disk): the guest's checksum catches it.
import type { RawTlp } from '../../sim/raw';
import type { Link, LinkRunOptions } from '../pcie/link';
import { decodeTlp, type MemWriteTlp } from '../pcie/tlp';
import type { GoldenTransport } from '../virtio/golden/transport';
import { readLe, ringViews, usedWrites } from './usedcheck';

export const DEVICE_FAULTS = ['used-len', 'used-id', 'data'] as const;
export type DeviceFault = (typeof DEVICE_FAULTS)[number];

/** The used element the used-* faults change (the boot reads the partition table first: this one is a write). */
const FAULT_AT_USED = 4;
/** Smallest device write taken for data (ring writes and status bytes are smaller). */
const DATA_MIN = 64;

export class DeviceFaultLink implements Link {
  readonly sendTracked?: Link['sendTracked'];
  /** What the fault changed (empty until it hit). */
  hit = '';
  private usedSeen = 0;

  constructor(
    readonly inner: Link,
    readonly fault: DeviceFault,
    private readonly transport: () => GoldenTransport,
  ) {
    if (inner.sendTracked) this.sendTracked = (raw, at, delivered) => inner.sendTracked!(raw, at, delivered);
  }
  get cycle(): number {
    return this.inner.cycle;
  }
  get copiesOnSend(): boolean {
    return this.inner.copiesOnSend === true;
  }
  send(raw: RawTlp, atCycle?: number): void {
    this.inner.send(raw, atCycle);
  }
  run(opts: LinkRunOptions): { reason: string; cycles: number } {
    return this.inner.run(opts);
  }
  takeTx(): RawTlp[] {
    const tx = this.inner.takeTx();
    if (this.hit) return tx;
    for (let i = 0; i < tx.length && !this.hit; i++) {
      const fmtType = tx[i].hdr[0] >>> 24;
      if (fmtType === 0x40 || fmtType === 0x60) tx[i] = this.change(tx[i]);
    }
    return tx;
  }

  private change(raw: RawTlp): RawTlp {
    const w = decodeTlp(raw, { strict: false }) as MemWriteTlp;
    const rings = ringViews(this.transport());
    const used = usedWrites(w, rings);
    const bytes = new Uint8Array(raw.data.buffer.slice(raw.data.byteOffset, raw.data.byteOffset + raw.data.byteLength));
    const at = `MWr at 0x${w.address.toString(16)}`;
    if (this.fault === 'data') {
      if (used.length || w.data.length < DATA_MIN || w.data.every((b) => b === 0)) return raw;
      // Not a ring write either (the rings are smaller than DATA_MIN per write only for split avail/used entries).
      if (rings.some((r) => w.address >= r.desc && w.address < r.desc + BigInt(16 * r.size))) return raw;
      bytes[0] ^= 0x01;
      this.hit = `data: flipped bit 0 of byte 0 of the ${w.data.length}-byte ${at}`;
    } else {
      const u = used.find(() => ++this.usedSeen === FAULT_AT_USED);
      if (!u) return raw;
      if (this.fault === 'used-len') {
        const len = readLe(w.data, u.lenAt, 4) + 512;
        for (let i = 0; i < 4; i++) bytes[u.lenAt + i] = (len >>> (8 * i)) & 0xff;
        this.hit = `used-len: queue ${u.ring.q} used element ${u.slot}: length ${len - 512} made ${len} (${at})`;
      } else {
        const id = u.ring.size + 5;
        for (let i = 0; i < u.idBytes; i++) bytes[u.idAt + i] = (id >>> (8 * i)) & 0xff;
        this.hit = `used-id: queue ${u.ring.q} used element ${u.slot}: id ${readLe(w.data, u.idAt, u.idBytes)} made ${id} (${at})`;
      }
    }
    return { ...raw, data: new Uint32Array(bytes.buffer) };
  }
}
