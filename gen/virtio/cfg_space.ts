// The virtio-pci function's type-0 configuration space in soft logic: the dwords of cfg_layout.ts (IDs, class,
// BARs, PM, PCI Express with FLR, MSI-X, the five virtio vendor capabilities), their RW / RW1C / read-only bits,
// the PCI state the rest of the function obeys, Function Level Reset, and the PCI_CFG access window
// (virtio 1.2 transport-pci.tex "PCI configuration access capability": a configuration access of pci_cfg_data
// performs a BAR access of cap.length bytes at cap.offset of cap.bar).
//
// One request at a time, through a small state machine (every stage registered, so the decode and the read
// multiplexer each end in a flip-flop):
//   idle    take a CfgRd0/CfgWr0 when the BAR access engine is idle (so configuration and memory requests take
//           effect in arrival order, and an FLR never meets a memory write in flight);
//   decode  one-hot dword hit (registered);
//   window  a read touching pci_cfg_data with a valid window: the BAR read first, its bytes into pci_cfg_data;
//   exec    the write (RW bits under the byte enables, RW1C bits cleared by ones; PowerState D1/D2 and Initiate
//           FLR handled) or the read (registered read data);
//   window  a write touching pci_cfg_data with a valid window: the BAR write of pci_cfg_data's first bytes;
//   resp    the completion (UR for a function other than 0).
// Window requests that are invalid (length not 1/2/4, misaligned, not one of the function's BARs, past the BAR's
// end) do nothing, as tb/virtio/golden/choices.ts "pciCfgWindow" says.
//
// FLR (Initiate Function Level Reset, PCI Express Base 6.6.2) is a one-cycle pulse after the write that asks for
// it: every register here returns to its reset value except Link Control and the captured Bus/Device number
// (choices.ts "flr"); the other blocks reset their function state on the same pulse.
import { bit, cat, defineModule, type Expr, lit, mux, orAll, paramError, type Signal } from '../hdl';
import type { CfgDword } from '../pcie/cfg_space';
import { cplReqStream, type DataWidth, driveOneBeat, tlpRxStream } from '../pcie/streams';
import { beMask32, CplStatus, tlpFields } from '../pcie/tlp';
import { DEVCTL_INITIATE_FLR, DEVSTA_URD, virtioCfgDwords, virtioCfgMap } from './cfg_layout';
import type { VirtioPciLayout } from './layout';
import { barDwordBits, pciCfgWindow } from './ports';

export interface VirtioCfgParams {
  layout: VirtioPciLayout;
  W: DataWidth;
}

/** Status register bits the function sets on events (in the upper half of the Command/Status dword). */
const STA_SIGNALED_TARGET_ABORT = (0x0800 << 16) >>> 0;
const STA_DETECTED_PARITY = (0x8000 << 16) >>> 0;

