// An on-chip AXI4 RAM slave: the default storage behind virtio-blk's storage port (docs/virtio-blk.md). One
// block RAM of `bytes` bytes, as wide as the bus, with byte strobes. INCR bursts of any length (FIXED and WRAP
// are served as INCR: the device never asks for them); every response OKAY. Addresses wrap at the RAM's size.
//
// Writes: an address and its first data beat can be taken in the same cycle, then one beat per cycle; the
// response waits in a register (a new burst starts once it is taken or being taken). Reads: one beat per cycle,
// also across bursts; the block RAM's read register is the R channel's register (held while rready is low).
import { bit, defineModule, intParam, log2ceil, mux, paramError } from '../hdl';
import { AXI_RESP, axi4 } from '../lib/axi';

export interface AxiRamParams {
  /** AXI data width in bits: 64..1024, a power of two. */
  dataBits: number;
  /** Size in bytes: a power of two, at least two words. */
  bytes: number;
}

export const AxiRam = defineModule(
  'axi_ram',
  (m, p: AxiRamParams) => {
    intParam('AxiRam: dataBits', p.dataBits, 64, 1024);
    if ((p.dataBits & (p.dataBits - 1)) !== 0)
      throw paramError(`AxiRam: dataBits must be a power of two, got ${p.dataBits}`);
    const wordBytes = p.dataBits / 8;
    intParam('AxiRam: bytes', p.bytes, 2 * wordBytes);
    if ((p.bytes & (p.bytes - 1)) !== 0) throw paramError(`AxiRam: bytes must be a power of two, got ${p.bytes}`);
    const addrBits = log2ceil(p.bytes);
    const ob = log2ceil(wordBytes);
    const wordBits = addrBits - ob;
    const s = m.input('s', axi4(p.dataBits, addrBits));
    const mem = m.memory('mem', { width: p.dataBits, depth: p.bytes / wordBytes });
    const wordOf = (a: typeof s.awaddr) => a.bits(addrBits - 1, ob);

    // ---- writes
    const wActive = m.reg('w_active', bit, { reset: 0 });
    const wAddr = m.reg('w_addr', wordBits);
    const bValid = m.reg('b_valid', bit, { reset: 0 });
    const bFree = bValid.not().or(s.bready);
    s.awready.set(wActive.not().and(bFree));
    const awFire = s.awvalid.and(wActive.not()).and(bFree);
    const beatAddr = mux(wActive, wAddr, wordOf(s.awaddr));
    const canWrite = wActive.or(awFire);
    s.wready.set(canWrite);
    const wFire = s.wvalid.and(canWrite);
    mem.write(beatAddr, s.wdata, wFire, s.wstrb);
    m.if(wFire.and(s.wlast), () => {
      wActive.next(0);
      bValid.next(1);
    })
      .elseIf(wFire, () => {
        wActive.next(1);
        wAddr.next(beatAddr.inc());
      })
      .elseIf(awFire, () => {
        wActive.next(1);
        wAddr.next(beatAddr);
      });
    m.if(wFire.and(s.wlast).not().and(s.bready), () => bValid.next(0));
    s.bvalid.set(bValid);
    s.bresp.set(AXI_RESP.OKAY);

    // ---- reads
    const rActive = m.reg('r_active', bit, { reset: 0 });
    const rAddr = m.reg('r_addr', wordBits);
    const rLeft = m.reg('r_left', 8);
    const rValid = m.reg('r_valid', bit, { reset: 0 });
    const rLast = m.reg('r_last', bit, { reset: 0 });
    const rFree = rValid.not().or(s.rready);
    // A new burst is taken while the last beat of the one before is read: back-to-back single beats at full rate.
    const issue = rActive.and(rFree);
    const arReady = rActive.not().or(issue.and(rLeft.eq(0)));
    s.arready.set(arReady);
    const arFire = s.arvalid.and(arReady);
    const rdata = mem.readSync(rAddr, issue);
    m.if(issue, () => {
      rValid.next(1);
      rLast.next(rLeft.eq(0));
      rAddr.next(rAddr.inc());
      rLeft.next(rLeft.dec());
      m.if(rLeft.eq(0), () => rActive.next(0));
    }).elseIf(s.rready, () => rValid.next(0));
    m.if(arFire, () => {
      rActive.next(1);
      rAddr.next(wordOf(s.araddr));
      rLeft.next(s.arlen);
    });
    s.rvalid.set(rValid);
    s.rdata.set(rdata);
    s.rresp.set(AXI_RESP.OKAY);
    s.rlast.set(rLast);
    return { s };
  },
  {
    name: (p) => `axi_ram_d${p.dataBits}_b${p.bytes}`,
    doc: 'On-chip AXI4 RAM slave (INCR bursts, byte strobes): the default virtio-blk storage.',
  },
);
