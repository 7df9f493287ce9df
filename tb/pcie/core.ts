/**
 * What the root complex's parts (completer, requester, enumeration, MSI-X) share: the
 * options, host memory, the device shadow, randomness, the clock, a way to send a TLP to the
 * device and a way to report a violation. RootComplex implements it.
 */
import type { DeviceShadow } from './devstate';
import type { TlpContext, ViolationCode } from './errors';
import type { HostMemory } from './hostmem';
import type { ResolvedOptions } from './options';
import type { Rng } from '../../sim/random';
import type { RawTlp, TlpBatch } from '../../sim/raw';
import type { Tlp, TlpType } from './tlp';

export interface RcCore {
  readonly opts: ResolvedOptions;
  readonly mem: HostMemory;
  readonly shadow: DeviceShadow;
  readonly rng: Rng;
  /** The link's current cycle. */
  readonly now: number;
  /** Encodes and queues a TLP for the device at `atCycle` (default now); counts it. `delivered`: as in sendEncoded. */
  send(t: Tlp, atCycle?: number, delivered?: (cycle: number) => void): void;
  /**
   * Queues a TLP the caller encoded (e.g. with encodeCplD), counted as `type`. With `delivered`, and if the
   * link reports deliveries (deliveryReports), it is called with the cycle the device took the TLP's last beat.
   */
  sendEncoded(raw: RawTlp, type: TlpType, atCycle?: number, delivered?: (cycle: number) => void): void;
  /**
   * sendEncoded() for the first b.count TLPs of a batch (slices of one payload buffer, sim/raw.ts), all of `type`,
   * TLP k at b.cycle[k] (never before now), `delivered` for the last one: a read's completions in one hand-over.
   * The batch's buffers may be reused once it returns.
   */
  sendBatch(b: TlpBatch, type: TlpType, delivered?: (cycle: number) => void): void;
  /** Whether sendBatch() reaches the link in one piece (Link.sendBatch, and no trace describing each TLP). */
  readonly batchSends?: boolean;
  /** Queues a raw TLP as it is (malformed ones too); counted by its type if it decodes. */
  sendRaw(raw: RawTlp, atCycle?: number): void;
  /** Whether the link reports when a TLP reached the device (Link.sendTracked). */
  readonly deliveryReports: boolean;
  /** Whether sending copies the TLP at once, so its memory may be reused afterwards (Link.copiesOnSend). */
  readonly sendCopies?: boolean;
  /** Reports a rule the device broke: throws PcieViolation, or records it (options.violations). */
  violation(code: ViolationCode, reason: string, cycle: number, tlp: TlpContext): void;
}
