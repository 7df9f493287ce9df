// What the packed-ring engine tests share: the test top (gen/virtq/packed_test_top.ts) Verilated behind the
// root-complex model, its control-plane inputs poked from TypeScript, the device side played through the
// `chain` / `done` handshakes, the golden DeviceQueue reading the same host memory (its writes recorded, not
// applied: the RTL writes the ring), and the used elements both wrote, as records to compare.
import { expect } from 'vitest';
import { PackedTestTop } from '../../gen/virtq/packed_test_top';
import { PackedFault } from '../../gen/virtq/packed_params';
import type { DataWidth } from '../../gen/pcie/streams';
import { featureMask } from '../../gen/virtio/regmap';
import { designPorts } from '../../sim/design';
import { Sim, type SimOptions } from '../../sim/index';
import type { HandshakeReceiver, HandshakeSender, SignalWatch } from '../../sim/sideband';
import type { HostMemory } from '../../tb/pcie/hostmem';
import { TapLink } from '../../tb/pcie/link';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { decodeTlp, memReqByteRange, type MemWriteTlp } from '../../tb/pcie/tlp';
import {
  DESC_SIZE,
  PACKED,
  PACKED_AVAIL,
  PACKED_EVENT_SIZE,
  PACKED_USED,
  type RingAddresses,
} from '../../tb/virtio/ring/defs';
import type { RingErrorKind } from '../../tb/virtio/ring/device';
import type { DmaPort, DmaPurpose } from '../../tb/virtio/ring/dma';

export const DEVICE_ID = 0x0100;
const FLAGS: string[] = [];

export const packedPorts = (W: DataWidth, queues: number): string =>
  designPorts(PackedTestTop.elaborate({ W, queues }));

/** Builds the simulator for a ports file (or hits the cache): call from beforeAll. */
export function buildPackedSim(ports: string): void {
  Sim.load({ ports, resetCycles: 0, verilatorFlags: FLAGS, quiet: true }).close();
}

/** The negotiated feature mask for a set of ring features (always VIRTIO_F_RING_PACKED and VERSION_1). */
export function packedFeatures(f: { indirect?: boolean; eventIdx?: boolean; inOrder?: boolean }): bigint {
  const names = ['VIRTIO_F_VERSION_1', 'VIRTIO_F_RING_PACKED'];
  if (f.indirect) names.push('VIRTIO_F_INDIRECT_DESC');
  if (f.eventIdx) names.push('VIRTIO_F_EVENT_IDX');
  if (f.inOrder) names.push('VIRTIO_F_IN_ORDER');
  return featureMask(names, 'blk');
}

/** A chain as the engine handed it to the device. */
export interface RtlChain {
  queue: number;
  id: number;
  slots: number;
  segments: { addr: bigint; len: number; write: boolean }[];
}

export interface PackedBench {
  W: DataWidth;
  queues: number;
  sim: Sim;
  tap: TapLink;
  rc: RootComplex;
  mem: HostMemory;
  chainRx: HandshakeReceiver;
  doneTx: HandshakeSender;
  irq: SignalWatch[];
  fatal: SignalWatch;
  /** Cycles with a queue reset done (any queue). */
  queueResetDone: SignalWatch;
  resetDone: SignalWatch;
  /** Programs queue i (size, addresses) and enables it. */
  setQueue(i: number, ring: RingAddresses): void;
  setFeatures(features: bigint): void;
  driverOk(on: boolean): void;
  /** A doorbell for queue i (one pulse per pump step however often it is called). */
  notify(i: number): void;
  /** Runs the pump for about `cycles` cycles. */
  run(cycles: number): void;
  /** Chains received since the last call, assembled from the chain beats. */
  takeChains(): RtlChain[];
  done(c: { queue: number; id: number; slots: number; len: number }): void;
  /** The engine's used elements as written on the link so far (see usedRecordsFromTlps). */
  usedRecords(): UsedRecord[];
  /** The engine's writes of the queues' device event structures so far, in link order. */
  eventWrites(): EventWrite[];
  /** The engine's memory writes other than those into a device event structure. */
  ringWrites(): MemWriteTlp[];
  fatalCode(): number;
}

