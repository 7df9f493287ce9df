// MSI-X: the vector table and Pending Bit Array in a memory BAR, and the message generator (PCIe Base
// Specification 7.7.2, "MSI-X Capability and Table Structure").
//
// Table entry v, 16 bytes at tableOffset + 16 v: Message Address [31:0] (bits 1:0 read 0: dword aligned),
// Message Upper Address, Message Data, Vector Control (bit 0 Mask Bit, set at reset; other bits reserved).
// PBA at pbaOffset: bit v of the qword array is vector v's Pending bit (read-only).
//
// An interrupt request for vector v sets Pending[v] while MSI-X is enabled (requests while it is disabled
// are dropped). A pending vector whose Mask Bit is clear is sent when the Function Mask is clear and Bus
// Master Enable is set (a message is a memory write, 7.5.1.1.3): the Pending bit clears, and over the next
// three cycles the entry's Upper Address, Address and Data are read into the message registers. A masked vector
// stays pending until unmasked (7.7.2: "the function must send the message when the vector is unmasked"). The
// message is a 1 DW MWr, 3DW header below 4 GB.
import { bit, cat, defineModule, type Expr, lit, log2ceil, mux, paramError, type Signal } from '../hdl';
import { muxTreeOrZero } from '../lib/mux';
import { type DataWidth, driveOneBeat, regBus, tlpStream } from './streams';
import { makeDw0, Type } from './tlp';

export interface MsixParams {
  W: DataWidth;
  vectors: number;
  /** Byte offsets of the table and the PBA inside the BAR (8-byte aligned). */
  tableOffset: number;
  pbaOffset: number;
  /** log2 of the BAR size: the register port addresses its dwords. */
  barLog2: number;
  /**
   * Adds the inputs `clear_pending` (every Pending bit clears: a device-level reset such as a virtio reset) and
   * `reset_table` (the table and Pending bits return to their reset values: Function Level Reset). Default off.
   */
  softReset?: boolean;
}

