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
import { CplChunkTable, splitReadCompletions, splitReadCompletionsInto, type SplitOptions } from './completions';
import type { RcCore } from './core';
import type { TlpContext } from './errors';
import { DmaFault } from './hostmem';
import { FaultInjector, targetCompletion, type ReadAction } from './inject';
import { DwordArena, tlpBatch, type RawTlp, type TlpBatch } from '../../sim/raw';
import {
  Attr,
  CplStatus,
  describeTlp,
  formatPcieId,
  lowestBe,
  memReqByteRange,
  payloadByteMask,
  readCompletionByteCount,
  completionLowerAddress,
  encodeCplD,
  encodeCplDHeader,
  type CplDDwords,
  type CplDHeader,
  type CplTlp,
  type CplStatusCode,
  type MemReadTlp,
  type MemWriteTlp,
} from './tlp';

/** Address Type encodings (2.2.4.1). */
const AT_NAMES = ['untranslated', 'translation request', 'translated', 'reserved'];

/** Why a tag is not free yet, for the tag-reuse message. */
function whenFree(u: TagUse, timeout: number): string {
  if (u.action === 'drop')
    return `${u.due < 0 ? 'got no completion' : 'lost one of its completions'} (fault injection: drop); its tag is free once the device's completion timeout can have fired, at cycle ${u.freeAt} (deviceCompletionTimeout ${timeout} cycles after the request)`;
  if (u.freeAt === Infinity)
    return `has not received its last completion yet (scheduled for cycle ${u.due}, not delivered by the link so far)`;
  return `is completed only at cycle ${u.freeAt} (its last completion reaches the device then)`;
}

/** An MSI-X message the device sent. */
export interface InterruptEvent {
  vector: number;
  address: bigint;
  data: number;
  /** Cycle the message left the device. */
  cycle: number;
}

interface TagUse {
  /**
   * Cycle from which the device may reuse the tag: when its last completion reached the device (Infinity
   * until the link reports it), or, on links that do not report deliveries, when it was scheduled; for a
   * read the RC dropped, when the device's completion timeout can have fired.
   */
  freeAt: number;
  /** Cycle the read's last completion was scheduled for (-1 if none was sent). */
  due: number;
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
  /** Read data for the completions when sending copies them (RcCore.sendCopies): one buffer, reused by every read. */
  private readonly readScratch = new Uint32Array(new ArrayBuffer(4 * 1024));

  constructor(
    private readonly rc: RcCore,
    injector: FaultInjector,
    private readonly onInterrupt: (ev: InterruptEvent) => void,
  ) {
    this.injector = injector;
  }

  /**
   * Device reads still outstanding after `cycle`: the last completion has not reached the device yet, or, for a read
   * the RC dropped, the device's completion timeout cannot have fired yet (its tag is still taken).
   */
  outstandingAt(cycle: number): number {
    let n = 0;
    for (const m of this.tags.values()) for (const u of m.values()) if (u.freeAt > cycle) n++;
    return n;
  }

  // ---- checks common to device requests ----

  /** Checks what every device memory request must respect; returns true if the RC refuses it (UR / discard). */
  private checkRequest(t: MemReadTlp | MemWriteTlp, cycle: number, ctx: TlpContext): boolean {
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
    if (t.attr) this.checkAttributes(t.attr, t.type, cycle, ctx);
    return t.at ? this.refusedAddressType(t, cycle, ctx) : false;
  }

  /** Relaxed Ordering, No Snoop and ID-Based Ordering only as Device Control (2) enables them (7.5.3.4, 7.5.3.16). */
  private checkAttributes(attr: number, what: string, cycle: number, ctx: TlpContext): void {
    const s = this.rc.shadow;
    const off: string[] = [];
    if (attr & Attr.RO && !s.relaxedOrdering)
      off.push('Relaxed Ordering (Enable Relaxed Ordering is clear in Device Control)');
    if (attr & Attr.NS && !s.noSnoop) off.push('No Snoop (Enable No Snoop is clear in Device Control)');
    if (attr & Attr.IDO && !s.idoRequests)
      off.push('ID-Based Ordering (IDO Request Enable is clear in Device Control 2)');
    if (off.length) this.rc.violation('attributes', `${what} with attribute ${off.join(' and ')}`, cycle, ctx);
  }

