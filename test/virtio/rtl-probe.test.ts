// The Linux-faithful driver model against the RTL endpoint, every register read checked by the golden model:
// probe, queues, interrupts, doorbells, teardown, on the default layout and the P-Tile preset, at several widths.
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { DEFAULT_LAYOUT, PTILE_LAYOUT } from '../../gen/virtio/layout';
import { STATUS, VIRTIO_MSI_NO_VECTOR } from '../../gen/virtio/regmap';
import { VirtioPciDriver } from '../../tb/virtio/driver/driver';
import { seededTest } from '../support/seeds';
import { buildSim } from '../testdev/support';
import { closeRtlBenches, endpointPorts, rtlBench } from './rtl-support';

afterEach(closeRtlBenches);

describe.each([
  ['default', 64, DEFAULT_LAYOUT],
  ['default', 256, DEFAULT_LAYOUT],
  ['ptile', 64, PTILE_LAYOUT],
  ['ptile', 256, PTILE_LAYOUT],
] as const)('%s layout, W=%i', (_name, W, layout) => {
  let ports = '';
  beforeAll(() => {
    ports = endpointPorts(layout, W);
    buildSim(ports);
  }, 300_000);

  seededTest(
    'probe, queues, interrupts, doorbells, remove',
    (seed) => {
      const b = rtlBench(ports, layout, seed);
      const drv = new VirtioPciDriver(b.rc);
      const r = drv.probe();
      expect(r.features).toContain('VIRTIO_F_VERSION_1');
      expect(r.setup.mode).toBe('msix-per-vq');
      expect(r.capacity).toBe(0x10_0000n);
      const g = b.model;
      expect(g.status).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
      expect(b.sim.peek('dp_status')).toBe(BigInt(g.status));
      expect(b.sim.peek('dp_features')).toBe(drv.features);
      for (const vq of r.setup.vqs) {
        expect(b.sim.peek(`dp_q${vq.index}_size`)).toBe(BigInt(vq.num));
        expect(b.sim.peek(`dp_q${vq.index}_desc`)).toBe(vq.desc);
        expect(b.sim.peek(`dp_q${vq.index}_driver`)).toBe(vq.driver);
        expect(b.sim.peek(`dp_q${vq.index}_device`)).toBe(vq.device);
        expect(b.sim.peek(`dp_q${vq.index}_vector`)).toBe(BigInt(vq.index + 1));
        expect(b.sim.peek(`dp_q${vq.index}_enable`)).toBe(1n);
      }
      for (const vq of r.setup.vqs) {
        b.dataPlane.signalQueue(vq.index);
        drv.waitQueueInterrupt(vq.index);
      }
      b.dataPlane.changeDeviceConfig('capacity', 0x20_0000);
      drv.waitConfigInterrupt();
      expect(drv.configRead('capacity')).toBe(0x20_0000n);
      const kicks = b.sim.watch('dp_q1_notify');
      drv.kick(1);
      b.rc.flush(r.setup.vqs[1].notify);
      b.rc.runFor(50);
      expect(kicks.count).toBe(1);
      expect(b.sim.peek('dp_q1_notify_data')).toBe(1n);
      drv.remove();
      expect(b.model.status).toBe(STATUS.ACKNOWLEDGE);
      expect(b.sim.peek('dp_q0_vector')).toBe(BigInt(VIRTIO_MSI_NO_VECTOR));
      expect(b.link.checkedReads).toBeGreaterThan(100);
      expect(b.link.mismatches).toEqual([]);
    },
    { timeout: 120_000 },
  );
});
