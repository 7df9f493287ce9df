// The ring formats of a build (gen/virtq/blk_top.ts `rings`, docs/data-plane.md "Ring formats of a build"): what
// each build instantiates and offers, and feature negotiation on the RTL against the golden transport (every
// register read is compared with it: tb/virtio/blk/rig.ts) and the Linux-faithful driver model. A split-only build
// never offers VIRTIO_F_RING_PACKED (and refuses FEATURES_OK for a driver that accepts it anyway: not offered); a
// packed-only build offers it and refuses FEATURES_OK without it (virtio 1.2 2.2.2: a device that cannot honour the
// subset the driver accepted MUST fail FEATURES_OK); a build with both accepts either.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { emitModule } from '../../gen/hdl';
import type { DataWidth } from '../../gen/pcie/streams';
import { DEFAULT_RINGS, defaultBlk, VirtioBlkTop, virtioBlkConfig } from '../../gen/virtq/blk_top';
import { DataPlane, fabricClients, type RingEngines } from '../../gen/virtq/dataplane';
import { featureDef, featureMask, STATUS } from '../../gen/virtio/regmap';
import { PCI_COMMAND, PCI_COMMAND_MASTER } from '../../tb/pcie/cfgspace';
import { BlkRig, buildBlkTop } from '../../tb/virtio/blk/rig';
import { modernProbe } from '../../tb/virtio/driver/caps';
import { CommonIo } from '../../tb/virtio/driver/commonio';
import { VirtioPciDriver } from '../../tb/virtio/driver/driver';
import { deviceFeatures } from '../../tb/virtio/driver/features';
import { testSeeds } from '../support/seeds';

const PACKED = 1n << BigInt(featureDef('VIRTIO_F_RING_PACKED', 'blk').bit);
const SEED = testSeeds(1)[0];

