// The device-specific configuration structure: its fields come from the device type's table in regmap.ts
// (virtio-blk's now, virtio-net's next), its values from the model's options, and it owns config_generation
// (choices.ts "configGeneration").
import {
  DEVICE_TYPES,
  deviceConfigDefaults,
  type DeviceCfgField,
  type DeviceConfigValues,
  type DeviceTypeName,
} from '../../../gen/virtio/regmap';
import type { FieldPort } from './fields';

export type { DeviceConfigValues };

export class DeviceConfig {
  private values = new Map<string, bigint>();
  private readonly fields: readonly DeviceCfgField[];
  generation = 0;
  /** A device-side change happened since the driver last read the structure. */
  private dirty = false;

  constructor(
    readonly type: DeviceTypeName,
    private readonly offered: ReadonlySet<string>,
    private readonly initial: DeviceConfigValues,
    /** num_queues of blk, max_virtqueue_pairs of net: derived from the layout. */
    private readonly queueCount: number,
  ) {
    this.fields = DEVICE_TYPES[type].config;
    this.reset();
  }

  /**
   * Driver-writable fields back to their initial values (device reset); the generation is kept, and so are the
   * values the device itself reported (a disk does not change size because its driver reset it).
   */
  reset(): void {
    for (const f of this.fields)
      if (f.access === 'rw' || !this.values.has(f.name)) this.values.set(f.name, this.initialValue(f));
  }

  /** FLR: also the generation (the device's own values stay, as above). */
  hardReset(): void {
    this.reset();
    this.generation = 0;
    this.dirty = false;
  }

  private initialValue(f: DeviceCfgField): bigint {
    return BigInt(this.initial[f.name] ?? deviceConfigDefaults(this.type, this.queueCount)[f.name] ?? 0);
  }

  field(name: string): DeviceCfgField {
    const f = this.fields.find((x) => x.name === name);
    if (!f) throw new Error(`${this.type} device configuration has no field ${name}`);
    return f;
  }

  value(name: string): bigint {
    this.field(name);
    return this.values.get(name)!;
  }

  /** A device-side change: the new value, and the generation rule. Returns whether the value changed. */
  change(name: string, value: bigint | number): boolean {
    const f = this.field(name);
    const v = BigInt.asUintN(8 * f.width, BigInt(value));
    if (this.values.get(name) === v) return false;
    this.values.set(name, v);
    if (!this.dirty) this.generation = (this.generation + 1) & 0xff;
    this.dirty = true;
    return true;
  }

  /** The structure as fields; writable only where the field is read-write and its feature is offered. */
  ports(): FieldPort[] {
    return this.fields.map((f) => ({
      name: `device.${f.name}`,
      offset: f.offset,
      width: f.width,
      get: () => this.values.get(f.name)!,
      set:
        f.access === 'rw' && (!f.feature || this.offered.has(f.feature))
          ? (v: bigint) => void this.values.set(f.name, v)
          : undefined,
      onRead: () => {
        this.dirty = false;
      },
    }));
  }
}
