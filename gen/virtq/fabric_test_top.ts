// The DMA fabric's test and benchmark top: a DmaFabric whose clients are two-bank line memories (gen/dma/ram.ts),
// each behind its own extra read latency, with the clients' command and status ports, the engines' settings and
// the link as top-level ports (tests drive them with the simulator's handshake helpers) and the memories
// reachable through Verilator's public access (`mem<i>.ram.bank<b>`). Every received TLP goes to the fabric's
// completion input (the root complex only sends completions here).
//
//   rx -> fabric.cpl        fabric.tx -> tx_slice -> tx
//   fabric.c<i>_mem_wr -> mem<i> (DmaRam) ; fabric.c<i>_mem_rd -> mem<i> (+ latency[i] cycles)
//   irq_in: a client's write status pulses bit i (when irq_enable), as a queue engine would after its publishing
//   write; irq_out is the fabric's (held behind the TLPs ahead of it).
import { bit, connect, defineModule, type Expr, intParam, lit } from '../hdl';
import { DmaRam } from '../dma/ram';
import { dmaCommand, dmaStatus, lineRead, lineWrite } from '../dma/ports';
import { type DataWidth, tlpStream } from '../pcie/streams';
import { TlpSlice } from '../pcie/tlp_slice';
import type { VirtioPciLayout } from '../virtio/layout';
import { VirtioEndpoint } from '../virtio/top';
import { DmaFabric, type DmaFabricParams } from './dma_fabric';

export interface FabricTestTopParams {
  W: DataWidth;
  /** log2 of each client's memory (and region) in bytes. */
  regions: readonly number[];
  /** Extra read latency of each client's memory, cycles (DmaRam's own is 2). */
  latency: readonly number[];
  /** The fabric's `returnQueues` (default false). */
  returnQueues?: boolean;
}

export const FABRIC_TEST_LEN_BITS = 20;
export const FABRIC_TEST_ID_BITS = 8;
export const FABRIC_TEST_TIMEOUT_BITS = 20;

export function fabricTestParams(p: FabricTestTopParams): DmaFabricParams {
  return {
    W: p.W,
    regions: p.regions,
    lenBits: FABRIC_TEST_LEN_BITS,
    idBits: FABRIC_TEST_ID_BITS,
    tags: 32,
    slots: 8,
    timeoutBits: FABRIC_TEST_TIMEOUT_BITS,
    mpsSupported: 5,
    readAhead: 8 + Math.max(...p.latency),
    irqBits: p.regions.length,
    ...(p.returnQueues ? { returnQueues: true } : {}),
  };
}

/** A DmaRam whose read data comes back `latency` cycles later than the RAM's own two. */
export const SlowRam = defineModule(
  'dma_slow_ram',
  (m, p: { W: DataWidth; bytes: number; latency: number }) => {
    intParam('SlowRam: latency', p.latency, 0, 64);
    const lineBits = Math.log2(p.bytes / (p.W / 8));
    const wr = m.input('wr', lineWrite(p.W, lineBits));
    const rd = m.input('rd', lineRead(p.W, lineBits));
    const ram = m.instance('ram', DmaRam, { W: p.W, bytes: p.bytes }).io;
    connect(ram.wr, wr);
    ram.rd.valid.set(rd.valid);
    ram.rd.addr.set(rd.addr);
    rd.ready.set(ram.rd.ready);
    let v: Expr = ram.rd.rvalid;
    let d: Expr = ram.rd.rdata;
    for (let i = 0; i < p.latency; i++) {
      const vr = m.reg(`rvalid_${i}`, bit, { reset: 0 });
      const dr = m.reg(`rdata_${i}`, 2 * p.W);
      vr.next(v);
      dr.next(d);
      v = vr;
      d = dr;
    }
    rd.rvalid.set(v);
    rd.rdata.set(d);
    return { wr, rd };
  },
  { name: (p) => `dma_slow_ram_w${p.W}_b${p.bytes}_l${p.latency}`, doc: 'DmaRam with extra read latency (tests).' },
);

