// Checks a virtio-pci device under test against the golden model on every access: a Link wrapper between the
// root complex and the device (the Verilated RTL later, any Link now). Requests from the RC are queued in the
// order they reach the device; writes are applied to the model, reads are checked when their completions are
// complete (GoldenTransport.check), so the model sees the accesses in the device's order. Unsupported Requests
// must match too: the device answers UR exactly when the model does not claim the address.
//
// Assumes the device handles its requests in arrival order (posted writes do not pass earlier reads inside it).
import { ReadReassembly } from '../pcie/completions';
import type { Link, LinkRunOptions } from '../pcie/link';
import type { RawTlp } from '../../sim/raw';
import { CplStatus, decodeTlp, memReqByteRange, payloadByteMask, type Tlp } from '../pcie/tlp';
import type { VirtioPciLayout } from '../../gen/virtio/layout';
import { GoldenMismatch, GoldenTransport, type Access, type GoldenOptions } from './golden/transport';

/**
 * A golden model set up to follow a device under test: resets stay "in progress" until the device shows them
 * complete (device_status or queue_reset reads 0), since only the device knows when its data plane is quiet.
 */
export function checkingModel(layout: VirtioPciLayout, opts: GoldenOptions = {}): GoldenTransport {
  return new GoldenTransport(layout, { ...opts, resetReads: 'external', queueResetReads: 'external' });
}

interface Reply {
  /** Completion Status (CplStatus). */
  status: number;
  data?: Uint8Array;
}

const STATUS_NAME: Record<number, string> = { [CplStatus.SC]: 'data', [CplStatus.UR]: 'UR', [CplStatus.CA]: 'CA' };

/** A register write waiting for its turn: applied to the model in the device's order (data, not a closure per write). */
type PendingWrite =
  | { kind: 'write'; space: 'cfg'; access: Access; be: number; data: Uint8Array; mask: Uint8Array }
  | { kind: 'write'; space: 'bar'; addr: bigint; bytes: number; data: Uint8Array; mask: Uint8Array };

type Pending =
  | PendingWrite
  | { kind: 'cfg-read'; tag: number; access?: Access; lane: number; reply?: Reply }
  | { kind: 'cfg-other'; tag: number; reply?: Reply }
  | {
      kind: 'mem-read';
      tag: number;
      addr: bigint;
      bytes: number;
      lengthDw: number;
      reasm: ReadReassembly;
      reply?: Reply;
    };

export class CheckedLink implements Link {
  /** Mismatches found (with `record`); with the default the first one is thrown from takeTx(). */
  readonly mismatches: Error[] = [];
  /** Reads compared with the model (tests use it so they cannot pass vacuously). */
  checkedReads = 0;
  private readonly queue: Pending[] = [];

  constructor(
    readonly inner: Link,
    readonly golden: GoldenTransport,
    private readonly onMismatch: 'throw' | 'record' = 'throw',
  ) {}

  get cycle(): number {
    return this.inner.cycle;
  }

  run(opts: LinkRunOptions): { reason: string; cycles: number } {
    return this.inner.run(opts);
  }

  send(raw: RawTlp, atCycle?: number): void {
    this.observeRequest(decodeTlp(raw));
    this.inner.send(raw, atCycle);
  }

  takeTx(): RawTlp[] {
    const tx = this.inner.takeTx();
    for (const raw of tx) {
      const t = decodeTlp(raw);
      if (t.type !== 'Cpl' && t.type !== 'CplD') continue;
      const p = this.queue.find(
        (x): x is Exclude<Pending, { kind: 'write' }> => x.kind !== 'write' && x.tag === t.tag && !x.reply,
      );
      if (!p || t.status === CplStatus.CRS) continue; // not ours, or the RC retries with a new request
      if (t.status !== CplStatus.SC) p.reply = { status: t.status };
      else if (p.kind !== 'mem-read') p.reply = { status: t.status, data: t.type === 'CplD' ? t.data : undefined };
      else if (t.type === 'CplD' && !p.reasm.accept(t) && p.reasm.done)
        p.reply = { status: t.status, data: p.reasm.data };
    }
    this.drain();
    return tx;
  }

  private fail(e: Error): void {
    if (this.onMismatch === 'throw') throw e;
    this.mismatches.push(e);
  }

  private compare(access: Access, data: Uint8Array | undefined): void {
    this.checkedReads++;
    try {
      this.golden.check(access, (data ?? new Uint8Array(4)).subarray(0, access.size));
    } catch (e) {
      if (!(e instanceof GoldenMismatch)) throw e;
      this.fail(e);
    }
  }

