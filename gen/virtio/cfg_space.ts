// The virtio-pci function's type-0 configuration space in soft logic: the dwords of cfg_layout.ts (IDs, class,
// BARs, PM, PCI Express with FLR, MSI-X, the five virtio vendor capabilities), their RW / RW1C / read-only bits,
// the PCI state the rest of the function obeys, Function Level Reset, and the PCI_CFG access window
// (virtio 1.2 transport-pci.tex "PCI configuration access capability": a configuration access of pci_cfg_data
// performs a BAR access of cap.length bytes at cap.offset of cap.bar).
//
// Three roles (`serve`):
//   'all'       the whole space (a soft endpoint);
//   'forwarded' only the range a hard IP forwards to user logic (cfg_layout.ts CfgForward: the virtio
//               capabilities); the PCI state comes from the hard IP on the `pci` port (virtio_pci_state), and the
//               status events go back to it there;
//   'hardip'    everything but that range, owning the PCI state and driving `pci`: a stand-in for the hard IP in
//               simulation (gen/virtio/hardip_standin.ts), so the function can be checked whole.
//
// One request at a time, through a small state machine (every stage registered, so the decode and the read
// multiplexer each end in a flip-flop):
//   idle    take a CfgRd0/CfgWr0 when the BAR access engine is idle (so configuration and memory requests take
//           effect in arrival order, and an FLR never meets a memory write in flight); the dword's hit, one-hot;
//   decode  a read touching pci_cfg_data with a valid window: the BAR read first (win_rd), its bytes into
//           pci_cfg_data;
//   exec    the write (RW bits under the byte enables, RW1C bits cleared by ones; PowerState D1/D2 and Initiate
//           FLR handled) or the read (registered read data); a write touching pci_cfg_data with a valid window
//           then does the BAR write of pci_cfg_data's first bytes (win_wr);
//   resp    the completion (UR for a function other than 0).
// Window requests that are invalid (length not 1/2/4, misaligned, not one of the function's BARs, past the BAR's
// end) do nothing, as tb/virtio/golden/choices.ts "pciCfgWindow" says.
//
// FLR (Initiate Function Level Reset, PCI Express Base 6.6.2) is a one-cycle pulse after the write that asks for
// it: every register here returns to its reset value except Link Control and the captured Bus/Device number
// (choices.ts "flr"); the other blocks reset their function state on the same pulse.
import { bit, bitsFor, cat, defineModule, type Expr, lit, mux, orAll, paramError, type Signal } from '../hdl';
import { muxTreeOrZero } from '../lib/mux';
import { type CfgDword, cfgEventsSet, cfgWritten } from '../pcie/cfg_space';
import { cplReqStream, type DataWidth, driveOneBeat, tlpRxStream } from '../pcie/streams';
import { CplStatus, tlpFields } from '../pcie/tlp';
import {
  type CfgForward,
  DEVCTL_INITIATE_FLR,
  DEVSTA_TRANSACTIONS_PENDING,
  DEVSTA_URD,
  forwardProblems,
  STATUS_INTERRUPT,
  virtioCfgDwords,
  virtioCfgMap,
} from './cfg_layout';
import type { VirtioPciLayout } from './layout';
import { barDwordBits, pciCfgWindow, pciState } from './ports';

export interface VirtioCfgParams {
  layout: VirtioPciLayout;
  W: DataWidth;
  /** Which part of the space this instance serves (default 'all'); the others need `forward`. */
  serve?: 'all' | 'forwarded' | 'hardip';
  forward?: CfgForward;
}

/** Status register bits the function sets on events (in the upper half of the Command/Status dword). */
const STA_SIGNALED_TARGET_ABORT = (0x0800 << 16) >>> 0;
const STA_DETECTED_PARITY = (0x8000 << 16) >>> 0;

