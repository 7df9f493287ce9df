// The virtqueue flag bits as virtio 1.2 (split-ring.tex, packed-ring.tex) and Linux's
// include/uapi/linux/virtio_ring.h define them, the one copy: the queue engines (gen/virtq: split_engine.ts,
// packed_params.ts), the testbench's ring models (tb/virtio/ring/defs.ts, as masks) and the vhost-user transport's
// own queues (sim/vhost/vring.ts) take them from here. Bit numbers, not masks: the RTL selects bits
// (`flags.bit(VRING_DESC_F.NEXT)`); software masks with `1 << bit`.

/** Descriptor flags: NEXT, WRITE and INDIRECT in both formats; AVAIL and USED in packed descriptors only. */
export const VRING_DESC_F = { NEXT: 0, WRITE: 1, INDIRECT: 2, AVAIL: 7, USED: 15 } as const;

/** Split rings: avail->flags NO_INTERRUPT and used->flags NO_NOTIFY (each bit 0 of its ring's flags). */
export const VRING_SPLIT_F = { AVAIL_NO_INTERRUPT: 0, USED_NO_NOTIFY: 0 } as const;

/** Packed rings' event suppression structure: the values of its flags field (not bits). */
export const VRING_PACKED_EVENT_FLAG = { ENABLE: 0, DISABLE: 1, DESC: 2 } as const;
