// The DMA fabric (gen/virtq/dma_fabric.ts) through the root complex model: three clients of different region
// sizes and memory latencies share the engines; seeded random transfers per client, interleaved, compared
// byte-exact (host memory and every client's whole memory, so a write into another client's region shows),
// statuses routed to their client in its command order, transfers outside a region refused with BAD_PARAMS.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DataWidth } from '../../gen/pcie/streams';
import type { FabricTestTopParams } from '../../gen/virtq/fabric_test_top';
import { Rng } from '../../sim/random';
import { seededTest } from '../support/seeds';
import {
  bootFabric,
  buildFabricSim,
  closeFabricBenches,
  fabricPorts,
  randomClientBatch,
  runClientBatch,
} from './fabric-support';

afterEach(closeFabricBenches);

const WIDTHS: readonly DataWidth[] = [64, 256];

describe.each(WIDTHS)('DMA fabric, %i-bit stream', (W) => {
  const p: FabricTestTopParams = { W, regions: [14, 12, 13], latency: [0, 7, 3] };
  let ports = '';
  beforeAll(() => {
    ports = fabricPorts(p);
    buildFabricSim(ports);
  }, 600_000);

  seededTest(
    'random transfers of three clients interleaved: byte-exact, statuses per client in order, regions kept',
    (seed) => {
      const rng = new Rng(seed);
      let refused = 0;
      let atEdges = 0;
      for (let g = 0; g < 3; g++) {
        const b = bootFabric(p, ports, seed + g, rng, {
          mps: rng.pick([128, 256, 512]),
          mrrs: rng.pick([128, 256, 512, 4096]),
          rc: { split: g % 2 === 0 ? 'rcb' : 'random', latency: { min: 20, max: 300 } },
          sim: { rxIdle: rng.pick([0, 0.1, 0.5]), txBackpressure: rng.pick([0, 0.3, 0.6]) },
        });
        for (let k = 0; k < 5; k++) {
          const xs = randomClientBatch(rng, b, 4, 16 * k);
          refused += xs.filter((x) => x.outside).length;
          atEdges += xs.filter(
            (x) => !x.outside && (x.dev === 0 || x.dev + x.len === b.clients[x.client].bytes),
          ).length;
          runClientBatch(b, xs, rng);
        }
        expect(b.rc.violations).toEqual([]);
        expect(Number(b.sim.peek('unexpected_count')), 'unexpected completions').toBe(0);
        expect(b.sim.peek('busy'), 'idle at the end').toBe(0n);
      }
      expect(refused, 'transfers outside a region tried').toBeGreaterThan(0);
      expect(atEdges, 'transfers at a region edge tried').toBeGreaterThan(3);
    },
    { timeout: 300_000 },
  );

  // A client may take back a command it offered (the packed engine drops a ring read ahead it no longer wants).
  // The fabric's arbiter keeps a grant it could not hand over while the engine is full; that grant must not turn
  // into a command once the client has taken it back: an empty command would end with a status the client never
  // asked for (the packed engine counted it as its next ring read's and walked a slot before its data came).
  it('a command taken back while the engine is full never reaches the engine', () => {
    const rng = new Rng(1);
    const b = bootFabric(p, ports, 1, rng, { rc: { latency: { min: 3000, max: 3000 } } });
    const pre = 'c1_rd_cmd';
    const host = 0x2000_0000n;
    const region = b.rc.mem.alloc(0x1_0000, { at: host, perm: 'ro', name: 'reads of client 1' });
    region.write(0, rng.bytes(0x1_0000));
    const offer = (id: number) => {
      b.sim.poke(`${pre}_host_addr`, host + BigInt(id) * 256n);
      b.sim.poke(`${pre}_dev_addr`, 0);
      b.sim.poke(`${pre}_len`, 256);
      b.sim.poke(`${pre}_id`, id);
      b.sim.poke(`${pre}_valid`, 1);
    };
    // offer reads until the engine is full and the fabric holds the grant: ready stays low for a while
    let sent = 0;
    let waited = 0;
    offer(sent);
    for (let cycle = 0; waited < 8; cycle++) {
      expect(cycle, 'the engine filled up').toBeLessThan(2000);
      const taken = b.sim.peek(`${pre}_ready`) === 1n;
      b.rc.runFor(1);
      if (taken) {
        offer(++sent);
        waited = 0;
      } else waited++;
    }
    // take it back, as the packed engine does (its read command mux offers an empty command then)
    for (const f of ['valid', 'host_addr', 'dev_addr', 'len', 'id']) b.sim.poke(`${pre}_${f}`, 0);
    b.rc.waitFor('the statuses of the reads taken', () => b.clients[1].rdStatus.count >= sent, { timeout: 200_000 });
    b.rc.runFor(4000);
    const ids = b.clients[1].rdStatus.take().map((st) => Number(st.values['c1_rd_status_id']));
    expect(ids, 'one status per command taken, none for the one taken back').toEqual(
      Array.from({ length: sent }, (_, i) => i),
    );
    expect(b.rc.violations).toEqual([]);
    expect(b.sim.peek('busy'), 'idle at the end').toBe(0n);
  });
});
