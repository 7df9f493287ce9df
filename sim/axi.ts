// The sparse AXI4 memory model's TypeScript side (the C++ side, clocked with the design, is sim/cpp/axi.h): its
// settings and statistics as one table each, from which sim/harness.ts generates the C++ enums (the one schema for
// what crosses the boundary), and AxiMemory, the typed handle tests use to read and write the memory directly.
//
// Every AXI4 master port of a design (an `axi4` interface with role `source` in its ports file) is served by one
// such slave, every cycle, inside the C++ run loop: nothing per cycle in TypeScript. See docs/simulation.md.
import { AXI4_FIELDS, type Axi4Field } from '../gen/lib/axi_fields';

/**
 * The slave's settings (knobs), in the order of the array that crosses into C++, with their defaults. A `null`
 * default is filled in per port (the capacity: the port's whole address space).
 */
export const AXI_KNOBS = [
  /** Bytes of memory from address 0; an access beyond them fails the run. */
  { name: 'capacity', default: null },
  /** Cycles between an AR's acceptance and its first R beat, beyond the one every read takes. */
  { name: 'readLatency', default: 0 },
  /** Cycles between a write's last W beat and its B response, beyond the one every write takes. */
  { name: 'writeLatency', default: 0 },
  /** Read bursts accepted and not fully answered, at most (arready low at the limit). */
  { name: 'maxReads', default: 16 },
  /** Write bursts accepted whose B response has not been taken, at most (awready low at the limit). */
  { name: 'maxWrites', default: 16 },
  /** W beats the slave takes ahead of their AW (AXI4 lets write data come first). */
  { name: 'writeAhead', default: 16 },
  /** Probability that awready is low on a cycle (random, from the seed). */
  { name: 'awStall', default: 0 },
  /** Probability that wready is low on a cycle. */
  { name: 'wStall', default: 0 },
  /** Probability that a B response ready to go waits a cycle (bvalid low). */
  { name: 'bStall', default: 0 },
  /** Probability that arready is low on a cycle. */
  { name: 'arStall', default: 0 },
  /** Probability that an R beat ready to go waits a cycle (rvalid low). */
  { name: 'rStall', default: 0 },
  /** Burst types accepted, a mask of 1 << AxBURST (FIXED 1, INCR 2, WRAP 4); another type fails the run. */
  { name: 'bursts', default: 7 },
  // Error injection (a storage that fails): a burst chosen by the settings below is answered with `errorResp`
  // on every beat (R) or its B, and a write so answered leaves the memory as it was. Injected errors are not
  // protocol errors: the run goes on; the statistics count them.
  /** Bursts touching a byte in [errorFrom, errorTo) fail (empty by default). */
  { name: 'errorFrom', default: 0 },
  { name: 'errorTo', default: 0 },
  /** The Nth burst of each direction in `errorDirs` fails (1 = the first since load; 0 = none). */
  { name: 'errorNth', default: 0 },
  /** Probability that a burst of a direction in `errorDirs` fails (random, from the seed). */
  { name: 'errorRate', default: 0 },
  /** The directions injection applies to, a mask: 1 reads, 2 writes. */
  { name: 'errorDirs', default: 3 },
  /** The response of a failed burst: 2 SLVERR or 3 DECERR. */
  { name: 'errorResp', default: 2 },
] as const;

export type AxiKnobName = (typeof AXI_KNOBS)[number]['name'];

/** What the slave counts (read with AxiMemory.stats()), in the order of the array C++ fills. */
export const AXI_STATS = [
  /** Write bursts accepted (AW). */
  'writes',
  /** W beats taken. */
  'writeBeats',
  /** Read bursts accepted (AR). */
  'reads',
  /** R beats delivered. */
  'readBeats',
  /** 4 KiB pages of memory allocated (a page is allocated by its first write of a nonzero byte). */
  'pages',
  /** The most read bursts in flight at once. */
  'mostReads',
  /** The most write bursts in flight (accepted, response not taken) at once. */
  'mostWrites',
  /** Read bursts answered with an injected error. */
  'readErrors',
  /** Write bursts answered with an injected error. */
  'writeErrors',
  /** The address of the last burst that failed by injection (AxADDR; 0 before any). */
  'lastErrorAddr',
] as const;

