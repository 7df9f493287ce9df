// The DMA fabric (gen/virtq/dma_fabric.ts) through the root complex model: three clients of different region
// sizes and memory latencies share the engines; seeded random transfers per client, interleaved, compared
// byte-exact (host memory and every client's whole memory, so a write into another client's region shows),
// statuses routed to their client in its command order, transfers outside a region refused with BAD_PARAMS.
import { afterEach, beforeAll, describe, expect } from 'vitest';
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
});
