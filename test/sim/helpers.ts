// Shared helpers for the simulator tests: fixture paths and seeded TLP generation.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawTlp } from '../../sim/index';
import type { Rng } from '../../sim/random';

export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'sim');
export const LOOPBACK_W64 = resolve(FIXTURES, 'loopback_w64.ports.json');
export const LOOPBACK_W256 = resolve(FIXTURES, 'loopback_w256.ports.json');

/** What the loopback fixture does to header DW0 (TC field XOR 3'b101). */
export const ECHO_DW0_XOR = 0x0050_0000;

/**
 * A header-consistent TLP with `ndw` payload dwords: a memory write (3DW or 4DW header)
 * when ndw > 0, else a memory read (header only, any Length). Other DW0 fields random.
 */
export function randomTlp(rng: Rng, ndw: number): RawTlp {
  const u32 = () => rng.u32();
  const four = rng.chance(0.5);
  const fmt = (ndw > 0 ? 0b010 : 0b000) | (four ? 1 : 0);
  const len = ndw > 0 ? ndw & 0x3ff : rng.int(1, 1024);
  // Bits 28:10 random (Type, TC, attributes...), Fmt and Length consistent with the payload.
  const dw0 = ((fmt << 29) | (u32() & 0x1fff_fc00) | (len & 0x3ff)) >>> 0;
  const hdr = new Uint32Array([dw0, u32(), u32(), four ? u32() : 0]);
  const data = new Uint32Array(ndw);
  for (let i = 0; i < ndw; i++) data[i] = u32();
  return { hdr, data };
}

/** The TLP the loopback fixture sends back for `t`. */
export function echoOf(t: RawTlp): RawTlp {
  const hdr = Uint32Array.from(t.hdr);
  hdr[0] = (hdr[0] ^ ECHO_DW0_XOR) >>> 0;
  return { hdr, data: t.data };
}

export function hex(t: RawTlp): string {
  const h = (v: number) => v.toString(16).padStart(8, '0');
  return `hdr=${Array.from(t.hdr, h).join('_')} data[${t.data.length}]=${Array.from(t.data.subarray(0, 4), h).join(' ')}${t.data.length > 4 ? ' ...' : ''}`;
}
