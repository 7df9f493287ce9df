// What the DMA fabric tests share: the fabric's test top (gen/virtq/fabric_test_top.ts) Verilated with public
// access to its client memories, behind a root complex told the device's settings, per-client command and
// status handshakes, and batches of transfers per client checked byte-exact against a model of every client
// memory and of host memory.
import { expect } from 'vitest';
import { DmaError } from '../../gen/pcie/dma_common';
import type { DataWidth } from '../../gen/pcie/streams';
import { FabricTestTop, type FabricTestTopParams } from '../../gen/virtq/fabric_test_top';
import { designPorts } from '../../sim/design';
import { Sim, type SimOptions } from '../../sim/index';
import type { Rng } from '../../sim/random';
import type { HandshakeReceiver, HandshakeSender } from '../../sim/sideband';
import type { Region } from '../../tb/pcie/hostmem';
import { TapLink } from '../../tb/pcie/link';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { hex, hostFor } from '../dma/batch';
import { DEVICE_ID, ramFill, ramRead, sizeCode } from '../dma/support';

const FLAGS = ['--public-flat-rw'];
export const fabricPorts = (p: FabricTestTopParams): string => designPorts(FabricTestTop.elaborate(p));
export function buildFabricSim(ports: string): void {
  Sim.load({ ports, resetCycles: 0, verilatorFlags: FLAGS }).close();
}

export interface FabricClient {
  bytes: number;
  rdCmd: HandshakeSender;
  wrCmd: HandshakeSender;
  rdStatus: HandshakeReceiver;
  wrStatus: HandshakeReceiver;
  /** The model of the client's memory. */
  model: Uint8Array;
}

export interface FabricBench {
  W: DataWidth;
  sim: Sim;
  tap: TapLink;
  rc: RootComplex;
  clients: FabricClient[];
}

const open: Sim[] = [];
export function closeFabricBenches(): void {
  for (const s of open.splice(0)) s.close();
}

export function bootFabric(
  p: FabricTestTopParams,
  ports: string,
  seed: number,
  rng: Rng,
  opts: { mps?: number; mrrs?: number; rc?: RootComplexOptions; sim?: Partial<SimOptions> } = {},
): FabricBench {
  const sim = Sim.load({ ports, quiet: true, seed, verilatorFlags: FLAGS, ...opts.sim });
  open.push(sim);
  const tap = new TapLink(sim);
  const mps = opts.mps ?? 256;
  const mrrs = opts.mrrs ?? 512;
  const rc = new RootComplex(tap, {
    seed,
    deviceId: DEVICE_ID,
    device: { mps, mrrs, extTags: true, busMaster: true },
    deviceCompletionTimeout: 20_000,
    ...opts.rc,
  });
  sim.poke('bus_master', 1);
  sim.poke('max_payload', sizeCode(mps));
  sim.poke('max_read_req', sizeCode(mrrs));
  sim.poke('ext_tag_en', 1);
  sim.poke('requester_id', DEVICE_ID);
  sim.poke('timeout', 20_000);
  const cmd = (pre: string) => ({
    valid: `${pre}_valid`,
    ready: `${pre}_ready`,
    data: [`${pre}_host_addr`, `${pre}_dev_addr`, `${pre}_len`, `${pre}_id`],
  });
  const status = (pre: string) => ({
    valid: `${pre}_valid`,
    ready: `${pre}_ready`,
    data: [`${pre}_id`, `${pre}_error`],
  });
  const clients = p.regions.map((bits, i) => {
    const model = rng.bytes(2 ** bits);
    ramFill(sim, p.W, `mem${i}.ram`, model);
    return {
      bytes: 2 ** bits,
      rdCmd: sim.handshakeSender(cmd(`c${i}_rd_cmd`)),
      wrCmd: sim.handshakeSender(cmd(`c${i}_wr_cmd`)),
      rdStatus: sim.handshakeReceiver(status(`c${i}_rd_status`)),
      wrStatus: sim.handshakeReceiver(status(`c${i}_wr_status`)),
      model,
    };
  });
  return { W: p.W, sim, tap, rc, clients };
}

export interface ClientXfer {
  client: number;
  dir: 'read' | 'write';
  host: bigint;
  /** Offset in the client's region. */
  dev: number;
  len: number;
  /** Runs past the region's end: the fabric must refuse it (BAD_PARAMS) without touching memory. */
  outside?: boolean;
}

const describeX = (x: ClientXfer) =>
  `client ${x.client} ${x.dir} ${x.len} B host ${hex(x.host)} dev ${hex(x.dev)}${x.outside ? ' (outside)' : ''}`;

/**
 * Up to `perClient` transfers per client in disjoint windows of its region (some at the region's first or last
 * byte, where the engines' two-line accesses reach into the neighbouring slot), and now and then one that runs
 * past the region's end.
 */
