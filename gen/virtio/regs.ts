// The virtio endpoint's register file: the structures in the BARs (common configuration, ISR, device
// configuration, notifications, MSI-X table and PBA) behind one-dword ops from the access engine, the status
// machine and feature negotiation, the per-queue state, interrupt routing, and the data-plane handover.
//
// Every field's offset and width comes from gen/virtio/regmap.ts (COMMON_CFG, the device type's configuration
// table), every region from the layout: the decode is generated from the one description. What each field does
// is the golden model's (tb/virtio/golden/common.ts), and where the specifications leave a choice it is the one
// tb/virtio/golden/choices.ts names (cited below by entry).
//
// Two pipeline stages, so that each ends in flip-flops:
//   decode   the op's BAR and dword against every dword that holds a field: a registered one-hot hit (the MSI-X
//            table's read data is registered here too);
//   execute  field writes (byte-merged into the field, then the field's rule, in address order) and reads
//            (the read mux by the registered dword address, registered: rd_valid / rd_data two cycles after the op).
import {
  bit,
  bitsFor,
  cat,
  defineModule,
  type Expr,
  lit,
  mux,
  orAll,
  paramError,
  type PortOf,
  type Signal,
} from '../hdl';
import { muxTreeOrZero } from '../lib/mux';
import { Msix } from '../pcie/msix';
import { type DataWidth, tlpStream } from '../pcie/streams';
import { endpointConfigTag, queueNotifyOff, type Region, type VirtioPciLayout } from './layout';
import { barDwordBits, barOp, queueHandover, virtioHandover } from './ports';
import {
  COMMON_CFG,
  DEVICE_TYPES,
  STATUS,
  VIRTIO_MSI_NO_VECTOR,
  deviceConfigDefaults,
  featureDef,
  featureMask,
  featuresOf,
  type DeviceConfigValues,
} from './regmap';

/** Transport features the control plane implements on its own: a layout may offer these. */
export const RTL_TRANSPORT_FEATURES: readonly string[] = [
  'VIRTIO_F_VERSION_1',
  'VIRTIO_F_ACCESS_PLATFORM',
  'VIRTIO_F_RING_PACKED',
  'VIRTIO_F_ORDER_PLATFORM',
];

/**
 * Transport features whose register half is here but whose other half is the data plane's: queue_reset (the
 * queue engine quiesces the queue, then pulses queue_reset_done) and the doorbell's notification data (handed
 * over on notify_data). Offered only when the data plane lists them in `dataPlaneFeatures`.
 */
export const DATA_PLANE_TRANSPORT_FEATURES: readonly string[] = ['VIRTIO_F_RING_RESET', 'VIRTIO_F_NOTIFICATION_DATA'];

export interface VirtioRegsParams {
  layout: VirtioPciLayout;
  W: DataWidth;
  /** Device configuration values at reset (the device type's defaults otherwise). */
  deviceConfig?: DeviceConfigValues;
  /** Features FEATURES_OK requires besides VERSION_1 (e.g. VIRTIO_F_ACCESS_PLATFORM). */
  requiredFeatures?: readonly string[];
  /**
   * Transport features the data plane implements, offered on top of RTL_TRANSPORT_FEATURES (those of
   * DATA_PLANE_TRANSPORT_FEATURES have their register half here; others need nothing of the transport).
   */
  dataPlaneFeatures?: readonly string[];
  /**
   * The data plane never changes the device configuration (it ties the handover's `cfg_valid` to 0, as the
   * virtio-blk function's does): the fields the driver cannot write are constants, `config_generation` reads 0
   * (only a device-side change advances it), no configuration-change interrupt is raised, and `cfg_valid`,
   * `cfg_field` and `cfg_value` are ignored. Without it those are registers with their compares and read
   * multiplexers, which a build that ties `cfg_valid` to 0 folds to constants anyway. Default false.
   */
  staticDeviceConfig?: boolean;
}

/** A field's bytes inside one dword: bytes byteLo..byteLo+n-1 of the field at byte lane `lane`. */
interface Seg {
  field: string;
  byteLo: number;
  lane: number;
  n: number;
}

/** A dword of a BAR that holds fields (or a doorbell). */
interface Slot {
  name: string;
  kind: 'common' | 'device' | 'isr' | 'notify';
  bar: number;
  dw: number;
  segs: Seg[];
}

/** The dwords a list of fields occupies in `region`; fields past the region's end are not there. */
function fieldSlots(
  kind: Slot['kind'],
  region: Region,
  fields: readonly { name: string; offset: number; width: number }[],
  where: string,
): Slot[] {
  if (region.offset % 4)
    throw paramError(`${where}: the ${kind} region at 0x${region.offset.toString(16)} is not dword aligned`);
  const slots = new Map<number, Slot>();
  for (const f of fields) {
    if (f.offset >= region.length) continue;
    if (f.offset + f.width > region.length)
      throw paramError(
        `${where}: field ${f.name} crosses the end of the ${kind} region (0x${region.length.toString(16)} bytes)`,
      );
    for (let b = 0; b < f.width; b += 4) {
      const at = region.offset + f.offset + b;
      const n = Math.min(4, f.width - b);
      if ((at % 4) + n > 4) throw paramError(`${where}: field ${f.name} straddles a dword`);
      const dw = at >> 2;
      if (!slots.has(dw))
        slots.set(dw, {
          name: `${kind}_${(dw * 4 - region.offset).toString(16)}`,
          kind,
          bar: region.bar,
          dw,
          segs: [],
        });
      slots.get(dw)!.segs.push({ field: f.name, byteLo: b, lane: at % 4, n });
    }
  }
  return [...slots.values()];
}

