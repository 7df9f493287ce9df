// The data-plane handover: what the transport (control plane) gives the queue engine, and what the queue engine
// gives back. The RTL will have the same interface as ports; the golden model has it as these types, so a
// TypeScript queue engine (or a test) can plug into the model exactly where the RTL's will plug into the RTL.

/** One virtqueue as the driver configured it. */
export interface QueueState {
  readonly index: number;
  /** queue_size (the maximum until the driver writes a smaller one). */
  size: number;
  /** queue_msix_vector (NO_VECTOR = 0xffff). */
  msixVector: number;
  enabled: boolean;
  /** Descriptor area, driver area (available ring / driver event), device area (used ring / device event). */
  desc: bigint;
  driver: bigint;
  device: bigint;
  /** queue_reset reads 1 (RING_RESET): the data plane is still quiescing the queue. */
  resetPending: boolean;
}

/** What the transport tells the data plane, in the order it happens. */
export type TransportEvent =
  /** The driver wrote 0 to device_status (or FLR): stop all queues; call completeReset() when quiesced. */
  | { readonly kind: 'device-reset'; readonly cause: 'status' | 'flr' }
  | { readonly kind: 'reset-complete' }
  /** FEATURES_OK accepted: the negotiated features are final. */
  | { readonly kind: 'features-ok'; readonly features: bigint }
  | { readonly kind: 'driver-ok' }
  | { readonly kind: 'queue-enable'; readonly queue: number; readonly state: Readonly<QueueState> }
  /** queue_reset written with 1: stop the queue; call completeQueueReset(q) when quiesced. */
  | { readonly kind: 'queue-reset'; readonly queue: number }
  | { readonly kind: 'queue-reset-complete'; readonly queue: number }
  /** An available buffer notification (doorbell); value: the 16 or 32 bits written. */
  | { readonly kind: 'notify'; readonly queue: number; readonly value: number }
  | { readonly kind: 'bus-master'; readonly enabled: boolean };

/** The data plane's view of the transport (read-only state + events). */
export interface Handover {
  /** Negotiated features (the driver's, once FEATURES_OK was accepted; 0 before). */
  readonly negotiated: bigint;
  readonly status: number;
  readonly driverOk: boolean;
  readonly busMaster: boolean;
  /** Device Control as programmed: the DMA must honour these. */
  readonly maxPayload: number;
  readonly maxReadRequest: number;
  readonly extendedTags: boolean;
  readonly queueCount: number;
  queue(index: number): Readonly<QueueState>;
  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: (ev: TransportEvent) => void): () => void;
}

/** What the data plane drives into the transport. */
export interface DataPlaneInputs {
  /** A used buffer notification for queue q (MSI-X vector of the queue, or ISR + INTx). */
  signalQueue(q: number): void;
  /** The device changed a device-configuration field (config_generation, configuration interrupt). */
  changeDeviceConfig(field: string, value: bigint | number): void;
  /** A fatal error: DEVICE_NEEDS_RESET and, if DRIVER_OK, a configuration interrupt. */
  fatalError(): void;
  /**
   * The reset the transport asked for (device-reset event) is done on the data plane's side: device_status may
   * read 0, once no DMA is outstanding.
   */
  completeReset(): void;
  /**
   * Whether the data plane has DMA outstanding (reads awaiting completions, writes not yet handed to the link):
   * a reset does not complete meanwhile, and Device Status shows Transactions Pending.
   */
  setDmaOutstanding(outstanding: boolean): void;
  completeQueueReset(q: number): void;
}

/** Where interrupts go: the endpoint turns them into MSI-X memory writes and INTx messages. */
export interface InterruptSink {
  msix(vector: number, address: bigint, data: number): void;
  intx(asserted: boolean): void;
}
