// The test device's RAM: dword-addressed, one beat (L dwords) per cycle at any dword alignment, on one write
// port and one read port shared by two clients each. A write reaches the banks one cycle after it is accepted.
//
// Storage is L banks of 32-bit block RAM, dword d in bank d mod L at row d / L, so the L dwords of a beat
// at any dword address sit in L different banks: bank b holds lane (b - a) mod L, at row a / L (+1 for the
// banks below a mod L). A beat is then one write (or one read) per bank, with the lanes rotated; no
// read-modify-write, no second cycle for unaligned beats. Each bank is a simple dual-port RAM (one write
// port, one read port), which every FPGA block RAM provides.
//
// Arbitration is per beat with fixed priority: client A (the DMA read engine writing completion data, the
// MMIO target reading) wins over client B.
import { bit, cat, defineModule, type Expr, lit, log2ceil, mux, select } from '../hdl';
import { type DataWidth, lanesOf, ramRead, ramWrite } from '../pcie/streams';

export interface DevRamParams {
  W: DataWidth;
  /** Size in bytes (a power of two). */
  bytes: number;
}

export const DevRam = defineModule(
  'testdev_ram',
  (m, p: DevRamParams) => {
    const L = lanesOf(p.W);
    const lw = log2ceil(L);
    const dwords = p.bytes / 4;
    const aw = log2ceil(dwords);
    const rowW = aw - lw;
    const wrA = m.input('wr_a', ramWrite(p.W, aw));
    const wrB = m.input('wr_b', ramWrite(p.W, aw));
    const rdA = m.input('rd_a', ramRead(p.W, aw));
    const rdB = m.input('rd_b', ramRead(p.W, aw));

    const lane = (v: Expr, i: number, w: number) => v.bits(w * (i + 1) - 1, w * i);
    // Row of bank b for a beat at dword address {row, rot}: the banks below rot hold the next row's dwords
    // (the last bank never does: the comparison would be constant).
    const below = (b: number, rot: Expr, row: Expr) => (b === L - 1 ? row : row.add(lit(b, lw).lt(rot).zext(rowW)));
    const banks = Array.from({ length: L }, (_, b) => m.memory(`bank${b}`, { width: 32, depth: dwords / L }));

    // ---- write port
    wrA.ready.set(1);
    wrB.ready.set(wrA.valid.not());
    // The accepted beat is registered first and written to the banks the next cycle, so that a client's
    // byte-enable logic and the lane rotation are not one path. Every reader of a written dword comes later
    // than that (the MMIO target reads after its request's intake; the DMA engines after a register access).
    const useA = wrA.valid;
    const wValid = m.reg('wr_valid', bit, { reset: 0 });
    const wAddr = m.reg('wr_addr', aw);
    const wData = m.reg('wr_data', p.W);
    const wBe = m.reg('wr_be', p.W / 8);
    wValid.next(wrA.valid.or(wrB.valid));
    wAddr.next(mux(useA, wrA.addr, wrB.addr));
    wData.next(mux(useA, wrA.data, wrB.data));
    wBe.next(mux(useA, wrA.be, wrB.be));
    const wRot = wAddr.bits(lw - 1, 0);
    const wRow = wAddr.bits(aw - 1, lw);
    banks.forEach((bank, b) => {
      const laneIdx = lit(b, lw).sub(wRot); // (b - a) mod L
      const row = below(b, wRot, wRow);
      const data = select(
        laneIdx,
        Array.from({ length: L }, (_, i) => lane(wData, i, 32)),
      );
      const be = select(
        laneIdx,
        Array.from({ length: L }, (_, i) => lane(wBe, i, 4)),
      );
      bank.write(row, data, wValid.and(be.orR()), be);
    });

    // ---- read port
    rdA.ready.set(1);
    rdB.ready.set(rdA.valid.not());
    const rFire = rdA.valid.or(rdB.valid);
    const rAddr = m.let('rd_addr', mux(rdA.valid, rdA.addr, rdB.addr));
    const rRot = rAddr.bits(lw - 1, 0);
    const rRow = rAddr.bits(aw - 1, lw);
    const q = banks.map((bank, b) => bank.readSync(below(b, rRot, rRow), rFire));
    const rotQ = m.reg('rd_rot', lw, { reset: 0 });
    const validA = m.reg('rvalid_a', bit, { reset: 0 });
    const validB = m.reg('rvalid_b', bit, { reset: 0 });
    m.if(rFire, () => rotQ.next(rRot));
    validA.next(rdA.valid);
    validB.next(rdB.valid.and(rdA.valid.not()));
    // Lane i of the answer is dword a + i, in bank (a + i) mod L.
    const lanes: Expr[] = [];
    for (let i = L - 1; i >= 0; i--) lanes.push(select(rotQ.add(lit(i, lw)), q));
    const rdata = m.let('rd_data', cat(...lanes));
    rdA.rvalid.set(validA);
    rdA.rdata.set(rdata);
    rdB.rvalid.set(validB);
    rdB.rdata.set(rdata);
    return { wr_a: wrA, wr_b: wrB, rd_a: rdA, rd_b: rdB };
  },
  {
    name: (p) => `testdev_ram_w${p.W}_${p.bytes / 1024}k`,
    doc: 'Banked dword RAM: one unaligned beat per cycle; two writers, two readers.',
  },
);
