// The read engine's completion path (gen/dma/read_engine.ts): completions in, device-memory line writes out,
// one beat per cycle whatever the completions' sizes, tags and order. Six register stages move together
// (one `advance` for all, held only while the memory refuses a write):
//
//   r0  the received beat. On a start-of-packet beat its tag's bookkeeping is looked up (mux trees only).
//   rl  the beat with its tag's bookkeeping: compared with the completion's header.
//   ra  the verdict, and the tag's update in the same cycle; a completion for the same tag right behind it
//       (the very next beat at 512 bits) sees the updated value, forwarded to rl and to r0's lookup.
//   r1  the beat with its completion's verdict (write or drop) and placement (device end, byte count).
//   r2  the beat with its device line, byte shift and byte mask (the requested bytes only).
//   r3  the two-line write (gen/dma/shift.ts placeInWindow): the `mem_wr` port's registers.
//
// The lookup, the compare and the verdict each have a cycle of their own so that none is a long path (the
// project's budget is 9 LUT levels between flip-flops; a 32-way lookup is 4, a 13-bit compare 2-3).
// A completion (2.2.9, 2.3.1.1) is taken when its tag is outstanding, its status is SC, it carries data,
// its Lower Address agrees with the read and its Byte Count equals the bytes still to come for the tag (so
// split completions are taken only in address order, none twice, none after a lost one). Its first payload
// byte is then device byte dev_end - byte_count; the tag's remaining bytes drop by what the payload carries,
// and the completion carrying the rest frees the tag (on its last beat). A completion for no outstanding tag
// (or for a read already ended: its tag expects no more bytes), or out of sequence, is dropped and counted
// (`unexpected`); UR and CA free the tag with that error; a poisoned completion moves
// the tag on but its data is dropped (POISONED). The end of a read (its last completion, or the error that
// ended it) is reported to the command slots (`retire`) only when the completion's last beat has left r3,
// so a command's status never overtakes its data into memory.
import { bit, cat, type Expr, lit, log2ceil, type ModuleBuilder, mux } from '../hdl';
import { DmaError } from '../pcie/dma_common';
import { type BundleOf, type DataWidth, RxError, type tlpRxStream } from '../pcie/streams';
import { CplStatus, tlpFields } from '../pcie/tlp';
import { type lineWrite, lineBytes } from './ports';
import { lookupTag, type ReadTags, type TagInFlight, tagLive } from './read_tags';
import { placeInWindow } from './shift';

export interface CplPathEvents {
  unexpected: Expr;
  ur: Expr;
  ca: Expr;
  poisoned: Expr;
}

export interface CplPath {
  /** The tag update of this cycle (the looked-up tag's new remaining bytes; `closing`: no more are due). */
  update: { en: Expr; tag: Expr; closing: Expr; remaining: Expr };
  /**
   * A tag freed: on the last beat of the completion that ended its read (2.3.2: the tag is the device's
   * until then; the root complex may not see it reused before the completion has been received whole).
   */
  release: { en: Expr; tag: Expr };
  /** An error for a command slot (0: none). */
  err: { code: Expr; slot: Expr };
  /** A read ended: its slot's count of outstanding reads goes down. */
  retire: { en: Expr; slot: Expr };
  ev: CplPathEvents;
  /** The completions before their verdict that may end a read (the completion timeout must wait for them). */
  inFlight: TagInFlight[];
  /** Beats in the pipeline (for idle/busy). */
  busy: Expr;
}

