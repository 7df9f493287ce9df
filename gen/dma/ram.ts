// Device memory for the DMA engines: lines of W bits in two banks (even lines in bank 0, odd lines in bank
// 1), so the two consecutive lines of a lineWrite or lineRead (gen/dma/ports.ts) are one access per bank.
// Each bank is a simple dual-port block RAM with byte enables. Reads take two cycles (the block RAM's
// register and one more for the bank swap), writes one; both ports are always ready.
// Two variants for a user that needs one side only narrow (the split queue engine's scratch memory): DmaUnitRam
// (lineWrite in, aligned units of a few bytes out) and DmaWordRam (whole words in, lineRead out); each drops the
// 2W-bit bank swap of the narrow side.
import {
  bit,
  bundle,
  cat,
  defineModule,
  type Expr,
  flip,
  intParam,
  log2ceil,
  type Memory,
  mux,
  paramError,
  select,
  uint,
} from '../hdl';
import type { BundleOf, DataWidth } from '../pcie/streams';
import { lineBytes, lineRead, lineWrite } from './ports';

/** DmaRam's writes: the first line of a lineWrite to the bank of its parity, the second to the other bank. */
function bankWrites(wr: BundleOf<ReturnType<typeof lineWrite>, 'in'>, banks: Memory[], W: number): void {
  const B = W / 8;
  const half = (v: Expr, w: number, i: number) => v.bits(w * (i + 1) - 1, w * i);
  wr.ready.set(1);
  const lineBits = wr.addr.width;
  const wOdd = wr.addr.bit(0);
  const wRow = wr.addr.bits(lineBits - 1, 1);
  const wRowNext = wRow.add(1);
  banks.forEach((bank, b) => {
    // Bank b holds the first line when its parity is b, else the second (one row on when the first is odd).
    const first = b === 0 ? wOdd.not() : wOdd;
    const row = b === 0 ? mux(wOdd, wRowNext, wRow) : wRow;
    const data = mux(first, half(wr.data, W, 0), half(wr.data, W, 1));
    const be = mux(first, half(wr.be, B, 0), half(wr.be, B, 1));
    bank.write(row, data, wr.valid.and(be.orR()), { strb: be });
  });
}

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
    bankWrites(wr, banks, p.W);

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

/**
 * A read of `bytes` bytes (a power of two, at most two lines) at a multiple of `bytes`: `addr` counts such units;
 * the data comes back in `rdata` with `rvalid` two cycles after the request (always taken; always ready).
 */
export function unitRead(bytes: number, addrBits: number) {
  return bundle(
    'unit_read',
    { valid: bit, addr: uint(addrBits), rvalid: flip(bit), rdata: flip(uint(8 * bytes)) },
    { bytes, addrBits },
  );
}

export interface DmaUnitRamParams extends DmaRamParams {
  /** Bytes per read (a power of two, at most 2 W/8). */
  readBytes: number;
}

/**
 * DmaRam's memory with a narrow read port: written as DmaRam (lineWrite, two banks), read `readBytes` aligned bytes
 * at a time (unitRead), for a reader that takes small fields (the split engine's fetch side: 16-byte descriptors
 * and the 2-byte words in them). A unit is one slice of the two banks' rows at the same row (line pair 2r, 2r + 1
 * holds units 2B/R r .. 2B/R (r + 1) - 1, bank 0's first), so a read is both banks' row, one R-byte select of
 * them and one R-byte register: no line swap (DmaRam's 2W-bit one) and no 2W-bit copy of the lines. The row is
 * registered and read asynchronously (distributed RAM), the selected unit registered: the same two cycles.
 */
export const DmaUnitRam = defineModule(
  'dma_unit_ram',
  (m, p: DmaUnitRamParams) => {
    const B = lineBytes(p.W);
    intParam('DmaUnitRam: bytes', p.bytes, 4 * B);
    if ((p.bytes & (p.bytes - 1)) !== 0) throw paramError(`DmaUnitRam: bytes must be a power of two, got ${p.bytes}`);
    intParam('DmaUnitRam: readBytes', p.readBytes, 1, 2 * B);
    if ((p.readBytes & (p.readBytes - 1)) !== 0)
      throw paramError(`DmaUnitRam: readBytes must be a power of two, got ${p.readBytes}`);
    const lineBits = log2ceil(p.bytes / B);
    const unitsPerRow = (2 * B) / p.readBytes;
    const selBits = Math.log2(unitsPerRow);
    const wr = m.input('wr', lineWrite(p.W, lineBits));
    const rd = m.input('rd', unitRead(p.readBytes, log2ceil(p.bytes / p.readBytes)));
    const banks = [0, 1].map((b) => m.memory(`bank${b}`, { width: p.W, depth: p.bytes / B / 2 }));
    bankWrites(wr, banks, p.W);

    const row1 = m.reg('rd_row', lineBits - 1);
    const valid1 = m.reg('rd_valid1', bit, { reset: 0 });
    const valid2 = m.reg('rd_valid2', bit, { reset: 0 });
    const data2 = m.reg('rd_data', 8 * p.readBytes);
    m.if(rd.valid, () => row1.next(rd.addr.bits(rd.addr.width - 1, selBits)));
    valid1.next(rd.valid);
    valid2.next(valid1);
    const both = banks[1].readAsync(row1).cat(banks[0].readAsync(row1));
    const units = Array.from({ length: unitsPerRow }, (_, k) =>
      both.bits(8 * p.readBytes * (k + 1) - 1, 8 * p.readBytes * k),
    );
    if (selBits === 0) data2.next(units[0]);
    else {
      const sel1 = m.reg('rd_sel', selBits);
      m.if(rd.valid, () => sel1.next(rd.addr.bits(selBits - 1, 0)));
      data2.next(select(sel1, units));
    }
    rd.rvalid.set(valid2);
    rd.rdata.set(data2);
    return { wr, rd };
  },
  {
    name: (p) => `dma_unit_ram_w${p.W}_b${p.bytes}_r${p.readBytes}`,
    doc: 'Two-bank line RAM for the DMA engines: lineWrite in, aligned units of readBytes out.',
  },
);

