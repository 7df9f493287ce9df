// A probe or initialization step of the driver model that failed the way Linux would fail it: the errno Linux
// returns, the kernel function that decides it, and a message naming the capability / field / offset at fault.

export type Errno = 'ENODEV' | 'EINVAL' | 'EBUSY' | 'ENOENT' | 'ENOMEM' | 'ENOSPC' | 'ETIMEDOUT';

export class VirtioProbeError extends Error {
  constructor(
    readonly errno: Errno,
    /** The Linux function whose check this is, e.g. "vp_modern_map_capability". */
    readonly linux: string,
    /** What is at fault: "capability at 0xc4 (cfg_type 4, device)", "common.queue_size of queue 1", ... */
    readonly where: string,
    readonly reason: string,
  ) {
    super(`virtio-pci: ${where}: ${reason} (-${errno}, as ${linux})`);
    this.name = 'VirtioProbeError';
  }
}
