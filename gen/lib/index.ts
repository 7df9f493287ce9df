// The block library: what a generator imports to build on streams, arbiters, counters and FIFOs.
export { Fifo, BramFifo } from './fifo';
export type { FifoParams, BramFifoParams } from './fifo';
export { RegSlice, PipeReg } from './skid';
export type { SliceParams } from './skid';
export { roundRobinArbiter, fixedPriorityArbiter, RoundRobinArbiter, FixedPriorityArbiter } from './arbiter';
export type { Arbitration, ArbiterParams } from './arbiter';
export { priorityEncode, prefixOr, isolateLowest, oneHotIndex, decode, PriorityEncoder } from './priority';
export type { PriorityEncoderParams } from './priority';
export { muxTree, muxTreeOrZero } from './mux';
export { upCounter, occupancyCounter, creditCounter, Counter, OccupancyCounter, CreditCounter } from './counter';
export type { CreditOptions, CreditCounterParams } from './counter';
export { syncBits } from './cdc';
export type { SyncOptions } from './cdc';
export { AsyncFifo } from './async_fifo';
export type { AsyncFifoParams } from './async_fifo';
