// The virtio-blk device's back end (gen/blk/device.ts): each slot's request, in slot order, decided and carried
// out (data moved by the back end's walker, discard and write-zeroes segments checked and zeroed, a staged OUT
// copied to storage), then handed to the status stage.
import { bit, bitsFor, cat, type Expr, lit, type ModuleBuilder, mux } from '../hdl';
import { featureDef } from '../virtio/regmap';
import { BLK_HDR_SIZE, BLK_ID_BYTES, BLK_S, BLK_T } from './defs';
import type { BlkBack, BlkCommands, BlkIo, BlkSlots, BlkStatuses } from './device';
import { BLK_SCRATCH, type BlkCore, type BlkSegLimits } from './params';
import type { BlkScratch, BlkStorageErrors, BlkStorageWrites } from './scratch';

const FLUSH_BIT = featureDef('VIRTIO_BLK_F_FLUSH', 'blk').bit;
const DISCARD_BIT = featureDef('VIRTIO_BLK_F_DISCARD', 'blk').bit;
const WRITE_ZEROES_BIT = featureDef('VIRTIO_BLK_F_WRITE_ZEROES', 'blk').bit;

// ---- the request: the back end's registers and decision helpers (requestState), then its state machine's arms in
// four groups, each a function that returns its arms (intake, decision, segments, storage moves); the module's one
// switch over the back end's state takes them in this order, which is the order of the generated `case` arms.
export function backEndRequest(
  m: ModuleBuilder,
  bc: BlkCore,
  io: BlkIo,
  s: BlkSlots,
  back: BlkBack,
  cmds: BlkCommands,
  stats: BlkStatuses,
  scratch: BlkScratch,
  writes: BlkStorageWrites,
  errs: BlkStorageErrors,
) {
  const x: BackEndParts = { io, s, back, cmds, stats, scratch, writes, errs };
  const r = requestState(m, bc, x);
  back.st.switch({
    ...intakeArms(m, bc, x, r),
    ...decisionArms(m, bc, x, r),
    ...segmentArms(m, bc, x, r),
    ...storageArms(m, bc, x, r),
  });
}

/** The device's parts the request uses (gen/blk/device.ts builds them before it). */
interface BackEndParts {
  io: BlkIo;
  s: BlkSlots;
  back: BlkBack;
  cmds: BlkCommands;
  stats: BlkStatuses;
  scratch: BlkScratch;
  writes: BlkStorageWrites;
  errs: BlkStorageErrors;
}

/** Arms of the back end's state machine (its `switch`). */
type RequestArms = Parameters<BlkBack['st']['switch']>[0];

