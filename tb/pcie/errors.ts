/**
 * Errors the host-side test bench raises. Every message names the cycle, the rule and the TLP
 * involved, so a failing test says what the device did wrong without a waveform.
 */
import type { RawTlp } from '../../sim/raw';
import { formatRawTlp } from '../../sim/raw';
import { describeTlp, formatPcieId, type Tlp } from './tlp';

/**
 * What a device broke. Codes are stable (tests match on them); messages are for people.
 *  - malformed: the codec rejected the TLP (the `field` it names is in the message)
 *  - 4k-boundary: a memory request crosses a 4 KB address boundary
 *  - byte-enables: First/Last DW BE invalid for the length
 *  - mrrs / mps: read request above Max_Read_Request_Size / payload above Max_Payload_Size
 *  - tag-reuse: a non-posted request uses a tag still outstanding for that requester
 *  - tag-range: a tag needs Extended (8-bit) or 10-bit tags that the RC did not enable
 *  - bus-master: DMA (or an MSI-X message) while Bus Master Enable is clear
 *  - dma-unmapped / dma-permission: DMA outside every granted region / against a region's permission
 *  - unexpected-completion: a completion for no outstanding RC request
 *  - completion-mismatch: byte count, lower address, length, status/type or IDs wrong for the request
 *  - rcb: a partial completion that does not end on the completer's read completion boundary
 *  - requester-id: a request whose Requester ID is not the device's
 *  - msix: an MSI-X message that is malformed, unprogrammed, masked or sent while MSI-X is disabled
 *  - unsupported: a request the RC does not serve from an endpoint (config, locked, IO, AtomicOps, translation)
 *  - attributes: Relaxed Ordering / No Snoop / ID-Based Ordering without its Device Control (2) enable
 *  - address-type: a nonzero Address Type without ATS enabled (or a reserved one)
 *  - intx: an INTx message against 2.2.8.1 (wrong pin, asserted while disabled or with MSI-X on, not deasserted
 *    when Interrupt Disable is set, a duplicate)
 */
export type ViolationCode =
  | 'malformed'
  | '4k-boundary'
  | 'byte-enables'
  | 'mrrs'
  | 'mps'
  | 'tag-reuse'
  | 'tag-range'
  | 'bus-master'
  | 'dma-unmapped'
  | 'dma-permission'
  | 'unexpected-completion'
  | 'completion-mismatch'
  | 'rcb'
  | 'requester-id'
  | 'msix'
  | 'unsupported'
  | 'attributes'
  | 'address-type'
  | 'intx';

/** Where a TLP came from, for messages: the decoded TLP (described only when a message needs it) and/or its raw dwords. */
export interface TlpContext {
  tlp?: Tlp;
  /** A description for a TLP that did not decode. */
  desc?: string;
  raw?: RawTlp;
  /** Cycle the TLP left the device (its sop), if known. */
  cycle?: number;
}

export function formatTlpContext(ctx: TlpContext): string {
  const parts: string[] = [];
  if (ctx.tlp) parts.push(describeTlp(ctx.tlp));
  else if (ctx.desc) parts.push(ctx.desc);
  if (ctx.raw) parts.push(`raw ${formatRawTlp(ctx.raw)}`);
  return parts.join('\n    ');
}

/** A device broke a PCIe rule (or a rule of the RC's configuration). Thrown from the pump. */
export class PcieViolation extends Error {
  /** Further violations among the TLPs handled with this one (the pump throws the first of a batch). */
  readonly more: PcieViolation[] = [];
  constructor(
    readonly code: ViolationCode,
    readonly reason: string,
    readonly cycle: number,
    readonly tlp: TlpContext = {},
  ) {
    const t = formatTlpContext(tlp);
    super(`rc: cycle ${cycle}: ${code}: ${reason}${t ? `\n    ${t}` : ''}`);
    this.name = 'PcieViolation';
  }

  /** Attaches the other violations of the same batch (listed in the message by cycle and code). */
  alsoSeen(more: PcieViolation[]): void {
    this.more.push(...more);
    const list = more.map((v) => `cycle ${v.cycle} ${v.code}`).join(', ');
    this.message += `\n  and ${more.length} more in the same batch: ${list} (see .more)`;
  }
}

/** A bounded wait ran out: `what` says what was awaited. */
export class RcTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly cycle: number,
    readonly waited: number,
  ) {
    super(`rc: cycle ${cycle}: timeout after ${waited} cycles waiting for ${what}`);
    this.name = 'RcTimeoutError';
  }
}

/** A request of the RC was completed with UR, CA or (after the retries) CRS, or was poisoned. */
export class CompletionStatusError extends Error {
  constructor(
    readonly status: 'UR' | 'CA' | 'CRS' | 'EP',
    readonly request: string,
    readonly cycle: number,
    detail = '',
  ) {
    const what = {
      UR: 'Unsupported Request',
      CA: 'Completer Abort',
      CRS: 'Configuration Request Retry Status',
      EP: 'poisoned data',
    }[status];
    super(`rc: cycle ${cycle}: ${request} completed with ${status} (${what})${detail ? `: ${detail}` : ''}`);
    this.name = 'CompletionStatusError';
  }
}

/** Best-effort description of a TLP that did not decode (for violation messages). */
export function sketchRaw(raw: RawTlp): string {
  const [dw0, dw1, dw2, dw3] = raw.hdr;
  const fmt = dw0 >>> 29;
  const type = (dw0 >>> 24) & 0x1f;
  const len = dw0 & 0x3ff || 1024;
  const four = (fmt & 1) !== 0;
  const data = (fmt & 2) !== 0;
  const tag = ((dw1 >>> 8) & 0xff) | (((dw0 >>> 19) & 1) << 8) | (((dw0 >>> 23) & 1) << 9);
  if (type === 0 && fmt <= 3) {
    const addr = four ? (BigInt(dw2) << 32n) | BigInt((dw3 & ~3) >>> 0) : BigInt((dw2 & ~3) >>> 0);
    return `${data ? 'MWr' : 'MRd'} ${four ? '4DW' : '3DW'} addr=0x${addr.toString(16)} len=${len} be=${(dw1 & 0xf).toString(16)}/${((dw1 >>> 4) & 0xf).toString(16)} req=${formatPcieId(dw1 >>> 16)} tag=${tag} (undecoded)`;
  }
  if (type === 0b01010 && fmt <= 2) {
    return `${data ? 'CplD' : 'Cpl'} status=${(dw1 >>> 13) & 7} bc=${dw1 & 0xfff} req=${formatPcieId(dw2 >>> 16)} tag=${tag} la=0x${(dw2 & 0x7f).toString(16)} len=${len} (undecoded)`;
  }
  return `Fmt=${fmt.toString(2).padStart(3, '0')}b Type=${type.toString(2).padStart(5, '0')}b len=${len} (undecoded)`;
}