  /**
   * A nonzero Address Type: without ATS enabled the RC takes only untranslated addresses (an IOMMU refuses the
   * rest); with ATS, translated addresses are used as they are, but the model has no translation agent to
   * answer Translation Requests. Returns true if refused.
   */
  private refusedAddressType(t: MemReadTlp | MemWriteTlp, cycle: number, ctx: TlpContext): boolean {
    const { rc } = this;
    const at = t.at ?? 0;
    const name = `AT ${at.toString(2).padStart(2, '0')}b (${AT_NAMES[at]})`;
    if (at === 3) rc.violation('address-type', `${t.type} with ${name}`, cycle, ctx);
    else if (!rc.shadow.atsEnabled)
      rc.violation('address-type', `${t.type} with ${name}, but ATS is not enabled for the device`, cycle, ctx);
    else if (at === 1 && t.type === 'MRd')
      rc.violation('unsupported', `${t.type} with ${name}: the model has no translation agent`, cycle, ctx);
    else if (at === 1)
      rc.violation('address-type', `${t.type} with ${name}: only reads ask for translations`, cycle, ctx);
    else return false;
    return true;
  }

  private dmaViolation(f: DmaFault, cycle: number, ctx: TlpContext): void {
    this.rc.violation(f.kind === 'permission' ? 'dma-permission' : 'dma-unmapped', f.message, cycle, ctx);
  }

  // ---- memory read ----