describe('ring engines of a build: configuration', () => {
  const cfg = (rings?: RingEngines) => virtioBlkConfig({ W: 64, blk: defaultBlk(), ...(rings ? { rings } : {}) });
  const offers = (rings?: RingEngines) => cfg(rings).endpoint.layout.features.includes('VIRTIO_F_RING_PACKED');

  test('the default is split only', () => {
    expect(DEFAULT_RINGS).toBe('split');
    expect(cfg().dataPlane.rings).toBe('split');
  });

  test('RING_PACKED is offered exactly with the packed engine, and required for FEATURES_OK without the split one', () => {
    expect([offers('split'), offers('packed'), offers('both'), offers()]).toEqual([false, true, true, false]);
    expect(cfg('packed').endpoint.requiredFeatures).toEqual(['VIRTIO_F_RING_PACKED']);
    expect(cfg('split').endpoint.requiredFeatures).toBeUndefined();
    expect(cfg('both').endpoint.requiredFeatures).toBeUndefined();
    // the other data-plane features stay offered in every build
    for (const r of ['split', 'packed', 'both'] as const)
      for (const f of ['VIRTIO_F_EVENT_IDX', 'VIRTIO_F_IN_ORDER', 'VIRTIO_F_RING_RESET'])
        expect(cfg(r).endpoint.layout.features, `${r}: ${f}`).toContain(f);
  });

  test('INDIRECT_DESC is offered by default exactly with the packed engine; `indirect` overrides it', () => {
    const ind = (rings?: RingEngines, indirect?: boolean) => {
      const c = virtioBlkConfig({
        W: 64,
        blk: defaultBlk(),
        ...(rings ? { rings } : {}),
        ...(indirect === undefined ? {} : { indirect }),
      });
      const offered = c.endpoint.layout.features.includes('VIRTIO_F_INDIRECT_DESC');
      expect(c.endpoint.dataPlaneFeatures?.includes('VIRTIO_F_INDIRECT_DESC'), 'the endpoint honours it').toBe(offered);
      // the split engine is built without its INDIRECT logic when the feature is not offered
      expect(c.dataPlane.split.indirect ?? true, 'the split engine').toBe(offered);
      return offered;
    };
    expect([ind('split'), ind('packed'), ind('both'), ind()]).toEqual([false, true, true, false]);
    expect([ind('split', true), ind('both', false), ind('packed', false)]).toEqual([true, false, false]);
    const name = (rings: RingEngines, indirect?: boolean) =>
      VirtioBlkTop.nameFor({ W: 64, blk: defaultBlk(), rings, ...(indirect === undefined ? {} : { indirect }) });
    // a non-default value names another build; the default value, given or not, the same one
    expect(name('split', true)).not.toBe(name('split'));
    expect(name('both', false)).not.toBe(name('both'));
    expect(name('split', false)).toBe(name('split'));
    expect(name('both', true)).toBe(name('both'));
    const engine = (rings: RingEngines) =>
      /\bvirtq_split_\w+_x0\b/.test(emitModule(DataPlane.elaborate(cfg(rings).dataPlane)));
    expect([engine('split'), engine('both')]).toEqual([true, false]);
  });

  test('fabric clients: the engines present (split before packed), then virtio-blk', () => {
    const names = (r: RingEngines) => fabricClients(cfg(r).dataPlane).map((c) => c.name);
    expect(names('both')).toEqual(['split', 'packed', 'blk']);
    expect(names('split')).toEqual(['split', 'blk']);
    expect(names('packed')).toEqual(['packed', 'blk']);
    const d = cfg('packed').dataPlane;
    expect(fabricClients(d).map((c) => c.regionBits)).toEqual([d.packed.regionBits, d.blk.devBits]);
  });

  test('a build instantiates only the engines of its formats', () => {
    const text = (r: RingEngines) => emitModule(DataPlane.elaborate(cfg(r).dataPlane));
    const has = (r: RingEngines) => {
      const t = text(r);
      return [/\bsplit_eng\b/.test(t), /\bpacked_eng\b/.test(t)];
    };
    expect(has('split')).toEqual([true, false]);
    expect(has('packed')).toEqual([false, true]);
    expect(has('both')).toEqual([true, true]);
  });

  test('each build has its own module names', () => {
    const names = (['split', 'packed', 'both'] as const).map((rings) =>
      VirtioBlkTop.nameFor({ W: 64, blk: defaultBlk(), rings }),
    );
    expect(new Set(names).size).toBe(3);
    expect(names[0]).toMatch(/^virtio_blk_top_default_split_w64_/);
  });

  test('an unknown ring format is a clear error', () => {
    expect(() => cfg('ring' as RingEngines)).toThrow(/rings 'ring' is not one of split, packed, both/);
  });
});