// The request's registers (what the decisions are made from, each registered one step before it is used) and the
// helpers the arms share: `finish` (a status and the bytes written, to the status stage), the range check, and
// `blockNow` (whether the request must wait for earlier ones to take effect).
function requestState(m: ModuleBuilder, bc: BlkCore, x: BackEndParts) {
  const { io, s, back, cmds, stats, scratch, errs } = x;
  const { p, lb, N } = bc;
  const { features, evBad, la } = io;
  const { statusBytes, bHead } = s;
  const { st, bw, bStaged } = back;
  const { sst, stQ, sSlot, bStatus, bStatusWrite, fenceIoerr } = cmds;
  const { rdQuiet, wrOut, rdIssued } = stats;
  const { capture } = scratch;
  const { wordBits, outRange, outStart } = errs;
  const written = m.reg('written', N);
  const isDiscard = m.reg('is_discard', bit);
  const segIdx = m.reg('seg_idx', 9);
  const segCount = m.reg('seg_count', 9);
  const segPass2 = m.reg('seg_pass2', bit);
  const dmaIdle = m.let('dma_idle', bw.walking.not().and(rdQuiet).and(wrOut.eq(0)));
  // sector <= capacity and n <= capacity - sector (no wrap), as: the sector's bits above the capacity's are 0 and
  // sector + n <= capacity in a sum wide enough not to wrap (a 64-bit subtract and compare is twice the LUTs and
  // levels; the capacity is at most 2^38 sectors).
  const capBits = bitsFor(p.capacity);
  const inRange = (sector: Expr, n: Expr) => {
    const w = Math.max(capBits, n.width) + 1;
    const sum = sector.trunc(capBits).zext(w).add(n.zext(w));
    return sector
      .bits(63, capBits)
      .eq(0)
      .and(sum.le(lit(BigInt(p.capacity), w)));
  };
  // The back end's status byte goes into the slot's register a cycle later (it is read only once the request
  // has left the back end), so the decisions do not drive every slot's status register.
  bStatusWrite.next(0);
  statusBytes.write(
    mux(bStatusWrite, bHead, sSlot),
    mux(bStatusWrite, bStatus, lit(BLK_S.IOERR, 8)),
    bStatusWrite.or(fenceIoerr),
  );
  const setStatus = (v: number | Expr) => {
    bStatus.next(v);
    bStatusWrite.next(1);
  };
  const fence = m.reg('fence', bit);
  const finish = (status: number | Expr, n: Expr | number) => {
    setStatus(status);
    written.next(n);
    fence.next(1);
    st.goto('post');
  };
  const negotiated = (b: number) => features.bit(b);
  stQ.enq.valid.set(0);
  stQ.enq.data.set(cat(bHead, lit(0, 1), fence, written.trunc(32).add(1), rdIssued));
  evBad.set(0);
  const capRead = capture.readAsync(bHead);

  // The decode's inputs, each registered one step before it is used: the data byte counts (check), then from
  // the header the request type's class and every comparison the decision needs (prep).
  const outData = m.reg('out_data', N); // readable bytes after the header
  const inData = m.reg('in_data', N); // writable bytes before the status byte
  const flag = (name: string) => m.reg(name, bit);
  const tIn = flag('t_in');
  const tOut = flag('t_out');
  const tFlush = flag('t_flush');
  const tGetId = flag('t_get_id');
  const tDiscard = flag('t_discard');
  const tWz = flag('t_write_zeroes');
  const ioBad = flag('io_bad');
  const dwzBad = flag('dwz_bad');
  const dwzTooMany = flag('dwz_too_many');
  const storageOff = m.reg('storage_off', p.devBits - 1);
  const idLen = m.reg('id_len', N);
  const segUnsupp = flag('seg_unsupp');
  const segIoerr = flag('seg_ioerr');
  const segLast = flag('seg_last');
  const segEmpty = flag('seg_empty');
  const idBad = flag('id_bad');
  // Requests take effect in order. A request that writes storage waits until the reads of storage before it
  // (earlier requests' data on its way to the host through the write engine) have ended; one that reads
  // storage waits for every storage write before it (OUT data still coming). Registered: while the back end
  // is in prep and decode it issues nothing, so what it waits for only ends, and a value a cycle old is safe.
  const blocked = flag('blocked');
  const wordShift = lb + 1;
  const outFirst = storageOff.bits(p.devBits - 2, wordShift);
  outRange.write(
    bHead,
    cat(outFirst.zext(wordBits + 1).add(outData.bits(wordBits + wordShift, wordShift)), outFirst),
    outStart,
  );
  // One that writes host memory from the device (IN, GET_ID) waits for the status stage to be empty, so that
  // an IN's status write follows its data with nothing between (how a storage read error finds its request).
  const stageBusy = stQ.deq.valid.or(sst.is('idle').not());
  const mustWait = (reads: Expr, writes: Expr, hostWrites: Expr) =>
    writes
      .and(wrOut.ne(0))
      .or(reads.and(rdQuiet.not().or(la.wr_pending)))
      .or(hostWrites.and(stageBusy));

  // A read-ahead OUT's copy also waits until no back-end read is outstanding (no DMA write into the storage
  // window can come while the copy has the storage write path).
  const blockNow = mustWait(tIn, tOut.or(tDiscard).or(tWz), tIn.or(tGetId)).or(tOut.and(bStaged).and(rdQuiet.not()));
  return {
    written,
    isDiscard,
    segIdx,
    segCount,
    segPass2,
    dmaIdle,
    inRange,
    setStatus,
    fence,
    finish,
    negotiated,
    capRead,
    outData,
    inData,
    tIn,
    tOut,
    tFlush,
    tGetId,
    tDiscard,
    tWz,
    ioBad,
    dwzBad,
    dwzTooMany,
    storageOff,
    idLen,
    segUnsupp,
    segIoerr,
    segLast,
    segEmpty,
    idBad,
    blocked,
    blockNow,
  };
}
type RequestState = ReturnType<typeof requestState>;

