// Interrupt ordering through the whole transmit path (docs/data-plane.md, "Interrupt ordering"): the DMA fabric
// behind the virtio endpoint (gen/virtq/fabric_test_top.ts FabricEndpointTestTop), probed by the Linux-faithful
// driver, MSI-X per queue. Each client's write status raises its queue's notification at once (as a queue engine
// does after its publishing write); the root complex, which handles TLPs in link order, must have every byte of
// that write in host memory when the queue's MSI-X message arrives. Reads of both clients and link backpressure
// keep the fabric's arbiter and the endpoint's transmit arbiter busy meanwhile.
import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { DataWidth } from '../../gen/pcie/streams';
import { FabricEndpointTestTop, type FabricEndpointTestTopParams } from '../../gen/virtq/fabric_test_top';
import { DEFAULT_LAYOUT } from '../../gen/virtio/layout';
import { designPorts } from '../../sim/design';
import { Sim } from '../../sim/index';
import { Rng } from '../../sim/random';
import { TapLink } from '../../tb/pcie/link';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { VirtioPciDriver } from '../../tb/virtio/driver/driver';
import { hex, hostFor } from '../dma/batch';
import { ramFill } from '../dma/support';
import { seededTest } from '../support/seeds';

const FLAGS = ['--public-flat-rw'];
const open: Sim[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

interface Write {
  host: bigint;
  dev: number;
  len: number;
  data: Uint8Array;
}

describe.each([64, 256] as DataWidth[])('fabric behind the endpoint, %i-bit stream', (W) => {
  const p: FabricEndpointTestTopParams = { layout: DEFAULT_LAYOUT, W, regions: [14, 13], latency: [0, 6] };
  let ports = '';
  beforeAll(() => {
    ports = designPorts(FabricEndpointTestTop.elaborate(p));
    Sim.load({ ports, resetCycles: 0, verilatorFlags: FLAGS }).close();
  }, 900_000);

  seededTest(
    'a queue MSI-X message arrives after every byte of the write whose status raised it',
    (seed) => {
      const rng = new Rng(seed);
      const sim = Sim.load({ ports, quiet: true, seed, verilatorFlags: FLAGS, txBackpressure: 0.9, rxIdle: 0.1 });
      open.push(sim);
      const rc = new RootComplex(new TapLink(sim), { seed, latency: { min: 20, max: 200 } });
      const Q = DEFAULT_LAYOUT.queues.count;
      sim.poke('dp_reset_done', 1);
      sim.poke('dp_queue_reset_done', (1 << Q) - 1);
      sim.poke('timeout', 50_000);
      const drv = new VirtioPciDriver(rc);
      drv.probe();
      const cmd = (pre: string) => ({
        valid: `${pre}_valid`,
        ready: `${pre}_ready`,
        data: [`${pre}_host_addr`, `${pre}_dev_addr`, `${pre}_len`, `${pre}_id`],
      });
      const st = (pre: string) => ({
        valid: `${pre}_valid`,
        ready: `${pre}_ready`,
        data: [`${pre}_id`, `${pre}_error`],
      });
      const clients = p.regions.map((bits, i) => {
        const mem = rng.bytes(2 ** bits);
        ramFill(sim, W, `mem${i}.ram`, mem);
        return {
          bytes: 2 ** bits,
          mem,
          vector: drv.queueVector(i)!,
          rd: sim.handshakeSender(cmd(`c${i}_rd_cmd`)),
          wr: sim.handshakeSender(cmd(`c${i}_wr_cmd`)),
          rdStatus: sim.handshakeReceiver(st(`c${i}_rd_status`)),
          wrStatus: sim.handshakeReceiver(st(`c${i}_wr_status`)),
          current: undefined as Write | undefined,
          left: 24,
        };
      });
      sim.poke('irq_enable', 1);
      const problems: string[] = [];
      let announced = 0;
      rc.onInterrupt((ev) => {
        const c = clients.find((x) => x.vector === ev.vector);
        if (!c) return;
        const w = c.current;
        if (!w) {
          problems.push(`MSI-X on vector ${ev.vector} with no write outstanding`);
          return;
        }
        const got = rc.mem.read(w.host, w.len);
        const i = got.findIndex((b, k) => b !== w.data[k]);
        if (i >= 0)
          problems.push(
            `MSI-X on vector ${ev.vector} at cycle ${ev.cycle} before byte ${i} of the ${w.len}-byte write to ${hex(w.host)}`,
          );
        c.current = undefined;
        announced++;
      });
      // Background reads: MRds in the fabric's arbiter, completions on the receive side.
      let slot = 0;
      for (const [i, c] of clients.entries()) {
        for (let k = 0; k < 3; k++) {
          const len = rng.int(1024, 4096);
          const host = hostFor(rng, slot++);
          rc.mem.alloc(len + 4, { at: host, perm: 'ro', name: `read ${i}.${k}` }).write(0, rng.bytes(len));
          const pre = `c${i}_rd_cmd`;
          c.rd.send({
            [`${pre}_host_addr`]: host,
            [`${pre}_dev_addr`]: k * 1024,
            [`${pre}_len`]: 1024,
            [`${pre}_id`]: k,
          });
        }
      }
      const total = clients.reduce((a, c) => a + c.left, 0);
      while (announced < total) {
        for (const [i, c] of clients.entries()) {
          if (c.current || c.left === 0) continue;
          c.left--;
          // client 0 small writes (one short TLP, which can sit whole behind another in the fabric's arbiter), client 1 long ones
          const len = i === 0 ? rng.int(1, 48) : rng.int(1500, 4000);
          const dev = 4096 + rng.int(0, c.bytes - 4096 - len);
          const host = hostFor(rng, slot++);
          rc.mem.alloc(len, { at: host, perm: 'wo', name: `write of client ${i}` });
          c.current = { host, dev, len, data: c.mem.slice(dev, dev + len) };
          const pre = `c${i}_wr_cmd`;
          c.wr.send({ [`${pre}_host_addr`]: host, [`${pre}_dev_addr`]: dev, [`${pre}_len`]: len, [`${pre}_id`]: 0 });
        }
        rc.waitFor('a queue interrupt', () => announced === total || clients.some((c) => !c.current && c.left > 0), {
          timeout: 200_000,
        });
      }
      expect(problems).toEqual([]);
      expect(clients.map((c) => c.wrStatus.count)).toEqual(clients.map(() => 24));
      expect(rc.violations).toEqual([]);
    },
    { timeout: 300_000 },
  );
});
