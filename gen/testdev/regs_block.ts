// The test device's BAR0 registers (the map in ./regs.ts) and the DMA control around them: a doorbell
// checks the transfer's parameters and starts the read or the write engine; their `done` updates
// DMA_STATUS and requests the configured MSI-X vector.
import { bit, cat, defineModule, type Expr, lit, type ModuleBuilder, mux, paramError, type Signal } from '../hdl';
import { DmaError } from '../pcie/dma_common';
import { type BundleOf, regBus } from '../pcie/streams';
import { beMask32 } from '../pcie/tlp';
import { field, type FieldDef, type InstanceInfo, MSIX_VECTORS, RAM_BYTES, reg, REGISTERS } from './regs';

export interface TestdevRegsParams extends InstanceInfo {
  /** Register port address bits (dword index into BAR0). */
  addrBits: number;
}

const key = (r: string, fd: string) => `${r}.${fd}`;

type RegPort = BundleOf<ReturnType<typeof regBus>, 'in'>;

/** Storage for every RW and W1C field, named REG_FIELD; `val(reg, field)` is its register. */
function fieldStorage(m: ModuleBuilder): (r: string, fd: string) => Signal {
  const store = new Map<string, Signal>();
  for (const r of REGISTERS) {
    for (const fd of r.fields) {
      if (fd.access === 'rw' || fd.access === 'w1c') {
        store.set(key(r.name, fd.name), m.reg(`${r.name}_${fd.name}`.toLowerCase(), fd.width, { reset: fd.reset }));
      }
    }
  }
  return (r: string, fd: string) => {
    const s = store.get(key(r, fd));
    if (!s) throw paramError(`testdev regs: ${r}.${fd} has no storage`);
    return s;
  };
}

/** Reads: each register is its fields with zeros in between. */
function readMux(m: ModuleBuilder, bus: RegPort, addrBits: number, fieldValue: (r: string, fd: FieldDef) => Expr) {
  const rdata = m.wire('rdata', 32, { default: 0 });
  const sw = m.switch(bus.addr);
  for (const r of REGISTERS) {
    const parts: Expr[] = [];
    let bitPos = 32;
    for (const fd of [...r.fields].sort((a, b) => b.lsb - a.lsb)) {
      const top = fd.lsb + fd.width;
      if (top < bitPos) parts.push(lit(0, bitPos - top));
      parts.push(fieldValue(r.name, fd));
      bitPos = fd.lsb;
    }
    if (bitPos > 0) parts.push(lit(0, bitPos));
    sw.case(lit(r.offset >> 2, addrBits), () => rdata.set(cat(...parts)));
  }
  bus.rdata.set(rdata);
}

/** Writes: RW fields take the written bits under the byte enables, W1C fields clear on ones. */
function writeFields(m: ModuleBuilder, bus: RegPort, val: (r: string, fd: string) => Signal, wmask: Expr): void {
  for (const r of REGISTERS) {
    const h = bus.wr.and(bus.addr.eq(r.offset >> 2));
    for (const fd of r.fields) {
      if (fd.access !== 'rw' && fd.access !== 'w1c') continue;
      const s = val(r.name, fd.name);
      const mk = wmask.bits(fd.lsb + fd.width - 1, fd.lsb);
      const wd = bus.wdata.bits(fd.lsb + fd.width - 1, fd.lsb);
      const next = fd.access === 'rw' ? s.and(mk.not()).or(wd.and(mk)) : s.and(wd.and(mk).not());
      m.if(h, () => s.next(next));
    }
  }
}

/** One-hot MSI-X vector requests (MSIX_VECTORS bits) from a vector number, when `en`. */
function irqPulse(en: Expr, vector: Expr): Expr {
  const bits: Expr[] = [];
  for (let i = MSIX_VECTORS - 1; i >= 0; i--) bits.push(vector.eq(i));
  return mux(en, cat(...bits), lit(0, MSIX_VECTORS));
}

/**
 * A transfer's start and end: the doorbell checks the parameters (offset mod 4 equal to the host address's,
 * inside the RAM; a zero length ends at once) and starts the engine (`startPending`); either engine's
 * `done`, or a failed check, ends it into DMA_STATUS. Returns `finish` (the end, this cycle).
 */
function dmaControl(
  m: ModuleBuilder,
  val: (r: string, fd: string) => Signal,
  o: {
    doorbell: Expr;
    rd: { done: Expr; error: Expr };
    wr: { done: Expr; error: Expr };
    startPending: Signal;
    errCode: Signal;
  },
): Signal {
  const len = val('DMA_LENGTH', 'BYTES');
  const ramOff = val('DMA_RAM_OFFSET', 'OFFSET');
  const misaligned = ramOff.bits(1, 0).ne(val('DMA_HOST_ADDR_LO', 'ADDR').bits(1, 0));
  const tooLong = ramOff.zext(16).add(len.zext(16)).gt(RAM_BYTES);
  const done = val('DMA_STATUS', 'DONE');
  const errorBit = val('DMA_STATUS', 'ERROR');

  // The transfer's end, from either engine or from the doorbell's own checks.
  const finish = m.wire('finish', bit, { default: 0 });
  const finishErr = m.wire('finish_err', 3, { default: 0 });
  m.if(o.rd.done, () => {
    finish.set(1);
    finishErr.set(o.rd.error);
  }).elseIf(o.wr.done, () => {
    finish.set(1);
    finishErr.set(o.wr.error);
  });
  o.startPending.next(0);
  m.if(o.doorbell, () => {
    done.next(0);
    errorBit.next(0);
    o.errCode.next(0);
    m.if(len.eq(0), () => finish.set(1))
      .elseIf(misaligned.or(tooLong), () => {
        finish.set(1);
        finishErr.set(DmaError.BAD_PARAMS);
      })
      .else(() => o.startPending.next(1));
  });
  m.if(finish, () => {
    done.next(1);
    errorBit.next(finishErr.ne(0));
    o.errCode.next(finishErr);
  });
  return finish;
}

