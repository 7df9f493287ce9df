// The packed-ring engine's throughput under the benchmark's host (test/virtq/packed-throughput.ts): cycles per
// chain at 256 bits with 1 us read latency, 64-byte completions reordered, 32 requests of virtio-blk's shape
// kept available, direct chains and indirect ones. The counts are simulated cycles (deterministic for a seed),
// not wall time; the bounds keep the engine's pipelining from silently regressing. PACKED_STATS=1 prints them.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { bootPacked, buildPackedSim, closePackedBenches, packedPorts } from './packed-support';
import { BENCH_HOST, measureThroughput } from './packed-throughput';

afterEach(closePackedBenches);

describe('packed-ring engine throughput, 256-bit stream, 1 us read latency', () => {
  let ports = '';
  beforeAll(() => {
    ports = packedPorts(256, 1);
    buildPackedSim(ports);
  }, 600_000);

  for (const indirect of [false, true]) {
    test(`512-byte reads, depth 32, ${indirect ? 'indirect' : 'direct'} chains: cycles per chain`, () => {
      const b = bootPacked(256, 1, ports, 1, BENCH_HOST);
      const r = measureThroughput(b, { depth: 32, size: indirect ? 32 : 96, chains: 200, dataBytes: 512, indirect });
      if (process.env.PACKED_STATS) console.log(indirect ? 'indirect' : 'direct', JSON.stringify(r));
      // measured 28 (direct) and 31 (indirect); before reading ahead 104 and 543
      expect(r.cyclesPerChain).toBeLessThan(indirect ? 40 : 35);
    });
  }

  // A device slower than the ring (a disk): each completion interrupts, the driver adds a request back and
  // kicks unless the device event structure says DISABLE. Without it (ENABLE always) about one doorbell per
  // request; the engine keeps it DISABLE while it has chains of the queue in flight and looks at the ring
  // again after each notification decision instead.
  test('a device completing one chain per 200 cycles: doorbells per request', () => {
    const b = bootPacked(256, 1, ports, 1, BENCH_HOST);
    const r = measureThroughput(b, { depth: 32, size: 32, chains: 200, dataBytes: 512, indirect: true, service: 200 });
    if (process.env.PACKED_STATS) console.log('streaming', JSON.stringify(r));
    expect(r.interrupts, 'interrupts: the driver adds requests back in its callback').toBeGreaterThan(50);
    expect(r.kicksPerChain).toBeLessThan(0.05);
    // the device was never kept waiting: a chain ready for each completion
    expect(r.cyclesPerChain).toBeLessThan(210);
  });
});
