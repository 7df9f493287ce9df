// The virtio-blk device's side of the DMA read engine's writes (gen/blk/device.ts): the capture registers
// (headers and discard segments), the staging buffers (an OUT's data read ahead), the storage window's writes
// (and the zeroing and staging copies that share them), and the failed storage writes found their request.
import { bit, bitsFor, cat, type Expr, lit, log2ceil, type ModuleBuilder, mux } from '../hdl';
import { BLK_HDR_SIZE } from './defs';
import type { BlkBack, BlkIo, BlkSlots, BlkStatuses } from './device';
import type { BlkFront } from './front';
import type { BlkCore } from './params';

// ---- scratch capture (the read engine's writes into the upper half: the capture registers, with staging the
// staging buffers) and the headers' byte counts (a header is done when all 16 bytes have come). The storage
// writes (storageWrites, below) share this part's routing of an access's two lines (`wh`) and its data in word
// order (`wordData`). The two lines of an access are routed one by one: an access starts up to 3 bytes before its first byte (the dword the
// host address is in), so one may straddle the storage window's end and the scratch's start, or (wrapping)
// the scratch's end and the storage's line 0.
export function scratchWrites(m: ModuleBuilder, bc: BlkCore, io: BlkIo, s: BlkSlots, front: BlkFront) {
  const { g, B, lb, lineBits, W, S, sb, stage, atSlot } = bc;
  const { memWr } = io;
  const { hdrDone, fHead } = s;
  const { fStored } = front;
  const halves = (addr: Expr) => {
    const hi = addr.add(1).trunc(lineBits);
    return {
      loScratch: addr.bit(lineBits - 1),
      hiScratch: hi.bit(lineBits - 1),
      loK: addr.bits(lineBits - 2, 0),
      hiK: hi.bits(lineBits - 2, 0),
    };
  };
  const wh = halves(memWr.addr);
  // The access's lines in word order (its even line in the low half, its odd line in the high half), swapped once
  // (a LUT per bit) for every user: the staging banks (even and odd lines), the capture register (whose lines have
  // a fixed parity) and the storage port (LineAxi takes word order).
  const wrOdd = memWr.addr.bit(0);
  const wordData = m.let(
    'mem_wr_words',
    mux(wrOdd, cat(memWr.data.bits(W - 1, 0), memWr.data.bits(2 * W - 1, W)), memWr.data),
  );
  // The capture registers: one 16-byte word per slot in a LUT RAM with byte enables. A slot's scratch is at
  // least two lines, so an access reaches at most one slot's capture bytes (at 64 bits, lines 0 and 1 of one
  // slot at most).
  const capture = m.memory('capture', { width: 8 * BLK_HDR_SIZE, depth: S });
  const slotLineBits = g.strideBits - lb;
  const capLines = Math.ceil(BLK_HDR_SIZE / B);
  // A scratch line index as slot and line in the slot; lines past the last slot's scratch are no slot's.
  const inSlots = (k: Expr) => {
    const top = sb + slotLineBits;
    const above = top < k.width ? k.bits(k.width - 1, top).eq(0) : lit(1, 1);
    return 2 ** sb === S ? above : above.and(k.bits(top - 1, slotLineBits).lt(S));
  };
  // With staging: a line of the region's upper quarter as slot and line in the slot's 2 x stage bytes (the
  // capture register just below the middle, the staging buffer above it).
  const strideLines = stage ? log2ceil((2 * stage) / B) : 0;
  const halfLines = stage / B;
  const stageArea = (scratch: Expr, k: Expr) => {
    const kk = k.bits(lineBits - 3, 0);
    const top = sb + strideLines;
    const above = top < kk.width ? kk.bits(kk.width - 1, top).eq(0) : lit(1, 1);
    const slot = kk.bits(top - 1, strideLines);
    const ok = scratch.and(k.bit(lineBits - 2)).and(2 ** sb === S ? above : above.and(slot.lt(S)));
    return { slot, lin: kk.bits(strideLines - 1, 0), ok };
  };
  const capHalf = (scratch: Expr, k: Expr) => {
    if (stage) {
      const a = stageArea(scratch, k);
      const cl = log2ceil(capLines);
      const hit = a.ok.and(a.lin.bits(strideLines - 1, cl).eq((halfLines - capLines) >> cl));
      return { slot: a.slot, lis: capLines === 1 ? lit(0, 1) : a.lin.bit(0), hit };
    }
    const lis = k.bits(slotLineBits - 1, 0);
    const slot = k.bits(sb + slotLineBits - 1, slotLineBits);
    return { slot, lis, hit: scratch.and(lis.lt(capLines)).and(inSlots(k)) };
  };
  const cLo = capHalf(wh.loScratch, wh.loK);
  const cHi = capHalf(wh.hiScratch, wh.hiK);
  const capBytes: Expr[] = [];
  const capStrb: Expr[] = [];
  // The capture register's first byte in its first line.
  const capOff = stage ? (stage - BLK_HDR_SIZE) % B : 0;
  // The capture register's lines have a fixed parity (its first line's index in a slot's scratch is fixed and a
  // slot's scratch is an even number of lines), so each byte is one lane of the word-order data: no select.
  const capLine0 = stage ? halfLines - capLines : 0;
  for (let i = BLK_HDR_SIZE - 1; i >= 0; i--) {
    const c = Math.floor((capOff + i) / B);
    const lane = (capOff + i) % B;
    const selLo = cLo.hit.and(cLo.lis.eq(c));
    const selHi = cHi.hit.and(cHi.lis.eq(c));
    const at = 8 * (((capLine0 + c) % 2) * B + lane);
    capBytes.push(wordData.bits(at + 7, at));
    capStrb.push(selLo.and(memWr.be.bit(lane)).or(selHi.and(memWr.be.bit(B + lane))));
  }
  const capSlot = mux(cLo.hit, cLo.slot, cHi.slot);
  const capWe = memWr.valid.and(memWr.ready).and(cLo.hit.or(cHi.hit));
  capture.write(capSlot, cat(...capBytes), capWe, cat(...capStrb));

  // The staging buffers (block RAM): even lines in bank 0, odd lines in bank 1, so an access's two lines are one
  // write per bank (as gen/dma/ram.ts), and a copy reads a storage word (two lines) from both at one row.
  const stageRowBits = stage ? log2ceil(halfLines / 2) : 0;
  const stageBanks = stage
    ? [0, 1].map((b) => m.memory(`stage_bank${b}`, { width: W, depth: 2 ** (sb + stageRowBits) }))
    : [];
  if (stage) {
    const sHalf = (scratch: Expr, k: Expr) => {
      const a = stageArea(scratch, k);
      return { row: cat(a.slot, a.lin.bits(strideLines - 2, 1)), hit: a.ok.and(a.lin.bit(strideLines - 1)) };
    };
    const sLo = sHalf(wh.loScratch, wh.loK);
    const sHi = sHalf(wh.hiScratch, wh.hiK);
    stageBanks.forEach((bank, b) => {
      const useLo = b === 0 ? wrOdd.not() : wrOdd;
      const be = mux(useLo, memWr.be.bits(B - 1, 0), memWr.be.bits(2 * B - 1, B));
      bank.write(
        mux(useLo, sLo.row, sHi.row),
        wordData.bits(W * b + W - 1, W * b),
        memWr.valid.and(memWr.ready).and(mux(useLo, sLo.hit, sHi.hit)),
        { strb: be },
      );
    });
  }
  // The capture bytes each slot's header has received (registered a cycle after the write, with the slot
  // decoded); the header is done once all 16 have. Cleared when the front end stores a chain that needs a header
  // (hdr_done is cleared with them, so a full mask always has hdr_done set); a discard segment's bytes later only
  // set bits already set.
  // Counted rather than kept as a byte mask (a count per slot, one shared adder: the mask cost a LUT per byte per
  // slot): the read engine writes each byte of a header read once, and once the header is done nothing is added
  // (a discard segment's bytes later go into a done slot).
  const capSelQ = m.regArray('cap_sel_q', S, bit, { reset: 0 });
  const capSlotQ = m.reg('cap_slot_q', sb);
  const capStrbQ = m.reg('cap_strb_q', BLK_HDR_SIZE);
  capSelQ.items.forEach((sel, k) => sel.next(capWe.and(capSlot.eq(k))));
  capSlotQ.next(capSlot);
  capStrbQ.next(cat(...capStrb));
  const cb = bitsFor(BLK_HDR_SIZE);
  let ones: Expr[] = Array.from({ length: BLK_HDR_SIZE }, (_, i) => capStrbQ.bit(i));
  for (let w = 1; ones.length > 1; w++) {
    const pairs: Expr[] = [];
    for (let i = 0; i < ones.length; i += 2)
      pairs.push(i + 1 < ones.length ? ones[i].zext(w + 1).add(ones[i + 1].zext(w + 1)) : ones[i].zext(w + 1));
    ones = pairs;
  }
  const hdrCount = m.regArray('hdr_count', S, cb, { reset: 0 });
  const hdrSum = m.let('hdr_sum', atSlot(hdrCount, capSlotQ).add(ones[0].zext(cb)));
  const hdrFull = hdrSum.eq(BLK_HDR_SIZE);
  hdrCount.items.forEach((count, k) => {
    m.if(fStored.and(fHead.eq(k)), () => count.next(0)).elseIf(capSelQ.items[k].and(hdrDone.items[k].not()), () => {
      count.next(hdrSum);
      m.if(hdrFull, () => hdrDone.items[k].next(1));
    });
  });
  // The back end's slot's capture register, registered before anything looks at it.
  const cap = m.reg('cap', 8 * BLK_HDR_SIZE);
  const capField = (lo: number, n: number) => cap.bits(8 * (lo + n) - 1, 8 * lo);
  return { wh, wordData, inSlots, slotLineBits, capture, stageBanks, stageRowBits, cap, capField };
}
export type BlkScratch = ReturnType<typeof scratchWrites>;