export const Msix = defineModule(
  'pcie_msix',
  (m, p: MsixParams) => {
    const N = p.vectors;
    if (!Number.isInteger(N) || N < 1 || N > 2048) throw paramError(`MSI-X: 1..2048 vectors, got ${N}`);
    if (p.tableOffset % 8 || p.pbaOffset % 8)
      throw paramError(
        `MSI-X: table (0x${p.tableOffset.toString(16)}) and PBA (0x${p.pbaOffset.toString(16)}) must be qword aligned`,
      );
    if (p.tableOffset + 16 * N > 1 << p.barLog2 || p.pbaOffset + 8 * Math.ceil(N / 64) > 1 << p.barLog2) {
      throw paramError(`MSI-X: table or PBA outside the ${1 << p.barLog2}-byte BAR`);
    }
    if (p.pbaOffset < p.tableOffset + 16 * N && p.tableOffset < p.pbaOffset + 8 * Math.ceil(N / 64))
      throw paramError('MSI-X: the table and the PBA overlap');
    const reg = m.input('reg', regBus(p.barLog2 - 2));
    const msixEnable = m.input('msix_enable', bit);
    const functionMask = m.input('function_mask', bit);
    const busMaster = m.input('bus_master', bit);
    const requesterId = m.input('requester_id', 16);
    const irq = m.input('irq', N);
    const msg = m.output('msg', tlpStream(p.W));
    const pendingOut = m.output('pending', N);
    const clearPending = p.softReset ? m.input('clear_pending', bit) : undefined;
    const resetTable = p.softReset ? m.input('reset_table', bit) : undefined;

    // ---- the table: Message Address, Upper Address and Data of every entry in distributed RAM (one write port,
    // two asynchronous read ports: the register port's and the message generator's), the Mask Bits in
    // flip-flops. RAM cannot be reset, so a flag per entry dword and byte lane says the byte was written since
    // the last reset (power-on, `reset_table`): a byte not written reads 0. In flip-flops, the table cost a
    // LUT per bit for each of its two read muxes (the register read, the message's address and data): about
    // 290 LUTs for 3 vectors, where the RAM costs 64 LUTs of LUTRAM and the flags a few LUTs.
    const vw = log2ceil(N);
    const ab = vw + 2; // RAM address: entry, dword inside the entry (0 address, 1 upper address, 2 data)
    const table = m.memory('entries', { width: 32, depth: 2 ** ab });
    const used = (i: number) => i % 4 !== 3 && i < 4 * N;
    const writtenRegs = Array.from({ length: 2 ** ab }, (_x, i) =>
      used(i) ? m.reg(`written_${i}`, 4, { reset: 0 }) : undefined,
    );
    const written = { at: (addr: Expr) => muxTreeOrZero(addr, writtenRegs, 4) };
    const masked = m.regArray('masked', N, bit, { reset: 1 });
    const pending = m.regArray('pend', N, bit, { reset: 0 });
    /** Bytes whose flag is clear read 0. */
    const lanesOf = (flags: Expr) => cat(...[3, 2, 1, 0].map((k) => mux(flags.bit(k), lit(0xff, 8), lit(0, 8))));
    const liveAt = (addr: Expr, data: Expr) => data.and(lanesOf(written.at(addr)));

    // ---- register port
    const tableDw = p.tableOffset / 4;
    const pbaDw = p.pbaOffset / 4;
    const aw = p.barLog2 - 2;
    const inTable = reg.addr.ge(tableDw).and(reg.addr.lt(tableDw + 4 * N));
    // The entry and dword inside the table (the offset from the table's start: its low bits when aligned).
    const rel = tableDw % 2 ** ab === 0 ? reg.addr.trunc(ab) : reg.addr.sub(tableDw).trunc(ab);
    const isCtrl = rel.bits(1, 0).eq(3);
    // Message Address bits 1:0 read 0 (dword aligned): stored as 0.
    const wdata = cat(reg.wdata.bits(31, 2), reg.wdata.bits(1, 0).and(mux(rel.bits(1, 0).eq(0), lit(0, 2), lit(3, 2))));
    const wrRam = reg.wr.and(inTable).and(isCtrl.not());
    table.write(rel, wdata, wrRam, reg.wbe);
    writtenRegs.forEach((r, i) => r && m.if(wrRam.and(rel.eq(i)), () => r.next(r.or(reg.wbe))));
    for (let v = 0; v < N; v++)
      m.if(
        reg.wr
          .and(inTable)
          .and(isCtrl)
          .and(rel.bits(ab - 1, 2).eq(v))
          .and(reg.wbe.bit(0)),
        () => masked.item(v).next(reg.wdata.bit(0)),
      );
    const pendVec = m.let('pending_vec', N === 1 ? pending.item(0) : cat(...[...pending.items].reverse()));
    pendingOut.set(pendVec);
    // The read as two parts ORed: the RAM's dword with the lanes that read it (in the table, not a Vector Control
    // dword, written since the last reset), and the narrow values (a Mask Bit, the Pending bits).
    const ramRead = table.readAsync(rel);
    const ramLanes = m.let('reg_ram_lanes', mux(inTable.and(isCtrl.not()), written.at(rel), lit(0, 4)));
    const small = m.wire('reg_small', 32, { default: 0 });
    m.if(inTable.and(isCtrl), () => small.set(masked.at(rel.bits(ab - 1, 2)).zext(32)));
    const sw = m.switch(reg.addr);
    for (let q = 0; q < 2 * Math.ceil(N / 64); q++) {
      const lo = 32 * q;
      if (lo >= N) continue;
      const hi = Math.min(N, lo + 32) - 1;
      const bits = pendVec.bits(hi, lo);
      sw.case(lit(pbaDw + q, aw), () => small.set(bits.width === 32 ? bits : bits.zext(32)));
    }
    reg.rdata.set(ramRead.and(lanesOf(ramLanes)).or(small));
    // With softReset (the virtio register file, which registers the read): the parts apart, so that the reader
    // can register the RAM's bytes with a synchronous reset per lane (no LUT per bit; the lanes' flag lookup
    // ANDed into each bit cost a LUT per bit, copied into every read bit).
    const regRam = p.softReset ? m.output('reg_ram', 32) : undefined;
    const regRamLanes = p.softReset ? m.output('reg_ram_lanes_out', 4) : undefined;
    const regSmall = p.softReset ? m.output('reg_small_out', 32) : undefined;
    regRam?.set(ramRead);
    regRamLanes?.set(ramLanes);
    regSmall?.set(small);

    // ---- message generator: pick a vector (and clear its Pending bit), then read its entry from the RAM's
    // second port, a dword a cycle (Upper Address, Address, Data), into the message's byte registers. Each loads
    // the read port's byte (clock enables, and a synchronous reset for a byte not written or the Upper Address's
    // dword of a 3DW header), so the message costs no LUT per bit; the 64-bit address decision
    // (3DW or 4DW header) is the Upper Address's OR, registered before the Address is read. One message at a
    // time, sent four cycles after the vector is picked.
    const readHi = m.reg('read_hi', bit, { reset: 0 });
    const readLo = m.reg('read_lo', bit, { reset: 0 });
    const readData = m.reg('read_data', bit, { reset: 0 });
    const vecQ = m.reg('picked_vector', vw);
    const four = m.reg('four_dw', bit);
    // The message's dwords as four byte registers each (below).
    const byteRegs = (name: string) => [0, 1, 2, 3].map((k) => m.reg(`${name}_b${k}`, 8));
    const dw2 = byteRegs('out_dw2');
    const dw3 = byteRegs('out_dw3');
    const rid = m.reg('out_requester_id', 16);
    const msgValid = m.reg('out_valid', bit, { reset: 0 });
    const msgData = byteRegs('out_data');
    const sendable = pending.items.map((pv, v) => pv.and(masked.item(v).not()));
    let pick = lit(0, vw);
    for (let v = N - 1; v >= 0; v--) pick = mux(sendable[v], lit(v, vw), pick);
    const vec = m.let('vector', pick);
    const busy = readHi.or(readLo).or(readData).or(msgValid);
    const go = m.let(
      'go',
      msixEnable
        .and(functionMask.not())
        .and(busMaster)
        .and(busy.not())
        .and(sendable.reduce((a, b) => a.or(b))),
    );
    readHi.next(go);
    readLo.next(readHi);
    readData.next(readLo);
    m.if(go, () => vecQ.next(vec));
    const msgAddr = cat(vecQ, mux(readHi, lit(1, 2), mux(readLo, lit(0, 2), lit(2, 2))));
    const raw = table.readAsync(msgAddr);
    const flags = m.let('msg_written', written.at(msgAddr));
    // Each byte register loads the entry's byte or 0 (a byte not written since the last reset, or the Upper
    // Address's dword of a 3DW header). Written as a clear that takes priority over the load, one condition per
    // byte lane, so that synthesis makes it the flip-flops' synchronous reset (which on the FPGA overrides the
    // clock enable) and the load their clock enable: the entry ANDed with its lanes' mask cost a LUT per bit
    // (the lane flags' lookup copied into each bit's logic), and a clear inside the load still left one for the
    // registers that load in two cycles or whose clear Yosys did not move to the reset pin.
    const load = (regs: Signal[], when: Expr, keep: (k: number) => Expr) =>
      regs.forEach((r, k) =>
        m.if(when.and(keep(k).not()), () => r.next(0)).elseIf(when, () => r.next(raw.bits(8 * k + 7, 8 * k))),
      );
    const live = (k: number) => flags.bit(k);
    m.if(readHi, () => four.next(liveAt(msgAddr, raw).orR()));
    load(dw2, readHi.or(readLo.and(four.not())), live);
    load(dw3, readLo, (k) => four.and(live(k)));
    load(msgData, readData, live);
    m.if(readData, () => {
      msgValid.next(1);
      rid.next(requesterId);
    }).elseIf(msg.ready, () => msgValid.next(0));
    const dword = (regs: Signal[]) => cat(...[...regs].reverse());
    const msgHdr = cat(
      makeDw0({ fmt: cat(lit(0b01, 2), four), type: Type.Mem, length: lit(1, 10) }),
      cat(rid, lit(0, 8), lit(0, 4), lit(0xf, 4)),
      dword(dw2),
      dword(dw3),
    );
    for (let v = 0; v < N; v++) {
      const sent = go.and(vec.eq(v));
      pending.item(v).next(pending.item(v).and(sent.not()).or(irq.bit(v).and(msixEnable)));
    }
    if (clearPending && resetTable) {
      m.if(clearPending.or(resetTable), () => pending.items.forEach((pv) => pv.next(0)));
      m.if(resetTable, () => {
        for (const r of writtenRegs) r?.next(0);
        for (let v = 0; v < N; v++) masked.item(v).next(1);
      });
    }

    driveOneBeat(msg, { valid: msgValid, hdr: msgHdr, dword: dword(msgData) });
    return {
      reg,
      msix_enable: msixEnable,
      function_mask: functionMask,
      bus_master: busMaster,
      requester_id: requesterId,
      irq,
      msg,
      pending: pendingOut,
      clear_pending: clearPending,
      reset_table: resetTable,
      reg_ram: regRam,
      reg_ram_lanes_out: regRamLanes,
      reg_small_out: regSmall,
    };
  },
  {
    name: (p) =>
      `pcie_msix_w${p.W}_v${p.vectors}` +
      (p.softReset ? `_sr_t${p.tableOffset.toString(16)}_p${p.pbaOffset.toString(16)}_b${p.barLog2}` : ''),
    doc: 'MSI-X table, PBA and message generator.',
  },
);
