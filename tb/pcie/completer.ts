/**
 * The root complex as completer: the device's memory reads and writes against host memory,
 * and its MSI-X messages.
 *
 * Reads are answered with CplDs split at the RC's RCB and capped by the device's MPS, each
 * scheduled at (request cycle + latency); completions of different tags may overtake each
 * other, those of one tag never do. Writes update host memory through the byte enables.
 * Writes into the MSI window become interrupt events. Every request is checked first
 * (see checkRequest); violations go to RcCore.violation.
 */
import { splitReadCompletions } from './completions';
import type { RcCore } from './core';
import type { TlpContext } from './errors';
import { DmaFault } from './hostmem';
import { FaultInjector, type ReadAction } from './inject';
import { DwordArena } from '../../sim/raw';
import {
  CplStatus,
  describeTlp,
  formatPcieId,
  memReqByteRange,
  payloadByteMask,
  readCompletionByteCount,
  completionLowerAddress,
  encodeCplD,
  type CplDDwords,
  type MemReadTlp,
  type MemWriteTlp,
} from './tlp';

/** An MSI-X message the device sent. */
export interface InterruptEvent {
  vector: number;
  address: bigint;
  data: number;
  /** Cycle the message left the device. */
  cycle: number;
}

interface TagUse {
  /** Cycle from which the device may reuse the tag (its last completion was due then). */
  freeAt: number;
  tlp: MemReadTlp;
  cycle: number;
  action: ReadAction;
}

export interface CompleterStats {
  dmaReads: number;
  dmaReadBytes: number;
  dmaWrites: number;
  dmaWriteBytes: number;
  completionsSent: number;
  interrupts: number;
  /** Device writes with EP set: legal (error forwarding), not committed to memory. */
  poisonedWrites: number;
}

export class Completer {
  readonly injector: FaultInjector;
  readonly stats: CompleterStats = {
    dmaReads: 0,
    dmaReadBytes: 0,
    dmaWrites: 0,
    dmaWriteBytes: 0,
    completionsSent: 0,
    interrupts: 0,
    poisonedWrites: 0,
  };
  /** Outstanding device tags per requester ID. */
  private readonly tags = new Map<number, Map<number, TagUse>>();
  /** Latest cycle any completion is scheduled for (in-order mode, and for settling). */
  lastScheduled = 0;
  private reads = 0;
  /** Read data for the completions (see DwordArena: fresh arrays of this size are slow). */
  private readonly readBuffers = new DwordArena();

  constructor(
    private readonly rc: RcCore,
    injector: FaultInjector,
    private readonly onInterrupt: (ev: InterruptEvent) => void,
  ) {
    this.injector = injector;
  }

  /** Device reads whose last completion is still due after `cycle` (dropped reads do not count). */
  outstandingAt(cycle: number): number {
    let n = 0;
    for (const m of this.tags.values()) for (const u of m.values()) if (u.freeAt > cycle) n++;
    return n;
  }

  // ---- checks common to device requests ----

  private checkRequest(t: MemReadTlp | MemWriteTlp, cycle: number, ctx: TlpContext): void {
    const { rc } = this;
    const o = rc.opts;
    if (!rc.shadow.busMaster.permits(cycle, o.grace)) {
      rc.violation('bus-master', `${t.type} while Bus Master Enable is clear in the Command register`, cycle, ctx);
    }
    if (rc.shadow.idCaptured && t.requesterId !== o.deviceId) {
      rc.violation(
        'requester-id',
        `Requester ID ${formatPcieId(t.requesterId)} is not the device's ${formatPcieId(o.deviceId)} (${rc.shadow.isStated ? 'stated in the options' : 'captured from config writes'})`,
        cycle,
        ctx,
      );
    }
  }

  private dmaViolation(f: DmaFault, cycle: number, ctx: TlpContext): void {
    this.rc.violation(f.kind === 'permission' ? 'dma-permission' : 'dma-unmapped', f.message, cycle, ctx);
  }

  // ---- memory read ----

