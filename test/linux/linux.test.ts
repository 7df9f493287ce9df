// A real Linux kernel (User Mode Linux 6.1, scripts/linux) drives the whole simulated virtio-blk function (the
// RTL endpoint, queue engines, virtio-blk and on-chip disk, gen/virtq/blk_top.ts) through the bridge: it boots,
// virtio_pci probes, virtio_blk binds, and 4 MiB of a seeded pattern are written, read back and verified by the
// guest and checked on the device's disk by the host, every used element checked against the golden device; for
// both ring formats. Then a deliberately broken device (a wrong used length) must fail the run, saying so and
// where the FST waveform of the cycles before the failure is (--waves-window).
// The kernel is built on first use (scripts/setup.sh builds it) and cached outside the tree.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureInitramfs } from '../../scripts/linux/initramfs';
import { ensureKernel } from '../../scripts/linux/kernel';
import { runLinux } from '../../tb/linux/run';
import { readFstSummary } from '../sim/fst';

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
  it('a wrong used length fails the run, naming the used element, the request and the waveform window', async () => {
    // The FST window (--waves-window): the failure's message names the files, which hold the cycles before it.
    const dir = mkdtempSync(join(tmpdir(), 'vfpga-linux-waves-'));
    const window = 4000;
    let message = '';
    try {
      await runLinux({
        kernel,
        initramfs,
        packed: true,
        seed: 13,
        fault: 'used-len',
        ...short,
        waves: join(dir, 'linux.fst'),
        wavesWindow: window,
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(
      /queue 0, used descriptor \d+ .*: the device returned buffer \d+ with used length (\d+), but the \w+ request .* wrote \d+ bytes \(the golden virtio-blk device\);.*\n--- fault injected: used-len: queue 0 used element \d+: length \d+ made \1/,
    );
    const note =
      /\n--- waveform \(FST\) of the window of the last \d+ cycles \(segments of (\d+)\): cycles (\d+)-(\d+) in (.*)\n/.exec(
        message,
      );
    expect(note, message).not.toBeNull();
    expect(Number(note![1])).toBe(window);
    const files = [...note![4].matchAll(/(\S+\.fst) \((\d+)-(\d+)\)/g)].map((m) => ({
      path: m[1],
      from: Number(m[2]),
      to: Number(m[3]) + 1,
    }));
    // The last window-to-2-windows cycles up to the failure, in two complete FST files, and nothing else.
    expect(files.length).toBe(2);
    expect(files[0].from).toBe(Number(note![2]));
    expect(files[1].to - 1).toBe(Number(note![3]));
    expect(files[1].from).toBe(files[0].to);
    expect(files[0].to - files[0].from).toBe(window);
    expect(readdirSync(dir).sort()).toEqual(files.map((f) => basename(f.path)).sort());
    for (const f of files) {
      const fst = readFstSummary(f.path);
      expect([fst.startTime, fst.endTime]).toEqual([BigInt(10 * f.from), BigInt(10 * (f.to - 1) + 5)]);
    }
    rmSync(dir, { recursive: true, force: true });
  }, 900_000);
});
