// The wire formats of User Mode Linux's PCI over virtio, as Linux 6.1 defines them (facts read from the kernel's
// arch/um/drivers/vhost_user.h, virtio_uml.c, virt-pci.c and include/uapi/linux/virtio_pcidev.h; written here from
// those definitions, no code copied): the vhost-user messages on the socket, and the virtio_pcidev messages on the
// device's two virtqueues (commands, interrupts).

/** vhost-user requests (front-end -> back-end). */
export const VHOST_USER = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SET_SLAVE_REQ_FD: 21,
  GET_CONFIG: 24,
  SET_CONFIG: 25,
  VRING_KICK: 35,
} as const;

export const VHOST_USER_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(VHOST_USER).map(([k, v]) => [v, k]),
);

/** Header: u32 request, u32 flags, u32 size (of the payload that follows). */
export const HEADER_BYTES = 12;
export const FLAG_VERSION = 1;
export const FLAG_REPLY = 1 << 2;
export const FLAG_NEED_REPLY = 1 << 3;
/** The largest payload a 6.1 front-end sends (GET/SET_CONFIG aside, which this back-end does not offer). */
export const MAX_PAYLOAD = 8 + 2 * 32;

/** Virtio feature bits at the vhost-user level. */
export const VIRTIO_F_VERSION_1 = 32n;
export const VHOST_USER_F_PROTOCOL_FEATURES = 30n;

/** Protocol features. */
export const PROTOCOL_F = { REPLY_ACK: 3n, SLAVE_REQ: 5n, CONFIG: 9n, INBAND_NOTIFICATIONS: 14n } as const;

/** SET_VRING_KICK/CALL payload: bit 8 set = no descriptor (polling). */
export const VRING_INDEX_MASK = 0xffn;
export const VRING_NOFD_MASK = 0x100n;

/** virt-pci's two virtqueues. */
export const CMD_QUEUE = 0;
export const IRQ_QUEUE = 1;

/** virtio_pcidev_msg ops. */
export const PCIDEV_OP = {
  CFG_READ: 1,
  CFG_WRITE: 2,
  MMIO_READ: 3,
  MMIO_WRITE: 4,
  MMIO_MEMSET: 5,
  INT: 6,
  MSI: 7,
  PME: 8,
} as const;

export const PCIDEV_OP_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(PCIDEV_OP).map(([k, v]) => [v, k]),
);

/** virtio_pcidev_msg header: u8 op, u8 bar, u16 reserved, u32 size, u64 addr; data follows. */
export const PCIDEV_HEADER_BYTES = 16;

/** The MSI address virt-pci programs into every MSI-X table entry (the data is the Linux IRQ number). */
export const UM_MSI_ADDRESS = 0xa0000n;
