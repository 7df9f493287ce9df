// What the testdev tests share on top of the root complex model (tb/pcie/, docs/rootcomplex.md):
// booting a Verilated testdev behind a RootComplex with a tap on the link, small accessors, and the
// testdev's own DMA register protocol (gen/testdev/regs.ts).
import { expect } from 'vitest';
import { field, RAM_OFFSET, reg } from '../../gen/testdev/regs';
import type { DataWidth } from '../../gen/pcie/streams';
import { Testdev } from '../../gen/testdev/top';
import { designPorts } from '../../sim/design';
import { Sim, type SimOptions } from '../../sim/index';
import { CompletionStatusError } from '../../tb/pcie/errors';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { decodeTlp, type Tlp } from '../../tb/pcie/tlp';
import { TapLink } from '../../tb/pcie/link';

/** The testdev as the generator produces it now (sim/design.ts). */
export const testdevPorts = (W: DataWidth): string => designPorts(Testdev.elaborate({ W }));

/** Builds the simulator for a ports file (or hits the cache): call from beforeAll, whose timeout allows a build. */
export function buildSim(ports: string): void {
  Sim.load({ ports, resetCycles: 0 }).close();
}

export interface Bench {
  sim: Sim;
  /** Every TLP both ways, as the link carried it. */
  tap: TapLink;
  rc: RootComplex;
}

const open: Sim[] = [];
/** Closes every simulator boot() opened (afterEach). */
export function closeBenches(): void {
  for (const s of open.splice(0)) s.close();
}

/**
 * A testdev behind a root complex, not enumerated. The link idles between rx beats and
 * backpressures tx at random; the RC delays, splits and reorders its completions (all from `seed`).
 * The testdev completes MMIO reads of at most 32 DW (longer ones get CA): the RC reads 128 B at a time
 * unless told otherwise.
 */
export function boot(ports: string, seed: number, rc: RootComplexOptions = {}, sim: Partial<SimOptions> = {}): Bench {
  const s = Sim.load({ ports, quiet: true, seed, rxIdle: 0.1, txBackpressure: 0.3, ...sim });
  open.push(s);
  const tap = new TapLink(s);
  return { sim: s, tap, rc: new RootComplex(tap, { seed, maxMmioRead: 128, latency: { min: 30, max: 300 }, ...rc }) };
}

/** The last TLP the device sent, decoded. */
export function lastFromDevice(tap: TapLink): Tlp {
  const raw = tap.fromDevice.at(-1);
  if (!raw) throw new Error('the device has sent nothing');
  return decodeTlp(raw);
}

/** The TLPs the device sent from index `from` on, decoded. */
export function fromDevice(tap: TapLink, from = 0): Tlp[] {
  return tap.fromDevice.slice(from).map((r) => decodeTlp(r));
}

/** The completion status an RC request failed with (fails the test if it succeeded or failed otherwise). */
export function failedWith(f: () => unknown): CompletionStatusError['status'] {
  try {
    f();
  } catch (e) {
    if (e instanceof CompletionStatusError) return e.status;
    throw e;
  }
  throw new Error('expected the request to fail with a completion status');
}

// ---- the testdev's DMA engine, through BAR0

export const OFF = (name: string): number => reg(name).offset;
/** DMA_STATUS's error code (0 unless ERROR is set). */
export const errCode = (st: number): number =>
  field('DMA_STATUS', 'ERROR').get(st) ? field('DMA_STATUS', 'ERR_CODE').get(st) : 0;

export interface Transfer {
  dir: 'HOST_TO_RAM' | 'RAM_TO_HOST';
  host: bigint;
  ram: number;
  len: number;
  /** MSI-X vector to signal the end with (else: wait for dma_busy to fall). */
  irq?: number;
}

/** Programs a transfer through BAR0 and rings the doorbell; returns at once. */
export function startDma(rc: RootComplex, t: Transfer): void {
  const b0 = rc.bar(0);
  b0.write64(OFF('DMA_HOST_ADDR_LO'), t.host);
  b0.write32(OFF('DMA_RAM_OFFSET'), t.ram);
  b0.write32(OFF('DMA_LENGTH'), t.len);
  const dir = field('DMA_CONTROL', 'DIR');
  const irq =
    t.irq !== undefined ? field('DMA_CONTROL', 'IRQ_EN').put(1) | field('DMA_CONTROL', 'VECTOR').put(t.irq) : 0;
  b0.write32(OFF('DMA_CONTROL'), dir.put(dir.values![t.dir]) | irq);
  b0.write32(OFF('DMA_DOORBELL'), field('DMA_DOORBELL', 'START').put(1));
}

/** Waits for the end of the running transfer (its MSI-X message if `irq`, else dma_busy falling); returns DMA_STATUS. */
export function waitDma(rc: RootComplex, irq?: number): number {
  const b0 = rc.bar(0);
  if (irq !== undefined) {
    rc.waitForInterrupt(irq, { timeout: 500_000 });
  } else {
    rc.flush(b0.address); // the doorbell has landed: dma_busy is up (or the transfer already ended)
    rc.waitForSignal('dma_busy', 0, { timeout: 500_000 });
  }
  const st = b0.read32(OFF('DMA_STATUS'));
  expect(field('DMA_STATUS', 'BUSY').get(st), 'DMA_STATUS.BUSY').toBe(0);
  expect(field('DMA_STATUS', 'DONE').get(st), 'DMA_STATUS.DONE').toBe(1);
  return st;
}

/** One transfer, start to end; returns DMA_STATUS. */
export function dma(rc: RootComplex, t: Transfer): number {
  startDma(rc, t);
  return waitDma(rc, t.irq);
}

/** Device RAM through MMIO (the RC splits reads at maxMmioRead, writes at MPS and 4 KB). */
export const ramRead = (rc: RootComplex, off: number, n: number): Uint8Array => rc.bar(0).read(RAM_OFFSET + off, n);
export const ramWrite = (rc: RootComplex, off: number, data: Uint8Array): void =>
  rc.bar(0).write(RAM_OFFSET + off, data);
export const same = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
