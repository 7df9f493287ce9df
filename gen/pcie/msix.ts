// MSI-X: the vector table and Pending Bit Array in a memory BAR, and the message generator (PCIe Base
// Specification 7.7.2, "MSI-X Capability and Table Structure").
//
// Table entry v, 16 bytes at tableOffset + 16 v: Message Address [31:0] (bits 1:0 read 0: dword aligned),
// Message Upper Address, Message Data, Vector Control (bit 0 Mask Bit, set at reset; other bits reserved).
// PBA at pbaOffset: bit v of the qword array is vector v's Pending bit (read-only).
//
// An interrupt request for vector v sets Pending[v] while MSI-X is enabled (requests while it is disabled
// are dropped). A pending vector whose Mask Bit is clear is sent when the Function Mask is clear and Bus
// Master Enable is set (a message is a memory write, 7.5.1.1.3): the Pending bit clears, and the next cycle
// the entry's address and data are copied into the message register. A masked vector stays pending until unmasked
// (7.7.2: "the function must send the message when the vector is unmasked"). The message is a 1 DW MWr,
// 3DW header below 4 GB.
import { bit, cat, defineModule, lit, log2ceil, mux, paramError, type Signal } from '../hdl';
import { type DataWidth, driveOneBeat, regBus, tlpStream } from './streams';
import { memReqHdr } from './tlp';

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

    const addrLo = m.regArray('addr_lo', N, 32, { reset: 0 });
    const addrHi = m.regArray('addr_hi', N, 32, { reset: 0 });
    const data = m.regArray('msg_data', N, 32, { reset: 0 });
    const masked = m.regArray('masked', N, bit, { reset: 1 });
    const pending = m.regArray('pend', N, bit, { reset: 0 });

    // ---- register port
    // A write replaces the enabled bytes: a mux per byte whose other input is the register itself, which
    // synthesis turns into the flip-flops' clock enables (no LUT per bit). `zeros`: bits that stay 0.
    const upd = (r: Signal, zeros = 0) => {
      const bytes = [3, 2, 1, 0].map((k) =>
        mux(reg.wbe.bit(k), reg.wdata.bits(8 * k + 7, 8 * k), r.bits(8 * k + 7, 8 * k)),
      );
      const v = cat(...bytes);
      r.next(zeros ? v.and(lit(~zeros >>> 0, 32)) : v);
    };
    const tableDw = p.tableOffset / 4;
    const pbaDw = p.pbaOffset / 4;
    const rdata = m.wire('rdata', 32, { default: 0 });
    const sw = m.switch(reg.addr);
    const aw = p.barLog2 - 2;
    for (let v = 0; v < N; v++) {
      const base = tableDw + 4 * v;
      sw.case(lit(base, aw), () => {
        rdata.set(cat(addrLo.item(v).bits(31, 2), lit(0, 2)));
        m.if(reg.wr, () => upd(addrLo.item(v), 0x3));
      });
      sw.case(lit(base + 1, aw), () => {
        rdata.set(addrHi.item(v));
        m.if(reg.wr, () => upd(addrHi.item(v)));
      });
      sw.case(lit(base + 2, aw), () => {
        rdata.set(data.item(v));
        m.if(reg.wr, () => upd(data.item(v)));
      });
      sw.case(lit(base + 3, aw), () => {
        rdata.set(masked.item(v).zext(32));
        m.if(reg.wr.and(reg.wbe.bit(0)), () => masked.item(v).next(reg.wdata.bit(0)));
      });
    }
    const pendVec = m.let('pending_vec', N === 1 ? pending.item(0) : cat(...[...pending.items].reverse()));
    pendingOut.set(pendVec);
    for (let q = 0; q < 2 * Math.ceil(N / 64); q++) {
      const lo = 32 * q;
      if (lo >= N) {
        sw.case(lit(pbaDw + q, aw), () => rdata.set(0));
        continue;
      }
      const hi = Math.min(N, lo + 32) - 1;
      const bits = pendVec.bits(hi, lo);
      sw.case(lit(pbaDw + q, aw), () => rdata.set(bits.width === 32 ? bits : bits.zext(32)));
    }
    reg.rdata.set(rdata);

    // ---- message generator, two stages: pick a vector (and clear its Pending bit), then build its message
    // from the table entry in the next cycle, so that the choice among the vectors and the 64-bit address
    // decision (3DW or 4DW header) are not one path. One message at a time.
    const vw = log2ceil(N);
    const picked = m.reg('picked', bit, { reset: 0 }); // `vecQ` was chosen last cycle: build its message now
    const vecQ = m.reg('picked_vector', vw);
    const msgValid = m.reg('out_valid', bit, { reset: 0 });
    const msgHdr = m.reg('out_hdr', 128);
    const msgData = m.reg('out_data', 32);
    const sendable = pending.items.map((pv, v) => pv.and(masked.item(v).not()));
    let pick = lit(0, vw);
    for (let v = N - 1; v >= 0; v--) pick = mux(sendable[v], lit(v, vw), pick);
    const vec = m.let('vector', pick);
    const go = m.let(
      'go',
      msixEnable
        .and(functionMask.not())
        .and(busMaster)
        .and(msgValid.not())
        .and(picked.not())
        .and(sendable.reduce((a, b) => a.or(b))),
    );
    picked.next(go);
    m.if(go, () => vecQ.next(vec));
    m.if(picked, () => {
      msgValid.next(1);
      msgHdr.next(
        memReqHdr({
          write: true,
          addr: cat(addrHi.at(vecQ), addrLo.at(vecQ)),
          length: lit(1, 10),
          firstBe: lit(0xf, 4),
          lastBe: lit(0, 4),
          requesterId,
          tag: lit(0, 8),
        }),
      );
      msgData.next(data.at(vecQ));
    }).elseIf(msg.ready, () => msgValid.next(0));
    for (let v = 0; v < N; v++) {
      const sent = go.and(vec.eq(v));
      pending.item(v).next(pending.item(v).and(sent.not()).or(irq.bit(v).and(msixEnable)));
    }
    if (clearPending && resetTable) {
      m.if(clearPending.or(resetTable), () => pending.items.forEach((pv) => pv.next(0)));
      m.if(resetTable, () => {
        for (let v = 0; v < N; v++) {
          addrLo.item(v).next(0);
          addrHi.item(v).next(0);
          data.item(v).next(0);
          masked.item(v).next(1);
        }
      });
    }

    driveOneBeat(msg, { valid: msgValid, hdr: msgHdr, dword: msgData });
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
    };
  },
  {
    name: (p) =>
      `pcie_msix_w${p.W}_v${p.vectors}` +
      (p.softReset ? `_sr_t${p.tableOffset.toString(16)}_p${p.pbaOffset.toString(16)}_b${p.barLog2}` : ''),
    doc: 'MSI-X table, PBA and message generator.',
  },
);
