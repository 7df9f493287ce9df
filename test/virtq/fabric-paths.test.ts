// The DMA fabric's command readies are registers deep: no client's `ready` has a combinational path from any
// input (another client's `valid` through the command arbiter). The split engine's command register looks at its
// `ready` in its next state; through the arbiter's priority logic that was the whole function's only path of 10
// LUT levels (docs/dma.md, "Command arbiters").
import { describe, expect, it } from 'vitest';
import { DmaFabric } from '../../gen/virtq/dma_fabric';

describe('DMA fabric command readies', () => {
  for (const regions of [
    [12, 19],
    [12, 13, 19],
  ]) {
    it(`depend on no input combinationally (${regions.length} clients)`, () => {
      const mod = DmaFabric.elaborate({
        W: 256,
        regions,
        lenBits: 20,
        idBits: 8,
        tags: 64,
        slots: 32,
        timeoutBits: 20,
        mpsSupported: 5,
        readAhead: 8,
        irqBits: 2,
      });
      for (let i = 0; i < regions.length; i++)
        for (const port of [`c${i}_rd_cmd_ready`, `c${i}_wr_cmd_ready`])
          expect([...(mod.combPaths.get(port) ?? [])], port).toEqual([]);
    });
  }
});
