// Asynchronous (dual-clock) FIFO: a write side and a read side in two unrelated clock domains, a dual-clock block
// RAM between them, and binary pointers whose Gray codes cross through synchronizers (gen/lib/cdc.ts), the
// classic design of Cummings, "Simulation and Synthesis Techniques for Asynchronous FIFO Design" (SNUG 2002),
// with a prefetch stage on the read side so that `deq` is first-word fall-through like BramFifo's.
import { defineModule, intParam, lit, paramError, stream } from '../hdl';
import { syncBits } from './cdc';
import { RegSlice } from './skid';
import { dropDefaults, optionalOutput, withDefaults } from './util';

export interface AsyncFifoParams {
  /** Data width in bits. */
  width: number;
  /** Number of entries: a power of two from 2 to 2^20. */
  depth: number;
  /**
   * Adds an `almost_full` output on the write side (a register): the write side's level (below) is at least
   * this threshold (1..depth). A writer that stops when it sees `almost_full` may still write
   * `depth - almostFull` entries after it (a ready latency, as hard-IP streams have).
   */
  almostFull?: number;
  /** Adds `wr_level` and `rd_level` outputs (registers; see AsyncFifo). */
  levels?: boolean;
  /**
   * true (default): a register slice after the RAM, so `deq` comes from flip-flops and `deq.ready` reaches only
   * flip-flops. false: `deq` is the RAM's read register, `deq.ready` reaches its read enable.
   */
  outReg?: boolean;
  /** Synchronizer stages per pointer (default 2). */
  syncStages?: number;
}

const asyncFifo = defineModule(
  'fifo_async',
  (m, p: AsyncFifoParams) => {
    intParam('AsyncFifo: width', p.width, 1, 65536);
    intParam('AsyncFifo: depth', p.depth, 2, 1 << 20);
    if ((p.depth & (p.depth - 1)) !== 0) {
      throw paramError(`AsyncFifo: depth must be a power of two (the pointers are Gray-coded), got ${p.depth}`);
    }
    if (p.almostFull !== undefined) intParam('AsyncFifo: almostFull', p.almostFull, 1, p.depth);
    const stages = intParam('AsyncFifo: syncStages', p.syncStages ?? 2, 2, 8);
    const outReg = p.outReg ?? true;

    const wr = m.domain('wr');
    const rd = m.domain('rd');
    const enq = m.input('enq', stream(p.width));
    const deq = m.output('deq', stream(p.width));
    const aw = Math.log2(p.depth);
    const pw = aw + 1; // pointers count entries modulo 2 * depth: equal is empty, one lap apart is full
    const mem = m.memory('mem', { width: p.width, depth: p.depth });

    // Each side's pointer as its own domain's registers, its Gray code the only thing that crosses.
    const wrBin = m.reg('wr_bin', pw, { domain: wr, reset: 0 }); // entries written
    const wrGray = m.reg('wr_gray', pw, { domain: wr, reset: 0 });
    const rdBin = m.reg('rd_bin', pw, { domain: rd, reset: 0 }); // entries that have left through deq
    const rdGray = m.reg('rd_gray', pw, { domain: rd, reset: 0 });
    const rdGrayW = syncBits(m, 'rd_gray_w', rdGray, wr, { carries: 'gray', stages }); // read pointer, as wr sees it
    const wrGrayR = syncBits(m, 'wr_gray_r', wrGray, rd, { carries: 'gray', stages }); // write pointer, as rd sees it

    // ---- write side
    // Full (and almost full) from the read pointer as the write side sees it, which lags the true one: the
    // flags may stay up a few cycles after room is made, never the other way round. Full resets to 1, so that
    // `enq.ready` is low during reset.
    const full = m.reg('wr_full', 1, { domain: wr, reset: 1 });
    const wrFire = m.let('wr_fire', enq.valid.and(full.not()));
    const wrNext = m.let('wr_bin_next', wrBin.add(wrFire.zext(pw)));
    const wrGrayNext = wrNext.toGray();
    wrBin.next(wrNext);
    wrGray.next(wrGrayNext);
    // One lap ahead: in Gray code, the read pointer with its two top bits inverted.
    full.next(wrGrayNext.eq(rdGrayW.xor(lit(3n << BigInt(pw - 2), pw))));
    mem.write(wrBin.trunc(aw), enq.data, wrFire, { domain: wr });
    enq.ready.set(full.not());
    const wrHeld = p.levels || p.almostFull !== undefined ? wrNext.sub(rdGrayW.fromGray()) : undefined;
    let wrLevel;
    if (p.levels) {
      wrLevel = m.reg('wr_level_r', pw, { domain: wr, reset: 0 });
      wrLevel.next(wrHeld!);
    }
    let almostFull;
    if (p.almostFull !== undefined) {
      almostFull = m.reg('wr_almost_full', 1, { domain: wr, reset: 1 });
      almostFull.next(wrHeld!.ge(p.almostFull));
    }

    // ---- read side
    // The RAM is read ahead into its read register (and the output slice) whenever an entry is there and the
    // next stage is free; `rd_bin` advances only when an entry leaves, so the write side sees its slot free
    // only then and the capacity is exactly `depth`. `rd_ram` is the next address to read.
    const ramAddr = m.reg('rd_ram', pw, { domain: rd, reset: 0 });
    const ramEmpty = m.reg('rd_ram_empty', 1, { domain: rd, reset: 1 }); // as the read side sees it: lags too
    const rdValid = m.reg('rd_valid', 1, { domain: rd, reset: 0 }); // the RAM's read register holds an entry
    const slice = outReg ? m.instance('out_slice', RegSlice, { width: p.width }, { domain: rd }) : undefined;
    const nextReady = slice ? slice.io.in.ready : deq.ready;
    const rdEn = m.let('rd_en', ramEmpty.not().and(rdValid.not().or(nextReady)));
    const ramNext = m.let('rd_ram_next', ramAddr.add(rdEn.zext(pw)));
    ramAddr.next(ramNext);
    ramEmpty.next(ramNext.toGray().eq(wrGrayR));
    const rdData = mem.readSync(ramAddr.trunc(aw), { en: rdEn, domain: rd });
    m.if(rdEn, () => rdValid.next(1)).elseIf(nextReady, () => rdValid.next(0));
    if (slice) {
      slice.io.in.valid.set(rdValid);
      slice.io.in.data.set(rdData);
      deq.valid.set(slice.io.out.valid);
      deq.data.set(slice.io.out.data);
      slice.io.out.ready.set(deq.ready);
    } else {
      deq.valid.set(rdValid);
      deq.data.set(rdData);
    }
    const rdNext = m.let('rd_bin_next', rdBin.add(deq.fire().zext(pw)));
    rdBin.next(rdNext);
    rdGray.next(rdNext.toGray());
    let rdLevel;
    if (p.levels) {
      rdLevel = m.reg('rd_level_r', pw, { domain: rd, reset: 0 });
      rdLevel.next(wrGrayR.fromGray().sub(rdNext));
    }

    return {
      enq,
      deq,
      almost_full: optionalOutput(m, 'almost_full', almostFull),
      wr_level: optionalOutput(m, 'wr_level', wrLevel),
      rd_level: optionalOutput(m, 'rd_level', rdLevel),
    };
  },
  {
    name: (p) =>
      `fifo_async_w${p.width}_d${p.depth}` +
      (p.almostFull !== undefined ? `_af${p.almostFull}` : '') +
      (p.levels ? '_lv' : '') +
      (p.outReg === false ? '_direct' : '') +
      (p.syncStages !== undefined && p.syncStages !== 2 ? `_s${p.syncStages}` : ''),
  },
);