export function randomClientBatch(rng: Rng, b: FabricBench, perClient: number, slotBase: number): ClientXfer[] {
  const xs: ClientXfer[] = [];
  let slot = slotBase;
  b.clients.forEach((c, client) => {
    const n = rng.int(0, perClient);
    const win = c.bytes / perClient;
    for (let k = 0; k < n; k++) {
      const maxLen = Math.min(win, 6000);
      const outside = k === n - 1 && rng.chance(0.15);
      let len = rng.chance(0.15) ? rng.int(1, 8) : rng.chance(0.5) ? rng.int(1, 300) : rng.int(1, maxLen);
      if (outside) len = Math.max(len, 2);
      let dev = k * win + rng.int(0, win - len);
      if (k === 0 && rng.chance(0.4)) dev = 0;
      if (k === n - 1 && rng.chance(0.4)) dev = c.bytes - len;
      if (outside) dev = c.bytes - len + rng.int(1, Math.min(len - 1, 64));
      xs.push({ client, dir: rng.chance(0.5) ? 'read' : 'write', host: hostFor(rng, slot++), dev, len, outside });
    }
  });
  // interleave the clients' commands
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/**
 * Queues a batch (each client's commands in the batch's order), waits for every status and checks: each client's
 * statuses in its command order with NONE (BAD_PARAMS for a transfer outside its region), each write's host bytes,
 * and every client's whole memory against the model (a byte written in another client's memory shows there).
 */
export function runClientBatch(b: FabricBench, xs: ClientXfer[], rng: Rng): void {
  const regions: Region[] = [];
  const sources = new Map<ClientXfer, Uint8Array>();
  const expected = new Map<ClientXfer, Uint8Array>();
  const want = b.clients.map(() => ({
    rd: [] as { id: number; error: number }[],
    wr: [] as { id: number; error: number }[],
  }));
  const before = b.clients.map((c) => ({ rd: c.rdStatus.count, wr: c.wrStatus.count }));
  let id = 0;
  for (const x of xs) {
    const c = b.clients[x.client];
    const error = x.outside ? DmaError.BAD_PARAMS : DmaError.NONE;
    const tid = id++ & 0xff;
    if (x.dir === 'read') {
      const end = (x.host + BigInt(x.len) + 3n) & ~3n;
      const r = b.rc.mem.alloc(Number(end - x.host), { at: x.host, perm: 'ro', name: describeX(x) });
      const src = rng.bytes(x.len);
      r.write(0, src);
      if (!x.outside) sources.set(x, src);
      regions.push(r);
      want[x.client].rd.push({ id: tid, error });
      const pre = `c${x.client}_rd_cmd`;
      c.rdCmd.send({
        [`${pre}_host_addr`]: x.host,
        [`${pre}_dev_addr`]: x.dev,
        [`${pre}_len`]: x.len,
        [`${pre}_id`]: tid,
      });
    } else {
      const r = b.rc.mem.alloc(x.len, { at: x.host, perm: 'wo', name: describeX(x) });
      regions.push(r);
      if (!x.outside) expected.set(x, c.model.slice(x.dev, x.dev + x.len));
      want[x.client].wr.push({ id: tid, error });
      const pre = `c${x.client}_wr_cmd`;
      c.wrCmd.send({
        [`${pre}_host_addr`]: x.host,
        [`${pre}_dev_addr`]: x.dev,
        [`${pre}_len`]: x.len,
        [`${pre}_id`]: tid,
      });
    }
  }
  b.rc.waitFor(
    'every client status',
    () =>
      b.clients.every(
        (c, i) =>
          c.rdStatus.count >= before[i].rd + want[i].rd.length && c.wrStatus.count >= before[i].wr + want[i].wr.length,
      ),
    { timeout: 2_000_000 },
  );
  b.rc.runFor(64);
  b.clients.forEach((c, i) => {
    const got = (r: HandshakeReceiver, pre: string) =>
      r.take().map((s) => ({ id: Number(s.values[`${pre}_id`]), error: Number(s.values[`${pre}_error`]) }));
    expect(got(c.rdStatus, `c${i}_rd_status`), `client ${i} read statuses, in its command order`).toEqual(want[i].rd);
    expect(got(c.wrStatus, `c${i}_wr_status`), `client ${i} write statuses, in its command order`).toEqual(want[i].wr);
  });
  for (const [x, src] of sources) b.clients[x.client].model.set(src, x.dev);
  for (const [x, bytes] of expected) {
    const got = b.rc.mem.read(x.host, x.len);
    const i = got.findIndex((v, k) => v !== bytes[k]);
    if (i >= 0) throw new Error(`${describeX(x)}: host byte ${i} is ${got[i]}, the client's memory had ${bytes[i]}`);
  }
  b.clients.forEach((c, ci) => {
    const dev = ramRead(b.sim, b.W, `mem${ci}.ram`, c.bytes, 0, c.bytes);
    const i = dev.findIndex((v, k) => v !== c.model[k]);
    if (i >= 0) {
      const culprit = xs.find((x) => x.client === ci && i >= x.dev && i < x.dev + x.len);
      throw new Error(
        `client ${ci} memory differs from the model at ${hex(i)} (${culprit ? describeX(culprit) : 'outside every transfer of this client'})`,
      );
    }
  });
  for (const r of regions) b.rc.mem.unmap(r);
}
