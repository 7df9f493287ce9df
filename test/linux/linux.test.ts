// A real Linux kernel (User Mode Linux 6.1, scripts/linux) drives the whole simulated virtio-blk function (the
// RTL endpoint, queue engines, virtio-blk and on-chip disk, gen/virtq/blk_top.ts) through the bridge: it boots,
// virtio_pci probes, virtio_blk binds, and 4 MiB of a seeded pattern are written, read back and verified by the
// guest and checked on the device's disk by the host, every used element checked against the golden device; for
// both ring formats. Then a deliberately broken device (a wrong used length) must fail the run, saying so.
// The kernel is built on first use (scripts/setup.sh builds it) and cached outside the tree.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureInitramfs } from '../../scripts/linux/initramfs';
import { ensureKernel } from '../../scripts/linux/kernel';
import { runLinux } from '../../tb/linux/run';

let kernel = '';
let initramfs = '';

beforeAll(async () => {
  kernel = (await ensureKernel((s) => console.log(s))).linux;
  initramfs = ensureInitramfs();
}, 3600_000);

// 4 MiB written and read back (no mixed phase: randops 0), on a 4 MiB disk (one model build per ring format).
const short = { queues: 2, mib: 4, diskMiB: 4, randops: 0 };

describe.each([
  ['packed', true],
  ['split', false],
])('Linux drives the RTL virtio-blk function (%s rings)', (_name, packed) => {
  it('boots, binds virtio_blk, writes 4 MiB and reads them back', async () => {
    const seed = packed ? 11 : 12;
    const r = await runLinux({ kernel, initramfs, packed, seed, ...short });
    expect(r.result).toMatch(/^OK mib=4 /);
    expect(r.rtlDataPlane).toBe(true);
    expect(r.facts).toContain('VERIFIED pattern');
    expect(r.facts.find((f) => f.startsWith('BOUND'))).toBe('BOUND sectors=8192');
    expect(r.features.includes('VIRTIO_F_RING_PACKED')).toBe(packed);
    expect(r.phases.write.bytes).toBe(4 << 20);
    expect(r.phases.read.bytes).toBe(4 << 20);
    // The data moved through the RTL: simulated time passed while it did.
    expect(r.phases.read.cycles).toBeGreaterThan(50_000);
    expect(r.dataPlane['used elements checked']).toBeGreaterThanOrEqual(r.phases.write.requests);
    expect(r.rc.violations).toBe(0);
    expect(r.checkerMismatches).toBe(0);
  }, 900_000);
});

describe('Linux and a broken device', () => {
  it('a wrong used length fails the run, naming the used element and the request', async () => {
    const run = runLinux({ kernel, initramfs, packed: true, seed: 13, fault: 'used-len', ...short });
    await expect(run).rejects.toThrow(
      /queue 0, used descriptor \d+ .*: the device returned buffer \d+ with used length (\d+), but the \w+ request .* wrote \d+ bytes \(the golden virtio-blk device\);.*\n--- fault injected: used-len: queue 0 used element \d+: length \d+ made \1/,
    );
  }, 900_000);
});