const open: Sim[] = [];
export function closePackedBenches(): void {
  for (const s of open.splice(0)) s.close();
}

export function bootPacked(
  W: DataWidth,
  queues: number,
  ports: string,
  seed: number,
  rcOpts: RootComplexOptions = {},
  simOpts: Partial<SimOptions> = {},
): PackedBench {
  const sim = Sim.load({ ports, quiet: true, seed, verilatorFlags: FLAGS, ...simOpts });
  open.push(sim);
  const tap = new TapLink(sim);
  const rc = new RootComplex(tap, {
    seed,
    deviceId: DEVICE_ID,
    device: { mps: 256, mrrs: 512, extTags: true, busMaster: true },
    deviceCompletionTimeout: 20_000,
    ...rcOpts,
  });
  sim.poke('bus_master', 1);
  sim.poke('max_payload', 1);
  sim.poke('max_read_req', 2);
  sim.poke('ext_tag_en', 1);
  sim.poke('requester_id', DEVICE_ID);
  sim.poke('timeout', 20_000);
  const chainRx = sim.handshakeReceiver({
    valid: 'chain_valid',
    ready: 'chain_ready',
    data: ['chain_queue', 'chain_id', 'chain_slots', 'chain_addr', 'chain_len', 'chain_write', 'chain_last'],
  });
  const doneTx = sim.handshakeSender({
    valid: 'done_valid',
    ready: 'done_ready',
    data: ['done_queue', 'done_id', 'done_slots', 'done_len'],
  });
  const irq = Array.from({ length: queues }, (_, i) => sim.watch(`irq_q${i}`, 'high'));
  const fatal = sim.watch('fatal_error', 'high');
  const queueResetDone = sim.watch('queue_reset_done', 'high');
  const resetDone = sim.watch('reset_done', 'high');
  const kicked = new Set<number>();
  let partial: RtlChain | undefined;
  /** The device event structures of the rings programmed (setQueue), old ones too. */
  const eventAreas: { queue: number; at: bigint }[] = [];
  const writes = () => tap.fromDevice.map((t) => decodeTlp(t)).filter((t) => t.type === 'MWr') as MemWriteTlp[];
  const eventArea = (w: MemWriteTlp) => {
    const a = memReqByteRange(w).addr;
    return eventAreas.find((e) => a >= e.at && a < e.at + BigInt(PACKED_EVENT_SIZE));
  };
  const bench: PackedBench = {
    W,
    queues,
    sim,
    tap,
    rc,
    mem: rc.mem,
    chainRx,
    doneTx,
    irq,
    fatal,
    queueResetDone,
    resetDone,
    setQueue(i, ring) {
      sim.poke(`q${i}_size`, ring.num);
      sim.poke(`q${i}_desc`, ring.desc);
      sim.poke(`q${i}_driver`, ring.driver);
      sim.poke(`q${i}_device`, ring.device);
      sim.poke(`q${i}_enable`, 1);
      eventAreas.push({ queue: i, at: ring.device });
    },
    setFeatures(f) {
      sim.poke('features', f);
    },
    driverOk(on) {
      sim.poke('driver_ok', on ? 1 : 0);
    },
    notify(i) {
      if (kicked.has(i)) return;
      kicked.add(i);
      sim.pulse(`q${i}_notify`);
    },
    run(cycles) {
      kicked.clear();
      rc.runFor(cycles);
    },
    takeChains() {
      const out: RtlChain[] = [];
      for (const it of chainRx.take()) {
        const v = it.values;
        partial ??= {
          queue: Number(v.chain_queue),
          id: Number(v.chain_id),
          slots: Number(v.chain_slots),
          segments: [],
        };
        expect(Number(v.chain_queue), 'queue of every beat of a chain').toBe(partial.queue);
        expect(Number(v.chain_id), 'id of every beat of a chain').toBe(partial.id);
        partial.segments.push({ addr: v.chain_addr, len: Number(v.chain_len), write: v.chain_write === 1n });
        if (v.chain_last === 1n) {
          out.push(partial);
          partial = undefined;
        }
      }
      return out;
    },
    done(c) {
      doneTx.send({ done_queue: c.queue, done_id: c.id, done_slots: c.slots, done_len: c.len });
    },
    usedRecords() {
      return usedRecordsFromTlps(bench.ringWrites());
    },
    ringWrites() {
      return writes().filter((w) => eventArea(w) === undefined);
    },
    eventWrites() {
      return writes().flatMap((w) => {
        const area = eventArea(w);
        if (area === undefined) return [];
        const queue = area.queue;
        const r = memReqByteRange(w);
        const off = Number(r.addr - w.address);
        const bytes = w.data.subarray(off, off + r.bytes);
        const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const at = Number(r.addr - area.at);
        // off_wrap and flags (4 bytes at 0), or the flags alone (2 bytes at 2)
        if (at === 0 && r.bytes === 4) return [{ queue, offWrap: v.getUint16(0, true), flags: v.getUint16(2, true) }];
        if (at === 2 && r.bytes === 2) return [{ queue, flags: v.getUint16(0, true) }];
        throw new Error(`unexpected device event structure write: ${r.bytes} bytes at offset ${at} (queue ${queue})`);
      });
    },
    fatalCode() {
      return Number(sim.peek('fatal_code'));
    },
  };
  return bench;
}

