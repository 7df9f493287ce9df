/**
 * The root complex's knobs, with their defaults. See docs/rootcomplex.md for what each does.
 */
import type { Addr } from './hostmem';
import type { DeviceRead, FaultRates, ReadHook } from './inject';
import type { SplitMode } from './completions';
import type { Rng } from '../../sim/random';

/** Cycles from a device read leaving the device to its first completion being injected. */
export type Latency = { min: number; max: number } | ((req: DeviceRead, rng: Rng) => number);

export interface RootComplexOptions {
  /** Seed for latencies, splitting and fault injection. Default: VFPGA_SEED, else DEFAULT_SEED (read back from rc.seed). */
  seed?: number;
  /** The root complex's own ID (Requester ID of its requests, Completer ID of its completions). Default 00:00.0. */
  rcId?: number;
  /** The device's ID: config requests target it, its requests must carry it. Default 01:00.0. */
  deviceId?: number;
  /**
   * For a device the RC does not enumerate (one without configuration space, e.g. your own DMA engine): its
   * control settings, stated as if enumeration had programmed them. The RC checks the device's requests
   * against them, and their Requester ID against `deviceId`, from the first cycle (an enumerated device's ID
   * is checked only once a config write has given it one). Each setting defaults to what enumerate() would
   * program: bus mastering on, MPS `mps`, MRRS `mrrs`, extended tags `extTags`, 10-bit tags `tenBitTags`.
   * Change them later with rc.setDeviceControl().
   */
  device?: StatedDeviceControl;

  /** Max_Payload_Size the RC supports (bytes); enumeration programs min(this, device capability). Default 256. */
  mps?: number;
  /** Max_Read_Request_Size programmed into the device. Default 512. */
  mrrs?: number;
  /** Largest MMIO read the RC sends in one request (bytes, a power of two); longer reads are split. Default: mrrs. */
  maxMmioRead?: number;
  /** The RC's Read Completion Boundary (64 or 128): where it splits its completions. Default 64. */
  rcb?: 64 | 128;
  /** The device's RCB, which its split completions must respect (128 for endpoints per spec). Default 128. */
  deviceRcb?: number;
  /** Enable Extended Tag Field (8-bit tags) when the device supports it. Default true. */
  extTags?: boolean;
  /** Enable 10-bit Tag Requester when the device supports it. Default false. */
  tenBitTags?: boolean;

  /** Completion latency. Default { min: 50, max: 250 } (uniform). */
  latency?: Latency;
  /** Lower bound of a latency function (the pump may run this far past a request before answering it). Default 1. */
  minLatency?: number;
  /** Extra cycles between successive completions of one read. Default { min: 0, max: 16 }. */
  cplGap?: { min: number; max: number };
  /** Let completions of different tags overtake each other. Default true. Completions of one tag never do. */
  reorder?: boolean;
  /** How reads are cut into completions. Default 'random'. */
  split?: SplitMode;

  /** Cycles the RC waits for a completion of its own request before failing it. Default 50,000. */
  completionTimeout?: number;
  /**
   * The earliest the device's completion timeout may fire, in cycles after its request: a tag whose read
   * the RC dropped (fault injection) stays the device's until then. Default 12,500: 50 us, the low end of
   * the spec's default range (50 us to 50 ms), at 250 MHz. Set it to the device's timeout when a test
   * shortens that.
   */
  deviceCompletionTimeout?: number;
  /** Default limit of waitFor()/wait(). Default 2,000,000 cycles. */
  waitTimeout?: number;
  /** Config requests completed with CRS are retried this many times... Default 10. */
  crsRetries?: number;
  /** ...this many cycles apart. Default 200. */
  crsDelay?: number;
  /** Longest stretch the pump lets the simulator run while nothing happens. Default 4096. */
  window?: number;

  /** Writes into this window are MSI-X messages, not memory writes. Default 0xFEE0_0000, 1 MB. */
  msiWindow?: { base: Addr; size: number };
  /** Where enumeration places 32-bit (and non-prefetchable 64-bit) BARs. Default [0xC000_0000, 0xFE00_0000). */
  mem32?: { base: Addr; limit: Addr };
  /** Where enumeration places prefetchable 64-bit BARs. Default [0x40_0000_0000, 0x80_0000_0000). */
  mem64?: { base: Addr; limit: Addr };

  /** Per-read fault choice. */
  onRead?: ReadHook;
  /** Random fault rates per read (used when the hook returns undefined). */
  faults?: FaultRates;
  /** 'throw' (default): a violation throws from the pump. 'record': collected in rc.violations, the RC carries on. */
  violations?: 'throw' | 'record';
  /** Cycles a device may still act on a control the RC just turned off (bus master, MSI-X mask). Default 64. */
  grace?: number;
  /**
   * An Assert_INTx for an asserted wire, or a Deassert_INTx for a deasserted one: 'report' (default) as an `intx`
   * violation, or 'allow' (2.2.8.1 lets receivers ignore duplicates; they are only counted).
   */
  intxDuplicates?: 'report' | 'allow';
  /** Log every TLP: true = stderr, or a function. Default: env VFPGA_RC_TRACE. */
  trace?: boolean | ((line: string) => void);
}