export const TestdevRegs = defineModule(
  'testdev_regs',
  (m, p: TestdevRegsParams) => {
    const bus = m.input('reg', regBus(p.addrBits));
    const dmaHost = m.output('dma_host_addr', 64);
    const dmaRam = m.output('dma_ram_addr', 14);
    const dmaLen = m.output('dma_len', 15);
    const dmaTimeout = m.output('dma_timeout', 24);
    const rdStart = m.output('rd_start', bit);
    const wrStart = m.output('wr_start', bit);
    const rdBusy = m.input('rd_busy', bit);
    const rdDone = m.input('rd_done', bit);
    const rdError = m.input('rd_error', 3);
    const wrBusy = m.input('wr_busy', bit);
    const wrDone = m.input('wr_done', bit);
    const wrError = m.input('wr_error', 3);
    const evUnexpected = m.input('ev_unexpected', bit);
    const irq = m.output('irq', MSIX_VECTORS);

    // ---- storage for every RW and W1C field, named REG_FIELD
    const val = fieldStorage(m);

    // Read-only fields with a hardware source; the others read their build parameter or constant reset value.
    const errCode = m.reg('err_code', 3, { reset: 0 });
    const startPending = m.reg('start_pending', bit, { reset: 0 });
    const busy = m.let('busy_any', rdBusy.or(wrBusy).or(startPending));
    const ro = new Map<string, Expr>([
      [key('DMA_STATUS', 'BUSY'), busy],
      [key('DMA_STATUS', 'ERR_CODE'), errCode],
    ]);
    const fieldValue = (r: string, fd: FieldDef): Expr => {
      if (fd.access === 'wo') return lit(0, fd.width);
      if (fd.perInstance) return lit(p[fd.perInstance], fd.width);
      if (fd.access === 'ro') return ro.get(key(r, fd.name)) ?? lit(fd.reset, fd.width);
      return val(r, fd.name);
    };

    // ---- reads and writes
    readMux(m, bus, p.addrBits, fieldValue);
    const wmask = beMask32(bus.wbe);
    writeFields(m, bus, val, wmask);
    const wrote = (name: string, fd: string) => {
      const fl = field(name, fd);
      return bus.wr.and(bus.addr.eq(reg(name).offset >> 2)).and(wmask.bits(fl.lsb + fl.width - 1, fl.lsb).andR());
    };

    // ---- DMA control
    dmaHost.set(cat(val('DMA_HOST_ADDR_HI', 'ADDR'), val('DMA_HOST_ADDR_LO', 'ADDR')));
    dmaRam.set(val('DMA_RAM_OFFSET', 'OFFSET'));
    dmaLen.set(val('DMA_LENGTH', 'BYTES'));
    dmaTimeout.set(val('DMA_TIMEOUT', 'CYCLES'));
    const doorbell = m.let(
      'doorbell',
      wrote('DMA_DOORBELL', 'START')
        .and(bus.wdata.bit(field('DMA_DOORBELL', 'START').lsb))
        .and(busy.not()),
    );
    const finish = dmaControl(m, val, {
      doorbell,
      rd: { done: rdDone, error: rdError },
      wr: { done: wrDone, error: wrError },
      startPending,
      errCode,
    });
    const dir = val('DMA_CONTROL', 'DIR');
    rdStart.set(startPending.and(dir.not()));
    wrStart.set(startPending.and(dir));

    // ---- completion counter for stray completions (saturating)
    const cnt = val('CPL_UNEXPECTED', 'COUNT');
    m.if(evUnexpected.and(cnt.andR().not()), () => cnt.next(cnt.inc()));

    // ---- interrupts: the end of a transfer (if enabled) and IRQ_TEST writes, as one-hot pulses
    const irqDone = irqPulse(finish.and(val('DMA_CONTROL', 'IRQ_EN')), val('DMA_CONTROL', 'VECTOR'));
    const irqTest = irqPulse(wrote('IRQ_TEST', 'VECTOR'), bus.wdata.bits(field('IRQ_TEST', 'VECTOR').width - 1, 0));
    irq.set(irqDone.or(irqTest));
    return {
      reg: bus,
      dma_host_addr: dmaHost,
      dma_ram_addr: dmaRam,
      dma_len: dmaLen,
      dma_timeout: dmaTimeout,
      rd_start: rdStart,
      wr_start: wrStart,
      rd_busy: rdBusy,
      rd_done: rdDone,
      rd_error: rdError,
      wr_busy: wrBusy,
      wr_done: wrDone,
      wr_error: wrError,
      ev_unexpected: evUnexpected,
      irq,
    };
  },
  {
    name: (p) => `testdev_regs_l${p.lanes}_t${p.readTags}`,
    doc: 'Test device registers (gen/testdev/regs.ts) and DMA control.',
  },
);
