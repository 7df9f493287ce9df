// A real Linux kernel (User Mode Linux 6.1, scripts/linux) drives the simulated card through the bridge: it
// boots, virtio_pci probes the RTL control plane, virtio_blk binds, and 4 MiB of a seeded pattern are written,
// read back and verified by the guest and checked on the device's disk by the host; for both ring formats.
// The kernel is built on first use (scripts/setup.sh builds it; a few minutes) and cached outside the tree.
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

describe.each([
  ['packed', true],
  ['split', false],
])('Linux drives the RTL endpoint (%s rings)', (_name, packed) => {
  it('boots, binds virtio_blk, writes 4 MiB and reads them back', async () => {
    const seed = packed ? 11 : 12;
    const r = await runLinux({ kernel, initramfs, packed, queues: 2, mib: 4, diskMiB: 8, randops: 8, seed });
    expect(r.result).toMatch(/^OK mib=4 /);
    expect(r.facts).toContain('VERIFIED pattern');
    expect(r.facts.find((f) => f.startsWith('BOUND'))).toBe('BOUND sectors=16384');
    expect(r.features.includes('VIRTIO_F_RING_PACKED')).toBe(packed);
    expect(r.phases.write.bytes).toBeGreaterThanOrEqual(4 << 20);
    expect(r.phases.read.bytes).toBeGreaterThanOrEqual(4 << 20);
    expect(r.rc.violations).toBe(0);
    expect(r.checkerMismatches).toBe(0);
  }, 600_000);
});