export type AxiStatName = (typeof AXI_STATS)[number];
export type AxiStats = Record<AxiStatName, number>;

/** Settings of one AXI4 memory (SimOptions.axi, AxiMemory.configure()); each defaults to AXI_KNOBS'. */
export type AxiMemoryOptions = Partial<Record<Exclude<AxiKnobName, 'capacity'>, number>> & {
  /** Bytes of memory from address 0 (default: the port's whole address space, 2^addrBits). */
  capacity?: number | bigint;
};

/** The memory's page size (its allocation unit; also AXI4's burst boundary). */
export const AXI_PAGE = 4096;
/** The largest capacity (addresses stay exact in a double). */
export const AXI_MAX_CAPACITY = 2 ** 52;

/** The C++ declarations generated into every harness ahead of bench.h (which uses them). */
export function axiCpp(): string {
  const cpp = (prefix: string, n: string) => `k${prefix}${n[0].toUpperCase()}${n.slice(1)}`;
  return [
    `namespace vfpga {`,
    `// The AXI4 memory model's knobs and statistics, generated from sim/axi.ts.`,
    `enum AxiKnob { ${AXI_KNOBS.map((k, i) => `${cpp('Axi', k.name)} = ${i}`).join(', ')}, kAxiKnobs = ${AXI_KNOBS.length} };`,
    `enum AxiStat { ${AXI_STATS.map((s, i) => `${cpp('AxiStat', s)} = ${i}`).join(', ')}, kAxiStats = ${AXI_STATS.length} };`,
    `// The knobs' defaults in AxiKnob order (the capacity's, per port, is set by the slave).`,
    `constexpr double kAxiKnobDefaults[kAxiKnobs] = { ${AXI_KNOBS.map((k) => String(k.default ?? 0)).join(', ')} };`,
    `constexpr uint64_t kAxiPage = ${AXI_PAGE};`,
    `}  // namespace vfpga`,
  ].join('\n');
}

/** An `axi4` master interface of a design, as the simulator serves it (sim/ports.ts finds them). */
export interface AxiPort {
  name: string;
  dataBits: number;
  addrBits: number;
  /** Field -> the design's port name. */
  fields: Record<Axi4Field, string>;
}

/** What AxiMemory needs from its Sim (the native calls, after flushing staged sends). */
export interface AxiHost {
  configure(port: number, knobs: Float64Array): void;
  read(port: number, addr: number, out: Uint8Array): void;
  write(port: number, addr: number, bytes: Uint8Array): void;
  stats(port: number, out: Float64Array): void;
}

/** The knob values for a port: the defaults, then `over`, checked (errors name the port and the knob). */
export function axiKnobs(port: AxiPort, over: AxiMemoryOptions = {}, base?: Float64Array): Float64Array {
  const out = new Float64Array(new ArrayBuffer(8 * AXI_KNOBS.length));
  const where = `sim: AXI4 memory on ${port.name}`;
  for (const k of Object.keys(over))
    if (!AXI_KNOBS.some((d) => d.name === k))
      throw new Error(`${where}: unknown setting '${k}' (known: ${AXI_KNOBS.map((d) => d.name).join(', ')})`);
  AXI_KNOBS.forEach((d, i) => {
    const given = (over as Record<string, number | bigint | undefined>)[d.name];
    if (given === undefined) {
      out[i] = base ? base[i] : (d.default ?? 2 ** port.addrBits);
      return;
    }
    const v = Number(given);
    if (d.name === 'capacity') {
      if (!Number.isSafeInteger(v) || v < 1 || v > 2 ** port.addrBits || v > AXI_MAX_CAPACITY)
        throw new Error(
          `${where}: capacity ${given} must be a whole number of bytes from 1 to 2^${Math.min(port.addrBits, 52)} (its ${port.addrBits} address bits)`,
        );
    } else if (d.name.endsWith('Stall') || d.name === 'errorRate') {
      if (!(v >= 0 && v <= 1)) throw new Error(`${where}: ${d.name} must be a probability within 0..1, got ${given}`);
    } else if (d.name === 'bursts') {
      if (!Number.isInteger(v) || v < 0 || v > 7) throw new Error(`${where}: bursts must be a mask 0..7, got ${given}`);
    } else if (d.name === 'errorDirs') {
      if (!Number.isInteger(v) || v < 0 || v > 3)
        throw new Error(`${where}: errorDirs must be a mask 0..3 (1 reads, 2 writes), got ${given}`);
    } else if (d.name === 'errorResp') {
      if (v !== 2 && v !== 3) throw new Error(`${where}: errorResp must be 2 (SLVERR) or 3 (DECERR), got ${given}`);
    } else if (!Number.isSafeInteger(v) || v < (d.name.startsWith('max') || d.name === 'writeAhead' ? 1 : 0))
      throw new Error(
        `${where}: ${d.name} must be a whole number${/Latency|^error/.test(d.name) ? '' : ' from 1'}, got ${given}`,
      );
    out[i] = v;
  });
  if (2 ** port.addrBits > AXI_MAX_CAPACITY && over.capacity === undefined && !base)
    throw new Error(`${where}: ${port.addrBits} address bits: give a capacity (at most 2^52 bytes)`);
  return out;
}

