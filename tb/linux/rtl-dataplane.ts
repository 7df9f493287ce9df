// The RTL data plane behind the Linux bridge: the whole virtio-blk function (gen/virtq/blk_top.ts VirtioBlkTop:
// the endpoint, the split and packed queue engines, virtio-blk, the DMA fabric and the on-chip disk) serves the
// queues itself. Its DMA reads and writes go through the root complex into the guest's memory (every check on),
// its MSI-X writes become the guest's interrupts; this class only clocks the model while the device has work (the
// loop clocks it otherwise only for the guest's accesses) and zeroes and reads the disk for the host's check.
import { defaultBlk, VirtioBlkTop, virtioBlkConfig, type VirtioBlkTopParams } from '../../gen/virtq/blk_top';
import type { VirtioPciLayout } from '../../gen/virtio/layout';
import type { Sim } from '../../sim/index';
import type { RootComplex } from '../pcie/rootcomplex';
import { SECTOR_SIZE } from '../virtio/blk/defs';
import type { DataPlane } from './bridge';

/** The design Linux drives: the whole function at 64 bits, its on-chip disk exactly `diskMiB` MiB (a power of two). */
export function linuxBlkTop(layout: VirtioPciLayout, diskMiB: number): VirtioBlkTopParams {
  const bytes = diskMiB * 2 ** 20;
  if (!Number.isInteger(Math.log2(bytes)))
    throw new Error(`the RTL data plane's on-chip disk is a power of two: --disk ${diskMiB} MiB is not`);
  // The storage window is the lower half of the device's DMA region (gen/blk/device.ts): devBits = log2(bytes) + 1.
  // Linux takes seg_max and size_max as its request limits: 32 segments of 64 KiB let one request carry 512 KiB
  // (the block layer's default max_sectors_kb is 1280; dd's 1 MiB blocks become two requests).
  return {
    W: 64,
    blk: defaultBlk({ devBits: Math.log2(bytes) + 1, capacity: bytes / SECTOR_SIZE, segMax: 32, sizeMax: 65536 }),
    layout,
  };
}

export { VirtioBlkTop, virtioBlkConfig };

/** Cycles per step while the device works: short enough that the guest's accesses are served between steps. */
const STEP = 512;
/** Wall milliseconds one service() call may clock the model before the loop serves the guest again. */
const SLICE_MS = 20;

export class RtlDataPlane implements DataPlane {
  readonly name = 'RTL (VirtioBlkTop: queue engines, virtio-blk, DMA fabric, on-chip disk)';
  readonly stats = { busyCycles: 0, services: 0 };
  /** 2W-bit words of the disk RAM, in bytes. */
  private readonly wordBytes: number;

  constructor(
    private readonly sim: Sim,
    private readonly rc: RootComplex,
    private readonly top: VirtioBlkTopParams,
  ) {
    this.wordBytes = (2 * top.W) / 8;
    // The disk starts zeroed (Linux reads its first sectors at bind time, for a partition table).
    const words = 2 ** (top.blk.devBits - 1) / this.wordBytes;
    for (let at = 0; at < words; at += 65536)
      sim.writeMemory('disk.mem', new Array<bigint>(Math.min(65536, words - at)).fill(0n), at);
  }

  /** Clocks the model while the device is busy or the root complex owes it something (completions). */
  service(): boolean {
    const t0 = performance.now();
    let did = false;
    while (this.sim.peek('busy') === 1n || !this.rc.idle) {
      const start = this.rc.now;
      this.rc.step({ maxCycles: STEP, batchWrites: true });
      this.stats.busyCycles += this.rc.now - start;
      did = true;
      if (performance.now() - t0 > SLICE_MS) break;
    }
    if (did) this.stats.services++;
    return did;
  }

  readDisk(offset: number, length: number): Uint8Array {
    const wb = this.wordBytes;
    const first = Math.floor(offset / wb);
    const last = Math.ceil((offset + length) / wb);
    const words = this.sim.readMemory('disk.mem', first, last - first);
    const bytes = new Uint8Array((last - first) * wb);
    for (let k = 0; k < words.length; k++) {
      let w = words[k];
      for (let j = 0; j < wb; j++, w >>= 8n) bytes[k * wb + j] = Number(w & 0xffn);
    }
    return bytes.subarray(offset - first * wb, offset - first * wb + length);
  }

  summary(): Record<string, string | number> {
    return { 'data plane': this.name, 'cycles clocked for the device': this.stats.busyCycles };
  }
}
