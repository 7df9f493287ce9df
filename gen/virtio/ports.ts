// The interfaces between the virtio endpoint's blocks (docs/virtio-transport.md, "The RTL endpoint"):
//  - barOp: one dword access to the BAR structures (the access engine -> the register file), always accepted;
//  - pciCfgWindow: an access through the PCI_CFG capability's window (configuration space -> access engine);
//  - virtioHandover: the control plane's state and events for the data plane (queue engine), and what the data
//    plane reports back. Its shape follows tb/virtio/golden/handover.ts (Handover, TransportEvent,
//    DataPlaneInputs), field by field where a port can say it.
import { bit, bundle, flip, uint } from '../hdl';

/** Bits of a dword index inside the largest BAR of `bars`. */
export function barDwordBits(bars: readonly { size: number }[]): number {
  return Math.log2(Math.max(...bars.map((b) => b.size))) - 2;
}

/** One dword access: BAR `bar`, dword `dw`, byte enables `be` (a read touches only the enabled bytes' side effects). */
export function barOp(aw: number) {
  return bundle(
    'virtio_bar_op',
    { valid: bit, write: bit, bar: uint(3), dw: uint(aw), be: uint(4), wdata: uint(32) },
    { aw },
  );
}

/**
 * A PCI_CFG window access: one dword op (valid until ready), then `done` pulses with the dword read (`rdata`;
 * also for writes, where it means "applied").
 */
export function pciCfgWindow(aw: number) {
  return bundle(
    'virtio_pci_cfg_window',
    {
      valid: bit,
      ready: flip(bit),
      write: bit,
      bar: uint(3),
      dw: uint(aw),
      be: uint(4),
      wdata: uint(32),
      done: flip(bit),
      rdata: flip(uint(32)),
    },
    { aw },
  );
}

/** One virtqueue as the driver configured it (golden QueueState), and its events. */
export function queueHandover() {
  return bundle('virtio_queue', {
    /** queue_size. */
    size: uint(16),
    /** queue_msix_vector (0xffff: none). */
    vector: uint(16),
    enable: bit,
    desc: uint(64),
    driver: uint(64),
    device: uint(64),
    /** queue_reset written with 1 (RING_RESET): stop the queue, then pulse queue_reset_done[q]. */
    reset_req: bit,
    /** The queue is resetting (queue_reset reads 1). */
    reset_pending: bit,
    /** An available buffer notification (doorbell) for this queue, and the 16 or 32 bits written. */
    notify: bit,
    notify_data: uint(32),
  });
}

/**
 * The data-plane handover. Outputs (the transport's, as seen from the endpoint) are levels unless called a
 * pulse; inputs (flipped) are the data plane's.
 */
export function virtioHandover(queues: number, cfgFieldBits: number) {
  const q: Record<string, ReturnType<typeof queueHandover>> = {};
  for (let i = 0; i < queues; i++) q[`q${i}`] = queueHandover();
  return bundle(
    'virtio_handover',
    {
      /** The negotiated features (0 until FEATURES_OK is accepted). */
      features: uint(64),
      /** device_status as the device holds it (0 during a reset). */
      status: uint(8),
      driver_ok: bit,
      /** Bus Master Enable (and D0): no DMA without it. */
      bus_master: bit,
      /** Device Control as programmed: Max_Payload_Size, Max_Read_Request_Size (codes, 128 << n), Extended Tag. */
      max_payload: uint(3),
      max_read_req: uint(3),
      ext_tag_en: bit,
      /** The function's Requester ID (captured bus/device, function 0). */
      requester_id: uint(16),
      /** Pulse: the device is being reset (device_status <- 0, or FLR with reset_flr): stop, then reset_done. */
      reset_req: bit,
      reset_flr: bit,
      /** A reset is in progress: device_status reads its old value until the data plane is quiet. */
      reset_busy: bit,
      ...q,
      /** Pulse: the reset asked for is done (only needed when the reset found DRIVER_OK set). */
      reset_done: flip(bit),
      /** Level: DMA of the data plane is outstanding (a reset does not complete meanwhile; Transactions Pending). */
      dma_outstanding: flip(bit),
      /** Pulses, one bit per queue: the queue's reset is done. */
      queue_reset_done: flip(uint(queues)),
      /** Pulses, one bit per queue: a used buffer notification (MSI-X vector of the queue, or ISR + INTx). */
      irq_queue: flip(uint(queues)),
      /** Pulse: a fatal error (DEVICE_NEEDS_RESET, configuration interrupt). */
      fatal_error: flip(bit),
      /** A device configuration field changed: field index (the device type's table) and its new value. */
      cfg_valid: flip(bit),
      cfg_field: flip(uint(cfgFieldBits)),
      cfg_value: flip(uint(64)),
      /** Pulse: a data-plane TLP was dropped because Bus Master Enable was clear. */
      tx_dropped: bit,
    },
    { queues },
  );
}

/**
 * The function's PCI state where a hard IP's configuration space holds it (the forwarded-range mode): what the
 * endpoint obeys (the hard IP's configuration outputs: Command bits, D0, Device Control, MSI-X control, the
 * captured ID, BAR addresses, an FLR pulse), and, flipped, what the endpoint reports for the hard IP's status
 * registers (its error inputs) and live bits. The source is the state's owner.
 */
export function pciState(bars: readonly number[]) {
  const barFields: Record<string, ReturnType<typeof uint>> = {};
  for (const b of bars) barFields[`bar${b}_base`] = uint(64);
  return bundle(
    'virtio_pci_state',
    {
      mem_enable: bit,
      bus_master: bit,
      intx_disable: bit,
      d0: bit,
      max_payload: uint(3),
      max_read_req: uint(3),
      ext_tag_en: bit,
      msix_enable: bit,
      msix_function_mask: bit,
      completer_id: uint(16),
      flr: bit,
      ...barFields,
      ev_unsupported_request: flip(bit),
      ev_signaled_target_abort: flip(bit),
      ev_detected_parity: flip(bit),
      interrupt_status: flip(bit),
      transactions_pending: flip(bit),
    },
    { bars: bars.join(',') },
  );
}