export const VirtioRegs = defineModule(
  'virtio_regs',
  (m, p: VirtioRegsParams) => {
    const l = p.layout;
    const where = `virtio layout '${l.name}'`;
    const type = DEVICE_TYPES[l.deviceType];
    const Q = l.queues.count;
    const V = l.msix.vectors;
    const aw = barDwordBits(l.bars);
    const implemented = new Set([...RTL_TRANSPORT_FEATURES, ...(p.dataPlaneFeatures ?? [])]);
    for (const name of l.features) {
      const f = featureDef(name, l.deviceType);
      if (f.scope === 'transport' && !implemented.has(name))
        throw paramError(`${where}: offers ${name}, which the RTL does not implement (offer nothing that is not real)`);
    }
    if (Q > 64)
      throw paramError(`${where}: ${Q} queues; the register file keeps queue state in flip-flops (at most 64)`);
    if (l.msix.table.bar !== l.msix.pba.bar) throw paramError(`${where}: the MSI-X table and PBA must share a BAR`);
    const offered = featureMask(l.features, l.deviceType);
    const required = featureMask(['VIRTIO_F_VERSION_1', ...(p.requiredFeatures ?? [])], l.deviceType);
    const bitOf = (name: string) => featureDef(name, l.deviceType).bit;
    const has = (name: string) => l.features.includes(name);

    // ---- ports
    const op = m.input('op', barOp(aw));
    const latchSel = m.input('latch_sel', bit);
    const rdValidOut = m.output('rd_valid', bit);
    const rdDataOut = m.output('rd_data', 32);
    const msixEnable = m.input('msix_enable', bit);
    const msixMask = m.input('msix_function_mask', bit);
    const busMaster = m.input('bus_master', bit);
    const d0 = m.input('d0', bit);
    const intxDisable = m.input('intx_disable', bit);
    const flr = m.input('flr', bit);
    const requesterId = m.input('requester_id', 16);
    const mps = m.input('max_payload', 3);
    const mrrs = m.input('max_read_req', 3);
    const extTag = m.input('ext_tag_en', bit);
    const txDropped = m.input('tx_dropped', bit);
    const msg = m.output('msg', tlpStream(p.W));
    /** The PCI Status register's Interrupt Status: an ISR bit is set while MSI-X is off. */
    const interruptStatus = m.output('interrupt_status', bit);
    /** The INTx virtual wire: Interrupt Status, unless Interrupt Disable is set or the function is not in D0. */
    const intxLevel = m.output('intx_level', bit);
    const cfgFieldBits = bitsFor(type.config.length - 1);
    const dp = m.output('dp', virtioHandover(Q, cfgFieldBits));
    const dpq = Array.from(
      { length: Q },
      (_x, q) => (dp as unknown as Record<string, PortOf<ReturnType<typeof queueHandover>, 'out'>>)[`q${q}`],
    );

    // ---- the slots: every dword that holds a field or a doorbell
    const slots: Slot[] = [
      ...fieldSlots('common', l.common, COMMON_CFG, where),
      ...fieldSlots('isr', l.isr, [{ name: 'isr', offset: 0, width: 1 }], where),
      ...(l.device ? fieldSlots('device', l.device, type.config, where) : []),
    ];
    const notifyWidth = has('VIRTIO_F_NOTIFICATION_DATA') ? 4 : 2;
    const doorbells =
      l.notify.multiplier === 0
        ? [{ at: l.notify.offset }]
        : Array.from({ length: Q }, (_x, q) => ({ at: l.notify.offset + queueNotifyOff(q) * l.notify.multiplier }));
    for (const d of doorbells) {
      const dw = d.at >> 2;
      if (!slots.some((s) => s.kind === 'notify' && s.bar === l.notify.bar && s.dw === dw))
        slots.push({
          name: `notify_${(d.at - l.notify.offset).toString(16)}`,
          kind: 'notify',
          bar: l.notify.bar,
          dw,
          segs: [],
        });
    }
    const msixBar = l.bars.find((b) => b.index === l.msix.table.bar)!;
    const msixDw = (at: number, bytes: number) => ({ from: at >> 2, to: (at + bytes) >> 2 });
    const msixRanges = [msixDw(l.msix.table.offset, 16 * V), msixDw(l.msix.pba.offset, 8 * Math.ceil(V / 64))];
    const seen = new Set<string>();
    for (const s of slots) {
      const key = `${s.bar}:${s.dw}`;
      if (seen.has(key))
        throw paramError(`${where}: two structures share BAR${s.bar} dword 0x${(4 * s.dw).toString(16)}`);
      seen.add(key);
      if (s.bar === msixBar.index && msixRanges.some((r) => s.dw >= r.from && s.dw < r.to))
        throw paramError(`${where}: ${s.name} overlaps the MSI-X table or PBA`);
    }

    // ================================================================ state
    const dfs = m.reg('device_feature_select', 32, { reset: 0 });
    const gfs = m.reg('driver_feature_select', 32, { reset: 0 });
    const driverFeatures = m.reg('driver_features', 64, { reset: 0 });
    // choices.ts "unmappableVector": a vector holds an entry of the table or NO_VECTOR, nothing else, so it is
    // kept as the entry's index and a NO_VECTOR flag (the 16-bit value, its compare against the table size on
    // every write, and the interrupt routing's compares with each entry were about 40 LUTs per vector).
    const vectorReg = (name: string) => {
      const none = m.reg(`${name}_none`, bit, { reset: 1 });
      const idx = m.reg(`${name}_idx`, Math.max(1, bitsFor(V - 1)), { reset: 0 });
      // The value the driver reads back, in a register of its own: formed from `none` and `idx` it put a LUT in
      // front of the read mux's leaves, and synthesis then built the endpoint's read path 10 LUT levels deep
      // (12 at 512 bits) against the budget of 9.
      const readback = m.reg(`${name}_value`, 16, { reset: VIRTIO_MSI_NO_VECTOR });
      return {
        value: readback as Expr,
        /** The 16-bit value written, NO_VECTOR unless it names an entry. */
        set: (v: Expr) => {
          const fits = v.lt(V);
          none.next(fits.not());
          idx.next(v.trunc(idx.width));
          readback.next(mux(fits, v, lit(VIRTIO_MSI_NO_VECTOR, 16)));
        },
        clear: () => {
          none.next(1);
          readback.next(VIRTIO_MSI_NO_VECTOR);
        },
        is: (entry: number) => none.not().and(idx.eq(entry)),
      };
    };
    const msixConfig = vectorReg('config_msix_vector');
    const status = m.reg('device_status', 8, { reset: 0 });
    const prevStatus = m.reg('prev_status', 8, { reset: 0 });
    const resetBusy = m.reg('reset_busy', bit, { reset: 0 });
    const resetWaitDp = m.reg('reset_wait_dp', bit, { reset: 0 });
    const queueSelect = m.reg('queue_select', 16, { reset: 0 });
    const acceptable = m.reg('features_acceptable', bit, { reset: 0 });
    const isr = m.reg('isr', 2, { reset: 0 });
    // Advanced only by a device-side configuration change (choices.ts "configGeneration").
    const generation = p.staticDeviceConfig ? lit(0, 8) : m.reg('config_generation', 8, { reset: 0 });
    // Selectors sampled once per access (choices.ts "partialWrites").
    const dfsLo = m.reg('dfs_sel0', bit, { reset: 1 });
    const dfsHi = m.reg('dfs_sel1', bit, { reset: 0 });
    const gfsLo = m.reg('gfs_sel0', bit, { reset: 1 });
    const gfsHi = m.reg('gfs_sel1', bit, { reset: 0 });
    const qOh = m.regArray('qsel', Q, bit, { reset: 0 });
    // The same selection as an index (the read mux's) and a flag for a queue_select that names no queue.
    const qIdx = m.reg('qsel_idx', Math.max(1, bitsFor(Q - 1)), { reset: 0 });
    const qNone = m.reg('qsel_none', bit, { reset: 0 });
    m.if(latchSel, () => {
      qIdx.next(queueSelect.trunc(qIdx.width));
      qNone.next(queueSelect.ge(Q));
      dfsLo.next(dfs.eq(0));
      dfsHi.next(dfs.eq(1));
      gfsLo.next(gfs.eq(0));
      gfsHi.next(gfs.eq(1));
      for (let q = 0; q < Q; q++) qOh.item(q).next(queueSelect.eq(q));
    });

    const maxSize = l.queues.maxSize;
    // choices.ts "invalidQueueSize": 1..max, a power of two unless RING_PACKED was accepted, checked on the value
    // after a write (the written bytes merged into the queue's own value). The check is assembled from checks of
    // the two bytes, each registered: the written bytes' with the operation at the decode stage, each queue's
    // own bytes' beside its size (updated with it, from the same merge of registered checks), so that the
    // queue_size write is a few LUTs from registers (the 16-bit check on the merged value was 9 to 11 LUT
    // levels as ABC mapped it). max is a power of two: v <= max when the high byte is below max's, or equal to
    // it and the low byte <= max's.
    const hiMax = maxSize >> 8;
    const loMax = maxSize & 0xff;
    const lowByte = (x: Expr) => ({ zero: x.eq(0), single: atMostOneSet(x), le: x.le(loMax) });
    const highByte = (x: Expr) => ({ zero: x.eq(0), single: atMostOneSet(x), lt: x.lt(hiMax), eq: x.eq(hiMax) });
    /** The byte checks of a constant size (the reset value). */
    const checksOf = (v: number) => {
      const [lo, hi] = [v & 0xff, v >> 8];
      return {
        lo: { zero: lo === 0, single: (lo & (lo - 1)) === 0, le: lo <= loMax },
        hi: { zero: hi === 0, single: (hi & (hi - 1)) === 0, lt: hi < hiMax, eq: hi === hiMax },
      };
    };
    const sizeChecks = (q: number) => {
      const init = checksOf(maxSize);
      const regs = <K extends string>(part: string, values: Record<K, boolean>) =>
        Object.fromEntries(
          Object.entries(values).map(([k, v]) => [k, m.reg(`q${q}_size_${part}_${k}`, bit, { reset: v ? 1 : 0 })]),
        ) as Record<K, Signal>;
      return { lo: regs('lo', init.lo), hi: regs('hi', init.hi) };
    };
    /**
     * A register that stores what the driver writes (a queue's 64-bit addresses), as a register per byte: the
     * byte's enable (with the write's condition) is its clock enable, the written byte its D, a reset its
     * synchronous reset. Merged whole, with the write of each half in its own dword, synthesis kept a LUT per bit
     * (37 per 64-bit address).
     */
    const byteRegs = (name: string, n: number) => {
      const bytes = Array.from({ length: n }, (_x, k) => m.reg(`${name}_b${k}`, 8, { reset: 0 }));
      return {
        value: cat(...[...bytes].reverse()) as Expr,
        /** The written bytes of `seg` (called under the write's condition). */
        store: (seg: Seg) => {
          for (let i = 0; i < seg.n; i++)
            m.if(dBe.bit(seg.lane + i), () =>
              bytes[seg.byteLo + i].next(dWdata.bits(8 * (seg.lane + i) + 7, 8 * (seg.lane + i))),
            );
        },
        clear: () => bytes.forEach((b) => b.next(0)),
      };
    };
    const queues = Array.from({ length: Q }, (_x, q) => ({
      size: m.reg(`q${q}_size`, 16, { reset: maxSize }),
      sizeOk: sizeChecks(q),
      vector: vectorReg(`q${q}_vector`),
      enabled: m.reg(`q${q}_enabled`, bit, { reset: 0 }),
      desc: byteRegs(`q${q}_desc`, 8),
      driver: byteRegs(`q${q}_driver`, 8),
      device: byteRegs(`q${q}_device`, 8),
      resetPending: m.reg(`q${q}_reset_pending`, bit, { reset: 0 }),
    }));
    /** Queue q's fields back to their reset values, but for the ring addresses (freshRings). */
    const freshQueue = (q: number) => {
      const s = queues[q];
      s.size.next(maxSize);
      const fresh = checksOf(maxSize);
      for (const [k, r] of Object.entries(s.sizeOk.lo)) r.next(fresh.lo[k as keyof typeof fresh.lo] ? 1 : 0);
      for (const [k, r] of Object.entries(s.sizeOk.hi)) r.next(fresh.hi[k as keyof typeof fresh.hi] ? 1 : 0);
      s.vector.clear();
      s.enabled.next(0);
      s.resetPending.next(0);
    };
    const freshRings = (q: number) => {
      queues[q].desc.clear();
      queues[q].driver.clear();
      queues[q].device.clear();
    };

    // Device configuration: a register for each field the device may change (its feature offered, or none; not
    // with staticDeviceConfig) or the driver may write; the rest are constants.
    const dcInit = { ...deviceConfigDefaults(l.deviceType, Q), ...(p.deviceConfig ?? {}) };
    const dcFields = type.config.map((f, index) => {
      const live = !f.feature || has(f.feature);
      const init = BigInt(dcInit[f.name] ?? 0);
      const driverWritable = f.access === 'rw' && live;
      const changes = live && !p.staticDeviceConfig;
      return {
        ...f,
        index,
        init,
        changes,
        driverWritable,
        value:
          changes || driverWritable
            ? m.reg(`dc_${f.name.replace(/[^a-z0-9]/gi, '_')}`, 8 * f.width, { reset: init })
            : lit(init, 8 * f.width),
      };
    });
    for (const k of Object.keys(p.deviceConfig ?? {}))
      if (!type.config.some((f) => f.name === k))
        throw paramError(`${where}: no ${type.name} configuration field ${k}`);

    const featuresOk = status.bit(3);
    const driverOk = status.bit(2);
    // FEATURES_OK is accepted only for offered bits, and driver_features is frozen while it is set: the bits not
    // offered are 0 whenever FEATURES_OK is (masking them makes them constants, not an AND each).
    const negotiated = mux(featuresOk, driverFeatures.and(lit(offered, 64)), lit(0, 64));
    const negotiatedHas = (name: string) => (has(name) ? featuresOk.and(driverFeatures.bit(bitOf(name))) : lit(0, 1));

    // FEATURES_OK acceptance (choices.ts "FEATURES_OK"), registered from the driver's features.
    const deps: Expr[] = [];
    for (const f of featuresOf(l.deviceType))
      for (const r of f.requires ?? [])
        deps.push(
          driverFeatures
            .bit(f.bit)
            .not()
            .or(driverFeatures.bit(bitOf(r))),
        );
    acceptable.next(
      andAllOf([
        driverFeatures.and(lit(~offered & ((1n << 64n) - 1n), 64)).eq(0),
        driverFeatures.and(lit(required, 64)).eq(lit(required, 64)),
        ...deps,
      ]),
    );

    // ================================================================ decode stage
    // A registered hit per slot that a write, a read side effect or a doorbell needs (reads go by block, below).
    const dHit = new Map<number, Signal>();
    const hitOf = (i: number) => {
      if (!dHit.has(i)) {
        const s = slots[i];
        const r = m.reg(`hit_${s.name}`, bit, { reset: 0 });
        r.next(op.valid.and(op.bar.eq(s.bar)).and(op.dw.eq(s.dw)));
        dHit.set(i, r);
      }
      return dHit.get(i)!;
    };
    const dMsix = m.reg('hit_msix', bit, { reset: 0 });
    const dValid = m.reg('d_valid', bit, { reset: 0 });
    const dWrite = m.reg('d_write', bit);
    const dBe = m.reg('d_be', 4);
    const dWdata = m.reg('d_wdata', 32);
    const dDw = m.reg('d_dw', aw);
    dValid.next(op.valid);
    dMsix.next(op.valid.and(op.bar.eq(msixBar.index)));
    m.if(op.valid, () => {
      dWrite.next(op.write);
      dBe.next(op.be);
      dWdata.next(op.wdata);
      dDw.next(op.dw);
    });

    // MSI-X table and PBA (PCIe 7.7.2) on their own register port: reads at the decode stage (registered),
    // writes at the execute stage (a request is all reads or all writes, so the two never meet).
    const msixLog2 = Math.log2(msixBar.size);
    const msix = m.instance('msix_table', Msix, {
      W: p.W,
      vectors: V,
      tableOffset: l.msix.table.offset,
      pbaOffset: l.msix.pba.offset,
      barLog2: msixLog2,
      softReset: true,
    }).io;
    const wr = dValid.and(dWrite);
    const rd = dValid.and(dWrite.not());
    const mAddr = mux(wr, dDw, op.dw);
    msix.reg.addr.set(msixLog2 - 2 === aw ? mAddr : mAddr.trunc(msixLog2 - 2));
    msix.reg.wr.set(wr.and(dMsix));
    msix.reg.wdata.set(dWdata);
    msix.reg.wbe.set(dBe);
    // Read at the decode stage, registered (the execute stage's read data), 0 unless the op is in the MSI-X BAR:
    // the RAM's bytes each cleared unless its lane reads it (a synchronous reset per lane, so that neither the
    // written-flag lookup nor the BAR hit is a LUT in front of each bit), the narrow values (Mask Bit, Pending
    // bits) beside them. The read mux ORs both in without a hit.
    const msixNow = op.valid.and(op.bar.eq(msixBar.index));
    const dMsixBytes = [0, 1, 2, 3].map((k) => m.reg(`d_msix_b${k}`, 8));
    dMsixBytes.forEach((r, k) =>
      m
        .if(msixNow.and(msix.reg_ram_lanes_out!.bit(k)).not(), () => r.next(0))
        .else(() => r.next(msix.reg_ram!.bits(8 * k + 7, 8 * k))),
    );
    const dMsixSmall = m.reg('d_msix_small', 32);
    dMsixSmall.next(mux(msixNow, msix.reg_small_out!, lit(0, 32)));
    const dMsixRd = cat(...[...dMsixBytes].reverse()).or(dMsixSmall);

    // ================================================================ execute stage
    const lanes = (e: Expr, lo: number, n: number) => e.bits(8 * (lo + n) - 1, 8 * lo);
    /** A field's bytes after a write: the written bytes replaced (choices.ts "partialWrites"). */
    const merged = (value: Expr, s: Seg): Expr => {
      const bytes: Expr[] = [];
      for (let i = s.n - 1; i >= 0; i--)
        bytes.push(mux(dBe.bit(s.lane + i), lanes(dWdata, s.lane + i, 1), lanes(value, s.byteLo + i, 1)));
      return cat(...bytes);
    };
    const touched = (s: Seg) => dBe.bits(s.lane + s.n - 1, s.lane).orR();
    const selQ = (fn: (q: number) => Expr): Expr =>
      orAll(...queues.map((_x, q) => mux(qOh.item(q), fn(q), lit(0, fn(q).width))));
    /** A per-queue field's value: the selected queue's (for the write rules) and each queue's (for the read mux). */
    const queueValue = (fn: (q: number) => Expr) => ({ value: selQ(fn), perQueue: fn });
    const writable = (q: number) => queues[q].enabled.not().and(queues[q].resetPending.not());
    const half = (v64: Expr, lo: boolean) => (lo ? v64.bits(31, 0) : v64.bits(63, 32));

    // Wires the execute stage drives and the rest of the module reads.
    const statusNext = m.wire('status_next', 8);
    statusNext.set(status);
    const resetStart = m.wire('reset_start', bit, { default: 0 });
    const resetCauseFlr = m.wire('reset_cause_flr', bit, { default: 0 });
    const isrClear = m.wire('isr_clear', bit, { default: 0 });
    const dcRead = m.wire('config_read', bit, { default: 0 });
    const queueResetStart = m.wireArray('queue_reset_start', Q, bit, { default: 0 });
    const notifyHit = m.wireArray('notify_hit', Q, bit, { default: 0 });

    // A virtio reset completes when the data plane is quiet (only needed if it may have run: DRIVER_OK was set)
    // and no DMA is outstanding; device_status reads the old value meanwhile (choices.ts "statusDuringReset").
    const dmaOutstanding = dp.dma_outstanding;
    m.if(resetBusy.and(resetWaitDp.not()).and(dmaOutstanding.not()), () => resetBusy.next(0));
    m.if(dp.reset_done, () => resetWaitDp.next(0));

    // A device_status write of 0 (set by its write rule below); with FLR, the one condition of a virtio reset.
    const statusReset = m.wire('status_reset', bit, { default: 0 });
    /**
     * A virtio reset (device_status written with 0, or FLR): every field back to its reset value. Applied after
     * every field write (it has the last word), under one condition per register (with a queue's own reset for
     * the queue's): so that synthesis makes it the flip-flops' synchronous reset and the byte enables their
     * clock enables, with the written byte as D. Applied before the writes, or as two conditions, it left a LUT
     * per bit (about 450 LUTs over the queue addresses and driver_features). A write and a reset never meet in
     * one cycle but for FLR, which wins either way (a queue's reset completes only while the queue ignores
     * writes; a device_status write is its own dword).
     */
    const applyResets = () => {
      const resetNow = statusReset.or(flr);
      m.if(resetNow, () => {
        const prev = mux(resetBusy, prevStatus, status);
        prevStatus.next(prev);
        statusNext.set(0);
        dfs.next(0);
        gfs.next(0);
        driverFeatures.next(0);
        msixConfig.clear();
        queueSelect.next(0);
        for (const f of dcFields) if (f.driverWritable) (f.value as Signal).next(f.init);
        resetWaitDp.next(prev.bit(2));
        resetBusy.next(prev.bit(2).or(dmaOutstanding));
        resetStart.set(1);
        resetCauseFlr.set(flr);
        shadowClear();
      });
      for (let q = 0; q < Q; q++) {
        const queueReset = dp.queue_reset_done.bit(q).and(queues[q].resetPending);
        m.if(resetNow.or(queueReset), () => {
          freshQueue(q);
          shadowClear(q);
        });
        // The ring addresses go back to 0 only once the data plane has let go of the queue (at once if it never
        // ran): an engine that takes its commands' addresses from them (gen/virtq/split_engine.ts) may issue a
        // read in the cycles before it sees reset_req, and that read must still reach the driver's rings, which
        // stay the driver's until device_status reads 0 (after the read: the reset waits for it). Reads of the
        // fields show 0 at once (the read-back copy's flags are cleared above; without it the window is the
        // reset's, in which the driver reads only device_status).
        const neverRan = resetNow.and(mux(resetBusy, prevStatus, status).bit(2).not());
        m.if(neverRan.or(dp.reset_done.and(resetWaitDp)).or(queueReset), () => freshRings(q));
      }
    };

    /**
     * The read value and the write rule of every common configuration field (golden common.ts "port"). A rule gets
     * the field after the write (`v`, the written bytes merged into the value read) and `own`, the same merge into
     * another value: a register that stores what was written merges into itself, so that synthesis makes the byte
     * enables its flip-flops' clock enables (no LUT per bit; merging a queue's register into the selected queue's
     * value would need one).
     */
    const commonField = (
      name: string,
      s: Seg,
    ): { value: Expr; perQueue?: (q: number) => Expr; write?: (v: Expr, own: (cur: Expr) => Expr) => void } => {
      const half8 = s.byteLo === 0;
      switch (name) {
        case 'device_feature_select':
          return { value: dfs, write: (v) => dfs.next(v) };
        case 'device_feature': // choices.ts "featureWindowsBeyond64Bits"
          return {
            value: mux(dfsLo, lit(offered & 0xffff_ffffn, 32), mux(dfsHi, lit(offered >> 32n, 32), lit(0, 32))),
          };
        case 'driver_feature_select':
          return { value: gfs, write: (v) => gfs.next(v) };
        case 'driver_feature':
          return {
            value: mux(gfsLo, half(driverFeatures, true), mux(gfsHi, half(driverFeatures, false), lit(0, 32))),
            // choices.ts "driverFeatureMirror", "featuresLockedAfterFeaturesOk"
            write: (_v, own) =>
              m.if(gfsLo.or(gfsHi).and(featuresOk.not()).and(resetBusy.not()), () =>
                driverFeatures.next(
                  mux(
                    gfsLo,
                    cat(driverFeatures.bits(63, 32), own(half(driverFeatures, true))),
                    cat(own(half(driverFeatures, false)), driverFeatures.bits(31, 0)),
                  ),
                ),
              ),
          };
        case 'config_msix_vector':
          return { value: msixConfig.value, write: (v) => msixConfig.set(v) };
        case 'num_queues':
          return { value: lit(Q, 16) };
        case 'device_status': {
          // A write of 0 resets every field (applyResets): whether the written byte is 0 is registered with the
          // operation at the decode stage (the one-byte field is written only with its byte enable, so the value
          // written is the written byte), so that the compare is not on the path into every queue register.
          const writesZero = m.reg('status_write_zero', bit);
          writesZero.next(lanes(op.wdata, s.lane, 1).eq(0));
          return {
            value: mux(resetBusy, prevStatus, status),
            write: (v) =>
              m
                .if(writesZero, () => statusReset.set(1))
                .elseIf(resetBusy.not(), () => {
                  // choices.ts "statusSticky": bits OR in; FEATURES_OK refused for a set the device cannot honour.
                  const next = status.or(
                    v.and(
                      lit(
                        STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.DRIVER_OK | STATUS.FEATURES_OK | STATUS.FAILED,
                        8,
                      ),
                    ),
                  );
                  const refuse = next.bit(3).and(featuresOk.not()).and(acceptable.not());
                  statusNext.set(mux(refuse, next.and(lit(0xff & ~STATUS.FEATURES_OK, 8)), next));
                }),
          };
        }
        case 'config_generation':
          return { value: generation };
        case 'queue_select':
          return { value: queueSelect, write: (v) => queueSelect.next(v) };
        case 'queue_size': {
          // The size check (above, at `lowByte`): the written bytes' checks registered at the decode stage.
          if (s.n !== 2) throw paramError(`${where}: queue_size split across dwords`);
          const registered = <T extends Record<string, Expr>>(part: string, checks: T) =>
            Object.fromEntries(
              Object.entries(checks).map(([k, e]) => {
                const r = m.reg(`size_written_${part}_${k}`, bit);
                r.next(e);
                return [k, r];
              }),
            ) as Record<keyof T, Signal>;
          const wLo = registered('lo', lowByte(lanes(op.wdata, s.lane, 1)));
          const wHi = registered('hi', highByte(lanes(op.wdata, s.lane + 1, 1)));
          const packed = driverFeatures.bit(bitOf('VIRTIO_F_RING_PACKED'));
          return {
            ...queueValue((q) => queues[q].size),
            write: (_v, own) => {
              for (let q = 0; q < Q; q++) {
                const { size, sizeOk } = queues[q];
                // The merged value's byte checks: the written byte's where it was written, else the queue's own.
                const lo = (k: keyof typeof wLo) => mux(dBe.bit(s.lane), wLo[k], sizeOk.lo[k]);
                const hi = (k: keyof typeof wHi) => mux(dBe.bit(s.lane + 1), wHi[k], sizeOk.hi[k]);
                const ok = andAllOf([
                  hi('zero').and(lo('zero')).not(),
                  hi('lt').or(hi('eq').and(lo('le'))),
                  hi('single')
                    .and(lo('zero'))
                    .or(hi('zero').and(lo('single')))
                    .or(packed),
                ]);
                m.if(qOh.item(q).and(writable(q)).and(ok), () => {
                  size.next(own(size));
                  for (const k of Object.keys(wLo) as (keyof typeof wLo)[]) sizeOk.lo[k].next(lo(k));
                  for (const k of Object.keys(wHi) as (keyof typeof wHi)[]) sizeOk.hi[k].next(hi(k));
                });
              }
            },
          };
        }
        case 'queue_msix_vector':
          return {
            ...queueValue((q) => queues[q].vector.value),
            write: (_v, own) => {
              for (let q = 0; q < Q; q++)
                m.if(qOh.item(q).and(writable(q)), () => queues[q].vector.set(own(queues[q].vector.value)));
            },
          };
        case 'queue_enable':
          return {
            ...queueValue((q) => queues[q].enabled.zext(16)),
            write: (v) => {
              // choices.ts "queueEnableZero"
              for (let q = 0; q < Q; q++)
                m.if(qOh.item(q).and(writable(q)).and(v.eq(1)), () => queues[q].enabled.next(1));
            },
          };
        case 'queue_notify_off':
          return queueValue((q) => lit(queueNotifyOff(q), 16));
        case 'queue_desc':
        case 'queue_driver':
        case 'queue_device': {
          const key = name.slice('queue_'.length) as 'desc' | 'driver' | 'device';
          return {
            ...queueValue((q) => half(queues[q][key].value, half8)),
            write: () => {
              for (let q = 0; q < Q; q++) m.if(qOh.item(q).and(writable(q)), () => queues[q][key].store(s));
            },
          };
        }
        case 'queue_notify_data':
          return queueValue((q) => lit(q, 16));
        case 'queue_reset': // choices.ts "featureGatedFields"
          return {
            ...queueValue((q) =>
              negotiatedHas('VIRTIO_F_RING_RESET').select(queues[q].resetPending.zext(16), lit(0, 16)),
            ),
            write: (v) => {
              for (let q = 0; q < Q; q++)
                m.if(
                  qOh.item(q).and(v.eq(1)).and(negotiatedHas('VIRTIO_F_RING_RESET')).and(queues[q].resetPending.not()),
                  () => {
                    queues[q].resetPending.next(1);
                    queueResetStart.setAt(q, 1);
                  },
                );
            },
          };
        case 'admin_queue_index':
        case 'admin_queue_num':
          return { value: lit(0, 16) }; // VIRTIO_F_ADMIN_VQ is never offered (checked above)
        default:
          throw paramError(`virtio regs: common configuration field ${name} has no behaviour`);
      }
    };

    // ---- the read-back memory: the fields that hold what the driver wrote and reset to 0 (the feature selects,
    // driver_feature, queue_select, each queue's three addresses) are read back from a copy in distributed RAM, a
    // dword per entry (entry: the queue index, the dword inside the common configuration; driver_feature's upper
    // half at the unused dword 15), written at the execute stage with the same condition as their registers
    // (the written bytes merged into the entry's value read at the decode stage), so that the read mux does
    // not take their registers (about 17 dwords of 32 bits as leaves of its trees: 413 of the virtio-blk
    // function's endpoint's 2,366 LUTs were the read mux). A flag per entry says it was written since the
    // field's last reset (RAM cannot be reset): an entry without it reads 0. Read at the decode stage, registered
    // with a synchronous reset (0 unless the op reads such a field), ORed into the read data without a hit.
    // A write and a read of one entry are never in the pipeline together (ops of one access go to different
    // dwords; the access engine drains the pipeline between accesses), as for the MSI-X table.
    const SHADOWED = new Set([
      'device_feature_select',
      'driver_feature_select',
      'driver_feature',
      'queue_select',
      'queue_desc',
      'queue_driver',
      'queue_device',
    ]);
    const commonDw0 = l.common.offset >> 2;
    const useShadow = l.common.offset % 64 === 0;
    const shadowOf = (s: Slot) => (useShadow && s.kind === 'common' ? s.segs.filter((g) => SHADOWED.has(g.field)) : []);
    const QUEUE_FIELDS = new Set(['queue_desc', 'queue_driver', 'queue_device']);
    const isQueueSlot = (s: Slot) => shadowOf(s).some((g) => QUEUE_FIELDS.has(g.field));
    const isFeatureSlot = (s: Slot) => shadowOf(s).some((g) => g.field === 'driver_feature');
    const qw = qIdx.width;
    const shadowLocal = (s: Slot) => s.dw - commonDw0;
    /** The entries of the memory: [address, queue (undefined: not per queue)]. */
    const shadowEntries: { at: number; queue?: number }[] = [];
    for (const s of slots) {
      if (!shadowOf(s).length) continue;
      if (isQueueSlot(s)) for (let q = 0; q < Q; q++) shadowEntries.push({ at: (q << 4) | shadowLocal(s), queue: q });
      else {
        shadowEntries.push({ at: shadowLocal(s) });
        if (isFeatureSlot(s)) shadowEntries.push({ at: 15 });
      }
    }
    const shadow = shadowEntries.length ? m.memory('readback', { width: 32, depth: 16 << qw }) : undefined;
    const shadowFlags = shadowEntries.map((e) => m.reg(`readback_ok_${e.at}`, bit, { reset: 0 }));
    const shadowWe = m.wire('readback_we', bit, { default: 0 });
    const dShadow = [0, 1, 2, 3].map((k) => m.reg(`d_readback_b${k}`, 8));
    const dShadowAt = m.reg('d_readback_at', 4 + qw);
    const dShadowBe = m.reg('d_readback_be', 4);
    if (shadow) {
      // decode stage: the entry the op's dword reads, whether it holds a value (flag), the lanes it may write
      const local = op.dw.bits(3, 0);
      const inCommon = op.bar.eq(l.common.bar).and(aw > 4 ? op.dw.bits(aw - 1, 4).eq(commonDw0 >> 4) : lit(1, 1));
      const slotIs = (pred: (s: Slot) => boolean) =>
        orAll(lit(0, 1), ...slots.filter((s) => shadowOf(s).length && pred(s)).map((s) => local.eq(shadowLocal(s))));
      const queueDw = slotIs(isQueueSlot);
      const featureDw = slotIs(isFeatureSlot);
      const anyDw = slotIs(() => true);
      const at = cat(mux(queueDw, qIdx, lit(0, qw)), mux(featureDw.and(gfsHi), lit(15, 4), local));
      const valid = op.valid
        .and(inCommon)
        .and(anyDw)
        .and(queueDw.and(qNone).not())
        .and(featureDw.and(gfsLo.or(gfsHi).not()).not());
      const flagAt = muxTreeOrZero(
        at,
        (() => {
          const v: (Expr | undefined)[] = [];
          shadowEntries.forEach((e, i) => (v[e.at] = shadowFlags[i]));
          return v;
        })(),
        1,
      );
      const raw = shadow.readAsync(at);
      const live = valid.and(flagAt);
      dShadow.forEach((r, k) => m.if(live.not(), () => r.next(0)).else(() => r.next(raw.bits(8 * k + 7, 8 * k))));
      dShadowAt.next(at);
      // the lanes of the op's dword that hold a copied field (others stay 0 in the entry)
      let lanesMask: Expr = lit(0, 4);
      for (const s of slots) {
        const segs = shadowOf(s);
        if (!segs.length) continue;
        let mask = 0;
        for (const g of segs) for (let i = 0; i < g.n; i++) mask |= 1 << (g.lane + i);
        lanesMask = mux(local.eq(shadowLocal(s)), lit(mask, 4), lanesMask);
      }
      dShadowBe.next(op.be.and(lanesMask));
      // execute stage: the written bytes merged into the entry's value
      const cur = cat(...[...dShadow].reverse());
      const data = cat(...[3, 2, 1, 0].map((k) => mux(dShadowBe.bit(k), lanes(dWdata, k, 1), lanes(cur, k, 1))));
      shadow.write(dShadowAt, data, shadowWe);
      shadowEntries.forEach((e, i) => m.if(shadowWe.and(dShadowAt.eq(e.at)), () => shadowFlags[i].next(1)));
    }
    const shadowRead: Expr = cat(...[...dShadow].reverse());
    /** Clears the flags of the entries of queue `q` (undefined: those not per queue). */
    const shadowClear = (q?: number) => shadowEntries.forEach((e, i) => e.queue === q && shadowFlags[i].next(0));

    // The read value of each slot: the fields that are not per queue (`base`), and each queue's fields (`perQueue`).
    const reads = slots.map(() => ({ base: [] as Expr[], perQueue: queues.map(() => [] as Expr[]) }));
    slots.forEach((s, i) => {
      const hit = () => hitOf(i);
      const place = (v: Expr, lane: number, into = reads[i].base) => {
        const sh = v.zext(32);
        into.push(lane === 0 ? sh : cat(sh.bits(31 - 8 * lane, 0), lit(0, 8 * lane)));
      };
      if (s.kind === 'common') {
        for (const seg of s.segs) {
          const f = commonField(seg.field, seg);
          const w = COMMON_CFG.find((x) => x.name === seg.field)!.width;
          // An 8-byte field is two 4-byte halves, each its own value here (regmap.ts RegField.width).
          const v = w === 8 ? f.value : lanes(f.value, 0, seg.n);
          const perQueue = f.perQueue;
          const copied = shadowOf(s).includes(seg);
          if (copied) {
            // read back from the read-back memory; written there under the register's own condition
            const cond = QUEUE_FIELDS.has(seg.field)
              ? orAll(...queues.map((_x, q) => qOh.item(q).and(writable(q))))
              : seg.field === 'driver_feature'
                ? gfsLo.or(gfsHi).and(featuresOk.not()).and(resetBusy.not())
                : lit(1, 1);
            m.if(hit().and(wr).and(touched(seg)).and(cond), () => shadowWe.set(1));
          } else if (perQueue)
            for (let q = 0; q < Q; q++)
              place(w === 8 ? perQueue(q) : lanes(perQueue(q), 0, seg.n), seg.lane, reads[i].perQueue[q]);
          else place(v, seg.lane);
          if (f.write) {
            const write = f.write;
            const at = { ...seg, byteLo: 0 };
            m.if(hit().and(wr).and(touched(seg)), () => write(merged(v, at), (cur) => merged(cur, at)));
          }
        }
      } else if (s.kind === 'device') {
        for (const seg of s.segs) {
          const f = dcFields.find((x) => x.name === seg.field)!;
          const v = lanes(f.value, seg.byteLo, seg.n);
          place(v, seg.lane);
          if (!p.staticDeviceConfig) m.if(hit().and(rd).and(touched(seg)), () => dcRead.set(1));
          if (f.driverWritable) {
            const r = f.value as Signal;
            m.if(hit().and(wr).and(touched(seg)), () => r.next(merged(r, seg)));
          }
        }
      } else if (s.kind === 'isr') {
        const seg = s.segs[0];
        place(isr.zext(8), seg.lane);
        // choices.ts "isr": any read that includes the ISR byte returns it and clears it.
        m.if(hit().and(rd).and(dBe.bit(seg.lane)), () => isrClear.set(1));
      } else {
        // Doorbells (choices.ts "doorbells"): a write covering a queue's whole doorbell notifies it, if enabled.
        for (let q = 0; q < Q; q++) {
          const at = l.notify.multiplier === 0 ? l.notify.offset : doorbells[q].at;
          if (at >> 2 !== s.dw) continue;
          const lane = at % 4;
          const covers = (n: number) => dBe.bits(lane + n - 1, lane).andR();
          const wide = negotiatedHas('VIRTIO_F_NOTIFICATION_DATA');
          const whole = notifyWidth === 4 ? mux(wide, covers(4), covers(2)) : covers(2);
          const named = l.notify.multiplier === 0 ? lanes(dWdata, lane, 2).eq(q) : lit(1, 1);
          const value =
            notifyWidth === 4 ? mux(wide, dWdata, lanes(dWdata, lane, 2).zext(32)) : lanes(dWdata, lane, 2).zext(32);
          m.if(hit().and(wr).and(whole).and(named).and(queues[q].enabled), () => notifyHit.setAt(q, 1));
          const data = m.reg(`q${q}_notify_data`, 32);
          m.if(hit().and(wr), () => data.next(value));
          dpq[q].notify_data.set(data);
        }
      }
    });

    // The read mux. Slots are grouped in blocks of 2^G dwords of a BAR (the common configuration and ISR are one
    // block in the default layout, the device configuration another); a registered hit per block, and inside it
    // one mux tree (gen/lib muxTreeOrZero: LUT6 and MUXF levels, absent dwords read 0) by the registered dword
    // address, whose leaves for the dwords of queue fields are a mux by the registered queue index (the index
    // the lowest select bit: a LUT6 takes two queues of two dwords). A queue_select past the last queue (the
    // queue fields read 0) clears the block's hit for a dword that holds only queue fields. Before, the queue
    // fields had a tree per queue, each ANDed with its queue-select bit and ORed after the trees: the virtio-blk
    // function's endpoint measured about 110 LUTs more (docs/virtio-transport.md, "The fourth pass").
    const G = Math.min(5, aw);
    const blocks = new Map<string, { bar: number; index: number; slots: number[] }>();
    slots.forEach((s, i) => {
      const key = `${s.bar}:${s.dw >> G}`;
      if (!blocks.has(key)) blocks.set(key, { bar: s.bar, index: s.dw >> G, slots: [] });
      blocks.get(key)!.slots.push(i);
    });
    let rdata: Expr = dMsixRd.or(shadowRead);
    for (const b of blocks.values()) {
      const items: (Expr | undefined)[] = [];
      /** Local dword indexes whose slot holds queue fields only: they read 0 when queue_select names no queue. */
      const queueOnly: number[] = [];
      for (const i of b.slots) {
        const r = reads[i];
        const local = slots[i].dw % 2 ** G;
        const base = r.base.length ? orAll(...r.base) : undefined;
        const own = r.perQueue.map((parts) => (parts.length ? orAll(...parts) : undefined));
        if (!own.some((x) => x)) {
          items[local] = base;
          continue;
        }
        // The selected queue's value (absent queues of the index's range read 0; queue_select >= Q: below).
        const picked = Q === 1 ? own[0]! : muxTreeOrZero(qIdx, own, 32);
        if (base) items[local] = base.or(mux(qNone, lit(0, 32), picked));
        else {
          items[local] = picked;
          queueOnly.push(local);
        }
      }
      if (!items.some((x) => x)) continue;
      const blockHit = m.reg(`hit_block_${b.bar}_${(b.index << (G + 2)).toString(16)}`, bit, { reset: 0 });
      const local = op.dw.trunc(G);
      const noQueue = queueOnly.length ? qNone.and(orAll(...queueOnly.map((d) => local.eq(d)))) : lit(0, 1);
      blockHit.next(
        op.valid
          .and(op.bar.eq(b.bar))
          .and(G === aw ? lit(1, 1) : op.dw.bits(aw - 1, G).eq(b.index))
          .and(noQueue.not()),
      );
      rdata = rdata.or(mux(blockHit, muxTreeOrZero(dDw.trunc(G), items, 32), lit(0, 32)));
    }
    const rdValid = m.reg('rd_valid_q', bit, { reset: 0 });
    const rdData = m.reg('rd_data_q', 32);
    rdValid.next(rd);
    rdData.next(rdata);
    rdValidOut.set(rdValid);
    rdDataOut.set(rdData);

    // ---- the resets, after every write: device_status written with 0, FLR (choices.ts "flr"), queue resets
    applyResets();

    // ================================================================ device-side events
    // Device configuration changes from the data plane (golden DeviceConfig.change): the new value, and the
    // generation rule (choices.ts "configGeneration"). None with staticDeviceConfig.
    const deviceChanges = () => {
      const cfgValid = m.reg('cfg_wr_valid', bit, { reset: 0 });
      const cfgField = m.reg('cfg_wr_field', cfgFieldBits);
      const cfgValue = m.reg('cfg_wr_value', 64);
      cfgValid.next(dp.cfg_valid);
      cfgField.next(dp.cfg_field);
      cfgValue.next(dp.cfg_value);
      // The new value lands one cycle after the request, with a flag per field saying it differed; the OR of the
      // flags is registered once more before it reaches the generation and the interrupts (a change is reported
      // two cycles after the request: each stage is a compare or an OR within a few LUT levels).
      const changes: Expr[] = [];
      for (const f of dcFields) {
        if (!f.changes) continue;
        const nv = cfgValue.trunc(8 * f.width);
        const hit = cfgValid.and(cfgField.eq(f.index));
        const differs = m.reg(`dc_${f.name.replace(/[^a-z0-9]/gi, '_')}_changed`, bit, { reset: 0 });
        const change = hit.and(nv.ne(f.value));
        differs.next(change);
        changes.push(differs);
        m.if(change, () => (f.value as Signal).next(nv));
      }
      const changed = m.reg('config_changed', bit, { reset: 0 });
      changed.next(changes.length ? orAll(...changes) : lit(0, 1));
      const dirty = m.reg('config_dirty', bit, { reset: 0 });
      const gen = generation as Signal;
      m.if(changed.and(dirty.not().or(dcRead)), () => gen.next(gen.inc()));
      m.if(changed, () => dirty.next(1)).elseIf(dcRead, () => dirty.next(0));
      m.if(flr, () => {
        dirty.next(0);
        gen.next(0);
      });
      return changed;
    };
    const changed: Expr = p.staticDeviceConfig ? lit(0, 1) : deviceChanges();

    // Interrupts: used buffer notifications per queue, configuration changes and fatal errors.
    const irqQ = m.reg('irq_queue_q', Q, { reset: 0 });
    irqQ.next(dp.irq_queue);
    const fatal = m.reg('fatal_q', bit, { reset: 0 });
    fatal.next(dp.fatal_error);
    const cfgIntr = changed.or(fatal).and(driverOk);
    const vecIrq: Expr[] = Array.from({ length: V }, () => lit(0, 1));
    const vecOf = (vector: { is: (entry: number) => Expr }, when: Expr) => {
      for (let v = 0; v < V; v++) vecIrq[v] = vecIrq[v].or(when.and(vector.is(v)));
    };
    let queueIsr: Expr = lit(0, 1);
    for (let q = 0; q < Q; q++) {
      // golden signalQueue: only after DRIVER_OK, not during a reset, for an enabled queue.
      const sig = irqQ.bit(q).and(driverOk).and(resetBusy.not()).and(queues[q].enabled);
      queueIsr = queueIsr.or(sig.and(msixEnable.not()));
      vecOf(queues[q].vector, sig.and(msixEnable));
    }
    vecOf(msixConfig, cfgIntr.and(msixEnable));
    const irqReg = m.reg('msix_irq', V, { reset: 0 });
    irqReg.next(V === 1 ? vecIrq[0] : cat(...[...vecIrq].reverse()));
    const isrSet = cat(cfgIntr, queueIsr);
    m.if(isrClear, () => isr.next(isrSet)).else(() => isr.next(isr.or(isrSet)));
    m.if(resetStart, () => isr.next(0));

    // ---- device_status: the execute stage's value, DEVICE_NEEDS_RESET from a fatal error (golden setNeedsReset)
    status.next(statusNext.or(mux(fatal, lit(STATUS.DEVICE_NEEDS_RESET, 8), lit(0, 8))));

    // ---- MSI-X: requests, masks from configuration space, Pending bits cleared by a reset (choices.ts
    // "resetClearsPending"), the table by FLR; messages need Bus Master Enable and D0.
    msix.msix_enable.set(msixEnable);
    msix.function_mask.set(msixMask);
    msix.bus_master.set(busMaster.and(d0));
    msix.requester_id.set(requesterId);
    msix.irq.set(irqReg);
    msix.clear_pending!.set(resetStart);
    msix.reset_table!.set(flr);
    const msixMsg = msix.msg;
    msg.valid.set(msixMsg.valid);
    msg.hdr.set(msixMsg.hdr);
    msg.data.set(msixMsg.data);
    msg.keep.set(msixMsg.keep);
    msg.sop.set(msixMsg.sop);
    msg.eop.set(msixMsg.eop);
    msixMsg.ready.set(msg.ready);

    // ---- INTx (choices.ts "isr"): the ISR drives it while MSI-X is off
    const intStatus = isr.orR().and(msixEnable.not());
    interruptStatus.set(intStatus);
    intxLevel.set(intStatus.and(intxDisable.not()).and(d0));

    // ================================================================ the handover
    const pulse = (name: string, v: Expr) => {
      const r = m.reg(name, v.width, { reset: 0 });
      r.next(v);
      return r;
    };
    dp.features.set(negotiated);
    dp.status.set(status);
    dp.driver_ok.set(driverOk);
    dp.bus_master.set(busMaster.and(d0));
    dp.max_payload.set(mps);
    dp.max_read_req.set(mrrs);
    dp.ext_tag_en.set(extTag);
    dp.requester_id.set(requesterId);
    dp.reset_req.set(pulse('reset_req_q', resetStart));
    dp.reset_flr.set(pulse('reset_flr_q', resetCauseFlr));
    dp.reset_busy.set(resetBusy);
    dp.tx_dropped.set(txDropped);
    for (let q = 0; q < Q; q++) {
      const s = queues[q];
      dpq[q].size.set(s.size);
      dpq[q].vector.set(s.vector.value);
      dpq[q].enable.set(s.enabled);
      dpq[q].desc.set(s.desc.value);
      dpq[q].driver.set(s.driver.value);
      dpq[q].device.set(s.device.value);
      dpq[q].reset_pending.set(s.resetPending);
      dpq[q].reset_req.set(pulse(`q${q}_reset_req_q`, queueResetStart.item(q)));
      dpq[q].notify.set(pulse(`q${q}_notify_q`, notifyHit.item(q)));
    }

    return {
      op,
      latch_sel: latchSel,
      rd_valid: rdValidOut,
      rd_data: rdDataOut,
      msix_enable: msixEnable,
      msix_function_mask: msixMask,
      bus_master: busMaster,
      d0,
      intx_disable: intxDisable,
      flr,
      requester_id: requesterId,
      max_payload: mps,
      max_read_req: mrrs,
      ext_tag_en: extTag,
      tx_dropped: txDropped,
      msg,
      interrupt_status: interruptStatus,
      intx_level: intxLevel,
      dp,
    };
  },
  {
    name: (p) => `virtio_regs_${p.layout.name}_w${p.W}${endpointConfigTag(p)}`,
    doc: 'virtio-pci BAR structures: common configuration, ISR, device configuration, doorbells, MSI-X; the data-plane handover.',
  },
);

/** At most one bit of `e` set: a balanced tree of (any, more than one) pairs, a few LUT levels at any width. */
function atMostOneSet(e: Expr): Expr {
  const walk = (lo: number, n: number): { any: Expr; many: Expr } => {
    if (n === 1) return { any: e.bit(lo), many: lit(0, 1) };
    const h = n >> 1;
    const a = walk(lo, h);
    const b = walk(lo + h, n - h);
    return { any: a.any.or(b.any), many: a.many.or(b.many).or(a.any.and(b.any)) };
  };
  return walk(0, e.width).many.not();
}

function andAllOf(xs: Expr[]): Expr {
  return xs.reduce((a, b) => a.and(b));
}
