/**
 * Configuration space layout (type 0 header, capabilities) as PCI / PCIe define it; names
 * follow Linux include/uapi/linux/pci_regs.h so a test reads like driver code.
 */

// Type 0 header (PCI 3.0 / PCIe 6.x chapter 7.5.1).
export const PCI_VENDOR_ID = 0x00; // 16
export const PCI_DEVICE_ID = 0x02; // 16
export const PCI_COMMAND = 0x04; // 16
export const PCI_STATUS = 0x06; // 16
export const PCI_REVISION_ID = 0x08; // 8; class code in 0x09..0x0b
export const PCI_CLASS_PROG = 0x09;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e; // 8: bits 6:0 layout, bit 7 multi-function
export const PCI_BIST = 0x0f;
export const PCI_BASE_ADDRESS_0 = 0x10; // six BARs, 0x10..0x24
export const PCI_CARDBUS_CIS = 0x28;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_CAPABILITY_LIST = 0x34; // 8
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;

export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_PARITY = 0x40;
export const PCI_COMMAND_SERR = 0x100;
export const PCI_COMMAND_INTX_DISABLE = 0x400;

export const PCI_STATUS_INTERRUPT = 0x8;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_STATUS_PARITY = 0x100; // Master Data Parity Error
export const PCI_STATUS_SIG_TARGET_ABORT = 0x800;
export const PCI_STATUS_REC_TARGET_ABORT = 0x1000; // Received Completer Abort
export const PCI_STATUS_REC_MASTER_ABORT = 0x2000; // Received Unsupported Request
export const PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
export const PCI_STATUS_DETECTED_PARITY = 0x8000; // Detected Parity Error (poisoned TLP received)
// The RW1C error bits of Status: Master Data Parity Error, Signaled/Received Target Abort, Received Master
// Abort, Signaled System Error, Detected Parity Error.
export const PCI_STATUS_ERROR_BITS = 0xf900;

export const PCI_HEADER_TYPE_NORMAL = 0;
export const PCI_HEADER_TYPE_BRIDGE = 1;

// BAR low bits.
export const PCI_BASE_ADDRESS_SPACE_IO = 0x1;
export const PCI_BASE_ADDRESS_MEM_TYPE_MASK = 0x6;
export const PCI_BASE_ADDRESS_MEM_TYPE_32 = 0x0;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8;
export const PCI_BASE_ADDRESS_MEM_MASK = ~0xf >>> 0;

// Capability IDs (standard list, 0x40..0xff).
export const PCI_CAP_ID_PM = 0x01;
export const PCI_CAP_ID_MSI = 0x05;
export const PCI_CAP_ID_VNDR = 0x09; // virtio's capabilities
export const PCI_CAP_ID_EXP = 0x10;
export const PCI_CAP_ID_MSIX = 0x11;
export const PCI_CAP_LIST_NEXT = 1;

// Power Management capability (offsets from the capability).
export const PCI_PM_PMC = 2;
export const PCI_PM_CTRL = 4;
export const PCI_PM_CTRL_STATE_MASK = 0x3; // PowerState: 0 = D0, 3 = D3hot
export const PCI_PM_CTRL_NO_SOFT_RESET = 0x8;

// Extended capability IDs (0x100..0xfff).
export const PCI_EXT_CAP_ID_ERR = 0x0001; // AER
export const PCI_EXT_CAP_ID_DSN = 0x0003;
export const PCI_EXT_CAP_ID_VNDR = 0x000b;
export const PCI_EXT_CAP_ID_ARI = 0x000e;
export const PCI_EXT_CAP_ID_ATS = 0x000f;
export const PCI_EXT_CAP_ID_SRIOV = 0x0010;
export const PCI_CFG_SPACE_SIZE = 0x100;
export const PCI_CFG_SPACE_EXP_SIZE = 0x1000;