/** A write of a device event structure: the flags, and off_wrap when it was written too. */
export interface EventWrite {
  queue: number;
  flags: number;
  offWrap?: number;
}

/** A used element: the descriptor it went into, and its id, len and flags. */
export interface UsedRecord {
  at: bigint;
  id: number;
  len: number;
  flags: number;
}

/**
 * Used elements from the engine's memory writes, in link order: the id/len write (descriptor bytes 8..13) must
 * come before the flags write (bytes 14..15) that publishes it, as a separate TLP. A batch (packed_used.ts) is
 * one write from the first element's len to the end of the last descriptor (the first's flags still available,
 * the others' addresses 0 and flags used; split where the write engine splits it), then the first's flags: its
 * elements count as written then, in ring order.
 */
export function usedRecordsFromTlps(writes: MemWriteTlp[]): UsedRecord[] {
  const body = new Map<bigint, { id: number; len: number; rest: UsedRecord[] }>();
  /** Where a batch's write that was split goes on (its end), and the first descriptor of its batch. */
  const goesOn = new Map<bigint, bigint>();
  const out: UsedRecord[] = [];
  const isUsed = (flags: number) => ((flags & PACKED_AVAIL) === 0) === ((flags & PACKED_USED) === 0);
  for (const w of writes) {
    const r = memReqByteRange(w);
    const off = Number(r.addr - w.address);
    const bytes = w.data.subarray(off, off + r.bytes);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const inDesc = Number(r.addr % BigInt(DESC_SIZE));
    const desc = r.addr - BigInt(inDesc);
    /** Whole descriptors from byte `at` of the write on, as records of the batch that starts at `first`. */
    const records = (first: bigint, at: number) => {
      const b = body.get(first)!;
      for (; at < r.bytes; at += DESC_SIZE) {
        const d = r.addr + BigInt(at);
        expect(v.getBigUint64(at + PACKED.addr, true), `address of used descriptor 0x${d.toString(16)}`).toBe(0n);
        const flags = v.getUint16(at + PACKED.flags, true);
        expect(isUsed(flags), `flags 0x${flags.toString(16)} of a batch's descriptor 0x${d.toString(16)}`).toBe(true);
        b.rest.push({ at: d, len: v.getUint32(at + PACKED.len, true), id: v.getUint16(at + PACKED.id, true), flags });
      }
      goesOn.set(r.addr + BigInt(r.bytes), first);
    };
    if (inDesc === PACKED.len && r.bytes === 6) {
      body.set(desc, { len: v.getUint32(0, true), id: v.getUint16(4, true), rest: [] });
    } else if (inDesc === PACKED.len && r.bytes >= 8 && (r.bytes - 8) % DESC_SIZE === 0) {
      body.set(desc, { len: v.getUint32(0, true), id: v.getUint16(4, true), rest: [] });
      const flags = v.getUint16(6, true);
      expect(isUsed(flags), `flags 0x${flags.toString(16)} of a batch's first 0x${desc.toString(16)}`).toBe(false);
      records(desc, 8);
    } else if (inDesc === 0 && r.bytes % DESC_SIZE === 0 && goesOn.has(r.addr)) {
      const first = goesOn.get(r.addr)!;
      goesOn.delete(r.addr);
      records(first, 0);
    } else if (inDesc === PACKED.flags && r.bytes === 2) {
      const b = body.get(desc);
      expect(b, `flags written at 0x${desc.toString(16)} without the element's id and len before it`).toBeDefined();
      body.delete(desc);
      out.push({ at: desc, id: b!.id, len: b!.len, flags: v.getUint16(0, true) }, ...b!.rest);
    } else {
      throw new Error(`unexpected engine write: ${r.bytes} bytes at 0x${r.addr.toString(16)}`);
    }
  }
  return out;
}