// ---- storage writes: the read engine's writes into the storage window (OUT data), a zeroing request's writes and a
// staged OUT's copy, which take turns on LineAxi's write port; with the write port's ready (`mem_wr.ready`).
export function storageWrites(
  m: ModuleBuilder,
  bc: BlkCore,
  io: BlkIo,
  s: BlkSlots,
  back: BlkBack,
  scratch: BlkScratch,
  stats: BlkStatuses,
) {
  const { B, lineBits, W, stage } = bc;
  const { memWr, la } = io;
  const { bHead } = s;
  const { st } = back;
  const { wh, wordData, stageBanks, stageRowBits } = scratch;
  const { rdQuiet } = stats;
  // Zeroing (DISCARD / WRITE_ZEROES) has the storage write path to itself (no DMA is moving then).
  const zeroing = st.is('zero');
  const zLine = m.reg('zero_line', lineBits - 1);
  const zLeft = m.reg('zero_left', 40);
  // No zeroing write left (registered: zero_left reaching 0 is seen a cycle ahead).
  const zDone = m.reg('zero_done', bit, { reset: 1 });
  const wrStorage = wh.loScratch.and(wh.hiScratch).not();
  const storageBe = cat(
    mux(wh.hiScratch, lit(0, B), memWr.be.bits(2 * B - 1, B)),
    mux(wh.loScratch, lit(0, B), memWr.be.bits(B - 1, 0)),
  );
  // Copying a staging buffer to storage (a read-ahead OUT) has it too: it starts once no back-end read is
  // outstanding, so no DMA write into the storage window can come meanwhile (the front end's reads go to the
  // capture registers and staging buffers). `zero_line` is the copy's storage line as well.
  const copying = stage ? st.is('copy') : lit(0, 1);
  const cpValid = m.reg('copy_valid', bit, { reset: 0 });
  const cpRow = m.reg('copy_row', Math.max(1, stageRowBits));
  const cpLeft = m.reg('copy_left', stageRowBits + 1, { reset: 0 });
  // The next word is read when the one on the banks' outputs is taken (a read enable holds it meanwhile): the
  // storage port takes it as it is (`cp`, once its queue is empty), so it needs no select in front of the queue.
  const cpAdvance = cpValid.not().or(la.cp.ready);
  const cpEn = copying.and(cpAdvance).and(cpLeft.ne(0)).and(rdQuiet);
  const cpWord = stage
    ? cat(...stageBanks.map((b) => b.readSync(cat(bHead, cpRow.trunc(stageRowBits)), { en: cpEn })).reverse())
    : undefined;
  // A storage-window write cannot come while copying (the copy starts once no back-end read is outstanding).
  la.wr.valid.set(mux(zeroing, zDone.not(), memWr.valid.and(wrStorage)));
  la.wr.addr.set(mux(zeroing, zLine, memWr.addr.trunc(lineBits - 1)));
  // A zeroing write's data is ignored (LineAxi writes zeroes for `wr_zero`).
  la.wr.data.set(wordData);
  la.wr.be.set(mux(zeroing, lit((1n << BigInt(2 * B)) - 1n, 2 * B), storageBe));
  la.cp.valid.set(cpValid);
  la.cp.data.set(cpWord ?? lit(0, 2 * W));
  la.cp_word.set(zLine.bits(lineBits - 2, 1));
  // Ready from registers only, whatever the access (a scratch write also waits while the storage queue is full or
  // zeroing runs): the read engine's stall logic sits behind this ready, so the address's route through the
  // fabric and the halves' decode stay out of that path.
  memWr.ready.set(zeroing.not().and(la.wr.ready));
  la.wr_zero.set(zeroing);
  return { zLine, zLeft, zDone, cpValid, cpRow, cpLeft, cpAdvance, cpEn };
}
export type BlkStorageWrites = ReturnType<typeof storageWrites>;