export const VirtioCfgSpace = defineModule(
  'virtio_cfg_space',
  (m, p: VirtioCfgParams) => {
    const l = p.layout;
    const dwords = virtioCfgDwords(l);
    const map = virtioCfgMap(l);
    const aw = barDwordBits(l.bars);

    const req = m.input('req', tlpRxStream(p.W));
    const cpl = m.output('cpl', cplReqStream(p.W));
    const win = m.output('win', pciCfgWindow(aw));
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

    // ---- events and live state
    const evUr = m.input('ev_unsupported_request', bit);
    const evSta = m.input('ev_signaled_target_abort', bit);
    const evDpe = m.input('ev_detected_parity', bit);
    const intxStatus = m.input('interrupt_status', bit);
    const txPending = m.input('transactions_pending', bit);

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

    // ---- the state the function obeys
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

    // ---- the request
    const st = m.fsm('state', ['idle', 'decode', 'win_rd', 'exec', 'win_wr', 'resp'] as const);
    const hdr = m.reg('hdr', 128);
    const dword = m.reg('dword', 10);
    const be = m.reg('be', 4);
    const wdata = m.reg('wdata', 32);
    const isWrite = m.reg('is_write', bit);
    const fnOk = m.reg('fn_ok', bit);
    const respData = m.reg('resp_data', 32);
    const respStatus = m.reg('resp_status', 3);
    const completerId = m.reg('completer_id_q', 16, { reset: 0 });
    const hit = dwords.map((d) => m.reg(`hit_${d.name}`, bit, { reset: 0 }));
    const dataIdx = dwords.findIndex((d) => d.offset === map.pciCfgData);
    const touchesData = hit[dataIdx];

    const f = tlpFields(req.hdr);
    busy.set(st.is('idle').not());
    req.ready.set(st.is('idle').and(accessIdle));
    const take = req.valid.and(st.is('idle')).and(accessIdle);
    m.if(take, () => {
      hdr.next(req.hdr);
      dword.next(f.cfgDword);
      be.next(f.firstBe);
      wdata.next(req.data.bits(31, 0));
      isWrite.next(f.hasData);
      fnOk.next(req.func.eq(0));
    });
    // The Completer ID: captured from every configuration write this function completes (2.2.6.2); kept by FLR.
    m.if(take.and(f.hasData).and(req.func.eq(0)), () => completerId.next(cat(f.cfgBus, f.cfgDevice, lit(0, 3))));
    completerIdOut.set(completerId);

    // ---- the PCI_CFG window's target, from the capability's registers (choices.ts "pciCfgWindow")
    const winBar = reg(map.pciCfgBar).bits(7, 0);
    const winOffset = reg(map.pciCfgOffset);
    const winLen = reg(map.pciCfgLength);
    const lenOk = orAll(winLen.eq(1), winLen.eq(2), winLen.eq(4));
    const aligned = mux(winLen.eq(2), winOffset.bit(0).not(), mux(winLen.eq(4), winOffset.bits(1, 0).eq(0), lit(1, 1)));
    const barOk = orAll(...l.bars.map((b) => winBar.eq(b.index).and(winOffset.bits(31, Math.log2(b.size)).eq(0))));
    const winOk = m.reg('tgt_ok', bit, { reset: 0 });
    winOk.next(lenOk.and(aligned).and(barOk));
    const lane = winOffset.bits(1, 0);
    const lenMask = mux(winLen.eq(1), lit(0x1, 4), mux(winLen.eq(2), lit(0x3, 4), lit(0xf, 4)));
    const winBe = m.reg('tgt_be', 4);
    winBe.next(
      select4(lane, [
        lenMask,
        lenMask.bits(2, 0).cat(lit(0, 1)),
        lenMask.bits(1, 0).cat(lit(0, 2)),
        lenMask.bits(0, 0).cat(lit(0, 3)),
      ]),
    );
    const winLane = m.reg('tgt_lane', 2);
    winLane.next(lane);
    const winDw = m.reg('tgt_dw', aw);
    winDw.next(winOffset.bits(aw + 1, 2));
    const winBarQ = m.reg('tgt_bar', 3);
    winBarQ.next(winBar.bits(2, 0));
    const pciData = reg(map.pciCfgData);

    const issued = m.reg('tgt_issued', bit, { reset: 0 });
    const winActive = st.is('win_rd').or(st.is('win_wr'));
    win.valid.set(winActive.and(issued.not()));
    win.write.set(st.is('win_wr'));
    win.bar.set(winBarQ);
    win.dw.set(winDw);
    win.be.set(winBe);
    win.wdata.set(
      select4(winLane, [
        pciData,
        pciData.bits(23, 0).cat(lit(0, 8)),
        pciData.bits(15, 0).cat(lit(0, 16)),
        pciData.bits(7, 0).cat(lit(0, 24)),
      ]),
    );
    m.if(win.valid.and(win.ready), () => issued.next(1));
    // The bytes a window read brings back, moved down to pci_cfg_data[0..len).
    const shifted = select4(winLane, [
      win.rdata,
      lit(0, 8).cat(win.rdata.bits(31, 8)),
      lit(0, 16).cat(win.rdata.bits(31, 16)),
      lit(0, 24).cat(win.rdata.bits(31, 24)),
    ]);
    const winLenMask = m.reg('tgt_len_mask', 4);
    winLenMask.next(lenMask);
    const keepMask = beMask32(winLenMask);

    // ---- the state machine
    const exec = st.is('exec');
    st.switch({
      idle: () => m.if(take, () => st.goto('decode')),
      decode: () => {
        m.if(isWrite.not().and(fnOk).and(touchesData).and(winOk), () => st.goto('win_rd')).else(() => st.goto('exec'));
      },
      win_rd: () => m.if(win.done, () => st.goto('exec')),
      exec: () => {
        m.if(isWrite.and(fnOk).and(touchesData).and(winOk), () => st.goto('win_wr')).else(() => st.goto('resp'));
      },
      win_wr: () => m.if(win.done, () => st.goto('resp')),
      resp: () => m.if(cpl.ready, () => st.goto('idle')),
    });
    m.if(win.done, () => issued.next(0));
    dwords.forEach((d, i) => {
      m.if(take, () => hit[i].next(f.cfgDword.eq(d.offset >> 2).and(f.firstBe.orR())));
    });

    // ---- writes: RW bits under the byte enables, RW1C bits cleared by ones, then hardware events
    const doWrite = exec.and(isWrite).and(fnOk);
    const mask = beMask32(be);
    const sets = new Map<number, Expr>([
      [
        map.command,
        mux(evSta, lit(STA_SIGNALED_TARGET_ABORT, 32), lit(0, 32)).or(
          mux(evDpe, lit(STA_DETECTED_PARITY, 32), lit(0, 32)),
        ),
      ],
    ]);
    const urSelf = exec.and(fnOk.not());
    sets.set(map.devctl, mux(evUr.or(urSelf), lit(DEVSTA_URD << 16, 32), lit(0, 32)));
    dwords.forEach((d, i) => {
      const r = regs.get(d.offset);
      if (!r) return;
      const rw = mask.and(lit(d.rw, 32));
      let written = r.and(rw.not()).or(wdata.and(rw));
      if (d.w1c) written = written.and(wdata.and(mask).and(lit(d.w1c, 32)).not());
      if (d.offset === map.pmcsr) {
        // PowerState: only D0 (00) and D3hot (11) exist; a write of D1/D2 leaves the state as it was (7.5.2.2).
        const ps = written.bits(1, 0);
        written = mux(ps.eq(1).or(ps.eq(2)), cat(written.bits(31, 2), r.bits(1, 0)), written);
      }
      let next = mux(doWrite.and(hit[i]), written, r);
      const set = sets.get(d.offset);
      if (set) next = next.or(set.and(lit(d.w1c, 32)));
      r.next(next);
      // FLR: back to the reset value, except Link Control (choices.ts "flr").
      if (d.offset !== map.lnkctl) m.if(flr, () => r.next(d.init));
    });
    // Initiate Function Level Reset: Device Control bit 15 written with 1, when the function advertises FLR.
    const devctlIdx = dwords.findIndex((d) => d.offset === map.devctl);
    flr.next(
      l.pcie.flr
        ? doWrite
            .and(hit[devctlIdx])
            .and(be.bit(1))
            .and(wdata.and(lit(DEVCTL_INITIATE_FLR, 32)).orR())
        : lit(0, 1),
    );
    // A window read's bytes land in pci_cfg_data.
    m.if(st.is('win_rd').and(win.done), () => pciData.next(pciData.and(keepMask.not()).or(shifted.and(keepMask))));

    // ---- reads: the hit dword with its live bits, registered
    const live = new Map<number, Expr>([
      [map.command, mux(intxStatus, lit(0x8 << 16, 32), lit(0, 32))],
      [map.devctl, mux(txPending, lit(0x20 << 16, 32), lit(0, 32))],
    ]);
    let rdata: Expr = lit(0, 32);
    dwords.forEach((d, i) => {
      const lv = live.get(d.offset);
      const v = lv ? stored(d).or(lv.and(lit(d.live, 32))) : stored(d);
      rdata = rdata.or(mux(hit[i], v, lit(0, 32)));
    });
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
      ev_unsupported_request: evUr,
      ev_signaled_target_abort: evSta,
      ev_detected_parity: evDpe,
      interrupt_status: intxStatus,
      transactions_pending: txPending,
    };
  },
  {
    name: (p) => `virtio_cfg_space_${p.layout.name}_w${p.W}`,
    doc: 'virtio-pci type-0 configuration space: header, BARs, PCI Express (FLR), PM, MSI-X, virtio capabilities and the PCI_CFG window.',
  },
);

/** A 4-way choice by a 2-bit lane index (byte shifts). */
function select4(sel: Expr, opts: [Expr, Expr, Expr, Expr]): Expr {
  return mux(sel.bit(1), mux(sel.bit(0), opts[3], opts[2]), mux(sel.bit(0), opts[1], opts[0]));
}
