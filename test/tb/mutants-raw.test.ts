// The raw TLP form (sim/raw.ts, the host model's raw side) and the config-space size encodings (tb/pcie/cfgspace.ts):
// the hex dump every violation message carries, the arena's reuse of its chunks, and the Max_Payload_Size /
// Max_Read_Request_Size codes. Written for behaviour the mutation run (npm run mutate) found untested.
import { describe, expect, test } from 'vitest';
import { PCI_BASE_ADDRESS_MEM_MASK, decodeSize, encodeSize } from '../../tb/pcie/cfgspace';
import { DwordArena, formatRawTlp } from '../../sim/raw';

describe('formatRawTlp', () => {
  const hdr = Uint32Array.of(0x4000_0001, 0x0100_000f, 0xa, 0);

  test('header dwords zero-padded and joined by _, payload in brackets, cycle after @', () => {
    expect(formatRawTlp({ hdr, data: Uint32Array.of(0x1, 0xdead_beef) })).toBe(
      'hdr=40000001_0100000f_0000000a_00000000 data=[00000001 deadbeef]',
    );
    expect(formatRawTlp({ hdr, data: new Uint32Array(0), cycle: 0 })).toBe(
      'hdr=40000001_0100000f_0000000a_00000000 data=[] @0',
    );
  });

  test('long payloads are cut after maxDataDw dwords, saying how many were left out', () => {
    const data = Uint32Array.from({ length: 11 }, (_, i) => i);
    expect(formatRawTlp({ hdr, data })).toBe(
      'hdr=40000001_0100000f_0000000a_00000000 data=[00000000 00000001 00000002 00000003 00000004 00000005 ' +
        '00000006 00000007 ...(+3 dw)]',
    );
    expect(formatRawTlp({ hdr, data: data.subarray(0, 2) }, 2)).toBe(
      'hdr=40000001_0100000f_0000000a_00000000 data=[00000000 00000001]',
    );
    expect(formatRawTlp({ hdr, data: data.subarray(0, 3) }, 2)).toMatch(/data=\[00000000 00000001 \.\.\.\(\+1 dw\)\]$/);
  });
});

describe('DwordArena', () => {
  test('allocations that exactly fill a chunk stay in it; the next one starts a new chunk', () => {
    const a = new DwordArena(8);
    const x = a.alloc(5);
    const y = a.alloc(3);
    expect(y.buffer).toBe(x.buffer);
    expect(y.byteOffset).toBe(20);
    const z = a.alloc(1);
    expect(z.buffer).not.toBe(x.buffer);
  });

  test('free() returns exactly the rest of the chunk when it is large enough, else a new chunk', () => {
    const a = new DwordArena(8);
    const x = a.alloc(5);
    const room = a.free(3);
    expect(room.buffer).toBe(x.buffer);
    expect([room.byteOffset, room.length]).toEqual([20, 3]);
    const bigger = a.free(4);
    expect(bigger.buffer).not.toBe(x.buffer);
    expect(bigger.length).toBe(8);
  });
});

describe('Max_Payload_Size / Max_Read_Request_Size codes', () => {
  test('128 << n for n = 0..5, and nothing else', () => {
    expect([128, 256, 512, 1024, 2048, 4096].map((b) => encodeSize(b, 'MPS'))).toEqual([0, 1, 2, 3, 4, 5]);
    expect([0, 1, 2, 3, 4, 5].map(decodeSize)).toEqual([128, 256, 512, 1024, 2048, 4096]);
    for (const bad of [64, 8192, 192, 0, -128])
      expect(() => encodeSize(bad, 'MRRS'), String(bad)).toThrow(
        new RangeError(`MRRS ${bad} is not one of 128, 256, 512, 1024, 2048, 4096`),
      );
  });

  test('the BAR address mask clears the four type bits', () => {
    expect(PCI_BASE_ADDRESS_MEM_MASK).toBe(0xffff_fff0);
  });
});