export function completionPath(
  m: ModuleBuilder,
  tags: ReadTags,
  o: {
    W: DataWidth;
    cpl: BundleOf<ReturnType<typeof tlpRxStream>, 'in'>;
    memWr: BundleOf<ReturnType<typeof lineWrite>, 'out'>;
    devBits: number;
  },
): CplPath {
  const { W, cpl, memWr, devBits } = o;
  const T = tags.valid.items.length;
  const tw = log2ceil(T);
  const sw = tags.slotBits;
  const B = lineBytes(W);
  const lb = log2ceil(B);

  // ---- r0: the received beat
  const r0 = {
    valid: m.reg('r0_valid', bit, { reset: 0 }),
    hdr: m.reg('r0_hdr', 128),
    data: m.reg('r0_data', W),
    sop: m.reg('r0_sop', bit),
    eop: m.reg('r0_eop', bit),
    poisoned: m.reg('r0_poisoned', bit),
  };
  const r3Valid = m.reg('r3_valid', bit, { reset: 0 });
  const r3Write = m.reg('r3_write', bit);
  const advance = m.let('advance', r3Valid.and(r3Write).and(memWr.ready.not()).not());
  cpl.ready.set(advance);
  m.if(advance, () => {
    r0.valid.next(cpl.valid);
    r0.hdr.next(cpl.hdr);
    r0.data.next(cpl.data);
    r0.sop.next(cpl.sop);
    r0.eop.next(cpl.eop);
    r0.poisoned.next(cpl.error.eq(RxError.POISONED));
  });

  // ---- r0 -> rl: look up the completion's tag (only a lookup: a mux tree per table, then registers)
  const f = tlpFields(r0.hdr);
  const tag = m.let('cpl_tag', f.cplTag.trunc(tw));
  const inRange = T >= 1024 ? lit(1, 1) : f.cplTag.lt(T);
  const bc = f.byteCount;
  const la = f.lowerAddr;
  const lead = la.bits(1, 0).zext(13);
  const carried = m.let('cpl_carried', cat(f.lengthDw, lit(0, 2)).sub(lead)); // payload bytes from the first requested one
  // Payload byte index just past the last byte to write: the bytes the tag still expects, or the payload.
  const payloadEnd = cat(f.lengthDw, lit(0, 2));
  const wantEnd = lead.add(bc);
  const entry = lookupTag(tags, tag);

  // ra: the beat with its verdict's inputs (declared first: its update is forwarded to the stages before it).
  const ra = {
    valid: m.reg('ra_valid', bit, { reset: 0 }),
    sop: m.reg('ra_sop', bit),
    eop: m.reg('ra_eop', bit),
    data: m.reg('ra_data', W),
    poisoned: m.reg('ra_poisoned', bit),
    tag: m.reg('ra_tag', tw),
    known: m.reg('ra_known', bit),
    inSequence: m.reg('ra_in_sequence', bit),
    laOk: m.reg('ra_la_ok', bit),
    status: m.reg('ra_status', 3),
    hasData: m.reg('ra_has_data', bit),
    isLast: m.reg('ra_is_last', bit),
    updates: m.reg('ra_updates', bit), // the verdict will update the tag's remaining bytes
    updateTo: m.reg('ra_update_to', 13), // to this
    closes: m.reg('ra_closes', bit), // to 0: the read ends
    devEnd: m.reg('ra_dev_end', devBits),
    slot: m.reg('ra_slot', sw),
    back: m.reg('ra_back', 14), // byte count + lead: from the payload's first byte back from the read's end
    lead: m.reg('ra_lead', 2),
    writeEnd: m.reg('ra_write_end', 13),
  };
  // The verdict on the completion in ra updates its tag's remaining bytes at the end of this cycle: a
  // completion for the same tag behind it (the very next beat at 512 bits, where a 64-byte completion is one
  // beat) must see that update, in rl (compared now) as in r0 (looked up now, compared next cycle).
  const raUpdates = (t: Expr) => ra.valid.and(ra.sop).and(ra.updates).and(ra.tag.eq(t));

  const rl = {
    valid: m.reg('rl_valid', bit, { reset: 0 }),
    sop: m.reg('rl_sop', bit),
    eop: m.reg('rl_eop', bit),
    data: m.reg('rl_data', W),
    poisoned: m.reg('rl_poisoned', bit),
    tag: m.reg('rl_tag', tw),
    live: m.reg('rl_live', bit), // the tag is outstanding and not timing out
    // its bytes still to come (0: its read is ending): the read's size while no completion has been taken (fresh)
    fresh: m.reg('rl_fresh', bit),
    size: m.reg('rl_size', 13),
    taken: m.reg('rl_taken', 13),
    hostEnd: m.reg('rl_host_end', 7),
    devEnd: m.reg('rl_dev_end', devBits),
    slot: m.reg('rl_slot', sw),
    bc: m.reg('rl_byte_count', 13),
    laEnd: m.reg('rl_la_end', 7), // Lower Address + Byte Count: the read's host end, if the completion agrees
    status: m.reg('rl_status', 3),
    hasData: m.reg('rl_has_data', bit),
    isLast: m.reg('rl_is_last', bit),
    rest: m.reg('rl_rest', 13), // bytes still due after this completion, when it is not the last
    back: m.reg('rl_back', 14),
    lead: m.reg('rl_lead', 2),
    writeEnd: m.reg('rl_write_end', 13),
    // The completion ahead (in ra when this one is in rl: the stages move together) is for the same tag.
    sameAsAhead: m.reg('rl_same_as_ahead', bit),
    // Its Byte Count equals the bytes the completion ahead leaves due (`rest`, compared a cycle early: comparing
    // with ra_update_to in rl made the forwarded in-sequence check 10 LUT levels).
    bcIsAheadRest: m.reg('rl_bc_is_ahead_rest', bit),
  };
  m.if(advance, () => {
    rl.valid.next(r0.valid);
    rl.sop.next(r0.sop);
    rl.eop.next(r0.eop);
    rl.data.next(r0.data);
    rl.poisoned.next(r0.poisoned);
    rl.tag.next(tag);
    rl.sameAsAhead.next(rl.valid.and(rl.sop).and(rl.tag.eq(tag)));
    rl.bcIsAheadRest.next(bc.eq(rl.rest));
    // Outstanding and not timing out (the timeout frees it: a completion now is one too late).
    rl.live.next(inRange.and(tagLive(tags, tag)));
    rl.fresh.next(raUpdates(tag).not().and(entry.fresh));
    rl.size.next(entry.size);
    rl.taken.next(mux(raUpdates(tag), ra.updateTo, entry.remaining));
    rl.hostEnd.next(entry.hostEnd);
    rl.devEnd.next(entry.devEnd);
    rl.slot.next(entry.slot);
    rl.bc.next(bc);
    rl.laEnd.next(la.add(bc.bits(6, 0)));
    rl.status.next(f.cplStatus);
    rl.hasData.next(f.hasData);
    rl.isLast.next(bc.le(carried));
    rl.rest.next(bc.sub(carried));
    rl.back.next(bc.zext(14).add(la.bits(1, 0).zext(14)));
    rl.lead.next(la.bits(1, 0));
    rl.writeEnd.next(mux(wantEnd.lt(payloadEnd), wantEnd, payloadEnd));
  });

  // ---- rl -> ra: compare, on the completion's first beat. The completion is in sequence when its Byte Count
  // equals the bytes its tag still expects; its Lower Address agrees when it is the read's host end minus the
  // Byte Count (2.2.9). Whether ra updates the tag and to what are decided here, a cycle before the verdict,
  // from the header and the lookups alone: it updates when its tag is known and it is in sequence or an error
  // (which ends the read); a read that ends expects nothing more: 0 bytes, which no Byte Count (1..4096)
  // matches, and a tag expecting nothing is not known (its read has ended; the tag is freed on the last beat).
  const fwd = m.let('cpl_forward', rl.sameAsAhead.and(ra.valid).and(ra.sop).and(ra.updates));
  const statusErr = rl.status.ne(CplStatus.SC);
  const laOk = m.let('cpl_la_ok', rl.hostEnd.eq(rl.laEnd));
  const dataErr = rl.hasData.not().or(laOk.not());
  const remaining = m.let('rl_remaining', mux(rl.fresh, rl.size, rl.taken));
  const expecting = mux(fwd, ra.closes.not(), remaining.ne(0));
  const known = m.let('cpl_known', rl.live.and(expecting));
  // Forwarded: ra updates the tag to 0 when it closes the read (no Byte Count is 0), else to what it leaves due.
  const inSequence = m.let('cpl_in_sequence', mux(fwd, ra.closes.not().and(rl.bcIsAheadRest), rl.bc.eq(remaining)));
  const closes = statusErr.or(dataErr).or(rl.isLast);
  m.if(advance, () => {
    ra.valid.next(rl.valid);
    ra.sop.next(rl.sop);
    ra.eop.next(rl.eop);
    ra.data.next(rl.data);
    ra.poisoned.next(rl.poisoned);
    ra.tag.next(rl.tag);
    ra.known.next(known);
    ra.inSequence.next(inSequence);
    ra.laOk.next(laOk);
    ra.status.next(rl.status);
    ra.hasData.next(rl.hasData);
    ra.isLast.next(rl.isLast);
    ra.updates.next(known.and(statusErr.or(dataErr).or(inSequence)));
    ra.updateTo.next(mux(closes, lit(0, 13), rl.rest));
    ra.closes.next(closes);
    ra.devEnd.next(rl.devEnd);
    ra.slot.next(rl.slot);
    ra.back.next(rl.back);
    ra.lead.next(rl.lead);
    ra.writeEnd.next(rl.writeEnd);
  });

  // ---- ra -> r1: the verdict, on the completion's first beat
  const start = m.let('cpl_start', advance.and(ra.valid).and(ra.sop));
  const status = ra.status;
  const verdict = {
    write: m.wire('cpl_write', bit, { default: 0 }),
    ends: m.wire('cpl_ends_read', bit, { default: 0 }), // the read ends with this completion
    update: m.wire('cpl_update', bit, { default: 0 }),
    free: m.wire('cpl_free', bit, { default: 0 }),
    err: m.wire('cpl_err', 3, { default: 0 }),
    unexpected: m.wire('cpl_unexpected', bit, { default: 0 }),
  };
  m.if(ra.known.not(), () => verdict.unexpected.set(1))
    .elseIf(status.ne(CplStatus.SC), () => {
      verdict.update.set(1);
      verdict.free.set(1);
      verdict.ends.set(1);
      verdict.err.set(
        mux(
          status.eq(CplStatus.UR),
          lit(DmaError.UNSUPPORTED_REQUEST, 3),
          mux(status.eq(CplStatus.CA), lit(DmaError.COMPLETER_ABORT, 3), lit(DmaError.BAD_COMPLETION, 3)),
        ),
      );
    })
    .elseIf(ra.hasData.not().or(ra.laOk.not()), () => {
      verdict.update.set(1);
      verdict.free.set(1);
      verdict.ends.set(1);
      verdict.err.set(DmaError.BAD_COMPLETION);
    })
    .elseIf(ra.inSequence.not(), () => verdict.unexpected.set(1))
    .else(() => {
      verdict.update.set(1);
      verdict.free.set(ra.isLast);
      verdict.ends.set(ra.isLast);
      m.if(ra.poisoned, () => verdict.err.set(DmaError.POISONED)).else(() => verdict.write.set(1));
    });

  // The verdict of the completion whose beats are passing (kept from its first beat).
  const held = {
    write: m.reg('cpl_held_write', bit),
    ends: m.reg('cpl_held_ends', bit),
    free: m.reg('cpl_held_free', bit),
    slot: m.reg('cpl_held_slot', sw),
    tag: m.reg('cpl_held_tag', tw),
  };
  m.if(start, () => {
    held.write.next(verdict.write);
    held.ends.next(verdict.ends);
    held.free.next(verdict.free);
    held.slot.next(ra.slot);
    held.tag.next(ra.tag);
  });
  const beatWrite = mux(ra.sop, verdict.write, held.write);
  const beatEnds = mux(ra.sop, verdict.ends, held.ends);
  const beatSlot = mux(ra.sop, ra.slot, held.slot);

  const r1 = {
    valid: m.reg('r1_valid', bit, { reset: 0 }),
    sop: m.reg('r1_sop', bit),
    data: m.reg('r1_data', W),
    write: m.reg('r1_write', bit),
    retire: m.reg('r1_retire', bit),
    slot: m.reg('r1_slot', sw),
    devEnd: m.reg('r1_dev_end', devBits),
    back: m.reg('r1_back', 14), // byte count + lead: from the payload's first byte back from the read's end
    lead: m.reg('r1_lead', 2),
    writeEnd: m.reg('r1_write_end', 13),
  };
  m.if(advance, () => {
    r1.valid.next(ra.valid);
    r1.sop.next(ra.sop);
    r1.data.next(ra.data);
    r1.write.next(beatWrite);
    r1.retire.next(beatEnds.and(ra.eop));
    r1.slot.next(beatSlot);
    r1.devEnd.next(ra.devEnd);
    r1.back.next(ra.back);
    r1.lead.next(ra.lead);
    r1.writeEnd.next(ra.writeEnd);
  });

  // ---- r1 -> r2: device line, shift and byte mask of each beat
  const first = m.let('beat_first_byte', r1.devEnd.sub(r1.back.zext(Math.max(devBits, 14)).trunc(devBits))); // payload byte 0
  const line = m.reg('beat_line', devBits - lb);
  const shift = m.reg('beat_shift', lb);
  const left = m.reg('beat_left', 13); // payload bytes to write from this beat's first byte on
  const curLine = mux(r1.sop, first.bits(devBits - 1, lb), line);
  const curShift = mux(r1.sop, first.bits(lb - 1, 0), shift);
  const curLeft = mux(r1.sop, r1.writeEnd, left);
  const skip = mux(r1.sop, r1.lead, lit(0, 2));
  const full = curLeft.bits(12, lb).orR();
  const part = curLeft.bits(lb - 1, 0);
  const maskBits: Expr[] = [];
  for (let j = 0; j < B; j++) {
    const below = full.or(part.gt(j));
    maskBits.unshift(j < 4 ? below.and(skip.le(j)) : below);
  }
  m.if(advance.and(r1.valid), () => {
    line.next(curLine.add(1));
    shift.next(curShift);
    left.next(full.select(curLeft.sub(B), lit(0, 13)));
  });
  const r2 = {
    valid: m.reg('r2_valid', bit, { reset: 0 }),
    data: m.reg('r2_data', W),
    mask: m.reg('r2_mask', B),
    line: m.reg('r2_line', devBits - lb),
    shift: m.reg('r2_shift', lb),
    write: m.reg('r2_write', bit),
    retire: m.reg('r2_retire', bit),
    slot: m.reg('r2_slot', sw),
  };
  m.if(advance, () => {
    r2.valid.next(r1.valid);
    r2.data.next(r1.data);
    r2.mask.next(cat(...maskBits));
    r2.line.next(curLine);
    r2.shift.next(curShift);
    r2.write.next(r1.write);
    r2.retire.next(r1.retire);
    r2.slot.next(r1.slot);
  });

  // ---- r2 -> r3: the beat placed in its two-line window
  const placed = placeInWindow(r2.data, r2.mask, r2.shift);
  const r3 = {
    addr: m.reg('r3_addr', devBits - lb),
    data: m.reg('r3_data', W), // both lines' bytes (placeInWindow)
    be: m.reg('r3_be', (2 * W) / 8),
    retire: m.reg('r3_retire', bit),
    slot: m.reg('r3_slot', sw),
  };
  m.if(advance, () => {
    r3Valid.next(r2.valid);
    r3Write.next(r2.write.and(r2.mask.orR()));
    r3.addr.next(r2.line);
    r3.data.next(placed.data);
    r3.be.next(placed.be);
    r3.retire.next(r2.retire);
    r3.slot.next(r2.slot);
  });
  memWr.valid.set(r3Valid.and(r3Write));
  memWr.addr.set(r3.addr);
  memWr.data.set(cat(r3.data, r3.data));
  memWr.be.set(r3.be);

  return {
    update: { en: start.and(verdict.update), tag: ra.tag, closing: verdict.free, remaining: ra.updateTo },
    release: {
      en: advance
        .and(ra.valid)
        .and(ra.eop)
        .and(mux(ra.sop, verdict.free, held.free)),
      tag: mux(ra.sop, ra.tag, held.tag),
    },
    err: { code: mux(start, verdict.err, lit(0, 3)), slot: ra.slot },
    retire: { en: advance.and(r3Valid).and(r3.retire), slot: r3.slot },
    ev: {
      unexpected: start.and(verdict.unexpected),
      ur: start.and(verdict.err.eq(DmaError.UNSUPPORTED_REQUEST)),
      ca: start.and(verdict.err.eq(DmaError.COMPLETER_ABORT)),
      poisoned: start.and(verdict.err.eq(DmaError.POISONED)),
    },
    inFlight: [
      { valid: rl.valid.and(rl.sop).and(rl.live), tag: rl.tag },
      { valid: ra.valid.and(ra.sop).and(ra.known), tag: ra.tag },
    ],
    busy: r0.valid.or(rl.valid).or(ra.valid).or(r1.valid).or(r2.valid).or(r3Valid),
  };
}
