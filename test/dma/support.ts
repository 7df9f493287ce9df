// What the DMA engine tests share: the engines' test top (gen/dma/test_top.ts) Verilated with public access
// to its device memory, behind a root complex that is told the device's settings (no configuration space),
// the command and status handshakes, the device memory as bytes, and a byte-exact model of transfers.
import { DmaTestTop, type DmaTestTopParams } from '../../gen/dma/test_top';
import type { DataWidth } from '../../gen/pcie/streams';
import { designPorts } from '../../sim/design';
import { Sim, type SimOptions } from '../../sim/index';
import type { HandshakeItem, HandshakeReceiver, HandshakeSender } from '../../sim/sideband';
import { TapLink } from '../../tb/pcie/link';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';

export const DMA_WIDTHS: readonly DataWidth[] = [64, 128, 256, 512];
/** 64 KiB of device memory. */
export const DEV_BITS = 16;
export const DEV_BYTES = 2 ** DEV_BITS;
export const DEVICE_ID = 0x0100;

export const topParams = (W: DataWidth, tags = 32): DmaTestTopParams => ({ W, tags, devBits: DEV_BITS });
export const dmaPorts = (W: DataWidth, tags = 32): string => designPorts(DmaTestTop.elaborate(topParams(W, tags)));
const FLAGS = ['--public-flat-rw'];

/** Builds the simulator for a ports file (or hits the cache): call from beforeAll. */
export function buildDmaSim(ports: string): void {
  Sim.load({ ports, resetCycles: 0, verilatorFlags: FLAGS }).close();
}

/** Max_Payload_Size / Max_Read_Request_Size encoding of a size in bytes (128 << code). */
export const sizeCode = (bytes: number): number => Math.log2(bytes / 128);

export interface Settings {
  mps: number;
  mrrs: number;
  extTags: boolean;
  busMaster: boolean;
  /** The read engine's completion timeout, cycles. */
  timeout: number;
}

export interface DmaBench {
  W: DataWidth;
  sim: Sim;
  tap: TapLink;
  rc: RootComplex;
  rdCmd: HandshakeSender;
  wrCmd: HandshakeSender;
  rdStatus: HandshakeReceiver;
  wrStatus: HandshakeReceiver;
  /** Sets the engines' configuration inputs and tells the RC the same. */
  configure(s: Partial<Settings>): void;
}

const open: Sim[] = [];
export function closeDmaBenches(): void {
  for (const s of open.splice(0)) s.close();
}

export function bootDma(
  W: DataWidth,
  ports: string,
  seed: number,
  settings: Partial<Settings> = {},
  rcOpts: RootComplexOptions = {},
  simOpts: Partial<SimOptions> = {},
): DmaBench {
  const sim = Sim.load({ ports, quiet: true, seed, verilatorFlags: FLAGS, ...simOpts });
  open.push(sim);
  const tap = new TapLink(sim);
  const s: Settings = { mps: 256, mrrs: 512, extTags: true, busMaster: true, timeout: 20_000, ...settings };
  const rc = new RootComplex(tap, {
    seed,
    deviceId: DEVICE_ID,
    device: { mps: s.mps, mrrs: s.mrrs, extTags: s.extTags, busMaster: s.busMaster },
    deviceCompletionTimeout: s.timeout,
    ...rcOpts,
  });
  const cmd = (pre: string) => ({
    valid: `${pre}_valid`,
    ready: `${pre}_ready`,
    data: [`${pre}_host_addr`, `${pre}_dev_addr`, `${pre}_len`, `${pre}_id`],
  });
  const bench: DmaBench = {
    W,
    sim,
    tap,
    rc,
    rdCmd: sim.handshakeSender(cmd('rd_cmd')),
    wrCmd: sim.handshakeSender(cmd('wr_cmd')),
    rdStatus: sim.handshakeReceiver({
      valid: 'rd_status_valid',
      ready: 'rd_status_ready',
      data: ['rd_status_id', 'rd_status_error'],
    }),
    wrStatus: sim.handshakeReceiver({
      valid: 'wr_status_valid',
      ready: 'wr_status_ready',
      data: ['wr_status_id', 'wr_status_error'],
    }),
    configure(c) {
      Object.assign(s, c);
      sim.poke('bus_master', s.busMaster ? 1 : 0);
      sim.poke('max_payload', sizeCode(s.mps));
      sim.poke('max_read_req', sizeCode(s.mrrs));
      sim.poke('ext_tag_en', s.extTags ? 1 : 0);
      sim.poke('requester_id', DEVICE_ID);
      sim.poke('timeout', s.timeout);
      rc.setDeviceControl({ mps: s.mps, mrrs: s.mrrs, extTags: s.extTags, busMaster: s.busMaster });
    },
  };
  bench.configure({});
  return bench;
}