/**
 * The memory behind one AXI4 master port: read and write it directly from TypeScript (to seed a disk, to check
 * what the design wrote), change its settings between runs, read its statistics. Writes are recorded, so a
 * replay (Sim.runFree) sees them at the same cycle.
 */
export class AxiMemory {
  private readonly knobs: Float64Array;
  private readonly statsBuf = new Float64Array(new ArrayBuffer(8 * AXI_STATS.length));

  constructor(
    private readonly host: AxiHost,
    private readonly index: number,
    /** The port: its name, data and address widths. */
    readonly port: AxiPort,
    knobs: Float64Array,
  ) {
    this.knobs = knobs;
  }

  /** Bytes of memory from address 0. */
  get capacity(): number {
    return this.knobs[0];
  }

  /** The current settings. */
  get settings(): Record<AxiKnobName, number> {
    return Object.fromEntries(AXI_KNOBS.map((d, i) => [d.name, this.knobs[i]])) as Record<AxiKnobName, number>;
  }

  /** Changes settings from the next cycle on (recorded); the others keep their values. */
  configure(over: AxiMemoryOptions): void {
    const k = axiKnobs(this.port, over, this.knobs);
    this.host.configure(this.index, k);
    this.knobs.set(k);
  }

  /** `len` bytes from `addr` (unwritten memory reads as zeros). */
  read(addr: number | bigint, len: number): Uint8Array {
    const a = this.check(addr, len, 'read');
    const out = new Uint8Array(len);
    if (len > 0) this.host.read(this.index, a, out);
    return out;
  }

  /** Writes `bytes` at `addr`, as if before the next cycle. */
  write(addr: number | bigint, bytes: Uint8Array): void {
    const a = this.check(addr, bytes.length, 'write');
    if (bytes.length > 0) this.host.write(this.index, a, bytes);
  }

  /** What the slave has counted since load. */
  stats(): AxiStats {
    this.host.stats(this.index, this.statsBuf);
    return Object.fromEntries(AXI_STATS.map((s, i) => [s, this.statsBuf[i]])) as AxiStats;
  }

  private check(addr: number | bigint, len: number, what: string): number {
    const a = Number(addr);
    if (!Number.isSafeInteger(len) || len < 0)
      throw new RangeError(`sim: AXI4 memory on ${this.port.name}: ${what} length ${len} is not a byte count`);
    if (!Number.isSafeInteger(a) || a < 0 || BigInt(a) !== BigInt(addr))
      throw new RangeError(`sim: AXI4 memory on ${this.port.name}: ${what} address ${addr} is not a byte address`);
    if (a + len > this.capacity)
      throw new RangeError(
        `sim: AXI4 memory on ${this.port.name}: ${what} of ${len} bytes at 0x${a.toString(16)} ends at 0x${(a + len).toString(16)}, beyond the capacity 0x${this.capacity.toString(16)} (${this.capacity} bytes)`,
      );
    return a;
  }
}

/** The fields of an `axi4` interface by driver, for the harness: what the slave reads and what it drives. */
export const AXI_MASTER_FIELDS = (Object.keys(AXI4_FIELDS) as Axi4Field[]).filter(
  (f) => AXI4_FIELDS[f].by === 'master',
);
export const AXI_SLAVE_FIELDS = (Object.keys(AXI4_FIELDS) as Axi4Field[]).filter((f) => AXI4_FIELDS[f].by === 'slave');