// PCI Express capability (offsets from the capability).
export const PCI_EXP_FLAGS = 0x02;
export const PCI_EXP_DEVCAP = 0x04;
export const PCI_EXP_DEVCAP_PAYLOAD = 0x7; // Max_Payload_Size supported: 128 << n
export const PCI_EXP_DEVCAP_EXT_TAG = 0x20;
export const PCI_EXP_DEVCAP_RBER = 0x8000; // Role-Based Error Reporting
export const PCI_EXP_DEVCAP_FLR = 0x1000_0000; // Function Level Reset capability
export const PCI_EXP_DEVCTL = 0x08;
export const PCI_EXP_DEVCTL_CERE = 0x1;
export const PCI_EXP_DEVCTL_NFERE = 0x2;
export const PCI_EXP_DEVCTL_FERE = 0x4;
export const PCI_EXP_DEVCTL_URRE = 0x8;
export const PCI_EXP_DEVCTL_RELAX_EN = 0x10;
export const PCI_EXP_DEVCTL_PAYLOAD = 0xe0; // bits 7:5
export const PCI_EXP_DEVCTL_EXT_TAG = 0x100;
export const PCI_EXP_DEVCTL_NOSNOOP_EN = 0x800;
export const PCI_EXP_DEVCTL_READRQ = 0x7000; // bits 14:12
export const PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
export const PCI_EXP_DEVSTA = 0x0a;
export const PCI_EXP_DEVSTA_CED = 0x1;
export const PCI_EXP_DEVSTA_NFED = 0x2;
export const PCI_EXP_DEVSTA_FED = 0x4;
export const PCI_EXP_DEVSTA_URD = 0x8;
export const PCI_EXP_DEVSTA_TRPND = 0x20; // Transactions Pending
export const PCI_EXP_LNKCAP = 0x0c;
export const PCI_EXP_LNKCTL = 0x10;
export const PCI_EXP_LNKCTL_RCB = 0x8; // 0 = 64 bytes, 1 = 128 bytes (the upstream Root Port's RCB)
export const PCI_EXP_LNKSTA = 0x12;
export const PCI_EXP_DEVCAP2 = 0x24;
export const PCI_EXP_DEVCAP2_COMP_TMOUT_DIS = 0x10; // Completion Timeout Disable supported
export const PCI_EXP_DEVCAP2_10BIT_TAG_COMP = 0x10000;
export const PCI_EXP_DEVCAP2_10BIT_TAG_REQ = 0x20000;
export const PCI_EXP_DEVCTL2 = 0x28;
export const PCI_EXP_DEVCTL2_COMP_TIMEOUT = 0xf;
export const PCI_EXP_DEVCTL2_COMP_TMOUT_DIS = 0x10;
export const PCI_EXP_DEVCTL2_IDO_REQ_EN = 0x0100;
export const PCI_EXP_DEVCTL2_IDO_CMP_EN = 0x0200;
export const PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN = 0x1000;
export const PCI_EXP_LNKCAP2 = 0x2c;
export const PCI_EXP_LNKCTL2 = 0x30;

// ATS extended capability (offsets from the capability).
export const PCI_ATS_CTRL = 0x06; // 16: ATS Control
export const PCI_ATS_CTRL_ENABLE = 0x8000;

// MSI-X capability (offsets from the capability).
export const PCI_MSIX_FLAGS = 0x02; // 16: Message Control
export const PCI_MSIX_FLAGS_QSIZE = 0x07ff; // table size - 1
export const PCI_MSIX_FLAGS_MASKALL = 0x4000;
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;
export const PCI_MSIX_TABLE = 0x04; // BIR in bits 2:0, offset in 31:3 (QW aligned)
export const PCI_MSIX_PBA = 0x08;
export const PCI_MSIX_BIR_MASK = 0x7;
// MSI-X table entry (16 bytes).
export const PCI_MSIX_ENTRY_SIZE = 16;
export const PCI_MSIX_ENTRY_LOWER_ADDR = 0x0;
export const PCI_MSIX_ENTRY_UPPER_ADDR = 0x4;
export const PCI_MSIX_ENTRY_DATA = 0x8;
export const PCI_MSIX_ENTRY_VECTOR_CTRL = 0xc;
export const PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x1;

/** Max_Payload_Size / Max_Read_Request_Size encodings: 128 << n bytes, n = 0..5. */
export function encodeSize(bytes: number, what: string): number {
  const n = Math.log2(bytes / 128);
  if (!Number.isInteger(n) || n < 0 || n > 5)
    throw new RangeError(`${what} ${bytes} is not one of 128, 256, 512, 1024, 2048, 4096`);
  return n;
}
export function decodeSize(code: number): number {
  return 128 << (code & 7);
}