/** Word writes (`bytes` bytes, a power of two, at most a line): `addr` counts words; always ready. */
export function wordWrite(bytes: number, addrBits: number) {
  return bundle('word_write', { valid: bit, addr: uint(addrBits), data: uint(8 * bytes) }, { bytes, addrBits });
}

export interface DmaWordRamParams extends DmaRamParams {
  /** Bytes per write (a power of two, at most W/8): whole words only. */
  wordBytes: number;
}

/**
 * A small line RAM written a word at a time (wordWrite, whole words) and read as DmaRam (lineRead, two lines,
 * two cycles): the split engine's out half (8-byte used elements, indices written as 8-byte words). The lines are
 * kept twice, every line in both copies: the low copy answers a read's line a, the high copy line a + 1, so a read
 * takes no line swap and a write no placement in a line (a word goes to its column of both copies). Each copy is
 * one memory per word column, read asynchronously at a registered row (distributed RAM; for a memory this small
 * the copy costs no more distributed RAM than DmaRam's two banks, whose byte lanes each take a RAM32M16 as well);
 * the read data is the memories' outputs, not registered: the row is registered twice, so the data shows two
 * cycles after the request, as DmaRam's.
 */
export const DmaWordRam = defineModule(
  'dma_word_ram',
  (m, p: DmaWordRamParams) => {
    const B = lineBytes(p.W);
    intParam('DmaWordRam: bytes', p.bytes, 4 * B);
    if ((p.bytes & (p.bytes - 1)) !== 0) throw paramError(`DmaWordRam: bytes must be a power of two, got ${p.bytes}`);
    intParam('DmaWordRam: wordBytes', p.wordBytes, 1, B);
    if ((p.wordBytes & (p.wordBytes - 1)) !== 0)
      throw paramError(`DmaWordRam: wordBytes must be a power of two, got ${p.wordBytes}`);
    const lines = p.bytes / B;
    const lineBits = log2ceil(lines);
    const cols = B / p.wordBytes;
    const colBits = Math.log2(cols);
    const wr = m.input('wr', wordWrite(p.wordBytes, log2ceil(p.bytes / p.wordBytes)));
    const rd = m.input('rd', lineRead(p.W, lineBits));
    const wRow = wr.addr.bits(wr.addr.width - 1, colBits);
    const copies = ['lo', 'hi'].map((c) =>
      Array.from({ length: cols }, (_, k) => {
        const mem = m.memory(`${c}${k}`, { width: 8 * p.wordBytes, depth: lines });
        mem.write(wRow, wr.data, colBits === 0 ? wr.valid : wr.valid.and(wr.addr.bits(colBits - 1, 0).eq(k)));
        return mem;
      }),
    );
    rd.ready.set(1);
    const rows = ['lo', 'hi'].map((c) => [1, 2].map((s) => m.reg(`rd_${c}_row${s}`, lineBits)));
    const valid1 = m.reg('rd_valid1', bit, { reset: 0 });
    const valid2 = m.reg('rd_valid2', bit, { reset: 0 });
    m.if(rd.valid, () => {
      rows[0][0].next(rd.addr);
      rows[1][0].next(rd.addr.add(1));
    });
    for (const r of rows) r[1].next(r[0]);
    valid1.next(rd.valid);
    valid2.next(valid1);
    const line = (c: 0 | 1) => cat(...copies[c].map((mem) => mem.readAsync(rows[c][1])).reverse());
    rd.rvalid.set(valid2);
    rd.rdata.set(line(1).cat(line(0)));
    return { wr, rd };
  },
  {
    name: (p) => `dma_word_ram_w${p.W}_b${p.bytes}_x${p.wordBytes}`,
    doc: 'Line RAM written a word at a time, read as two lines (lineRead) without a line swap: two copies.',
  },
);
