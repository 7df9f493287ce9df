// End to end on the golden models: the Linux-faithful probe (tb/virtio/driver) sets up the queues through the
// golden transport, the ring driver and the virtio-blk driver run on those queues, doorbells travel as MMIO writes
// through the root complex to the transport (notify events), the golden queue engine and virtio-blk serve the
// queues the transport handed over, and used buffer notifications travel back as MSI-X messages.
import { describe, expect } from 'vitest';
import { PRESETS } from '../../../gen/virtio/layout';
import { featureMask } from '../../../gen/virtio/regmap';
import { BLK_S } from '../../../tb/virtio/blk/defs';
import { BlkDevice } from '../../../tb/virtio/blk/device';
import { VirtioBlkDriver, type BlkRequest } from '../../../tb/virtio/blk/driver';
import { VirtioPciDriver } from '../../../tb/virtio/driver/driver';
import { ringFeatures, ringFeaturesName } from '../../../tb/virtio/ring/defs';
import { DeviceQueue } from '../../../tb/virtio/ring/device';
import { HostDma } from '../../../tb/virtio/ring/dma';
import { RingInvariants } from '../../../tb/virtio/ring/invariants';
import { seededTest } from '../../support/seeds';
import { bench } from '../support';
import { Rng } from '../../../sim/random';

describe.each(PRESETS.map((p) => [p.name, p] as const))('%s', (_n, layout) => {
  seededTest('probe, then block I/O on every queue through doorbells and MSI-X', (seed) => {
    const b = bench(layout, seed, { resetReads: 2 });
    const drv = new VirtioPciDriver(b.rc);
    const r = drv.probe();
    const g = b.device;
    const features = ringFeatures(drv.features);
    // The device side works from what the transport was handed, not from the driver's view.
    const devFeatures = ringFeatures(g.negotiated);
    expect(devFeatures).toEqual(features);
    const dma = new HostDma(b.rc.mem);
    const inv = new RingInvariants<BlkRequest>();
    dma.listen(inv.onDma);
    const devQs = r.setup.vqs.map((vq) => {
      const st = g.queue(vq.index);
      expect(st.enabled).toBe(true);
      const ring = { num: st.size, desc: st.desc, driver: st.driver, device: st.device };
      inv.addRing(vq.index, ring, devFeatures.packed);
      return new DeviceQueue({ index: vq.index, ring, features: devFeatures, dma });
    });
    const flush = (g.negotiated & featureMask(['VIRTIO_BLK_F_FLUSH'], 'blk')) !== 0n;
    const blk = new BlkDevice({ capacity: Number(r.capacity), flush, id: `e2e-${layout.name}` });
    const blkDrv = new VirtioBlkDriver({
      mem: b.rc.mem,
      rings: r.setup.vqs,
      features,
      observer: inv,
      notify: (q, data) => {
        drv.kick(q, data);
        return true;
      },
    });
    let seen = g.events.length;
    let interrupts = 0;
    // The device: serve each queue a doorbell named; interrupt through the transport when the driver asked.
    const runDevice = () => {
      for (const vq of r.setup.vqs) b.rc.flush(vq.notify);
      const evs = g.events.slice(seen);
      seen = g.events.length;
      for (const ev of evs) {
        if (ev.kind !== 'notify') continue;
        const res = blk.serve(devQs[ev.queue]);
        expect(res.error).toBeUndefined();
        if (res.publish.notify) {
          b.dataPlane.signalQueue(ev.queue);
          drv.waitQueueInterrupt(ev.queue);
          interrupts++;
          blkDrv.vqs[ev.queue].interrupt();
        }
      }
      return blkDrv.takeCompleted();
    };

    const rng = new Rng(seed);
    const nq = r.setup.vqs.length;
    let checked = 0;
    for (let round = 0; round < 6; round++) {
      const q = round % nq;
      const sector = BigInt(rng.int(0, Number(r.capacity) - 16));
      const data = rng.bytes(8 * 512);
      const w = b.rc.mem.alloc(data.length, { perm: 'ro', align: 1 });
      w.write(0, data);
      const wr = blkDrv.submit({ type: 'write', sector, bufs: [{ addr: w.addr, len: data.length }] }, q);
      expect(runDevice()).toEqual([wr]);
      const rd = b.rc.mem.alloc(data.length, { perm: 'wo', align: 1 });
      const other = (q + 1) % nq;
      const req = blkDrv.submit(
        {
          type: 'read',
          sector,
          bufs: [
            { addr: rd.addr, len: 1000 },
            { addr: rd.addr + 1000n, len: data.length - 1000 },
          ],
        },
        other,
      );
      expect(runDevice()).toEqual([req]);
      expect(req).toMatchObject({ status: BLK_S.OK, len: data.length + 1 });
      expect(Buffer.from(b.rc.mem.read(rd.addr, data.length)).equals(Buffer.from(data))).toBe(true);
      checked++;
    }
    const fl = blkDrv.submit({ type: 'flush' }, 0);
    expect(runDevice()).toEqual([fl]);
    expect((fl as BlkRequest).result).toBe(flush ? 'ok' : 'notsupp');
    expect(checked).toBe(6);
    expect(interrupts).toBe(13);
    expect(ringFeaturesName(features)).toMatch(/split|packed/);
    inv.assertDrained();
    expect(inv.counts.dma).toBeGreaterThan(100);
    drv.remove();
    expect(b.link.mismatches).toEqual([]);
  });
});
