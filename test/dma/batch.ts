// Batches of DMA transfers against a byte-exact model (test/dma/*.test.ts).
import { expect } from 'vitest';
import { DmaError } from '../../gen/pcie/dma_common';
import type { Rng } from '../../sim/random';
import type { Region } from '../../tb/pcie/hostmem';
import { DEV_BYTES, devRead, type DmaBench, statuses, waitStatuses } from './support';

export interface Xfer {
  dir: 'read' | 'write';
  host: bigint;
  dev: number;
  len: number;
}

export const hex = (v: bigint | number) => `0x${v.toString(16)}`;
const describeX = (x: Xfer) => `${x.dir} ${x.len} B host ${hex(x.host)} dev ${hex(x.dev)}`;

/**
 * Runs a batch of transfers at once (reads and writes queued on both engines) and checks every byte: device
 * memory against `model` (updated with the reads), each write's host buffer against the model's bytes as they
 * were. Transfers of one batch must not overlap in device memory. Host buffers are granted exactly (reads:
 * up to the end of the last dword, which the RC's completer copies whole) and unmapped afterwards.
 */
export function runBatch(d: DmaBench, model: Uint8Array, xs: Xfer[], rng: Rng): void {
  const regions: Region[] = [];
  const sources = new Map<Xfer, Uint8Array>();
  const expected = new Map<Xfer, Uint8Array>();
  let id = 0;
  const before = { rd: d.rdStatus.count, wr: d.wrStatus.count };
  const ids = { rd: [] as number[], wr: [] as number[] };
  for (const x of xs) {
    if (x.dir === 'read') {
      const end = (x.host + BigInt(x.len) + 3n) & ~3n;
      const r = d.rc.mem.alloc(Number(end - x.host), { at: x.host, perm: 'ro', name: describeX(x) });
      const src = rng.bytes(x.len);
      r.write(0, src);
      sources.set(x, src);
      regions.push(r);
      ids.rd.push(id);
      d.rdCmd.send({ rd_cmd_host_addr: x.host, rd_cmd_dev_addr: x.dev, rd_cmd_len: x.len, rd_cmd_id: id++ & 0xff });
    } else {
      const r = d.rc.mem.alloc(x.len, { at: x.host, perm: 'wo', name: describeX(x) });
      regions.push(r);
      expected.set(x, model.slice(x.dev, x.dev + x.len));
      ids.wr.push(id);
      d.wrCmd.send({ wr_cmd_host_addr: x.host, wr_cmd_dev_addr: x.dev, wr_cmd_len: x.len, wr_cmd_id: id++ & 0xff });
    }
  }
  waitStatuses(d, { rd: before.rd + ids.rd.length, wr: before.wr + ids.wr.length });
  // A write's status comes when its last TLP has left the engine: it still crosses the TX arbiter, the link
  // slice and the link before the RC has it.
  d.rc.runFor(64);
  const rd = statuses(d.rdStatus, 'rd');
  const wr = statuses(d.wrStatus, 'wr');
  expect(
    rd.map((s) => s.id),
    'read statuses in command order',
  ).toEqual(ids.rd.map((i) => i & 0xff));
  expect(
    wr.map((s) => s.id),
    'write statuses in command order',
  ).toEqual(ids.wr.map((i) => i & 0xff));
  for (const s of [...rd, ...wr]) expect(s.error, 'status').toBe(DmaError.NONE);
  for (const [x, src] of sources) model.set(src, x.dev);
  for (const [x, want] of expected) {
    const got = d.rc.mem.read(x.host, x.len);
    const i = got.findIndex((b, k) => b !== want[k]);
    if (i >= 0) throw new Error(`${describeX(x)}: host byte ${i} is ${got[i]}, the device had ${want[i]}`);
  }
  const dev = devRead(d, 0, DEV_BYTES);
  if (Buffer.compare(Buffer.from(dev), Buffer.from(model)) !== 0) {
    const i = dev.findIndex((b, k) => b !== model[k]);
    const culprit = xs.find((x) => i >= x.dev && i < x.dev + x.len);
    throw new Error(
      `device memory differs from the model at ${hex(i)} (${culprit ? describeX(culprit) : 'outside every transfer'})`,
    );
  }
  for (const r of regions) d.rc.mem.unmap(r);
}

/** A host address: anywhere in its own 128 KiB window, sometimes above 4 GB, sometimes just before a 4 KB boundary. */
export function hostFor(rng: Rng, slot: number): bigint {
  let base = 0x1000_0000n + BigInt(slot) * 0x2_0000n;
  if (rng.chance(0.25)) base += 0x3_0000_0000n;
  const off = rng.chance(0.3) ? 0x1000 * rng.int(1, 8) - rng.int(1, 300) : rng.int(0, 0x1_0000 - 1);
  return base + BigInt(off);
}

/** Up to 8 transfers in disjoint 8 KiB device windows, reads and writes mixed. */
export function randomBatch(rng: Rng, slotBase: number): Xfer[] {
  const n = rng.int(1, 8);
  const windows = [0, 1, 2, 3, 4, 5, 6, 7];
  for (let i = 7; i > 0; i--) {
    const j = rng.int(0, i);
    [windows[i], windows[j]] = [windows[j], windows[i]];
  }
  windows.length = n;
  return windows.map((w, i) => {
    const len = rng.chance(0.15) ? rng.int(1, 8) : rng.chance(0.5) ? rng.int(1, 700) : rng.int(1, 8192);
    const dev = w * 8192 + rng.int(0, 8192 - len);
    return { dir: rng.chance(0.5) ? 'read' : 'write', host: hostFor(rng, slotBase + i), dev, len };
  });
}
