// The designs `npm run gen` writes to hdl/: each top with the parameters of the default configuration.
// Every module under a top is emitted once (modules are shared by name), plus `<top>.ports.json`.
import type { HwModule } from './hdl';
import { Fifo } from './lib/fifo';
import { Testdev } from './testdev/top';

export interface TopConfig {
  /** What the design is, for the synthesis table. */
  description: string;
  elaborate(): HwModule;
}

export const tops: TopConfig[] = [
  { description: 'LUTRAM FIFO, 64 bits x 16', elaborate: () => Fifo.elaborate({ width: 64, depth: 16 }) },
  { description: 'PCIe test endpoint (config, MMIO, DMA, MSI-X), 64-bit TLP stream', elaborate: () => Testdev.elaborate({ W: 64 }) },
  { description: 'PCIe test endpoint (config, MMIO, DMA, MSI-X), 256-bit TLP stream', elaborate: () => Testdev.elaborate({ W: 256 }) },
];
