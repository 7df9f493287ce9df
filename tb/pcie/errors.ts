/**
 * Errors the host-side test bench raises. Every message names the cycle, the rule and the TLP
 * involved, so a failing test says what the device did wrong without a waveform.
 */
import type { RawTlp } from '../../sim/raw';
import { formatRawTlp } from '../../sim/raw';
import { describeTlp, type Tlp } from './tlp';

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
 *  - unsupported: a TLP an endpoint must not send (config requests, locked reads, ...)
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
  | 'unsupported';

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