/** A device's control settings as a test states them (RootComplexOptions.device, rc.setDeviceControl()). */
export interface StatedDeviceControl {
  /** Bus Master Enable: whether the device may send requests. */
  busMaster?: boolean;
  /** Max_Payload_Size, bytes (128..4096, a power of two). */
  mps?: number;
  /** Max_Read_Request_Size, bytes (128..4096, a power of two). */
  mrrs?: number;
  /** Extended Tag Field Enable: tags 32..255 allowed. */
  extTags?: boolean;
  /** 10-Bit Tag Requester Enable: tags 256..1023 allowed. */
  tenBitTags?: boolean;
}

export interface ResolvedOptions {
  rcId: number;
  deviceId: number;
  /** The stated device settings, every one filled in; undefined when the device is to be enumerated. */
  device?: Required<StatedDeviceControl>;
  mps: number;
  mrrs: number;
  maxMmioRead: number;
  rcb: 64 | 128;
  deviceRcb: number;
  extTags: boolean;
  tenBitTags: boolean;
  latency: Latency;
  minLatency: number;
  cplGap: { min: number; max: number };
  reorder: boolean;
  split: SplitMode;
  completionTimeout: number;
  deviceCompletionTimeout: number;
  waitTimeout: number;
  crsRetries: number;
  crsDelay: number;
  window: number;
  msiBase: bigint;
  msiSize: bigint;
  mem32: { base: bigint; limit: bigint };
  mem64: { base: bigint; limit: bigint };
  violations: 'throw' | 'record';
  grace: number;
  intxDuplicates: 'report' | 'allow';
  trace?: (line: string) => void;
}

const pow2 = (v: number, lo: number, hi: number, what: string): number => {
  if (!(Number.isInteger(v) && v >= lo && v <= hi && (v & (v - 1)) === 0))
    throw new RangeError(`rc: ${what} must be a power of two in ${lo}..${hi}, got ${v}`);
  return v;
};
const count = (v: number, what: string, min = 0): number => {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`rc: ${what} must be an integer >= ${min}, got ${v}`);
  return v;
};

export function resolveOptions(o: RootComplexOptions): ResolvedOptions {
  const latency = o.latency ?? { min: 50, max: 250 };
  let minLatency = o.minLatency ?? 1;
  if (typeof latency !== 'function') {
    count(latency.min, 'latency.min', 1);
    count(latency.max, 'latency.max', latency.min);
    minLatency = latency.min;
  }
  const gap = o.cplGap ?? { min: 0, max: 16 };
  count(gap.min, 'cplGap.min');
  count(gap.max, 'cplGap.max', gap.min);
  const rcb = o.rcb ?? 64;
  if (rcb !== 64 && rcb !== 128) throw new RangeError(`rc: rcb must be 64 or 128, got ${rcb}`);
  const big = (a: Addr) => BigInt(a);
  let trace: ((line: string) => void) | undefined;
  const t = o.trace ?? (process.env.VFPGA_RC_TRACE ? true : undefined);
  if (typeof t === 'function') trace = t;
  else if (t) trace = (line) => process.stderr.write(line + '\n');
  const mps = pow2(o.mps ?? 256, 128, 4096, 'mps');
  const mrrs = pow2(o.mrrs ?? 512, 128, 4096, 'mrrs');
  const d = o.device;
  return {
    rcId: o.rcId ?? 0x0000,
    deviceId: o.deviceId ?? 0x0100,
    device: d && {
      busMaster: d.busMaster ?? true,
      mps: pow2(d.mps ?? mps, 128, 4096, 'device.mps'),
      mrrs: pow2(d.mrrs ?? mrrs, 128, 4096, 'device.mrrs'),
      extTags: d.extTags ?? o.extTags ?? true,
      tenBitTags: d.tenBitTags ?? o.tenBitTags ?? false,
    },
    mps,
    mrrs,
    maxMmioRead: pow2(o.maxMmioRead ?? o.mrrs ?? 512, 4, 4096, 'maxMmioRead'),
    rcb,
    deviceRcb: o.deviceRcb ?? 128,
    extTags: o.extTags ?? true,
    tenBitTags: o.tenBitTags ?? false,
    latency,
    minLatency: count(minLatency, 'minLatency', 1),
    cplGap: gap,
    reorder: o.reorder ?? true,
    split: o.split ?? 'random',
    completionTimeout: count(o.completionTimeout ?? 50_000, 'completionTimeout', 1),
    deviceCompletionTimeout: count(o.deviceCompletionTimeout ?? 12_500, 'deviceCompletionTimeout', 1),
    waitTimeout: count(o.waitTimeout ?? 2_000_000, 'waitTimeout', 1),
    crsRetries: count(o.crsRetries ?? 10, 'crsRetries'),
    crsDelay: count(o.crsDelay ?? 200, 'crsDelay', 1),
    window: count(o.window ?? 4096, 'window', 1),
    msiBase: big(o.msiWindow?.base ?? 0xfee0_0000n),
    msiSize: big(o.msiWindow?.size ?? 0x10_0000),
    mem32: { base: big(o.mem32?.base ?? 0xc000_0000n), limit: big(o.mem32?.limit ?? 0xfe00_0000n) },
    mem64: { base: big(o.mem64?.base ?? 0x40_0000_0000n), limit: big(o.mem64?.limit ?? 0x80_0000_0000n) },
    violations: o.violations ?? 'throw',
    grace: count(o.grace ?? 64, 'grace'),
    intxDuplicates: o.intxDuplicates ?? 'report',
    trace,
  };
}
