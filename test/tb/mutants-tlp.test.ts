// The TLP codec (tb/pcie/tlp.ts) where the round trips do not look: the one-line description every violation and
// log shows, message code names, and the rules and helpers at their edges. Written for behaviour the mutation run
// (npm run mutate) found untested.
import { describe, expect, test } from 'vitest';
import { Attr, CplStatus, MsgCode, MsgRouting, describeTlp, msgCodeName, type Tlp } from '../../tb/pcie/tlp';

const req = 0x0100;

describe('describeTlp', () => {
  test('memory requests: header size, address, length, byte enables, requester, tag, payload', () => {
    const mrd: Tlp = {
      type: 'MRd',
      address: 0xfff0n,
      length: 4,
      firstBe: 0xe,
      lastBe: 0x7,
      requesterId: req,
      tag: 300,
    };
    expect(describeTlp(mrd)).toBe('MRd 3DW addr=0xfff0 len=4 be=e/7 req=01:00.0 tag=300');
    expect(describeTlp({ ...mrd, type: 'MRdLk', address: 0x1_0000_0000n })).toBe(
      'MRdLk 4DW addr=0x100000000 len=4 be=e/7 req=01:00.0 tag=300',
    );
    expect(describeTlp({ ...mrd, address: 0xffff_fffcn, length: 1, lastBe: 0 })).toMatch(/^MRd 3DW addr=0xfffffffc /);
    const mwr: Tlp = {
      type: 'MWr',
      address: 0x2000n,
      firstBe: 0xf,
      lastBe: 0xf,
      requesterId: 0x3a0d,
      tag: 0,
      data: Uint8Array.from({ length: 24 }, (_, i) => i),
    };
    expect(describeTlp(mwr)).toBe(
      'MWr 3DW addr=0x2000 len=6 be=f/f req=3a:01.5 tag=0 data=[03020100 07060504 0b0a0908 0f0e0d0c ...+2dw]',
    );
    expect(describeTlp({ ...mwr, data: mwr.data.subarray(0, 16) })).toMatch(
      /data=\[03020100 07060504 0b0a0908 0f0e0d0c\]$/,
    );
    expect(describeTlp({ ...mwr, data: mwr.data.subarray(0, 6) })).toMatch(/ data=<6 bytes>$/);
  });

  test('header flags: TC, attributes by name, TD, EP, and AT on memory requests only', () => {
    const mrd: Tlp = { type: 'MRd', address: 0x1000n, length: 1, firstBe: 0xf, lastBe: 0, requesterId: req, tag: 1 };
    expect(describeTlp({ ...mrd, tc: 3, attr: Attr.RO | Attr.NS | Attr.IDO, td: true, ep: true, at: 2 })).toBe(
      'MRd 3DW addr=0x1000 len=1 be=f/0 req=01:00.0 tag=1 tc=3 RO|NS|IDO TD EP at=2',
    );
    expect(describeTlp({ ...mrd, attr: Attr.NS })).toMatch(/tag=1 NS$/);
    expect(describeTlp({ ...mrd, attr: Attr.IDO })).toMatch(/tag=1 IDO$/);
    expect(describeTlp({ ...mrd, tc: 0, attr: 0, td: false, ep: false, at: 0 })).toMatch(/tag=1$/);
    expect(describeTlp({ ...mrd, ep: true })).toMatch(/tag=1 EP$/);
    expect(describeTlp({ ...mrd, td: true })).toMatch(/tag=1 TD$/);
    // Messages have no AT field to show.
    const msg = { type: 'Msg', routing: 0, code: MsgCode.ERR_COR, requesterId: req, tag: 0, at: 1 } as Tlp;
    expect(describeTlp(msg)).not.toMatch(/at=/);
  });

  test('configuration requests: target, offset, byte enables, payload', () => {
    const rd: Tlp = { type: 'CfgRd1', completerId: 0x0208, offset: 0x10, firstBe: 0xf, requesterId: 0, tag: 2 };
    expect(describeTlp(rd)).toBe('CfgRd1 dst=02:01.0 off=0x010 be=f req=00:00.0 tag=2');
    const wr: Tlp = {
      type: 'CfgWr0',
      completerId: 0x0100,
      offset: 0xffc,
      firstBe: 0x3,
      requesterId: 0,
      tag: 3,
      data: Uint8Array.of(1, 2, 3, 4),
    };
    expect(describeTlp(wr)).toBe('CfgWr0 dst=01:00.0 off=0xffc be=3 req=00:00.0 tag=3 data=[04030201]');
  });

  test('completions: status by name, IDs, byte count, lower address, BCM, payload length', () => {
    const cpl: Tlp = {
      type: 'Cpl',
      completerId: req,
      status: CplStatus.UR,
      byteCount: 4,
      requesterId: 0,
      tag: 9,
      lowerAddress: 0x7c,
    };
    expect(describeTlp(cpl)).toBe('Cpl UR cpl=01:00.0 req=00:00.0 tag=9 bc=4 la=0x7c');
    expect(describeTlp({ ...cpl, status: CplStatus.CRS, bcm: true })).toBe(
      'Cpl CRS cpl=01:00.0 req=00:00.0 tag=9 bc=4 la=0x7c BCM',
    );
    expect(describeTlp({ ...cpl, status: CplStatus.CA })).toMatch(/^Cpl CA /);
    expect(describeTlp({ ...cpl, status: 3 } as unknown as Tlp)).toMatch(/^Cpl status=3 cpl=/);
    const cpld: Tlp = { ...cpl, type: 'CplDLk', status: 0, lowerAddress: 5, data: new Uint8Array(8) };
    expect(describeTlp(cpld)).toBe(
      'CplDLk SC cpl=01:00.0 req=00:00.0 tag=9 bc=4 la=0x05 len=2 data=[00000000 00000000]',
    );
  });

  test('messages: code by name, routing, the two header dwords when set, payload', () => {
    const msg: Tlp = { type: 'Msg', routing: MsgRouting.Local, code: MsgCode.Assert_INTB, requesterId: req, tag: 0 };
    expect(describeTlp(msg)).toBe('Msg Assert_INTB route=100b req=01:00.0 tag=0');
    expect(describeTlp({ ...msg, dw2: 0x1234 })).toBe(
      'Msg Assert_INTB route=100b req=01:00.0 tag=0 dw2=00001234 dw3=00000000',
    );
    expect(describeTlp({ ...msg, dw3: 1 })).toMatch(/ dw2=00000000 dw3=00000001$/);
    const msgd: Tlp = {
      type: 'MsgD',
      routing: MsgRouting.ById,
      code: 0x42,
      requesterId: req,
      tag: 1,
      dw2: 0x0200_1af4,
      data: Uint8Array.of(1, 0, 0, 0),
    };
    expect(describeTlp(msgd)).toBe(
      'MsgD code 0x42 route=010b req=01:00.0 tag=1 dw2=02001af4 dw3=00000000 len=1 data=[00000001]',
    );
  });

  test('a TLP with fields of the wrong kind is shown as JSON, addresses in hex', () => {
    expect(describeTlp({ type: 'MRd', address: 0x10n, length: 'x' } as unknown as Tlp)).toBe(
      'unknown TLP {"type":"MRd","address":"0x10","length":"x"}',
    );
    expect(describeTlp({ type: 'Bogus' } as unknown as Tlp)).toBe('unknown TLP {"type":"Bogus"}');
  });
});

describe('msgCodeName', () => {
  test('every message code the codec knows, by its spec name; others by number', () => {
    for (const [name, code] of Object.entries(MsgCode)) expect(msgCodeName(code)).toBe(name);
    expect(msgCodeName(0x05)).toBe('code 0x05');
  });
});
