// Device memory for the DMA engines: lines of W bits in two banks (even lines in bank 0, odd lines in bank
// 1), so the two consecutive lines of a lineWrite or lineRead (gen/dma/ports.ts) are one access per bank.
// Each bank is a simple dual-port block RAM with byte enables. Reads take two cycles (the block RAM's
// register and one more for the bank swap), writes one; both ports are always ready.
import { bit, defineModule, type Expr, intParam, log2ceil, mux, paramError } from '../hdl';
import type { DataWidth } from '../pcie/streams';
import { lineBytes, lineRead, lineWrite } from './ports';

export interface DmaRamParams {
  W: DataWidth;
  /** Size in bytes: a power of two, at least four lines. */
  bytes: number;
}

export const DmaRam = defineModule(
  'dma_ram',
  (m, p: DmaRamParams) => {
    const B = lineBytes(p.W);
    intParam('DmaRam: bytes', p.bytes, 4 * B);
    if ((p.bytes & (p.bytes - 1)) !== 0) throw paramError(`DmaRam: bytes must be a power of two, got ${p.bytes}`);
    const lineBits = log2ceil(p.bytes / B);
    const wr = m.input('wr', lineWrite(p.W, lineBits));
    const rd = m.input('rd', lineRead(p.W, lineBits));
    const banks = [0, 1].map((b) => m.memory(`bank${b}`, { width: p.W, depth: p.bytes / B / 2 }));
    const half = (v: Expr, w: number, i: number) => v.bits(w * (i + 1) - 1, w * i);

    // ---- writes: the first line goes to the bank of its parity, the second to the other bank
    wr.ready.set(1);
    const wOdd = wr.addr.bit(0);
    const wRow = wr.addr.bits(lineBits - 1, 1);
    const wRowNext = wRow.add(1);
    banks.forEach((bank, b) => {
      // Bank b holds the first line when its parity is b, else the second (one row on when the first is odd).
      const first = b === 0 ? wOdd.not() : wOdd;
      const row = b === 0 ? mux(wOdd, wRowNext, wRow) : wRow;
      const data = mux(first, half(wr.data, p.W, 0), half(wr.data, p.W, 1));
      const be = mux(first, half(wr.be, B, 0), half(wr.be, B, 1));
      bank.write(row, data, wr.valid.and(be.orR()), { strb: be });
    });

    // ---- reads
    rd.ready.set(1);
    const rOdd = rd.addr.bit(0);
    const rRow = rd.addr.bits(lineBits - 1, 1);
    const q = banks.map((bank, b) => bank.readSync(b === 0 ? mux(rOdd, rRow.add(1), rRow) : rRow, { en: rd.valid }));
    const odd1 = m.reg('rd_odd', bit);
    const valid1 = m.reg('rd_valid1', bit, { reset: 0 });
    const valid2 = m.reg('rd_valid2', bit, { reset: 0 });
    const data2 = m.reg('rd_data', 2 * p.W);
    m.if(rd.valid, () => odd1.next(rOdd));
    valid1.next(rd.valid);
    valid2.next(valid1);
    data2.next(mux(odd1, q[0].cat(q[1]), q[1].cat(q[0])));
    rd.rvalid.set(valid2);
    rd.rdata.set(data2);
    return { wr, rd };
  },
  { name: (p) => `dma_ram_w${p.W}_b${p.bytes}`, doc: 'Two-bank line RAM for the DMA engines (lineWrite / lineRead).' },
);