// ---- device memory as bytes (a DmaRam: two banks of W-bit lines, even lines in `<ram>.bank0`, odd in `.bank1`)

/** `n` bytes at `addr` of the DmaRam instance `ram` (a hierarchical name) of `bytes` bytes. */
export function ramRead(sim: Sim, W: DataWidth, ram: string, bytes: number, addr: number, n: number): Uint8Array {
  const B = W / 8;
  const out = new Uint8Array(n);
  const first = Math.floor(addr / B);
  const last = Math.floor((addr + n - 1) / B);
  const banks = [0, 1].map((b) => {
    const lo = Math.floor((first + (first % 2 === b ? 0 : 1)) / 2);
    const rows = Math.max(0, Math.floor(last / 2) + 1 - lo);
    return { lo, words: rows > 0 ? sim.readMemory(`${ram}.bank${b}`, lo, Math.min(rows, bytes / B / 2 - lo)) : [] };
  });
  for (let i = 0; i < n; i++) {
    const a = addr + i;
    const line = Math.floor(a / B);
    const bk = banks[line % 2];
    const word = bk.words[Math.floor(line / 2) - bk.lo];
    out[i] = Number((word >> BigInt(8 * (a % B))) & 0xffn);
  }
  return out;
}

/** Fills the whole DmaRam instance `ram` with `data` (its size). */
export function ramFill(sim: Sim, W: DataWidth, ram: string, data: Uint8Array): void {
  const B = W / 8;
  const rows = data.length / B / 2;
  for (const b of [0, 1]) {
    const words: bigint[] = [];
    for (let r = 0; r < rows; r++) {
      const base = (2 * r + b) * B;
      let w = 0n;
      for (let k = B - 1; k >= 0; k--) w = (w << 8n) | BigInt(data[base + k]);
      words.push(w);
    }
    sim.writeMemory(`${ram}.bank${b}`, words, 0);
  }
}

export const devRead = (d: DmaBench, addr: number, n: number): Uint8Array =>
  ramRead(d.sim, d.W, 'ram', DEV_BYTES, addr, n);

/** Fills the whole device memory. */
export const devFill = (d: DmaBench, bytes: Uint8Array): void => ramFill(d.sim, d.W, 'ram', bytes);

export interface StatusItem {
  id: number;
  error: number;
}

/** Statuses received so far (ids and codes). */
export function statuses(r: HandshakeReceiver, prefix: 'rd' | 'wr'): StatusItem[] {
  return r
    .take()
    .map((x) => ({ id: Number(x.values[`${prefix}_status_id`]), error: Number(x.values[`${prefix}_status_error`]) }));
}

/** Pumps the RC until the engines' status counts (since boot) reach `until`. */
export function waitStatuses(d: DmaBench, until: { rd?: number; wr?: number }, timeout = 2_000_000): void {
  d.rc.waitFor(
    `read statuses ${until.rd ?? '-'}, write statuses ${until.wr ?? '-'}`,
    () => d.rdStatus.count >= (until.rd ?? 0) && d.wrStatus.count >= (until.wr ?? 0),
    { timeout },
  );
}
export type { HandshakeItem };
