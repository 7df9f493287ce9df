// Every behaviour the virtio and PCI specifications leave to the device, decided once, here: the list the golden
// model implements and the RTL must match (its reads are compared with the model's). Each entry says what the
// device does; the code that implements it cites the entry (choices.ts "name"), and docs/virtio-transport.md
// ("The model's choices") is the readable version. These are statements, not switches: changing one means
// changing the code that cites it, its test, and the RTL.

export const CHOICES = {
  /** A write to a read-only field, or to bytes of a structure no field covers, is ignored (no error, no effect). */
  readOnlyWrite: 'ignored',
  /**
   * Bytes of a BAR that no field covers (padding inside a structure past its last field, the rest of a 4 KB page,
   * holes between structures) read 0. Accesses that straddle structures are split by byte: each byte behaves as
   * its structure says. Nothing inside an assigned BAR is answered with UR.
   */
  unmappedBarBytes: 0,
  /**
   * A memory request is claimed only when all its bytes lie in one assigned BAR, Memory Space Enable is set and
   * the function is in D0; anything else is an Unsupported Request (non-posted: UR completion; posted: dropped),
   * and Unsupported Request Detected is set in Device Status.
   */
  claimWholeRequestOnly: true,
  /**
   * A claimed memory read longer than MAX_MMIO_READ_DW (regmap.ts: 32 dwords, one completion within the smallest
   * Max_Payload_Size) is answered with Completer Abort and sets Signaled Target Abort in the Status register; it has
   * no side effects. (A completer may abort a request that violates its programming model, PCIe 2.3.1.)
   */
  longReads: 'completer-abort',
  /**
   * A read with non-contiguous byte enables reads the whole span from its first to its last enabled byte (side
   * effects of the bytes in between included); a write affects only the enabled bytes.
   */
  readSpan: 'first-to-last-enabled-byte',
  /**
   * Multi-byte fields merge partial writes byte by byte: the new value is the old one with the written bytes
   * replaced; then the field's write rule applies once. Fields are applied in address order; the selectors
   * (device_feature_select, driver_feature_select, queue_select) are sampled once at the start of an access, so
   * one access that writes queue_select and a queue field writes the queue selected before it.
   */
  partialWrites: 'byte-merge',
  /** driver_feature mirrors what the driver wrote (the spec allows presenting invalid bits); FEATURES_OK checks it. */
  driverFeatureMirror: true,
  /** driver_feature ignores writes once FEATURES_OK is set (features are final until reset). */
  featuresLockedAfterFeaturesOk: true,
  /** Feature select values other than 0 and 1 read 0 in both windows and make driver_feature writes no-ops. */
  featureWindowsBeyond64Bits: 0,
  /**
   * device_status bits stick until reset: a write ORs into the status (a driver MUST NOT clear bits; this way the
   * data plane never sees DRIVER_OK drop without a reset). DEVICE_NEEDS_RESET is the device's own: the driver can
   * neither set nor clear it. Bits the device does not implement (SUSPEND, 0x20) read 0.
   */
  statusSticky: true,
  /** Writes to device_status other than 0 while a reset is in progress are ignored. */
  statusWritesDuringReset: 'ignored',
  /**
   * While a reset is in progress, device_status reads the value it had before the reset (non-zero, so the driver
   * keeps waiting); it reads 0 once the reset completed. A reset completes when the data plane is quiet (at once
   * unless DRIVER_OK was set: nothing can have run) and no DMA of the device is outstanding. The data plane has
   * no DMA outstanding before DRIVER_OK, so the old value is non-zero whenever the reset waits.
   */
  statusDuringReset: 'previous-value',
  /**
   * config_generation: the first device-side change of device configuration after the driver last read it
   * increments the generation; later changes before the next read do not (so 256 changes cannot wrap it back).
   * Driver writes (writeback) do not count. The generation survives a device reset; FLR clears it.
   */
  configGeneration: 'increment-on-first-change-since-read',
  /** Invalid queue_size writes (0, above the maximum, not a power of two without RING_PACKED) are ignored. */
  invalidQueueSize: 'ignored',
  /** queue_size, queue_msix_vector and queue_desc/driver/device ignore writes while the queue is enabled. */
  queueFieldsWhileEnabled: 'ignored',
  /** queue_enable: writing 0 (which the driver MUST NOT do) is ignored; writing 1 enables whatever is configured. */
  queueEnableZero: 'ignored',
  /** Every queue_* field reads 0 (queue_size 0: "unavailable") and ignores writes when queue_select >= num_queues. */
  absentQueueFields: 0,
  /** A vector >= Table Size (and any value the data plane cannot map) reads back NO_VECTOR. */
  unmappableVector: 'NO_VECTOR',
  /**
   * Fields that exist only with a feature (queue_reset without RING_RESET, admin_queue_* without ADMIN_VQ) read
   * 0 and ignore writes unless the feature is negotiated; queue_notify_data always reads the queue's value (a
   * read-only constant is harmless before negotiation).
   */
  featureGatedFields: 'read-0-unless-negotiated',
  /**
   * Doorbells: a write notifies queue q when it writes both bytes at q's doorbell (4 with NOTIFICATION_DATA
   * negotiated, else the first 2); with notify_off_multiplier 0 every queue shares offset 0 and the 16-bit value
   * names the queue. Doorbells of absent or disabled queues are dropped. The notify region reads 0.
   */
  doorbells: 'whole-doorbell-writes',
  /**
   * ISR: a read that includes the ISR byte returns it and clears it (any width); the other bytes of the ISR
   * region read 0. The Queue Interrupt bit is set only when MSI-X is disabled, the Configuration bit always
   * (transport-pci.tex "ISR status capability"). Notifications before DRIVER_OK are not sent.
   */
  isr: 'read-to-clear-on-byte-0',
  /**
   * A virtio reset clears the MSI-X Pending bits (no stale notification after the reset); the table and MSI-X
   * control are PCI state and stay. FLR resets everything: the table entries to 0 and masked.
   */
  resetClearsPending: true,
  /**
   * An MSI-X message that cannot be sent (vector masked, function masked, Bus Master Enable clear, D3hot) sets
   * the vector's Pending bit; it is sent when all of those clear.
   */
  msixPendingWithoutBusMaster: true,
  /**
   * MSI-X table writes take effect at once (also on unmasked entries); the reserved bits (address 1:0, vector
   * control 31:1) read 0. PBA writes are ignored. Non-DWORD accesses merge bytes like any other field.
   */
  msixTableWrites: 'immediate',
  /**
   * The PCI_CFG window (cfg_type 5): a configuration read touching pci_cfg_data performs a BAR read of cap.length
   * bytes at cap.offset of cap.bar and stores them in pci_cfg_data; a configuration write touching pci_cfg_data
   * performs a BAR write of its first cap.length bytes. Length other than 1, 2, 4, a misaligned offset, a BAR that
   * is not one of the function's, or an access past the BAR's end does nothing (pci_cfg_data keeps its value).
   * The window does not depend on Memory Space Enable.
   */
  pciCfgWindow: 'as-spec; invalid requests do nothing',
  /** PowerState writes of D1/D2 (unsupported) are ignored; No_Soft_Reset = 1 (D3hot -> D0 keeps all state). */
  powerStates: 'D0 and D3hot',
  /**
   * FLR (Initiate Function Level Reset) takes effect at once from the configuration side: configuration space,
   * MSI-X, virtio state return to reset values; the captured Bus/Device number and Link Control are kept. The
   * virtio side is a reset like a write of 0 to device_status (statusDuringReset): device_status reads its value
   * from before the FLR until the data plane is quiet and no DMA is outstanding (software waits 100 ms after an
   * FLR, PCIe 6.6.2; the data plane must be quiet by then).
   */
  flr: 'immediate; keeps link control; the virtio reset waits like a status reset',
  /** Device Control MPS/MRRS values are stored as written (software must not program more than supported). */
  deviceControlAsWritten: true,
  /** No error messages (ERR_COR/NONFATAL) are sent; errors are only logged in the status registers. */
  errorMessages: 'none',
} as const;