// ---- failed storage writes (a B response other than OKAY), found their request. A zeroing write's (tagged
// `wr_zero`) is the zeroing request's, which waits for its writes' answers. Any other is an OUT's data: the
// word is looked up in the storage ranges of the OUTs whose writes may be outstanding (`out_active`, from the
// data's issue until the status stage has passed the slot's fence), one slot a cycle while B is held, and
// every slot whose range holds it fails (two OUTs in flight whose ranges overlap both do). The status stage's
// fence waits for the lookup, so a request's status sees every failure of its writes.
export function storageErrors(m: ModuleBuilder, bc: BlkCore, io: BlkIo, s: BlkSlots) {
  const { lineBits, S, sb, atSlot, advanceSlot } = bc;
  const { la } = io;
  const { sErr } = s;
  const wordBits = lineBits - 2; // a storage word (2W bits) index: the storage window is the region's lower half
  const outRange = m.memory('out_range', { width: 2 * wordBits + 1, depth: S });
  const outActive = m.regArray('out_active', S, bit, { reset: 0 });
  const outStart = m.wire('out_start', bit);
  outStart.set(0);
  const scanBusy = m.reg('scan_busy', bit, { reset: 0 });
  const scanSlot = m.reg('scan_slot', sb, { reset: 0 });
  const scanWord = m.reg('scan_word', wordBits);
  const scanIdle = scanBusy.not();
  la.b_ready.set(scanIdle);
  const zErr = m.reg('zero_error', bit, { reset: 0 });
  m.if(la.werr.and(la.werr_zero), () => zErr.next(1));
  const range = outRange.readAsync(scanSlot);
  const inOutRange = scanWord
    .ge(range.bits(wordBits - 1, 0))
    .and(scanWord.zext(wordBits + 1).lt(range.bits(2 * wordBits, wordBits)));
  m.if(scanBusy, () => {
    m.if(atSlot(outActive, scanSlot).and(inOutRange), () => sErr.nextAt(scanSlot, 1));
    scanSlot.next(advanceSlot(scanSlot));
    m.if(scanSlot.eq(S - 1), () => scanBusy.next(0));
  }).elseIf(la.werr.and(la.werr_zero.not()), () => {
    scanBusy.next(1);
    scanSlot.next(0);
    scanWord.next(la.werr_word);
  });
  return { wordBits, outRange, outActive, outStart, scanIdle, zErr };
}
export type BlkStorageErrors = ReturnType<typeof storageErrors>;
