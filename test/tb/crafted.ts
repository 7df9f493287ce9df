// A root complex on a scripted link (no simulator), set up as if enumeration had happened, and crafted
// device TLPs to feed it: what the rule-check and fault-injection tests share.
import { expect } from 'vitest';
import { PCI_COMMAND } from '../../tb/pcie/cfgspace';
import { PcieViolation, type ViolationCode } from '../../tb/pcie/errors';
import type { RootComplexOptions } from '../../tb/pcie/options';
import type { RawTlp } from '../../sim/raw';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { encodeTlp, type Tlp } from '../../tb/pcie/tlp';
import { ScriptLink } from './support';

export const DEV = 0x0100; // 01:00.0, the RC's default device ID
export const MPS128_MRRS512_EXT = (2 << 12) | 0x100;

/** An RC as if enumeration happened: memory + bus master on, PCIe cap at 0x40 (MPS 128, MRRS 512, extended tags), ID captured. */
export function setup(opts: RootComplexOptions = {}, linkOpts: ConstructorParameters<typeof ScriptLink>[0] = {}) {
  const link = new ScriptLink(linkOpts);
  const rc = new RootComplex(link, {
    seed: 7,
    latency: { min: 20, max: 20 },
    cplGap: { min: 0, max: 0 },
    split: 'max',
    ...opts,
  });
  rc.shadow.pcieCap = 0x40;
  rc.shadow.noteRead(0x48, MPS128_MRRS512_EXT);
  rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x6, 0);
  const buf = rc.mem.alloc(0x4000, { name: 'buf', align: 0x1000 });
  const ro = rc.mem.alloc(0x1000, { name: 'ro-buf', perm: 'ro' });
  const wo = rc.mem.alloc(0x1000, { name: 'wo-buf', perm: 'wo' });
  const from = (t: Tlp | RawTlp, cycle = link.cycle): void =>
    rc.receive({ ...('hdr' in t ? t : encodeTlp(t, { allowMalformed: true })), cycle });
  return { link, rc, buf, ro, wo, from };
}

/** Runs `f` and returns the PcieViolation it throws, checking its code (and message); fails if it throws none. */
export function violation(f: () => void, code: ViolationCode, pattern?: RegExp): PcieViolation {
  try {
    f();
  } catch (e) {
    if (!(e instanceof PcieViolation)) throw e;
    expect(e.code, e.message).toBe(code);
    if (pattern) expect(e.message).toMatch(pattern);
    return e;
  }
  throw new Error(`expected a ${code} violation`);
}

export const mrd = (address: bigint, lengthDw: number, tag = 1, extra: Partial<Tlp> = {}): Tlp =>
  ({
    type: 'MRd',
    address,
    length: lengthDw,
    firstBe: 0xf,
    lastBe: lengthDw > 1 ? 0xf : 0,
    requesterId: DEV,
    tag,
    ...extra,
  }) as Tlp;
export const mwr = (address: bigint, bytes: number, extra: Partial<Tlp> = {}): Tlp =>
  ({
    type: 'MWr',
    address,
    firstBe: 0xf,
    lastBe: bytes > 4 ? 0xf : 0,
    requesterId: DEV,
    tag: 0,
    data: new Uint8Array(bytes).fill(0xa5),
    ...extra,
  }) as Tlp;