  onRead(t: MemReadTlp, cycle: number, ctx: TlpContext): void {
    const { rc } = this;
    const o = rc.opts;
    this.checkRequest(t, cycle, ctx);
    const bytes = t.length * 4;
    if (bytes > rc.shadow.mrrs) {
      rc.violation('mrrs', `read of ${bytes} bytes exceeds Max_Read_Request_Size ${rc.shadow.mrrs}`, cycle, ctx);
    }
    if (t.type === 'MRd' && t.tag >= 256 && !rc.shadow.tenBitTags) {
      rc.violation('tag-range', `tag ${t.tag} needs 10-Bit Tag Requester Enable, which the RC did not set`, cycle, ctx);
    } else if (t.tag >= 32 && t.tag < 256 && !rc.shadow.extTags && !rc.shadow.tenBitTags) {
      rc.violation(
        'tag-range',
        `tag ${t.tag} needs Extended Tag Field Enable (tags above 31), which the RC did not set`,
        cycle,
        ctx,
      );
    }
    let perReq = this.tags.get(t.requesterId);
    if (!perReq) this.tags.set(t.requesterId, (perReq = new Map()));
    const prev = perReq.get(t.tag);
    if (prev && prev.freeAt > cycle) {
      rc.violation(
        'tag-reuse',
        `tag ${t.tag} reused while outstanding: the earlier request (cycle ${prev.cycle}: ${describeTlp(prev.tlp)}) is completed only at cycle ${prev.freeAt}`,
        cycle,
        ctx,
      );
    }

    const range = memReqByteRange(t);
    const index = this.reads++;
    let action = this.injector.decide(t, cycle);
    // The requested dwords, zero outside the enabled range; the completions' payloads are views of them.
    const dws = this.readBuffers.alloc(t.length);
    if (range.bytes > 0) {
      try {
        rc.mem.dmaReadInto(
          range.addr,
          new Uint8Array(dws.buffer, dws.byteOffset + Number(range.addr - t.address), range.bytes),
        );
        this.stats.dmaReads++;
        this.stats.dmaReadBytes += range.bytes;
      } catch (e) {
        if (!(e instanceof DmaFault)) throw e;
        this.dmaViolation(e, cycle, ctx);
        action = 'ur'; // in 'record' mode: what an IOMMU fault looks like to the device
      }
    }

    // When: request cycle + latency, never in the past; in-order mode queues behind the last completion.
    const lat =
      typeof o.latency === 'function'
        ? o.latency({ tlp: t, cycle, index }, rc.rng)
        : rc.rng.int(o.latency.min, o.latency.max);
    let at = Math.max(cycle + Math.max(lat, o.minLatency), rc.now);
    if (!o.reorder) at = Math.max(at, this.lastScheduled);

    // The literals below spell every field out: object spreads are slow in Node 20's V8, and this runs per completion.
    let last = at;
    if (action === 'ur' || action === 'ca') {
      rc.send(
        {
          type: 'Cpl',
          completerId: o.rcId,
          requesterId: t.requesterId,
          tag: t.tag,
          tc: t.tc,
          attr: t.attr,
          status: action === 'ur' ? CplStatus.UR : CplStatus.CA,
          byteCount: readCompletionByteCount(t.length, t.firstBe, t.lastBe),
          lowerAddress: completionLowerAddress(t.address, t.firstBe),
        },
        at,
      );
      this.stats.completionsSent++;
    } else if (action !== 'drop') {
      const chunks = splitReadCompletions(t, { rcb: o.rcb, mps: rc.shadow.mps, mode: o.split, rng: rc.rng });
      let when = at;
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i];
        if (i > 0) when += rc.rng.int(o.cplGap.min, o.cplGap.max);
        const cpl: CplDDwords = {
          type: 'CplD',
          completerId: o.rcId,
          requesterId: t.requesterId,
          tag: t.tag,
          tc: t.tc,
          attr: t.attr,
          status: CplStatus.SC,
          byteCount: c.byteCount,
          lowerAddress: c.lowerAddress,
          data: dws.subarray(c.offset / 4, c.offset / 4 + c.lengthDw),
          ep: action === 'poison',
        };
        const raw = encodeCplD(cpl);
        rc.sendEncoded(raw, 'CplD', when);
        this.stats.completionsSent++;
        if (action === 'duplicate' && i === chunks.length - 1) {
          when += 1;
          rc.sendEncoded(raw, 'CplD', when);
          this.stats.completionsSent++;
        }
      }
      last = when;
    }
    this.lastScheduled = Math.max(this.lastScheduled, last);
    // A dropped read's tag is the device's again once its completion timeout fires: allow reuse at once.
    perReq.set(t.tag, { freeAt: action === 'drop' ? cycle : last, tlp: t, cycle, action });
  }

  // ---- memory write ----

  onWrite(t: MemWriteTlp, cycle: number, ctx: TlpContext): void {
    const { rc } = this;
    const o = rc.opts;
    this.checkRequest(t, cycle, ctx);
    if (t.data.length > rc.shadow.mps) {
      rc.violation(
        'mps',
        `write payload of ${t.data.length} bytes exceeds Max_Payload_Size ${rc.shadow.mps}`,
        cycle,
        ctx,
      );
    }
    if (t.address >= o.msiBase && t.address < o.msiBase + o.msiSize) {
      this.onMsi(t, cycle, ctx);
      return;
    }
    const range = memReqByteRange(t);
    if (range.bytes === 0) return;
    if (t.ep) {
      this.stats.poisonedWrites++; // poisoned data is not committed (the RC would log an error)
      return;
    }
    // From 3 DW on the byte enables are contiguous (decode enforces 2.2.5): every byte of the
    // range is written and no per-byte mask is needed. Shorter writes may have gaps.
    const off = Number(range.addr - t.address);
    const mask =
      t.data.length <= 8
        ? payloadByteMask(t.data.length / 4, t.firstBe, t.lastBe).subarray(off, off + range.bytes)
        : undefined;
    const bytes = off === 0 && range.bytes === t.data.length ? t.data : t.data.subarray(off, off + range.bytes);
    try {
      rc.mem.dmaWrite(range.addr, bytes, mask);
    } catch (e) {
      if (!(e instanceof DmaFault)) throw e;
      this.dmaViolation(e, cycle, ctx);
      return; // dropped, as an IOMMU would
    }
    this.stats.dmaWrites++;
    this.stats.dmaWriteBytes += range.bytes;
  }

  private onMsi(t: MemWriteTlp, cycle: number, ctx: TlpContext): void {
    const { rc } = this;
    const s = rc.shadow;
    const g = rc.opts.grace;
    if (t.data.length !== 4 || t.firstBe !== 0xf) {
      rc.violation(
        'msix',
        `write into the MSI window must be one full DWORD (BE 1111b), got ${t.data.length / 4} DW with first BE ${t.firstBe.toString(2).padStart(4, '0')}b`,
        cycle,
        ctx,
      );
      return;
    }
    const data = (t.data[0] | (t.data[1] << 8) | (t.data[2] << 16) | (t.data[3] << 24)) >>> 0;
    const hits = s.findVector(t.address, data);
    if (hits.length === 0) {
      rc.violation(
        'msix',
        `message address 0x${t.address.toString(16)} data 0x${data.toString(16)} matches no programmed MSI-X vector`,
        cycle,
        ctx,
      );
      return;
    }
    const vector = hits[0];
    if (!s.msixEnable.permits(cycle, g)) {
      rc.violation('msix', `MSI-X message for vector ${vector} while MSI-X Enable is clear`, cycle, ctx);
    } else if (!s.msixUnmaskedAll.permits(cycle, g)) {
      rc.violation(
        'msix',
        `MSI-X message for vector ${vector} while the Function Mask is set (the device must set the pending bit instead)`,
        cycle,
        ctx,
      );
    } else {
      const v = s.vector(vector);
      if (v.masked && cycle >= v.maskedAt + g) {
        rc.violation(
          'msix',
          `MSI-X message for masked vector ${vector} (the device must set the pending bit instead)`,
          cycle,
          ctx,
        );
      }
    }
    this.stats.interrupts++;
    this.onInterrupt({ vector, address: t.address, data, cycle });
  }
}