  onRead(t: MemReadTlp, cycle: number, ctx: TlpContext): void {
    const { rc } = this;
    const o = rc.opts;
    const refused = this.checkRequest(t, cycle, ctx);
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
        `tag ${t.tag} reused while outstanding: the earlier request (cycle ${prev.cycle}: ${describeTlp(prev.tlp)}) ${whenFree(prev, o.deviceCompletionTimeout)}`,
        cycle,
        ctx,
      );
    }

    const range = memReqByteRange(t);
    const index = this.reads++;
    const fault = this.injector.decide(t, cycle);
    let action = refused ? 'ur' : fault.action;
    // The requested dwords, zero outside the enabled range; the completions' payloads are views of them. In the
    // reused buffer only the first and last dwords can hold bytes outside the range (the read below writes every
    // byte of the range, or faults and no data is sent): zeroed alone, without fill()'s C++ builtin call per read.
    let dws: Uint32Array;
    if (rc.sendCopies) {
      dws = this.readScratch.subarray(0, t.length);
      dws[0] = 0;
      dws[t.length - 1] = 0;
    } else dws = this.readBuffers.alloc(t.length);
    if (range.bytes > 0 && !refused) {
      try {
        rc.mem.dmaReadInto(
          range.addr,
          // the range starts at the first enabled byte: lowestBe(firstBe) bytes into the first dword
          new Uint8Array(dws.buffer, dws.byteOffset + lowestBe(t.firstBe), range.bytes),
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

    // The tag's new use; on links that report deliveries it is freed when the last completion reaches the device.
    const use: TagUse = { freeAt: Infinity, due: -1, tlp: t, cycle, action };
    const delivered = rc.deliveryReports ? (c: number) => void (use.freeAt = c) : undefined;

    // The literals below spell every field out: object spreads are slow in Node 20's V8, and this runs per completion.
    let last = at;
    // The completion a fault is aimed at (targetCompletion), or -1: the whole read.
    const aimed = fault.completion !== undefined && action === fault.action;
    const error = action === 'ur' || action === 'ca';
    const status = action === 'ur' ? CplStatus.UR : CplStatus.CA;
    if (error && !aimed) {
      rc.send(
        this.statusCompletion(t, status, readCompletionByteCount(t.length, t.firstBe, t.lastBe), null),
        at,
        delivered,
      );
      this.stats.completionsSent++;
    } else if (action === 'ok' && rc.batchSends) {
      last = this.sendCompletions(t, dws, at, delivered);
    } else if (action !== 'drop' || aimed) {
      const chunks = splitReadCompletions(t, { rcb: o.rcb, mps: rc.shadow.mps, mode: o.split, rng: rc.rng });
      const n = chunks.length;
      // A duplicate repeats the aimed completion (default: the last).
      const k = aimed ? targetCompletion(fault, n) : action === 'duplicate' ? n - 1 : -1;
      // UR / CA aimed at completion k: k completions with data, then the error completion for the rest.
      const stop = error ? k : n;
      let when = at;
      let sent = false;
      for (let i = 0; i < n; i++) {
        const c = chunks[i];
        if (i > 0) when += rc.rng.int(o.cplGap.min, o.cplGap.max);
        if (i === stop) {
          rc.send(this.statusCompletion(t, status, c.byteCount, c.lowerAddress), when, delivered);
          this.stats.completionsSent++;
          sent = true;
          break;
        }
        if (action === 'drop' && i === k) continue; // lost: the read never completes
        sent = true;
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
          // new Uint32Array(buffer, ...) rather than subarray(): no species lookup, cheaper per completion.
          data: new Uint32Array(dws.buffer, dws.byteOffset + c.offset, c.lengthDw),
          ep: action === 'poison' && (k < 0 || i === k),
        };
        const raw = encodeCplD(cpl);
        rc.sendEncoded(raw, 'CplD', when, i === n - 1 ? delivered : undefined);
        this.stats.completionsSent++;
        if (action === 'duplicate' && i === k) {
          if (i < n - 1) {
            // At the same cycle, queued behind the original: it reaches the device right after it, while the
            // read is still outstanding (its last completion comes later).
            rc.sendEncoded(raw, 'CplD', when);
          } else {
            // After the last completion the device may legally reuse the tag at once: an exact repeat could
            // land on its next request. The repeat is sent where no request of the device can be.
            rc.sendEncoded(encodeCplD(this.stray(cpl)), 'CplD', when + 1);
            this.lastScheduled = Math.max(this.lastScheduled, when + 1);
          }
          this.stats.completionsSent++;
        }
      }
      if (sent) last = when;
    }
    this.lastScheduled = Math.max(this.lastScheduled, last);
    if (action === 'drop') {
      // The read never completes: the device may reuse the tag once its completion timeout can have fired.
      use.freeAt = cycle + o.deviceCompletionTimeout;
      if (aimed) use.due = last;
    } else {
      use.due = last;
      if (!delivered) use.freeAt = last;
    }
    perReq.set(t.tag, use);
  }

  /**
   * A read's successful completions, split and scheduled from `at` exactly as the general path in onRead() does
   * (the same draws of the RC's random generator, in the same order), each checked and encoded by the codec
   * (encodeCplDHeader), handed to the link in one batch (RcCore.sendBatch): no TLP object, header array or payload
   * view per completion. Returns the cycle of the last one.
   */
  private sendCompletions(t: MemReadTlp, dws: Uint32Array, at: number, delivered?: (cycle: number) => void): number {
    const { rc } = this;
    const o = rc.opts;
    // the split's options in one object reused from read to read (read at once; MPS can change between reads)
    const split = this.splitOpts;
    split.rcb = o.rcb;
    split.mps = rc.shadow.mps;
    split.mode = o.split;
    split.rng = rc.rng;
    const chunks = splitReadCompletionsInto(t, split, this.chunks);
    const n = chunks.count;
    if (this.batch.offset.length < n) this.batch = tlpBatch(Math.max(n, 2 * this.batch.offset.length));
    const b = this.batch;
    const cpl = this.cplFields(t);
    let when = at;
    for (let i = 0; i < n; i++) {
      if (i > 0) when += rc.rng.int(o.cplGap.min, o.cplGap.max);
      const lengthDw = chunks.lengthDw[i];
      cpl.byteCount = chunks.byteCount[i];
      cpl.lowerAddress = chunks.lowerAddress[i];
      encodeCplDHeader(cpl, lengthDw, b.hdr, 4 * i);
      b.offset[i] = chunks.offset[i] / 4;
      b.length[i] = lengthDw;
      b.cycle[i] = when;
    }
    b.count = n;
    b.data = dws;
    rc.sendBatch(b, 'CplD', delivered);
    this.stats.completionsSent += n;
    return when;
  }
  /** The split sendCompletions() reuses. */
  private readonly chunks = new CplChunkTable();
  private readonly splitOpts: SplitOptions = { rcb: 64, mps: 128, mode: 'max', rng: undefined };
  /** The batch sendCompletions() reuses (grown when a read needs more completions). */
  private batch: TlpBatch = tlpBatch(16);
  /**
   * A successful CplD's fields for read `t` (byte count and lower address set per completion), in one object reused
   * from read to read: encodeCplDHeader() reads them at once and keeps nothing (an object per read was garbage).
   */
  private cplFields(t: MemReadTlp): CplDHeader & { byteCount: number; lowerAddress: number } {
    const c = this.cpl;
    c.completerId = this.rc.opts.rcId;
    c.requesterId = t.requesterId;
    c.tag = t.tag;
    c.tc = t.tc;
    c.attr = t.attr;
    c.byteCount = 0;
    c.lowerAddress = 0;
    return c;
  }
  private readonly cpl: CplDHeader & { byteCount: number; lowerAddress: number } = {
    type: 'CplD',
    completerId: 0,
    requesterId: 0,
    tag: 0,
    tc: 0,
    attr: 0,
    status: CplStatus.SC,
    byteCount: 0,
    lowerAddress: 0,
    ep: false,
  };

  /**
   * The UR / CA completion ending read `t`: `byteCount` bytes still outstanding, `lowerAddress` of the next byte
   * (null: the read's first enabled byte).
   */
  private statusCompletion(
    t: MemReadTlp,
    status: CplStatusCode,
    byteCount: number,
    lowerAddress: number | null,
  ): CplTlp {
    return {
      type: 'Cpl',
      completerId: this.rc.opts.rcId,
      requesterId: t.requesterId,
      tag: t.tag,
      tc: t.tc,
      attr: t.attr,
      status,
      byteCount,
      lowerAddress: lowerAddress ?? completionLowerAddress(t.address, t.firstBe),
    };
  }

  /**
   * A completion's copy that matches no request the device may have outstanding: the tag moved above every
   * tag the device may use (Tag[9] set, while 10-bit tags are off), or with 10-bit tags on, the Requester ID
   * of the next bus (no function behind this link).
   */
  private stray(cpl: CplDDwords): CplDDwords {
    return this.rc.shadow.tenBitTags
      ? { ...cpl, requesterId: (cpl.requesterId + 0x100) & 0xffff }
      : { ...cpl, tag: (cpl.tag & 0xff) | 0x200 };
  }

  /**
   * Answers a request the RC does not serve (configuration, locked, IO, AtomicOp requests from the device)
   * with Unsupported Request: a Cpl (CplLk for a locked read) carrying the request's ID, tag, TC and
   * attributes. From the raw header, since IO and AtomicOps do not decode. Only for non-posted requests (the RC
   * calls it for those alone).
   */
  unsupported(raw: RawTlp, cycle: number): void {
    const { rc } = this;
    const o = rc.opts;
    const [dw0, dw1, dw2, dw3] = raw.hdr;
    const fmt = dw0 >>> 29;
    const type = (dw0 >>> 24) & 0x1f;
    const locked = type === 0b00001;
    const tag = ((dw1 >>> 8) & 0xff) | (((dw0 >>> 19) & 1) << 8) | (((dw0 >>> 23) & 1) << 9);
    let byteCount = 4;
    let lowerAddress = 0;
    if (locked) {
      const length = dw0 & 0x3ff || 1024;
      const address = BigInt((fmt & 1 ? dw3 : dw2) & ~3);
      byteCount = readCompletionByteCount(length, dw1 & 0xf, (dw1 >>> 4) & 0xf);
      lowerAddress = completionLowerAddress(address, dw1 & 0xf);
    }
    const at = Math.max(cycle + rc.opts.minLatency, rc.now);
    rc.send(
      {
        type: locked ? 'CplLk' : 'Cpl',
        completerId: o.rcId,
        requesterId: dw1 >>> 16,
        tag,
        tc: (dw0 >>> 20) & 7,
        attr: (((dw0 >>> 18) & 1) << 2) | ((dw0 >>> 12) & 3),
        status: CplStatus.UR,
        byteCount,
        lowerAddress,
      },
      at,
    );
    this.stats.completionsSent++;
    this.lastScheduled = Math.max(this.lastScheduled, at); // settle() waits for it
  }

  // ---- memory write ----

  onWrite(t: MemWriteTlp, cycle: number, ctx: TlpContext): void {
    const { rc } = this;
    const o = rc.opts;
    const refused = this.checkRequest(t, cycle, ctx);
    if (t.data.length > rc.shadow.mps) {
      rc.violation(
        'mps',
        `write payload of ${t.data.length} bytes exceeds Max_Payload_Size ${rc.shadow.mps}`,
        cycle,
        ctx,
      );
      return; // a Malformed TLP (2.2.2): discarded, neither memory nor an interrupt
    }
    if (refused) return;
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
    const off = lowestBe(t.firstBe); // where memReqByteRange's range starts in the payload
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
