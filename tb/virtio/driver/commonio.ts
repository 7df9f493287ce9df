// Register access to the mapped common configuration structure by field name (vp_ioread8/16/32,
// vp_iowrite8/16/32 and vp_iowrite64_twopart of include/linux/virtio_pci_modern.h), with offsets and widths from
// gen/virtio/regmap.ts: the driver never hard-codes an offset.
import type { RootComplex } from '../../pcie/rootcomplex';
import { commonField } from '../../../gen/virtio/regmap';
import type { Mapping } from './caps';
import { VirtioProbeError } from './errors';

export class CommonIo {
  constructor(
    private readonly rc: RootComplex,
    private readonly common: Mapping,
  ) {}

  private addr(name: string, half = 0): { a: bigint; width: number } {
    const f = commonField(name);
    if (f.offset + f.width > this.common.length)
      throw new VirtioProbeError(
        'EINVAL',
        'vp_modern_map_capability',
        `common.${name}`,
        `field at 0x${f.offset.toString(16)} lies past the mapped ${this.common.length} bytes`,
      );
    return { a: this.common.address + BigInt(f.offset + 4 * half), width: f.width === 8 ? 4 : f.width };
  }

  read(name: string): number {
    const { a, width } = this.addr(name);
    return width === 1 ? this.rc.read8(a) : width === 2 ? this.rc.read16(a) : this.rc.read32(a);
  }

  write(name: string, v: number): void {
    const { a, width } = this.addr(name);
    if (width === 1) this.rc.write8(a, v);
    else if (width === 2) this.rc.write16(a, v);
    else this.rc.write32(a, v);
  }

  /** vp_iowrite64_twopart: low half, then high half. */
  write64(name: string, v: bigint): void {
    this.rc.write32(this.addr(name, 0).a, Number(v & 0xffff_ffffn));
    this.rc.write32(this.addr(name, 1).a, Number(v >> 32n));
  }

  read64(name: string): bigint {
    return BigInt(this.rc.read32(this.addr(name, 0).a)) | (BigInt(this.rc.read32(this.addr(name, 1).a)) << 32n);
  }

  // ---- status (virtio_pci_modern.c vp_get_status / vp_set_status / vp_reset; virtio.c virtio_add_status)

  status(): number {
    return this.read('device_status');
  }

  setStatus(v: number): void {
    this.write('device_status', v);
  }

  addStatus(bits: number): void {
    this.setStatus(this.status() | bits);
  }

  /**
   * vp_reset: write 0, then read device_status until it reads 0 ("After writing 0 to device_status, the driver
   * MUST wait for a read of device_status to return 0 before reinitializing the device"). Linux waits forever
   * (msleep(1) per poll); the model gives up after `polls` reads.
   */
  reset(polls: number): number {
    this.setStatus(0);
    for (let i = 1; i <= polls; i++) if (this.status() === 0) return i;
    throw new VirtioProbeError(
      'ETIMEDOUT',
      'vp_reset',
      'common.device_status',
      `still 0x${this.status().toString(16)} after ${polls} reads following the reset`,
    );
  }
}