/** The golden model's DMA: reads host memory (permission-checked), records its used-element writes. */
export class GoldenDma implements DmaPort {
  readonly records: UsedRecord[] = [];
  private readonly partial = new Map<bigint, { id?: number; len?: number }>();
  constructor(private readonly mem: HostMemory) {}
  read(addr: bigint, len: number, purpose: DmaPurpose, queue: number): Uint8Array {
    return this.mem.dmaRead(addr, len, `${purpose} of queue ${queue}`);
  }
  write(addr: bigint, data: Uint8Array, purpose: DmaPurpose): void {
    if (purpose !== 'used-elem') throw new Error(`golden wrote ${purpose}: the engine does not`);
    const inDesc = Number(addr % BigInt(DESC_SIZE));
    const desc = addr - BigInt(inDesc);
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const p = this.partial.get(desc) ?? {};
    if (inDesc === PACKED.len) p.len = v.getUint32(0, true);
    else if (inDesc === PACKED.id) p.id = v.getUint16(0, true);
    else {
      this.records.push({ at: desc, id: p.id!, len: p.len!, flags: v.getUint16(0, true) });
      this.partial.delete(desc);
      return;
    }
    this.partial.set(desc, p);
  }
}

/** The golden model's error kind for each fault code of the engine. */
export const FAULT_KIND: Record<number, RingErrorKind> = {
  [PackedFault.DESC_NOT_AVAILABLE]: 'desc-not-available',
  [PackedFault.CHAIN_TOO_LONG]: 'chain-too-long',
  [PackedFault.INDIRECT_NOT_NEGOTIATED]: 'indirect-not-negotiated',
  [PackedFault.INDIRECT_WITH_NEXT]: 'indirect-with-next',
  [PackedFault.INDIRECT_BAD_LENGTH]: 'indirect-bad-length',
  [PackedFault.INDIRECT_IN_INDIRECT]: 'indirect-in-indirect',
  [PackedFault.READABLE_AFTER_WRITABLE]: 'readable-after-writable',
  [PackedFault.CHAIN_TOO_BIG]: 'chain-too-big',
  [PackedFault.DMA_FAULT]: 'dma-fault',
  [PackedFault.IN_ORDER_VIOLATION]: 'in-order-violation',
};
