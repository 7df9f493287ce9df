// sketchRaw (tb/pcie/errors.ts): the line a violation shows for a TLP that did not decode, read straight from the
// header dwords. Every header below is written out by hand from the layouts of 2.2.1 / 2.2.7 / 2.2.9.
import { describe, expect, test } from 'vitest';
import { sketchRaw } from '../../tb/pcie/errors';

const raw = (...hdr: number[]) => ({ hdr: Uint32Array.from(hdr), data: new Uint32Array(0) });

describe('sketchRaw', () => {
  test('memory requests: 3DW and 4DW address, length (0 means 1024), BEs, requester, 10-bit tag', () => {
    // Fmt 000 Type 00000, T9 set, Length 0; requester 01:00.0, tag 7, BEs 0/f; address 0x1003 (bits 1:0 dropped).
    expect(sketchRaw(raw(0x0080_0000, 0x0100_070f, 0x1003, 0))).toBe(
      'MRd 3DW addr=0x1000 len=1024 be=f/0 req=01:00.0 tag=519 (undecoded)',
    );
    // Fmt 011 (4DW with data) Type 00000, T8 set, Length 2; address 0x1_0000_2000.
    expect(sketchRaw(raw(0x6008_0002, 0x0100_05ff, 0x1, 0x2003))).toBe(
      'MWr 4DW addr=0x100002000 len=2 be=f/f req=01:00.0 tag=261 (undecoded)',
    );
  });

  test('completions: status, byte count, requester, tag, lower address, length', () => {
    // Fmt 010 Type 01010 (CplD), Length 1; completer 01:00.0, status 0, byte count 4; requester 02:00.0, tag 10, LA 5.
    expect(sketchRaw(raw(0x4a00_0001, 0x0100_0004, 0x0200_0a05))).toBe(
      'CplD status=0 bc=4 req=02:00.0 tag=10 la=0x5 len=1 (undecoded)',
    );
    // Fmt 000 (Cpl), status 1 (UR).
    expect(sketchRaw(raw(0x0a00_0000, 0x0100_2004, 0x0200_0a00))).toBe(
      'Cpl status=1 bc=4 req=02:00.0 tag=10 la=0x0 len=1024 (undecoded)',
    );
  });

  test('anything else, a TLP prefix and header sizes that are not a request or completion: Fmt and Type bits', () => {
    expect(sketchRaw(raw(0x0400_0001, 0, 0))).toBe('Fmt=000b Type=00100b len=1 (undecoded)');
    expect(sketchRaw(raw(0x3400_0000, 0, 0, 0))).toBe('Fmt=001b Type=10100b len=1024 (undecoded)');
    expect(sketchRaw(raw(0x8000_0001, 0, 0))).toBe('Fmt=100b Type=00000b len=1 (undecoded)');
    expect(sketchRaw(raw(0x6a00_0001, 0, 0, 0))).toBe('Fmt=011b Type=01010b len=1 (undecoded)');
  });
});
