// Invariants any run must keep, whatever device is under test (the golden model now, RTL later): it hears the
// driver (DriverObserver: what is granted to the device and when it comes back) and every device DMA access
// (HostDma listener), and checks
//  - no DMA outside what the driver provided: the ring areas of the queues, and the buffers (and indirect tables)
//    of the buffers currently available; a write only into ring areas the device owns and device-writable buffers,
//  - used length = the number of distinct bytes the device wrote into the buffer,
//  - each buffer returned exactly once, and none left at the end (assertDrained).
import type { Region } from '../../pcie/hostmem';
import { DESC_SIZE, PACKED_EVENT_SIZE, splitAreaSizes, type RingAddresses, type Sg } from './defs';
import type { DmaAccess } from './dma';
import type { DriverObserver, Virtqueue } from './virtqueue';

export class InvariantViolation extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'InvariantViolation';
  }
}

interface Grant {
  readonly start: bigint;
  readonly end: bigint;
  /** start and end as numbers, for the lookup on every device access (exact: see find()). */
  readonly lo: number;
  readonly hi: number;
  readonly read: boolean;
  readonly write: boolean;
  /** What the grant is, for messages: its name, or for a buffer segment its queue and index (named on failure only). */
  readonly what: string | { queue: number; segment: number };
  /** Written byte ranges (device-writable buffer segments only). */
  readonly written?: [bigint, bigint][];
}

interface Outstanding {
  readonly grants: Grant[];
  readonly writable: number;
}

const hex = (a: bigint) => `0x${a.toString(16)}`;
/** Addresses up to here are exact as numbers. */
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** An access as a violation message names it. */
function describeAccess(a: DmaAccess): string {
  return `${a.purpose} ${a.dir} of ${a.len} bytes at ${hex(a.addr)} (queue ${a.queue})`;
}

/** A grant as a violation message names it. */
function grantName(g: Grant): string {
  const w = g.what;
  if (typeof w === 'string') return w;
  return `queue ${w.queue} buffer segment ${w.segment} (${g.write ? 'device-writable' : 'device-readable'})`;
}

/** The grant of buffer segment k (per request: a plain function, not a closure per call). */
function segmentGrant(queue: number, s: Sg, write: boolean, k: number, readWritable: boolean): Grant {
  const end = s.addr + BigInt(s.len);
  return {
    start: s.addr,
    end,
    lo: Number(s.addr),
    hi: Number(end),
    read: !write || readWritable,
    write,
    what: { queue, segment: k },
    written: write ? [] : undefined,
  };
}

export interface InvariantOptions {
  /** The device may read device-writable buffers ("SHOULD NOT ... MAY do so for debugging"). Default false. */
  allowReadOfWritable?: boolean;
  /** Throw at the first violation (default), or only record them. */
  record?: boolean;
}

export class RingInvariants<T> implements DriverObserver<T> {
  readonly violations: string[] = [];
  /** Accesses checked, buffers added and returned: tests assert these so a check cannot pass vacuously. */
  readonly counts = { dma: 0, added: 0, returned: 0, lengthsChecked: 0 };
  private readonly rings: Grant[] = [];
  private readonly out = new Map<string, Map<T, Outstanding>>();

  constructor(private readonly opts: InvariantOptions = {}) {}

  /** Grants a queue's ring areas: what the device may read, and the parts it writes. */
  addRing(queue: number, ring: RingAddresses, packed: boolean): void {
    const g = (start: bigint, len: number, write: boolean, what: string) => {
      const end = start + BigInt(len);
      const grant = {
        start,
        end,
        lo: Number(start),
        hi: Number(end),
        read: true,
        write,
        what: `queue ${queue} ${what}`,
      };
      if (end > SAFE) this.unsafe = true;
      this.rings.push(grant);
      this.index.add(grant);
    };
    if (packed) {
      g(ring.desc, DESC_SIZE * ring.num, true, 'descriptor ring');
      g(ring.driver, PACKED_EVENT_SIZE, false, 'driver event suppression');
      g(ring.device, PACKED_EVENT_SIZE, true, 'device event suppression');
    } else {
      const s = splitAreaSizes(ring.num);
      g(ring.desc, s.desc, false, 'descriptor table');
      g(ring.driver, s.avail, false, 'available ring');
      g(ring.device, s.used, true, 'used ring');
    }
  }