/** The function of a build behind the root complex, its common configuration mapped; nothing negotiated. */
function open(W: DataWidth, rings: RingEngines) {
  const rig = new BlkRig({ W, seed: SEED, rings, rc: { seed: SEED, latency: { min: 20, max: 200 } } });
  rigs.push(rig);
  const rc = rig.rc;
  const mdev = modernProbe(rc, rc.enumerate());
  rc.cfgWrite16(PCI_COMMAND, rc.cfgRead16(PCI_COMMAND) | PCI_COMMAND_MASTER);
  const io = new CommonIo(rc, mdev.common);
  /** Reset, ACKNOWLEDGE, DRIVER, the driver's features, FEATURES_OK: the device status read back. */
  const negotiate = (features: bigint): number => {
    expect(io.reset(1000), 'reset done').toBeGreaterThan(0);
    io.addStatus(STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    io.write('driver_feature_select', 0);
    io.write('driver_feature', Number(features & 0xffff_ffffn));
    io.write('driver_feature_select', 1);
    io.write('driver_feature', Number(features >> 32n));
    io.addStatus(STATUS.FEATURES_OK);
    return io.status();
  };
  return { rig, io, negotiate, offered: () => deviceFeatures(io) };
}

const rigs: BlkRig[] = [];
afterEach(() => {
  for (const r of rigs.splice(0)) {
    // every register read matched the golden transport (built with the same offer and FEATURES_OK rule)
    expect(r.link.checked.checkedReads).toBeGreaterThan(10);
    r.close();
  }
});

const TRANSPORT_MIN = featureMask(['VIRTIO_F_VERSION_1'], 'blk');

describe('ring engines of a build: negotiation on the RTL, 256-bit single-format builds', () => {
  beforeAll(() => {
    for (const rings of ['split', 'packed'] as const) buildBlkTop(256, undefined, undefined, rings);
  }, 1_200_000);

  test('split only: RING_PACKED never offered; a driver accepting it anyway is refused; Linux negotiates split', () => {
    const f = open(256, 'split');
    const offered = f.offered();
    expect(offered & PACKED, 'RING_PACKED offered').toBe(0n);
    expect(offered & TRANSPORT_MIN).toBe(TRANSPORT_MIN);
    // not offered: the driver must not accept it, and the device refuses FEATURES_OK if it does
    expect(f.negotiate(offered | PACKED) & STATUS.FEATURES_OK, 'FEATURES_OK with RING_PACKED').toBe(0);
    expect(f.negotiate(offered) & STATUS.FEATURES_OK, 'FEATURES_OK with what was offered').toBe(STATUS.FEATURES_OK);
    expect(f.offered() & PACKED, 'RING_PACKED offered after FEATURES_OK').toBe(0n);
    // the Linux-faithful driver (its table has RING_PACKED) probes the whole function on split rings
    const drv = new VirtioPciDriver(f.rig.rc);
    drv.probe();
    expect(drv.features & PACKED).toBe(0n);
    expect(f.rig.link.checked.golden.common.negotiated & PACKED).toBe(0n);
  });

  test('packed only: RING_PACKED offered; FEATURES_OK refused without it, kept with it', () => {
    const f = open(256, 'packed');
    const offered = f.offered();
    expect(offered & PACKED, 'RING_PACKED offered').toBe(PACKED);
    const refused = f.negotiate(offered & ~PACKED);
    expect(refused & STATUS.FEATURES_OK, 'FEATURES_OK without RING_PACKED').toBe(0);
    expect(refused & (STATUS.ACKNOWLEDGE | STATUS.DRIVER), 'the other status bits kept').toBe(
      STATUS.ACKNOWLEDGE | STATUS.DRIVER,
    );
    expect(f.rig.link.checked.golden.common.lastRefusal).toMatch(/VIRTIO_F_RING_PACKED must be accepted/);
    expect(f.negotiate(offered) & STATUS.FEATURES_OK, 'FEATURES_OK with RING_PACKED').toBe(STATUS.FEATURES_OK);
    // the driver model: a driver that does not take packed rings (Linux before 5.0, FreeBSD) gives up at
    // virtio_features_ok; one that does (Linux 5.0+) negotiates packed
    expect(() => new VirtioPciDriver(f.rig.rc, { declineFeatures: ['VIRTIO_F_RING_PACKED'] }).probe()).toThrow(
      /device refuses features.*as virtio_features_ok/,
    );
    const drv = new VirtioPciDriver(f.rig.rc);
    drv.probe();
    expect(drv.features & PACKED).toBe(PACKED);
  });
});

describe('ring engines of a build: negotiation on the RTL, 64-bit build with both engines', () => {
  beforeAll(() => buildBlkTop(64, undefined, undefined, 'both'), 1_200_000);

  test('both: RING_PACKED offered; FEATURES_OK kept with or without it', () => {
    const f = open(64, 'both');
    const offered = f.offered();
    expect(offered & PACKED).toBe(PACKED);
    expect(f.negotiate(offered & ~PACKED) & STATUS.FEATURES_OK).toBe(STATUS.FEATURES_OK);
    expect(f.negotiate(offered) & STATUS.FEATURES_OK).toBe(STATUS.FEATURES_OK);
  });
});