// Intake: the slot's byte counts and front-end checks (idle, check), its header (hdr) and the decision's inputs
// from it (prep).
function intakeArms(m: ModuleBuilder, bc: BlkCore, x: BackEndParts, r: RequestState) {
  const { io, s, back, cmds, stats, scratch } = x;
  const { p, N, atSlot, advanceSlot } = bc;
  const { evBad } = io;
  const { INFO, sReady, slotInfo, hdrDone, bHead } = s;
  const { st, cnt, rdBytes, wrBytes, noWritable, malformed } = back;
  const { stQ } = cmds;
  const { rdIssued } = stats;
  const { cap, capField } = scratch;
  const {
    inRange,
    finish,
    capRead,
    outData,
    inData,
    tIn,
    tOut,
    tFlush,
    tGetId,
    tDiscard,
    tWz,
    ioBad,
    dwzBad,
    dwzTooMany,
    storageOff,
    idLen,
    idBad,
    blocked,
    blockNow,
  } = r;
  return {
    idle: () => {
      m.if(atSlot(sReady, bHead), () => {
        sReady.nextAt(bHead, 0);
        const info = slotInfo.readAsync(bHead);
        cnt.next(info.bits(INFO - 1, 2 * N + 2));
        rdBytes.next(info.bits(2 * N + 1, N + 2));
        wrBytes.next(info.bits(N + 1, 2));
        noWritable.next(info.bit(1));
        malformed.next(info.bit(0));
        st.goto('check');
      });
    },
    check: () => {
      outData.next(rdBytes.sub(BLK_HDR_SIZE));
      inData.next(wrBytes.sub(1));
      m.if(noWritable, () => {
        // Nothing to write the status into: handed back with used length 0 (ev_bad_request).
        stQ.enq.valid.set(1);
        stQ.enq.data.set(cat(bHead, lit(1, 1), lit(0, 1), lit(0, 32), rdIssued));
        m.if(stQ.enq.ready, () => {
          evBad.set(1);
          bHead.next(advanceSlot(bHead));
          st.goto('idle');
        });
      })
        .elseIf(malformed, () => finish(BLK_S.IOERR, lit(0, N)))
        .else(() => st.goto('hdr'));
    },
    hdr: () =>
      m.if(atSlot(hdrDone, bHead), () => {
        cap.next(capRead);
        // The type's class, registered with the header (not from `cap` in prep: the 32-bit compares there were
        // the front of prep's deepest path, into `blocked`).
        const type = capRead.bits(31, 0);
        tIn.next(type.eq(BLK_T.IN));
        tOut.next(type.eq(BLK_T.OUT));
        tFlush.next(type.eq(BLK_T.FLUSH));
        tGetId.next(type.eq(BLK_T.GET_ID));
        tDiscard.next(type.eq(BLK_T.DISCARD));
        tWz.next(type.eq(BLK_T.WRITE_ZEROES));
        st.goto('prep');
      }),
    prep: () => {
      const sector = capField(8, 8);
      const isOut = tOut;
      blocked.next(blockNow);
      // IN / OUT: data in the wrong direction, not whole sectors, past the capacity, OUT on a read-only build.
      // One range check, of the data bytes in the request's direction.
      const ioBadOut = inData
        .ne(0)
        .or(outData.bits(8, 0).ne(0))
        .or(p.readOnly ? 1 : 0);
      const ioBadIn = outData.ne(0).or(inData.bits(8, 0).ne(0));
      const sectors = mux(isOut, outData, inData).bits(N - 1, 9);
      ioBad.next(mux(isOut, ioBadOut, ioBadIn).or(inRange(sector, sectors).not()));
      storageOff.next(sector.trunc(p.devBits - 10).cat(lit(0, 9)));
      idLen.next(mux(inData.lt(BLK_ID_BYTES), inData, lit(BLK_ID_BYTES, N)));
      // GET_ID: readable data.
      idBad.next(outData.ne(0));
      // DISCARD / WRITE_ZEROES: writable data besides the status byte, no segment or a partial one; too many.
      dwzBad.next(wrBytes.ne(1).or(outData.eq(0)).or(outData.bits(3, 0).ne(0)));
      const nseg = outData.bits(N - 1, 4);
      dwzTooMany.next(mux(tDiscard, nseg.gt(p.discard?.maxSeg ?? 0), nseg.gt(p.writeZeroes?.maxSeg ?? 0)));
      st.goto('decode');
    },
  } satisfies RequestArms;
}