  private fail(msg: string): void {
    this.violations.push(msg);
    if (!this.opts.record) throw new InvariantViolation(msg);
  }

  private queue(q: number): Map<T, Outstanding> {
    let m = this.out.get(String(q));
    if (!m) this.out.set(String(q), (m = new Map()));
    return m;
  }

  added(vq: Virtqueue<T>, data: T, out: readonly Sg[], inn: readonly Sg[], indirect: Region | undefined): void {
    this.counts.added++;
    const m = this.queue(vq.index);
    const again = m.get(data);
    if (again) {
      this.fail(`queue ${vq.index}: a buffer was added again while still available`);
      for (const g of again.grants) this.index.remove(g); // (recorded: the new grants replace the old)
    }
    const grants: Grant[] = [];
    const readWritable = !!this.opts.allowReadOfWritable;
    for (let k = 0; k < out.length; k++) grants.push(segmentGrant(vq.index, out[k], false, k, readWritable));
    for (let k = 0; k < inn.length; k++)
      grants.push(segmentGrant(vq.index, inn[k], true, out.length + k, readWritable));
    if (indirect)
      grants.push({
        start: indirect.addr,
        end: indirect.end,
        lo: Number(indirect.addr),
        hi: Number(indirect.end),
        read: true,
        write: false,
        what: `queue ${vq.index} indirect table`,
      });
    this.noteGrants(grants);
    for (const g of grants) this.index.add(g);
    m.set(data, { grants, writable: inn.reduce((a, s) => a + s.len, 0) });
  }

  returned(vq: Virtqueue<T>, data: T, len: number | undefined, lenFromDevice: boolean): void {
    this.counts.returned++;
    const m = this.queue(vq.index);
    const o = m.get(data);
    if (!o) {
      this.fail(`queue ${vq.index}: a buffer came back that is not outstanding (returned twice, or never added)`);
      return;
    }
    m.delete(data);
    for (const g of o.grants) this.index.remove(g);
    if (len === undefined || !lenFromDevice) return;
    this.counts.lengthsChecked++;
    const written = o.grants.reduce((a, g) => a + (g.written ? unionSize(g.written) : 0), 0);
    if (len !== written)
      this.fail(`queue ${vq.index}: used length ${len} but the device wrote ${written} distinct bytes of the buffer`);
  }

  /** A HostDma listener (runs for every device access: the message is built only when one fails). */
  readonly onDma = (a: DmaAccess): void => {
    this.counts.dma++;
    const start = a.addr;
    const end = a.addr + BigInt(a.len);
    const g = this.find(start, end);
    if (!g) {
      this.fail(`${describeAccess(a)}: outside the ring areas and the available buffers`);
      return;
    }
    if (a.dir === 'write' && !g.write)
      this.fail(`${describeAccess(a)}: into ${grantName(g)}, which the device must not write`);
    else if (a.dir === 'read' && !g.read)
      this.fail(`${describeAccess(a)}: from ${grantName(g)}, which the device should not read`);
    else if (a.dir === 'write' && g.written) g.written.push([start, end]);
  };

