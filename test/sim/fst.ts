// Just enough of the FST format (gtkwave's fstapi.c, which Verilator's writer is) to check a waveform file without
// a reader library: the header block's times and counts, and the chain of blocks to the end of the file. A file
// that was not closed has no hierarchy block and its header's times are still zero; a truncated one breaks the
// chain.
import { readFileSync } from 'node:fs';

/** Block types (fstapi.h enum fstBlockType). */
const BLOCK = {
  header: 0,
  valueChanges: [1, 5, 8], // VCDATA, VCDATA_DYN_ALIAS, VCDATA_DYN_ALIAS2
  geometry: 3,
  hierarchy: [4, 6, 7], // HIER, HIER_LZ4, HIER_LZ4DUO
  skip: 255, // a block still being written
};
/** The header block's length after its tag byte (fstWriterEmitHdrBytes). */
const HEADER_SECTION = 329;

export interface FstSummary {
  /** The header's first and last time stamps. */
  startTime: bigint;
  endTime: bigint;
  scopes: number;
  vars: number;
  /** Value-change blocks and the time range each covers. */
  valueBlocks: { begin: bigint; end: bigint }[];
  /** Block tags in file order. */
  blocks: number[];
}

/** Reads an FST file's header and block chain; throws, naming the offset, on anything that is not a closed FST file. */
export function readFstSummary(path: string): FstSummary {
  const b = readFileSync(path);
  const u64 = (at: number) => {
    if (at + 8 > b.length) throw new Error(`${path}: truncated at byte ${at} of ${b.length}`);
    return b.readBigUInt64BE(at);
  };
  if (b[0] !== BLOCK.header || u64(1) !== BigInt(HEADER_SECTION))
    throw new Error(`${path}: no FST header block (tag ${b[0]}, length ${b.length >= 9 ? u64(1) : '?'})`);
  const summary: FstSummary = {
    startTime: u64(9),
    endTime: u64(17),
    scopes: Number(u64(41)),
    vars: Number(u64(49)),
    valueBlocks: [],
    blocks: [],
  };
  for (let at = 0; at < b.length;) {
    const tag = b[at];
    if (tag === BLOCK.skip)
      throw new Error(`${path}: block at byte ${at} was never finished (the file was not closed)`);
    const len = Number(u64(at + 1));
    if (len < 8 || at + 1 + len > b.length)
      throw new Error(
        `${path}: block ${tag} at byte ${at} claims ${len} bytes; the file has ${b.length - at - 1} left`,
      );
    summary.blocks.push(tag);
    if (BLOCK.valueChanges.includes(tag)) summary.valueBlocks.push({ begin: u64(at + 9), end: u64(at + 17) });
    at += 1 + len;
  }
  if (!summary.blocks.some((t) => BLOCK.hierarchy.includes(t)))
    throw new Error(`${path}: no hierarchy block (the file was not closed)`);
  return summary;
}