// The decision (decode) on the request's type and checks, and the wait for a data transfer's end (data).
function decisionArms(m: ModuleBuilder, bc: BlkCore, x: BackEndParts, r: RequestState) {
  const { s, back, stats, scratch, writes, errs } = x;
  const { p, g, lb, N } = bc;
  const { bHead } = s;
  const { st, bw, rdBytes, slotErr, bStaged, bSpecDone, bSpecErr } = back;
  const { specFail } = stats;
  const { stageRowBits } = scratch;
  const { zLine, cpRow, cpLeft } = writes;
  const { outActive, outStart, zErr } = errs;
  const {
    written,
    isDiscard,
    segIdx,
    segCount,
    segPass2,
    setStatus,
    fence,
    finish,
    negotiated,
    outData,
    inData,
    tIn,
    tOut,
    tFlush,
    tGetId,
    tDiscard,
    tWz,
    ioBad,
    dwzBad,
    dwzTooMany,
    storageOff,
    idLen,
    idBad,
    blocked,
    blockNow,
  } = r;
  return {
    decode: () => {
      const dwz = (limits: BlkSegLimits | undefined, bitNo: number, discard: boolean) => {
        m.if(
          lit(limits ? 1 : 0, 1)
            .and(negotiated(bitNo))
            .not(),
          () => finish(BLK_S.UNSUPP, lit(0, N)),
        )
          .elseIf(dwzBad, () => finish(BLK_S.IOERR, lit(0, N)))
          .elseIf(dwzTooMany, () => finish(BLK_S.UNSUPP, lit(0, N)))
          .else(() => {
            isDiscard.next(discard ? 1 : 0);
            zErr.next(0);
            segIdx.next(0);
            segCount.next(outData.bits(12, 4));
            segPass2.next(0);
            st.goto('seg');
          });
      };
      blocked.next(blockNow);
      m.if(blocked, () => st.goto('decode'))
        // A read-ahead slot's request is decided once its data reads have ended (so none still writes its staging
        // buffer when the slot is taken again).
        .elseIf(bStaged.and(bSpecDone.not()), () => st.goto('decode'))
        .elseIf(slotErr, () => finish(BLK_S.IOERR, lit(0, N)))
        // A read-ahead of the chain's readable bytes failed (UR, CA, poison, timeout): the host refused a buffer
        // the driver gave, whatever the header asks for (an OUT's data, a DISCARD's segments): its DMA error now.
        .elseIf(bStaged.and(bSpecErr), () => {
          specFail.set(1);
          finish(BLK_S.IOERR, lit(0, N));
        })
        .elseIf(tIn.or(tOut), () => {
          m.if(ioBad, () => finish(BLK_S.IOERR, lit(0, N))).else(() => {
            m.if(tOut, () => {
              outStart.set(1);
              outActive.nextAt(bHead, 1);
              m.if(bStaged, () => {
                // Copy the staging buffer: whole storage words (the data is whole sectors).
                cpRow.next(0);
                cpLeft.next(outData.bits(stageRowBits + lb + 1, lb + 1));
                zLine.next(storageOff.bits(p.devBits - 2, lb));
              }).else(() => bw.start(0, lit(BLK_HDR_SIZE, N), rdBytes, storageOff));
            }).else(() => bw.start(1, lit(0, N), inData, storageOff));
            setStatus(BLK_S.OK);
            written.next(mux(tOut, lit(0, N), inData));
            fence.next(tOut);
            m.if(tOut.and(bStaged), () => st.goto('copy')).else(() => st.goto('data'));
          });
        })
        .elseIf(tFlush, () =>
          finish(mux(lit(p.flush ? 1 : 0, 1).and(negotiated(FLUSH_BIT)), lit(BLK_S.OK, 8), lit(BLK_S.UNSUPP, 8)), 0),
        )
        .elseIf(tGetId, () => {
          m.if(idBad, () => finish(BLK_S.IOERR, lit(0, N))).else(() => {
            bw.start(1, lit(0, N), idLen, lit(g.window + BLK_SCRATCH.id, p.devBits));
            setStatus(BLK_S.OK);
            written.next(idLen);
            fence.next(0);
            st.goto('data');
          });
        })
        .elseIf(tDiscard, () => dwz(p.discard, DISCARD_BIT, true))
        .elseIf(tWz, () => dwz(p.writeZeroes, WRITE_ZEROES_BIT, false))
        .else(() => finish(BLK_S.UNSUPP, lit(0, N)));
    },
    // A device-to-host request's status byte can follow its data at once (the write engine keeps order);
    // anything that read host memory or wrote storage waits for it to end.
    data: () => m.if(bw.walking.not(), () => st.goto('post')),
  } satisfies RequestArms;
}