/**
 * Asynchronous FIFO between two unrelated clock domains, `wr` (ports `wr_clk`, `wr_rst`) and `rd` (`rd_clk`,
 * `rd_rst`), both resets synchronous and active high. `enq` (in `wr`) accepts while not full; `deq` (in `rd`) is
 * first-word fall-through: it shows the oldest entry with `valid`. Instantiate it with
 * `m.instance('q', AsyncFifo, p, { domains: { wr: a, rd: b } })`.
 *
 * Capacity is exactly `depth` entries; full and empty are seen late by the other side, never early: `enq.ready`
 * may stay low for up to `syncStages + 2` write cycles after room is made, and an entry reaches `deq` within
 * `syncStages + 3` read cycles of its write (one more with `outReg`), after the entries before it. Throughput is
 * one entry per cycle on each side while the FIFO is neither full nor empty; to stream without gaps, make
 * `depth` cover the round trip (about 2 * (syncStages + 2) cycles of the slower clock).
 *
 * Levels (with `levels`), registers, each side's view of the entries held: `wr_level` counts from the read
 * pointer as the write side sees it, so it is never below the true count; `rd_level` counts the writes the read
 * side has seen, so it is never above it. `almost_full` is `wr_level >= almostFull` (a register, early rather
 * than late, as a watermark must be).
 *
 * Reset: both sides, always together; never one alone (its pointer would disagree with the other side's).
 * Assert `rd_rst` no later than `wr_rst` (a read side still running while the write side resets may present
 * stale words); keep each asserted until the other side's reset has crossed, that is for at least
 * `syncStages + 1` cycles of its own clock after the other reset was first seen asserted (simplest: hold both
 * for `syncStages + 2` cycles of the slower clock once both are asserted); release them in either order. The
 * contents are lost, and a write accepted while only the read side is in reset is lost too. During reset
 * `enq.ready` and `deq.valid` are low; `almost_full` is high.
 *
 * The pointers are Gray codes of counters that move by at most one per cycle, the only multi-bit values that
 * cross, through `syncBits(..., { carries: 'gray' })`, which the DSL's checks accept (docs/dsl.md). The RAM
 * never reads a word the other side is writing: a slot is written only after its entry has left, and read only
 * after its write pointer has crossed, so any block-RAM collision mode will do. The implementation flow must
 * constrain the pointer crossings (bus skew, or `set_max_delay -datapath_only` of one read period).
 */
export const AsyncFifo = withDefaults(asyncFifo, (p) =>
  dropDefaults(p, { outReg: true, levels: false, syncStages: 2 }),
);