  /**
   * The first grant (rings, then outstanding buffers in the order added) holding [start, end). Compared as numbers,
   * which is exact while every address is below 2^53 (BigInt comparisons made this scan the largest single cost of
   * the checks in the virtio-blk bench); as bigints otherwise.
   */
  private find(start: bigint, end: bigint): Grant | undefined {
    if (end > SAFE || this.unsafe) return this.findExact(start, end);
    const s = Number(start);
    const e = Number(end);
    // While no two live grants share a byte, a nonempty access has at most one grant holding it: the index finds
    // it by binary search, and it is the one the scan below would find first.
    if (e > s && this.index.disjoint()) return this.index.holding(s, e);
    for (const g of this.rings) if (s >= g.lo && e <= g.hi) return g;
    for (const m of this.out.values())
      for (const o of m.values()) for (const g of o.grants) if (s >= g.lo && e <= g.hi) return g;
    return undefined;
  }
  /** The live grants (rings and outstanding buffers) by start address. */
  private readonly index = new GrantIndex();
  private findExact(start: bigint, end: bigint): Grant | undefined {
    for (const g of this.rings) if (start >= g.start && end <= g.end) return g;
    for (const m of this.out.values())
      for (const o of m.values()) for (const g of o.grants) if (start >= g.start && end <= g.end) return g;
    return undefined;
  }
  /** A grant ever ended above 2^53: find() compares as bigints from then on. */
  private unsafe = false;
  private noteGrants(gs: readonly Grant[]): void {
    for (const g of gs) if (g.end > SAFE) this.unsafe = true;
  }

  /** Buffers added and not returned. */
  outstanding(queue?: number): number {
    let n = 0;
    for (const [q, m] of this.out) if (queue === undefined || String(queue) === q) n += m.size;
    return n;
  }

  assertDrained(): void {
    const n = this.outstanding();
    if (n) this.fail(`${n} buffer(s) never came back`);
  }
}

/**
 * The live grants sorted by start (as numbers: used only while every grant ends below 2^53, where that is exact),
 * and whether they are pairwise disjoint: sorted by start, they are exactly when each ends at or before the next
 * starts. A grant added is checked against its neighbours; after an overlap, each removal checks the whole list
 * again until they are disjoint (overlapping grants come only from drivers that misbehave on purpose).
 */
class GrantIndex {
  private readonly list: Grant[] = [];
  private apart = true;

  disjoint(): boolean {
    return this.apart;
  }

  add(g: Grant): void {
    const i = this.after(g.lo);
    const l = this.list;
    if (this.apart && ((i > 0 && l[i - 1].hi > g.lo) || (i < l.length && g.hi > l[i].lo))) this.apart = false;
    l.splice(i, 0, g);
  }

  remove(g: Grant): void {
    const l = this.list;
    // among the grants starting where g does (after() points past them), the one that is g
    let i = this.after(g.lo) - 1;
    while (i >= 0 && l[i] !== g) i--;
    if (i < 0) return;
    l.splice(i, 1);
    if (this.apart) return;
    this.apart = true;
    for (let k = 0; k + 1 < l.length; k++)
      if (l[k].hi > l[k + 1].lo) {
        this.apart = false;
        return;
      }
  }

  /** The grant holding the nonempty [s, e), if any (only while disjoint: the last one starting at or before s). */
  holding(s: number, e: number): Grant | undefined {
    const i = this.after(s) - 1;
    return i >= 0 && e <= this.list[i].hi ? this.list[i] : undefined;
  }

  /** Index of the first grant starting after `at` (the list's length if none). */
  private after(at: number): number {
    const l = this.list;
    let lo = 0;
    let hi = l.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (l[mid].lo <= at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Bytes covered by a set of [start, end) ranges. */
function unionSize(ranges: [bigint, bigint][]): number {
  // A device usually writes a buffer front to back: the ranges are then in order already and need no sorted copy.
  let ordered = true;
  for (let i = 1; i < ranges.length && ordered; i++) ordered = ranges[i - 1][0] <= ranges[i][0];
  const s = ordered ? ranges : [...ranges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let total = 0n;
  let curS = -1n;
  let curE = -1n;
  for (const [a, b] of s) {
    if (a > curE) {
      if (curE > curS) total += curE - curS;
      curS = a;
      curE = b;
    } else if (b > curE) curE = b;
  }
  if (curE > curS) total += curE - curS;
  return Number(total);
}