/** A 4-way choice by a 2-bit lane index (byte shifts). */
function select4(sel: Expr, opts: [Expr, Expr, Expr, Expr]): Expr {
  return mux(sel.bit(1), mux(sel.bit(0), opts[3], opts[2]), mux(sel.bit(0), opts[1], opts[0]));
}

export const VirtioCfgSpace = defineModule(
  'virtio_cfg_space',
  (m, p: VirtioCfgParams) => {
    const l = p.layout;
    const serve = p.serve ?? 'all';
    const map = virtioCfgMap(l);
    const aw = barDwordBits(l.bars);
    if (serve !== 'all') {
      if (!p.forward) throw paramError(`virtio cfg space: serving '${serve}' needs the forwarded range`);
      const problems = forwardProblems(l, p.forward);
      if (problems.length) throw paramError(`virtio layout '${l.name}': ${problems.join('; ')}`);
    }
    const inRange = (off: number) => !!p.forward && off >= p.forward.from && off < p.forward.to;
    const dwords = virtioCfgDwords(l).filter(
      (d) => serve === 'all' || (serve === 'forwarded' ? inRange(d.offset) : !inRange(d.offset)),
    );
    const ownsState = serve !== 'forwarded';
    const hasWindow = dwords.some((d) => d.offset === map.pciCfgData);

    const req = m.input('req', tlpRxStream(p.W));
    const cpl = m.output('cpl', cplReqStream(p.W));
    const win = hasWindow ? m.output('win', pciCfgWindow(aw)) : undefined;
    /** The BAR access engine is idle: a request may start. */
    const accessIdle = m.input('access_idle', bit);
    /** A request is being served (the access engine holds memory requests meanwhile). */
    const busy = m.output('busy', bit);

    // ---- PCI state the function obeys
    const completerIdOut = m.output('completer_id', 16);
    const memEnableOut = m.output('mem_enable', bit);
    const busMasterOut = m.output('bus_master', bit);
    const intxDisableOut = m.output('intx_disable', bit);
    const d0Out = m.output('d0', bit);
    const mpsOut = m.output('max_payload', 3);
    const mrrsOut = m.output('max_read_req', 3);
    const extTagOut = m.output('ext_tag_en', bit);
    const msixEnableOut = m.output('msix_enable', bit);
    const msixMaskOut = m.output('msix_function_mask', bit);
    const barOut = Object.fromEntries(l.bars.map((b) => [b.index, m.output(`bar${b.index}_base`, 64)]));
    const flrOut = m.output('flr', bit);
    const barIdx = l.bars.map((b) => b.index);
    const pciIn = serve === 'forwarded' ? m.input('pci', pciState(barIdx)) : undefined;
    const pciOut = serve === 'hardip' ? m.output('pci', pciState(barIdx)) : undefined;

    // ---- events and live state (from the function's blocks; the stand-in gets them on `pci`)
    const evIn =
      serve === 'hardip'
        ? undefined
        : {
            ur: m.input('ev_unsupported_request', bit),
            sta: m.input('ev_signaled_target_abort', bit),
            dpe: m.input('ev_detected_parity', bit),
            intx: m.input('interrupt_status', bit),
            pending: m.input('transactions_pending', bit),
          };
    const ev = pciOut
      ? {
          ur: pciOut.ev_unsupported_request,
          sta: pciOut.ev_signaled_target_abort,
          dpe: pciOut.ev_detected_parity,
          intx: pciOut.interrupt_status,
          pending: pciOut.transactions_pending,
        }
      : evIn!;

    // ---- storage: a register per dword with writable bits, reset (and FLR) to `init`
    const flr = m.reg('flr_q', bit, { reset: 0 });
    const regs = new Map<number, Signal>();
    for (const d of dwords) {
      if ((d.rw | d.w1c) >>> 0 === 0) continue;
      regs.set(d.offset, m.reg(`cfg_${d.name}`, 32, { reset: d.init }));
    }
    const reg = (off: number): Signal => {
      const r = regs.get(off);
      if (!r) throw paramError(`virtio cfg space: no register at 0x${off.toString(16)}`);
      return r;
    };
    /** A dword as it reads, without its live bits. */
    const stored = (d: CfgDword): Expr => {
      const keep = (d.rw | d.w1c) >>> 0;
      const r = regs.get(d.offset);
      return r ? r.and(lit(keep, 32)).or(lit((d.init & ~keep) >>> 0, 32)) : lit(d.init, 32);
    };
    const field = (off: number, hi: number, lo: number) => reg(off).bits(hi, lo);

    // ---- the state the function obeys: from the registers, or from the hard IP
    const completerId = ownsState ? m.reg('completer_id_q', 16, { reset: 0 }) : undefined;
    if (completerId) {
      const d0 = map.pmcsr === undefined ? lit(1, 1) : field(map.pmcsr, 1, 0).eq(0);
      d0Out.set(d0);
      memEnableOut.set(field(map.command, 1, 1).and(d0));
      busMasterOut.set(field(map.command, 2, 2));
      intxDisableOut.set(field(map.command, 10, 10));
      mpsOut.set(field(map.devctl, 7, 5));
      mrrsOut.set(field(map.devctl, 14, 12));
      extTagOut.set(l.pcie.extTag ? field(map.devctl, 8, 8) : lit(0, 1));
      msixEnableOut.set(field(map.msixCtl, 31, 31));
      msixMaskOut.set(field(map.msixCtl, 30, 30));
      for (const b of l.bars) {
        const lo = cat(field(0x10 + 4 * b.index, 31, 4), lit(0, 4));
        barOut[b.index].set(b.bits === 64 ? cat(reg(0x14 + 4 * b.index), lo) : lo.zext(64));
      }
      flrOut.set(flr);
      completerIdOut.set(completerId);
    } else {
      const s = pciIn!;
      d0Out.set(s.d0);
      memEnableOut.set(s.mem_enable);
      busMasterOut.set(s.bus_master);
      intxDisableOut.set(s.intx_disable);
      mpsOut.set(s.max_payload);
      mrrsOut.set(s.max_read_req);
      extTagOut.set(s.ext_tag_en);
      msixEnableOut.set(s.msix_enable);
      msixMaskOut.set(s.msix_function_mask);
      for (const b of l.bars) barOut[b.index].set((s as unknown as Record<string, Expr>)[`bar${b.index}_base`]);
      flrOut.set(s.flr);
      completerIdOut.set(s.completer_id);
    }
    if (pciOut) {
      pciOut.d0.set(d0Out);
      pciOut.mem_enable.set(memEnableOut);
      pciOut.bus_master.set(busMasterOut);
      pciOut.intx_disable.set(intxDisableOut);
      pciOut.max_payload.set(mpsOut);
      pciOut.max_read_req.set(mrrsOut);
      pciOut.ext_tag_en.set(extTagOut);
      pciOut.msix_enable.set(msixEnableOut);
      pciOut.msix_function_mask.set(msixMaskOut);
      for (const b of l.bars)
        (pciOut as unknown as Record<string, { set(v: Expr): void }>)[`bar${b.index}_base`].set(barOut[b.index]);
      pciOut.flr.set(flrOut);
      pciOut.completer_id.set(completerIdOut);
    }

    // ---- the request
    const st = m.fsm('state', ['idle', 'decode', 'win_rd', 'exec', 'win_wr', 'resp'] as const);
    const hdr = m.reg('hdr', 128);
    const be = m.reg('be', 4);
    const wdata = m.reg('wdata', 32);
    const isWrite = m.reg('is_write', bit);
    const fnOk = m.reg('fn_ok', bit);
    const respData = m.reg('resp_data', 32);
    const respStatus = m.reg('resp_status', 3);
    // A registered hit for each dword a write changes (the read goes by the registered dword index, below).
    const hit = dwords.map((d) => (regs.has(d.offset) ? m.reg(`hit_${d.name}`, bit, { reset: 0 }) : undefined));
    const hitAt = (i: number): Signal => {
      if (!hit[i]) throw paramError(`virtio cfg space: ${dwords[i].name} has no write hit`);
      return hit[i];
    };
    const idxBits = Math.max(1, bitsFor(Math.max(...dwords.map((d) => d.offset >> 2))));
    const rdDw = m.reg('rd_dw', idxBits);
    const rdIn = m.reg('rd_in', bit, { reset: 0 });

    const f = tlpFields(req.hdr);
    busy.set(st.is('idle').not());
    req.ready.set(st.is('idle').and(accessIdle));
    const take = req.valid.and(st.is('idle')).and(accessIdle);
    m.if(take, () => {
      hdr.next(req.hdr);
      be.next(f.firstBe);
      wdata.next(req.data.bits(31, 0));
      isWrite.next(f.hasData);
      fnOk.next(req.func.eq(0));
    });
    dwords.forEach((d, i) => {
      const h = hit[i];
      if (h) m.if(take, () => h.next(f.cfgDword.eq(d.offset >> 2).and(f.firstBe.orR())));
    });
    m.if(take, () => {
      rdDw.next(f.cfgDword.trunc(idxBits));
      const high = f.cfgDword.width > idxBits ? f.cfgDword.bits(f.cfgDword.width - 1, idxBits).eq(0) : lit(1, 1);
      rdIn.next(high.and(f.firstBe.orR()));
    });
    // The Completer ID: captured from every configuration write this function completes (2.2.6.2); kept by FLR.
    if (completerId)
      m.if(take.and(f.hasData).and(req.func.eq(0)), () => completerId.next(cat(f.cfgBus, f.cfgDevice, lit(0, 3))));

    // ---- the PCI_CFG window
    const deferred: (() => void)[] = [];
    const wantWindow = win ? windowLogic() : { ok: lit(0, 1), touches: lit(0, 1) };
    function windowLogic() {
      const w = win!;
      // Its target, from the capability's registers (choices.ts "pciCfgWindow"), registered.
      const winBar = reg(map.pciCfgBar).bits(7, 0);
      const winOffset = reg(map.pciCfgOffset);
      const winLen = reg(map.pciCfgLength);
      const lenOk = orAll(winLen.eq(1), winLen.eq(2), winLen.eq(4));
      const aligned = mux(
        winLen.eq(2),
        winOffset.bit(0).not(),
        mux(winLen.eq(4), winOffset.bits(1, 0).eq(0), lit(1, 1)),
      );
      const barOk = orAll(...l.bars.map((b) => winBar.eq(b.index).and(winOffset.bits(31, Math.log2(b.size)).eq(0))));
      const ok = m.reg('tgt_ok', bit, { reset: 0 });
      ok.next(lenOk.and(aligned).and(barOk));
      const lane = winOffset.bits(1, 0);
      const lenMask = mux(winLen.eq(1), lit(0x1, 4), mux(winLen.eq(2), lit(0x3, 4), lit(0xf, 4)));
      const tgtBe = m.reg('tgt_be', 4);
      tgtBe.next(
        select4(lane, [
          lenMask,
          lenMask.bits(2, 0).cat(lit(0, 1)),
          lenMask.bits(1, 0).cat(lit(0, 2)),
          lenMask.bits(0, 0).cat(lit(0, 3)),
        ]),
      );
      const tgtLane = m.reg('tgt_lane', 2);
      tgtLane.next(lane);
      const tgtDw = m.reg('tgt_dw', aw);
      tgtDw.next(winOffset.bits(aw + 1, 2));
      const tgtBar = m.reg('tgt_bar', 3);
      tgtBar.next(winBar.bits(2, 0));
      const tgtLenMask = m.reg('tgt_len_mask', 4);
      tgtLenMask.next(lenMask);
      const data = reg(map.pciCfgData);

      const issued = m.reg('tgt_issued', bit, { reset: 0 });
      w.valid.set(st.is('win_rd').or(st.is('win_wr')).and(issued.not()));
      w.write.set(st.is('win_wr'));
      w.bar.set(tgtBar);
      w.dw.set(tgtDw);
      w.be.set(tgtBe);
      w.wdata.set(
        select4(tgtLane, [
          data,
          data.bits(23, 0).cat(lit(0, 8)),
          data.bits(15, 0).cat(lit(0, 16)),
          data.bits(7, 0).cat(lit(0, 24)),
        ]),
      );
      m.if(w.valid.and(w.ready), () => issued.next(1));
      m.if(w.done, () => issued.next(0));
      // The bytes a window read brings back, moved down to pci_cfg_data[0..len).
      const shifted = select4(tgtLane, [
        w.rdata,
        lit(0, 8).cat(w.rdata.bits(31, 8)),
        lit(0, 16).cat(w.rdata.bits(31, 16)),
        lit(0, 24).cat(w.rdata.bits(31, 24)),
      ]);
      // Byte by byte a mux whose other input is the register: synthesis makes it the flip-flops' enable.
      const merged = cat(
        ...[3, 2, 1, 0].map((k) => mux(tgtLenMask.bit(k), shifted.bits(8 * k + 7, 8 * k), data.bits(8 * k + 7, 8 * k))),
      );
      // Placed after the write logic below (last assignment wins over the plain register update).
      deferred.push(() => m.if(st.is('win_rd').and(w.done), () => data.next(merged)));
      return { ok, touches: hitAt(dwords.findIndex((d) => d.offset === map.pciCfgData)), done: w.done };
    }
    const winDone = win ? win.done : lit(0, 1);

    // ---- the state machine
    const exec = st.is('exec');
    const useWindow = wantWindow.ok.and(wantWindow.touches).and(fnOk);
    st.switch({
      idle: () => m.if(take, () => st.goto('decode')),
      decode: () => m.if(isWrite.not().and(useWindow), () => st.goto('win_rd')).else(() => st.goto('exec')),
      win_rd: () => m.if(winDone, () => st.goto('exec')),
      exec: () => m.if(isWrite.and(useWindow), () => st.goto('win_wr')).else(() => st.goto('resp')),
      win_wr: () => m.if(winDone, () => st.goto('resp')),
      resp: () => m.if(cpl.ready, () => st.goto('idle')),
    });

    // ---- writes: RW bits under the byte enables, RW1C bits cleared by ones, then hardware events
    const doWrite = exec.and(isWrite).and(fnOk);
    const urSelf = exec.and(fnOk.not());
    const sets = new Map<number, Expr>([
      [
        map.command,
        mux(ev.sta, lit(STA_SIGNALED_TARGET_ABORT, 32), lit(0, 32)).or(
          mux(ev.dpe, lit(STA_DETECTED_PARITY, 32), lit(0, 32)),
        ),
      ],
      [map.devctl, mux(ev.ur.or(urSelf), lit(DEVSTA_URD << 16, 32), lit(0, 32))],
    ]);
    dwords.forEach((d, i) => {
      const r = regs.get(d.offset);
      if (!r) return;
      let written = cfgWritten(r, wdata, be, d);
      if (d.offset === map.pmcsr) {
        // PowerState: only D0 (00) and D3hot (11) exist; a write of D1/D2 leaves the state as it was (7.5.2.2).
        const ps = written.bits(1, 0);
        written = mux(ps.eq(1).or(ps.eq(2)), cat(written.bits(31, 2), r.bits(1, 0)), written);
      }
      let next = mux(doWrite.and(hitAt(i)), written, r);
      const set = sets.get(d.offset);
      if (set) next = cfgEventsSet(next, set, d);
      r.next(next);
      // FLR: back to the reset value, except Link Control (choices.ts "flr").
      if (d.offset !== map.lnkctl) m.if(flrOut, () => r.next(d.init));
    });
    for (const f of deferred) f();
    // Initiate Function Level Reset: Device Control bit 15 written with 1, when the function advertises FLR.
    const devctlIdx = dwords.findIndex((d) => d.offset === map.devctl);
    flr.next(
      l.pcie.flr && devctlIdx >= 0
        ? doWrite
            .and(hitAt(devctlIdx))
            .and(be.bit(1))
            .and(wdata.and(lit(DEVCTL_INITIATE_FLR, 32)).orR())
        : lit(0, 1),
    );
    // Unsupported Requests this block answers (a function other than 0) are the hard IP's to log.
    if (pciIn) {
      pciIn.ev_unsupported_request.set(evIn!.ur.or(urSelf));
      pciIn.ev_signaled_target_abort.set(evIn!.sta);
      pciIn.ev_detected_parity.set(evIn!.dpe);
      pciIn.interrupt_status.set(evIn!.intx);
      pciIn.transactions_pending.set(evIn!.pending);
    }

    // ---- reads: the dword at the registered index with its live bits (a mux tree, gen/lib muxTreeOrZero;
    // dwords the space does not define read 0), registered. An AND-OR of a registered hit per dword cost a
    // compare for each of the 45 dwords and more LUTs per read bit.
    const live = new Map<number, Expr>([
      [map.command, mux(ev.intx, lit(STATUS_INTERRUPT << 16, 32), lit(0, 32))],
      [map.devctl, mux(ev.pending, lit(DEVSTA_TRANSACTIONS_PENDING << 16, 32), lit(0, 32))],
    ]);
    const items: Expr[] = [];
    for (const d of dwords) {
      const lv = live.get(d.offset);
      // Named (rd_<dword>), so the dwords a block serves can be told from its Verilog.
      items[d.offset >> 2] = m.let(`rd_${d.name}`, lv ? stored(d).or(lv.and(lit(d.live, 32))) : stored(d));
    }
    const rdata = mux(rdIn, muxTreeOrZero(rdDw, items, 32), lit(0, 32));
    m.if(exec, () => {
      respData.next(rdata);
      respStatus.next(mux(fnOk, lit(CplStatus.SC, 3), lit(CplStatus.UR, 3)));
    });
    driveOneBeat(cpl, { valid: st.is('resp'), hdr, dword: respData });
    cpl.status.set(respStatus);

    return {
      req,
      cpl,
      win,
      access_idle: accessIdle,
      busy,
      completer_id: completerIdOut,
      mem_enable: memEnableOut,
      bus_master: busMasterOut,
      intx_disable: intxDisableOut,
      d0: d0Out,
      max_payload: mpsOut,
      max_read_req: mrrsOut,
      ext_tag_en: extTagOut,
      msix_enable: msixEnableOut,
      msix_function_mask: msixMaskOut,
      /** BAR base addresses by BAR index (ports `bar<i>_base`). */
      bar_base: barOut,
      flr: flrOut,
      pci: pciIn ?? pciOut,
      ev_unsupported_request: evIn?.ur,
      ev_signaled_target_abort: evIn?.sta,
      ev_detected_parity: evIn?.dpe,
      interrupt_status: evIn?.intx,
      transactions_pending: evIn?.pending,
    };
  },
  {
    name: (p) =>
      `virtio_cfg_space_${p.layout.name}` +
      (p.serve && p.serve !== 'all' ? `_${p.serve}${p.forward!.from.toString(16)}_${p.forward!.to.toString(16)}` : '') +
      `_w${p.W}`,
    doc: 'virtio-pci type-0 configuration space: header, BARs, PCI Express (FLR), PM, MSI-X, virtio capabilities and the PCI_CFG window.',
  },
);
