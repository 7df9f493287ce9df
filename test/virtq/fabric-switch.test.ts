// The DMA fabric with return queues (`returnQueues`, docs/data-plane.md "Memory reads in order"): the write
// engine's memory reads switching between clients of different latencies. A stream of writes that alternates
// between a slow client's long transfers and a fast client's one-beat transfers (as virtio-blk's data and a queue
// engine's used elements do) must run at the rate of a single client's stream: a switch costs no idle cycles on
// the link. Without return queues (a switch waits for the outstanding reads to drain) every pair of commands
// cost ~6.5 cycles more. And the random interleaved transfers of fabric.test.ts, byte-exact, on this build.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FabricTestTopParams } from '../../gen/virtq/fabric_test_top';
import { Rng } from '../../sim/random';
import {
  bootFabric,
  buildFabricSim,
  closeFabricBenches,
  type FabricBench,
  fabricPorts,
  randomClientBatch,
  runClientBatch,
} from './fabric-support';
import { seededTest } from '../support/seeds';

afterEach(closeFabricBenches);

// fabric.test.ts's top at 256 bits with the fabric's return queues: client 0 reads in 2 cycles, client 1 in 9.
const p: FabricTestTopParams = { W: 256, regions: [14, 12, 13], latency: [0, 7, 3], returnQueues: true };
const PAIRS = 48;
const LONG = 512; // 16 beats
const SHORT = 16; // 1 beat

describe('DMA fabric with return queues, 256-bit stream', () => {
  let ports = '';
  beforeAll(() => {
    ports = fabricPorts(p);
    buildFabricSim(ports);
  }, 600_000);

  // One stream of writes, the long ones from `slow`'s memory and the short ones from `fast`'s; its cycles from the
  // first command taken to the last status, and every host byte checked.
  const stream = (b: FabricBench, slow: number, fast: number, host: bigint): number => {
    const xs: { client: number; dev: number; len: number; host: bigint }[] = [];
    let at = host;
    for (let i = 0; i < PAIRS; i++) {
      xs.push({ client: slow, dev: (i * LONG) % 4096, len: LONG, host: at });
      at += BigInt(LONG);
      xs.push({ client: fast, dev: 4096 + i * SHORT, len: SHORT, host: at });
      at += BigInt(SHORT);
    }
    const region = b.rc.mem.alloc(Number(at - host), { at: host, perm: 'wo', name: 'writes' });
    const count = () => b.clients[0].wrStatus.count + b.clients[1].wrStatus.count;
    const before = count();
    const items = xs.map((x, i) => {
      const pre = `c${x.client}_wr_cmd`;
      return b.clients[x.client].wrCmd.send({
        [`${pre}_host_addr`]: x.host,
        [`${pre}_dev_addr`]: x.dev,
        [`${pre}_len`]: x.len,
        [`${pre}_id`]: i & 0xff,
      });
    });
    b.rc.waitFor('every write status', () => count() >= before + xs.length, { timeout: 200_000 });
    const statuses = [0, 1].flatMap((c) => b.clients[c].wrStatus.take());
    for (const st of statuses) expect(Object.values(st.values).at(-1), 'status NONE').toBe(0n);
    for (const x of xs) {
      const got = b.rc.mem.read(x.host, x.len);
      const want = b.clients[x.client].model.subarray(x.dev, x.dev + x.len);
      const k = got.findIndex((v, j) => v !== want[j]);
      expect(k, `client ${x.client} ${x.len} B from ${x.dev} to ${x.host.toString(16)}: first byte that differs`).toBe(
        -1,
      );
    }
    b.rc.mem.unmap(region);
    return Math.max(...statuses.map((s) => s.cycle)) - items[0].cycle!;
  };

  it('writes alternating between a slow and a fast client run as fast as from one client, bytes exact', () => {
    const rng = new Rng(7);
    const b = bootFabric(p, ports, 7, rng, { sim: { rxIdle: 0, txBackpressure: 0 } });
    const one = stream(b, 0, 0, 0x4000_0000n);
    const switching = stream(b, 1, 0, 0x5000_0000n);
    expect(b.rc.violations).toEqual([]);
    console.log(
      `${PAIRS} pairs of writes (${LONG} B, ${SHORT} B): one client ${one} cycles, ` +
        `alternating slow and fast client ${switching} cycles`,
    );
    // The slow client's latency (7 cycles more) is covered by the engine's read-ahead: measured 1070 against 1063.
    // Waiting for the outstanding reads at each switch (the fabric before its return queues) took 1376.
    expect(switching, 'cycles of the alternating stream').toBeLessThanOrEqual(one + 16);
  });

  seededTest(
    'random transfers of three clients interleaved: byte-exact, statuses per client in order',
    (seed) => {
      const rng = new Rng(seed);
      const b = bootFabric(p, ports, seed, rng, {
        mps: rng.pick([128, 256, 512]),
        mrrs: rng.pick([128, 256, 512, 4096]),
        rc: { split: 'random', latency: { min: 20, max: 300 } },
        sim: { rxIdle: rng.pick([0, 0.1, 0.5]), txBackpressure: rng.pick([0, 0.3, 0.6]) },
      });
      for (let k = 0; k < 5; k++) runClientBatch(b, randomClientBatch(rng, b, 4, 16 * k), rng);
      expect(b.rc.violations).toEqual([]);
      expect(b.sim.peek('busy'), 'idle at the end').toBe(0n);
    },
    { timeout: 300_000 },
  );
});