export const FabricTestTop = defineModule(
  'dma_fabric_test',
  (m, p: FabricTestTopParams) => {
    if (p.latency.length !== p.regions.length) throw new Error('FabricTestTop: one latency per region');
    const q = fabricTestParams(p);
    const rx = m.input('rx', tlpStream(p.W));
    const tx = m.output('tx', tlpStream(p.W));
    const irqEnable = m.input('irq_enable', bit);
    const f = m.instance('fabric', DmaFabric, q).io;
    const slice = m.instance('tx_slice', TlpSlice, { W: p.W }).io;
    connect(f.cpl, rx);
    connect(slice.in, f.tx);
    connect(tx, slice.out);
    for (const k of ['bus_master', 'max_payload', 'max_read_req', 'ext_tag_en', 'requester_id', 'timeout'] as const)
      f[k].set(m.input(k, f[k].width));
    m.output('irq_out', q.irqBits).set(f.irq_out);
    m.output('busy', bit).set(f.busy);
    m.output('outstanding', bit).set(f.outstanding);
    const unexpected = m.reg('unexpected', 16, { reset: 0 });
    m.if(f.ev_unexpected.and(unexpected.andR().not()), () => unexpected.next(unexpected.inc()));
    m.output('unexpected_count', 16).set(unexpected);

    let irq = lit(0, q.irqBits);
    p.regions.forEach((bits, i) => {
      const c = f.clients[i];
      const cmd = () => dmaCommand(bits, FABRIC_TEST_LEN_BITS, FABRIC_TEST_ID_BITS);
      connect(c.rd_cmd, m.input(`c${i}_rd_cmd`, cmd()));
      connect(m.output(`c${i}_rd_status`, dmaStatus(FABRIC_TEST_ID_BITS)), c.rd_status);
      connect(c.wr_cmd, m.input(`c${i}_wr_cmd`, cmd()));
      const ws = m.output(`c${i}_wr_status`, dmaStatus(FABRIC_TEST_ID_BITS));
      connect(ws, c.wr_status);
      const mem = m.instance(`mem${i}`, SlowRam, { W: p.W, bytes: 2 ** bits, latency: p.latency[i] }).io;
      connect(mem.wr, c.mem_wr);
      connect(mem.rd, c.mem_rd);
      irq = irq.or(ws.valid.and(ws.ready).and(irqEnable).zext(q.irqBits).shl(i));
    });
    f.irq_in.set(irq);
  },
  {
    name: (p) =>
      `dma_fabric_test_w${p.W}_r${p.regions.join('_')}_l${p.latency.join('_')}${p.returnQueues ? '_rq' : ''}`,
    doc: 'DMA fabric test top: line memories of different latencies as clients, command/status ports.',
  },
);

export interface FabricEndpointTestTopParams extends FabricTestTopParams {
  layout: VirtioPciLayout;
}

/**
 * The fabric behind the virtio endpoint, as the data plane connects it (docs/data-plane.md): the endpoint's
 * `dp_tx` / `dp_cpl` to the fabric's `tx` / `cpl`, the engines' settings from the handover, the fabric's
 * `irq_out` as the handover's `irq_queue` and its `outstanding` as `dma_outstanding`. Client i's write
 * statuses raise queue i's notification (irq_enable), as a queue engine does after its publishing write. The
 * handover's other inputs are top-level ports (`dp_reset_done`, ...) as DataPlaneStandIn drives them.
 */
export const FabricEndpointTestTop = defineModule(
  'dma_fabric_endpoint_test',
  (m, p: FabricEndpointTestTopParams) => {
    const Q = p.layout.queues.count;
    if (p.regions.length > Q) throw new Error('FabricEndpointTestTop: at most one client per queue');
    const q = { ...fabricTestParams(p), irqBits: Q };
    const ep = m.instance('ep', VirtioEndpoint, { layout: p.layout, W: p.W }).io;
    const f = m.instance('fabric', DmaFabric, q).io;
    connect(ep.rx, m.input('rx', tlpStream(p.W)));
    connect(m.output('tx', tlpStream(p.W)), ep.tx);
    connect(ep.dp_tx, f.tx);
    connect(f.cpl, ep.dp_cpl);
    const dp = ep.dp;
    f.bus_master.set(dp.bus_master);
    f.max_payload.set(dp.max_payload);
    f.max_read_req.set(dp.max_read_req);
    f.ext_tag_en.set(dp.ext_tag_en);
    f.requester_id.set(dp.requester_id);
    f.timeout.set(m.input('timeout', FABRIC_TEST_TIMEOUT_BITS));
    dp.irq_queue.set(f.irq_out);
    dp.dma_outstanding.set(f.outstanding);
    for (const k of ['reset_done', 'queue_reset_done', 'fatal_error', 'cfg_valid', 'cfg_field', 'cfg_value'] as const)
      dp[k].set(m.input(`dp_${k}`, dp[k].width));
    m.output('busy', bit).set(f.busy);
    const irqEnable = m.input('irq_enable', bit);
    let irq = lit(0, Q);
    p.regions.forEach((bits, i) => {
      const c = f.clients[i];
      const cmd = () => dmaCommand(bits, FABRIC_TEST_LEN_BITS, FABRIC_TEST_ID_BITS);
      connect(c.rd_cmd, m.input(`c${i}_rd_cmd`, cmd()));
      connect(m.output(`c${i}_rd_status`, dmaStatus(FABRIC_TEST_ID_BITS)), c.rd_status);
      connect(c.wr_cmd, m.input(`c${i}_wr_cmd`, cmd()));
      const ws = m.output(`c${i}_wr_status`, dmaStatus(FABRIC_TEST_ID_BITS));
      connect(ws, c.wr_status);
      const mem = m.instance(`mem${i}`, SlowRam, { W: p.W, bytes: 2 ** bits, latency: p.latency[i] }).io;
      connect(mem.wr, c.mem_wr);
      connect(mem.rd, c.mem_rd);
      irq = irq.or(ws.valid.and(ws.ready).and(irqEnable).zext(Q).shl(i));
    });
    f.irq_in.set(irq);
  },
  {
    name: (p) => `dma_fabric_ep_test_${p.layout.name}_w${p.W}_r${p.regions.join('_')}_l${p.latency.join('_')}`,
    doc: 'The DMA fabric behind the virtio endpoint, memories as clients: notification ordering tests.',
  },
);
