// The packed-ring queue engine (gen/virtq/packed_*.ts) through the root-complex model, at 64 and 256 bits:
// randomized driver/device workloads against the golden DeviceQueue (same chains, same used elements, every
// buffer back with the bytes the device wrote, interrupts when the driver asked for them), over several queues
// of sizes that are not powers of two, with and without INDIRECT_DESC and EVENT_IDX.
import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { DataWidth } from '../../gen/pcie/streams';
import { seededTest } from '../support/seeds';
import { bootPacked, buildPackedSim, closePackedBenches, packedPorts } from './packed-support';
import { runWorkload } from './packed-workload';

afterEach(closePackedBenches);

const WIDTHS: readonly DataWidth[] = [64, 256];
const QUEUES = 2;

describe.each(WIDTHS)('packed-ring engine, %i-bit stream', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = packedPorts(W, QUEUES);
    buildPackedSim(ports);
  }, 600_000);

  for (const features of [
    {},
    { indirect: true },
    { eventIdx: true },
    { indirect: true, eventIdx: true },
    { inOrder: true },
    { indirect: true, eventIdx: true, inOrder: true },
  ]) {
    const name = Object.keys(features).join('+') || 'plain';
    seededTest(
      `random workload, two queues (${name}): chains, used elements and data as the golden model's`,
      (seed) => {
        const b = bootPacked(W, QUEUES, ports, seed);
        const s = runWorkload(b, { features, sizes: [7 + (seed % 5), 19], requests: 150, seed });
        expect(s.requests).toBe(150);
        if (process.env.PACKED_STATS) console.log(W, name, seed, JSON.stringify(s));
        expect(s.wraps, 'the rings wrapped').toBeGreaterThan(4);
        expect(s.interrupts).toBeGreaterThan(0);
        if ('indirect' in features) expect(s.indirect).toBeGreaterThan(10);
        // IN_ORDER: runs of buffers used completely went back as one element (and only under IN_ORDER)
        if ('inOrder' in features) expect(s.batches).toBeGreaterThan(0);
        else expect(s.skipped).toBe(0);
        // one-descriptor chains completed together: used elements of consecutive descriptors in one write
        if ('indirect' in features && !('inOrder' in features)) expect(s.usedBatchWrites).toBeGreaterThan(0);
      },
    );
  }
});