// DISCARD / WRITE_ZEROES segments: each fetched into the capture register and checked (a first pass over all of
// them), then in a second pass fetched again and zeroed (the zeroing itself is in storageArms).
function segmentArms(m: ModuleBuilder, bc: BlkCore, x: BackEndParts, r: RequestState) {
  const { s, back, scratch, writes } = x;
  const { p, lb, N, captureAt } = bc;
  const { bHead } = s;
  const { st, bw, slotErr } = back;
  const { cap, capField } = scratch;
  const { zLine, zLeft, zDone } = writes;
  const {
    isDiscard,
    segIdx,
    segCount,
    segPass2,
    dmaIdle,
    inRange,
    finish,
    capRead,
    segUnsupp,
    segIoerr,
    segLast,
    segEmpty,
  } = r;
  return {
    seg: () => {
      // Segment segIdx into the capture register.
      const off = segIdx.zext(N).shl(4).add(BLK_HDR_SIZE);
      bw.start(0, off, off.add(16), captureAt(bHead));
      st.goto('seg_wait');
    },
    seg_wait: () =>
      m.if(dmaIdle, () => {
        cap.next(capRead);
        st.goto('seg_eval');
      }),
    seg_eval: () => {
      const sSector = capField(0, 8);
      const sNum = capField(8, 4);
      const sFlags = capField(12, 4);
      const maxSectors = mux(isDiscard, lit(p.discard?.maxSectors ?? 0, 32), lit(p.writeZeroes?.maxSectors ?? 0, 32));
      segUnsupp.next(
        sFlags
          .bits(31, 1)
          .ne(0)
          .or(isDiscard.and(sFlags.bit(0))),
      );
      segIoerr.next(sNum.gt(maxSectors).or(inRange(sSector, sNum).not()));
      segLast.next(segIdx.add(1).eq(segCount));
      segEmpty.next(sNum.eq(0));
      st.goto('seg_check');
    },
    seg_check: () => {
      m.if(slotErr.or(segPass2.and(segUnsupp.or(segIoerr))), () => finish(BLK_S.IOERR, lit(0, N)))
        .elseIf(segUnsupp, () => finish(BLK_S.UNSUPP, lit(0, N)))
        .elseIf(segIoerr, () => finish(BLK_S.IOERR, lit(0, N)))
        .elseIf(segPass2, () => {
          // Zero the segment's range: whole two-line writes (a sector is a multiple of 2W bits).
          zLine.next(
            capField(0, 8)
              .trunc(p.devBits - 10)
              .cat(lit(0, 9 - lb)),
          );
          zLeft.next(
            capField(8, 4)
              .zext(40)
              .shl(9 - lb - 1),
          );
          zDone.next(segEmpty);
          st.goto('zero');
        })
        .elseIf(segLast.and(p.readOnly ? 1 : 0), () => finish(BLK_S.IOERR, lit(0, N)))
        .else(() => {
          segIdx.next(mux(segLast, lit(0, 9), segIdx.inc()));
          m.if(segLast, () => segPass2.next(1));
          st.goto('seg');
        });
    },
  } satisfies RequestArms;
}

// Storage moves (a staged OUT's copy, a segment's zeroing) and the handover to the status stage (post).
function storageArms(m: ModuleBuilder, bc: BlkCore, x: BackEndParts, r: RequestState) {
  const { io, s, back, cmds, writes, errs } = x;
  const { N, advanceSlot } = bc;
  const { la } = io;
  const { bHead } = s;
  const { st } = back;
  const { stQ } = cmds;
  const { zLine, zLeft, zDone, cpValid, cpRow, cpLeft, cpAdvance, cpEn } = writes;
  const { zErr } = errs;
  const { segIdx, finish, segLast } = r;
  return {
    copy: () => {
      m.if(cpEn, () => {
        cpRow.next(cpRow.inc());
        cpLeft.next(cpLeft.dec());
        cpValid.next(1);
      }).elseIf(cpAdvance, () => cpValid.next(0));
      m.if(la.cp.ready, () => zLine.next(zLine.add(2)));
      m.if(cpLeft.eq(0).and(cpValid.not()), () => st.goto('post'));
    },
    zero: () => {
      m.if(la.wr.ready.and(zDone.not()), () => {
        zLine.next(zLine.add(2));
        zLeft.next(zLeft.dec());
        zDone.next(zLeft.eq(1));
      });
      m.if(zDone, () => {
        // The last segment's request ends once storage has answered its writes (a failed one: IOERR).
        m.if(segLast, () =>
          m.if(la.wr_pending.not(), () => finish(mux(zErr, lit(BLK_S.IOERR, 8), lit(BLK_S.OK, 8)), lit(0, N))),
        ).else(() => {
          segIdx.next(segIdx.inc());
          st.goto('seg');
        });
      });
    },
    post: () => {
      // The request goes to the status stage; the next slot's request starts.
      stQ.enq.valid.set(1);
      m.if(stQ.enq.ready, () => {
        bHead.next(advanceSlot(bHead));
        st.goto('idle');
      });
    },
  } satisfies RequestArms;
}
