// Direct access to a golden model (no root complex): register reads and writes by name, and the driver's usual
// path to DRIVER_OK, for the model's own tests.
import type { VirtioPciLayout } from '../../gen/virtio/layout';
import { COMMON, STATUS, commonField, featureMask } from '../../gen/virtio/regmap';
import { leBytes, leToBigint } from '../../tb/pcie/hostmem';
import { GoldenTransport, type GoldenOptions } from '../../tb/virtio/golden/transport';

export class Poke {
  readonly g: GoldenTransport;
  constructor(
    readonly layout: VirtioPciLayout,
    opts: GoldenOptions = {},
  ) {
    this.g = new GoldenTransport(layout, opts);
  }
  cfg(off: number, size = 4): number {
    return Number(leToBigint(this.g.read({ space: 'cfg', offset: off, size })));
  }
  setCfg(off: number, v: number, size = 4): void {
    this.g.write({ space: 'cfg', offset: off, size }, leBytes(BigInt(v), size));
  }
  bar(bar: number, off: number, size: number): bigint {
    return leToBigint(this.g.read({ space: 'bar', bar, offset: off, size }));
  }
  setBar(bar: number, off: number, v: bigint | number, size: number, mask?: Uint8Array): void {
    this.g.write({ space: 'bar', bar, offset: off, size }, leBytes(BigInt(v), size), mask);
  }
  /** A common configuration field (its natural width; 64-bit fields whole). */
  common(name: string): number | bigint {
    const f = commonField(name);
    const v = this.bar(this.layout.common.bar, this.layout.common.offset + COMMON[name], f.width);
    return f.width === 8 ? v : Number(v);
  }
  setCommon(name: string, v: number | bigint): void {
    const f = commonField(name);
    this.setBar(this.layout.common.bar, this.layout.common.offset + COMMON[name], v, f.width);
  }
  isr(size = 1): number {
    return Number(this.bar(this.layout.isr.bar, this.layout.isr.offset, size));
  }
  /** Writes the driver features (both windows) and sets FEATURES_OK; returns device_status after. */
  negotiate(names: readonly string[]): number {
    const f = featureMask(names, this.layout.deviceType);
    this.setCommon('driver_feature_select', 0);
    this.setCommon('driver_feature', Number(f & 0xffff_ffffn));
    this.setCommon('driver_feature_select', 1);
    this.setCommon('driver_feature', Number(f >> 32n));
    this.setCommon('device_status', STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
    return this.common('device_status') as number;
  }
  /** The usual initialization: features, every queue at `size` with vector q + 1, enabled, DRIVER_OK. */
  driverOk(features: readonly string[] = this.layout.features, size = this.layout.queues.maxSize): void {
    this.setCommon('device_status', 0);
    this.setCommon('device_status', STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    if (!(this.negotiate(features) & STATUS.FEATURES_OK))
      throw new Error(`FEATURES_OK refused: ${this.g.common.lastRefusal}`);
    this.setCommon('config_msix_vector', 0);
    for (let q = 0; q < this.layout.queues.count; q++) {
      this.setCommon('queue_select', q);
      this.setCommon('queue_size', size);
      this.setCommon('queue_desc', 0x1000_0000n + BigInt(q) * 0x10000n);
      this.setCommon('queue_driver', 0x1000_4000n + BigInt(q) * 0x10000n);
      this.setCommon('queue_device', 0x1000_8000n + BigInt(q) * 0x10000n);
      this.setCommon('queue_msix_vector', q + 1);
      this.setCommon('queue_enable', 1);
    }
    this.setCommon('device_status', (this.common('device_status') as number) | STATUS.DRIVER_OK);
  }
}
