// The data plane's internal interfaces (docs/data-plane.md):
//  - chainDesc: a validated available buffer (descriptor chain), queue engine -> device, one descriptor per
//    beat in chain order (indirect tables already expanded), `last` on its final descriptor;
//  - chainDone: the device is finished with a chain: the used element to write (id, bytes written), and the
//    ring slots it took (echoed from chainDesc), device -> queue engine, in any order the features allow;
//  - the DMA client ports (every data-plane block that moves bytes is a client of the shared DMA engines of
//    gen/dma): read and write commands/statuses (gen/dma/ports.ts dmaCommand/dmaStatus) whose device address
//    falls in the client's own region, and the client's memory for that region as lineWrite (the read engine
//    writes what it fetched) and lineRead (the write engine reads what it sends) targets.
import { bit, bundle, flip, uint } from '../hdl';

/** Bits of a buffer id (split: a head index < 32768; packed: any 16-bit id). */
export const CHAIN_ID_BITS = 16;

/**
 * One descriptor of a validated chain. A chain reaches the device only once the queue engine has walked and
 * checked all of it (the device never sees a malformed chain: the engine reports those itself), readable
 * descriptors first, then writable ones (virtio 1.2 2.7.4.2 / 2.7.5.2 hold the driver to that order).
 */
export function chainDesc(queueBits: number) {
  return bundle(
    'virtq_chain',
    {
      valid: bit,
      ready: flip(bit),
      queue: uint(queueBits),
      /** The id the used element must carry (split: the head's index; packed: the buffer id). */
      id: uint(CHAIN_ID_BITS),
      /** Ring descriptors the chain took (1 for an indirect one): a packed ring's used position advances by it. */
      slots: uint(16),
      addr: uint(64),
      len: uint(32),
      /** Device-writable (VIRTQ_DESC_F_WRITE). */
      write: bit,
      /** The chain's final descriptor. */
      last: bit,
    },
    { queueBits },
  );
}

/** A chain the device is done with: the used element (id, `len` bytes written into its writable buffers). */
export function chainDone(queueBits: number) {
  return bundle(
    'virtq_done',
    {
      valid: bit,
      ready: flip(bit),
      queue: uint(queueBits),
      id: uint(CHAIN_ID_BITS),
      slots: uint(16),
      len: uint(32),
    },
    { queueBits },
  );
}