  /** Applies writes and checks reads from the head of the queue until a read still waits for its completion. */
  private drain(): void {
    const g = this.golden;
    while (this.queue.length) {
      const head = this.queue[0];
      if (head.kind !== 'write' && !head.reply) return;
      this.queue.shift();
      if (head.kind === 'write') this.apply(head);
      else if (head.kind === 'cfg-other') {
        g.noteUnsupportedRequest();
        if (head.reply!.status !== CplStatus.UR)
          this.fail(
            new Error(
              `golden model: a configuration request to function 1..7 was answered with ${STATUS_NAME[head.reply!.status]}, not UR`,
            ),
          );
      } else if (head.kind === 'cfg-read') {
        if (head.reply!.status !== CplStatus.SC)
          this.fail(
            new Error(`golden model: a configuration read was answered with ${STATUS_NAME[head.reply!.status]}`),
          );
        else if (head.access) this.compare(head.access, head.reply!.data?.subarray(head.lane));
      } else {
        const hit = g.claim(head.addr, head.bytes);
        const expected = !hit ? CplStatus.UR : g.abortsRead(head.lengthDw) ? CplStatus.CA : CplStatus.SC;
        if (expected === CplStatus.UR) g.noteUnsupportedRequest();
        if (expected === CplStatus.CA) g.noteCompleterAbort();
        const got = head.reply!.status;
        if (got !== expected)
          this.fail(
            new Error(
              `golden model: memory read at 0x${head.addr.toString(16)} (${head.lengthDw} DW): the device answered ${STATUS_NAME[got] ?? `status ${got}`}, the model ${hit ? `claims it (${g.describe({ space: 'bar', ...hit, size: head.bytes })})${expected === CplStatus.CA ? ' and expects Completer Abort' : ''}` : 'does not claim it'}`,
            ),
          );
        else if (expected === CplStatus.SC && head.bytes)
          this.compare({ space: 'bar', ...hit!, size: head.bytes }, head.reply!.data);
      }
    }
  }

  private apply(w: PendingWrite): void {
    const g = this.golden;
    if (w.space === 'cfg') {
      if (w.be) g.write(w.access, w.data, w.mask);
      return;
    }
    if (!w.bytes) return;
    const hit = g.claim(w.addr, w.bytes);
    if (!hit) return g.noteUnsupportedRequest();
    g.write({ space: 'bar', ...hit, size: w.bytes }, w.data, w.mask);
  }

  private observeRequest(t: Tlp): void {
    switch (t.type) {
      case 'CfgRd0':
      case 'CfgWr0': {
        if (t.completerId & 7) {
          // A single-function device: requests to another function are Unsupported Requests.
          this.queue.push({ kind: 'cfg-other', tag: t.tag });
          return;
        }
        const be = t.firstBe;
        let lo = 0;
        while (lo < 4 && !(be & (1 << lo))) lo++;
        let hi = 3;
        while (hi >= 0 && !(be & (1 << hi))) hi--;
        const access: Access = { space: 'cfg', offset: t.offset + lo, size: hi - lo + 1 };
        if (t.type === 'CfgWr0') {
          const data = t.data.slice(lo, hi + 1);
          const mask = payloadByteMask(1, be, 0).slice(lo, hi + 1);
          this.queue.push({ kind: 'write', space: 'cfg', access, be, data, mask });
        } else this.queue.push({ kind: 'cfg-read', tag: t.tag, access: be ? access : undefined, lane: lo });
        return;
      }
      case 'MWr': {
        const range = memReqByteRange(t);
        const from = Number(range.addr - t.address);
        const data = t.data.slice(from, from + range.bytes);
        const mask = payloadByteMask(t.data.length / 4, t.firstBe, t.lastBe).slice(from, from + range.bytes);
        this.queue.push({ kind: 'write', space: 'bar', addr: range.addr, bytes: range.bytes, data, mask });
        return;
      }
      case 'MRd': {
        const range = memReqByteRange(t);
        this.queue.push({
          kind: 'mem-read',
          tag: t.tag,
          addr: range.addr,
          bytes: range.bytes,
          lengthDw: t.length,
          reasm: new ReadReassembly(t, { rcb: 128, mps: 4096 }),
        });
        return;
      }
      default:
        return; // completions for the device's DMA, messages: not register accesses
    }
  }
}
