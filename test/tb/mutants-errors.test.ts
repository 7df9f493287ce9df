// The test bench's errors (tb/pcie/errors.ts) on their own: what a message says about the TLP involved, and the
// names and fields a test or a log relies on. Written for behaviour the mutation run (npm run mutate) found untested.
import { describe, expect, test } from 'vitest';
import { CompletionStatusError, PcieViolation, RcTimeoutError, formatTlpContext } from '../../tb/pcie/errors';
import { encodeTlp, type Tlp } from '../../tb/pcie/tlp';

const mrd: Tlp = {
  type: 'MRd',
  address: 0x1000n,
  length: 1,
  firstBe: 0xf,
  lastBe: 0,
  requesterId: 0x0100,
  tag: 5,
};

describe('formatTlpContext', () => {
  test('the decoded TLP, else the description, then the raw dwords, one per indented line', () => {
    const raw = { ...encodeTlp(mrd), cycle: 7 };
    expect(formatTlpContext({})).toBe('');
    expect(formatTlpContext({ tlp: mrd })).toBe('MRd 3DW addr=0x1000 len=1 be=f/0 req=01:00.0 tag=5');
    expect(formatTlpContext({ desc: 'half a TLP' })).toBe('half a TLP');
    // A decoded TLP wins over a description.
    expect(formatTlpContext({ tlp: mrd, desc: 'ignored' })).toBe('MRd 3DW addr=0x1000 len=1 be=f/0 req=01:00.0 tag=5');
    expect(formatTlpContext({ raw })).toBe('raw hdr=00000001_0100050f_00001000_00000000 data=[] @7');
    expect(formatTlpContext({ desc: 'bad', raw })).toBe(
      'bad\n    raw hdr=00000001_0100050f_00001000_00000000 data=[] @7',
    );
  });
});

describe('error classes', () => {
  test('PcieViolation: name, code, reason, cycle and the TLP after the rule', () => {
    const v = new PcieViolation('mrrs', 'read too big', 42, { tlp: mrd });
    expect(v).toBeInstanceOf(Error);
    expect(v.name).toBe('PcieViolation');
    expect([v.code, v.reason, v.cycle]).toEqual(['mrrs', 'read too big', 42]);
    expect(v.message).toBe('rc: cycle 42: mrrs: read too big\n    MRd 3DW addr=0x1000 len=1 be=f/0 req=01:00.0 tag=5');
    // Without a TLP the message is the rule alone, with nothing after it.
    expect(new PcieViolation('msix', 'masked', 3).message).toBe('rc: cycle 3: msix: masked');
  });

  test('RcTimeoutError: name, what was awaited, for how long', () => {
    const e = new RcTimeoutError('MSI-X vector 2', 1000, 500);
    expect(e.name).toBe('RcTimeoutError');
    expect([e.what, e.cycle, e.waited]).toEqual(['MSI-X vector 2', 1000, 500]);
    expect(e.message).toBe('rc: cycle 1000: timeout after 500 cycles waiting for MSI-X vector 2');
  });

  test('CompletionStatusError: name, status spelled out, optional detail', () => {
    const e = new CompletionStatusError('CRS', 'CfgRd0 off=0x000', 9);
    expect(e.name).toBe('CompletionStatusError');
    expect([e.status, e.request, e.cycle]).toEqual(['CRS', 'CfgRd0 off=0x000', 9]);
    expect(e.message).toBe('rc: cycle 9: CfgRd0 off=0x000 completed with CRS (Configuration Request Retry Status)');
    expect(new CompletionStatusError('UR', 'MRd', 1, 'after 2 retries').message).toBe(
      'rc: cycle 1: MRd completed with UR (Unsupported Request): after 2 retries',
    );
    expect(new CompletionStatusError('CA', 'MRd', 1).message).toMatch(/with CA \(Completer Abort\)$/);
    expect(new CompletionStatusError('EP', 'MRd', 1).message).toMatch(/with EP \(poisoned data\)$/);
  });
});
