// The vhost-user back-end against a front-end played by the test, message for message as Linux 6.1's virtio_uml
// and virt-pci send them: the set-up, a configuration read answered through the command queue, a posted write,
// an MSI through the interrupt queue; and protocol errors that must end the run with a clear message.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hostIo } from '../../sim/hostio';
import { VhostUserBackend, type PciRequest } from '../../sim/vhost/backend';
import { FLAG_NEED_REPLY, FLAG_REPLY, FLAG_VERSION, PCIDEV_OP, PROTOCOL_F, VHOST_USER } from '../../sim/vhost/defs';

const io = hostIo({ quiet: true });
const GUEST = 0x10_0000n;
const MEM = 1 << 20;
const NUM = 8;
/** Ring addresses (guest physical) per queue, and the buffers' area. */
const RING = [0, 1].map((q) => ({
  desc: GUEST + BigInt(q * 0x4000),
  avail: GUEST + BigInt(q * 0x4000 + 0x100),
  used: GUEST + BigInt(q * 0x4000 + 0x1000),
}));
const BUFS = GUEST + 0x10000n;

/** The guest's side: the socket, the shared memory file, the two rings as a driver fills them. */
class FrontEnd {
  readonly sock: number;
  readonly memFd: number;
  readonly mem: DataView;
  readonly bytes: Uint8Array;
  readonly kick = [io.eventfd(), io.eventfd()];
  readonly call = [io.eventfd(), io.eventfd()];
  readonly slave = io.eventfd();
  private availIdx = [0, 0];
  private nextDesc = [0, 0];
  private bufAt = BUFS;
  constructor(
    readonly be: VhostUserBackend,
    file: string,
  ) {
    this.memFd = fs.openSync(file, 'w+');
    fs.ftruncateSync(this.memFd, MEM);
    const ab = io.mmap(this.memFd, MEM, 0);
    this.bytes = new Uint8Array(ab);
    this.mem = new DataView(ab);
    this.sock = io.connect(be.socketPath);
    be.accept(1000);
  }
  /** Sends a request; returns the reply's u64 when one is expected. */
  send(request: number, payload: Uint8Array = new Uint8Array(0), fds: number[] = [], flags = 0): bigint | undefined {
    const m = new Uint8Array(12 + payload.length);
    const dv = new DataView(m.buffer);
    dv.setUint32(0, request, true);
    dv.setUint32(4, FLAG_VERSION | flags, true);
    dv.setUint32(8, payload.length, true);
    m.set(payload, 12);
    io.sendFds(this.sock, m, m.length, fds);
    this.be.poll(0, () => undefined);
    const wants = request === VHOST_USER.GET_FEATURES || request === VHOST_USER.GET_PROTOCOL_FEATURES;
    if (!wants && !(flags & FLAG_NEED_REPLY)) return undefined;
    const r = new Uint8Array(20);
    expect(io.recv(this.sock, r, 20, new Int32Array(8), 1000)).toBe(0);
    const rv = new DataView(r.buffer);
    expect(rv.getUint32(0, true)).toBe(request);
    expect(rv.getUint32(4, true)).toBe(FLAG_VERSION | FLAG_REPLY);
    return rv.getBigUint64(12, true);
  }
  u64(v: bigint): Uint8Array {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v, true);
    return b;
  }
  state(index: number, num: number): Uint8Array {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, index, true);
    dv.setUint32(4, num, true);
    return b;
  }
  /** virtio_uml's set-up, in 6.1's order. */
  setUp(): void {
    this.send(VHOST_USER.SET_OWNER);
    const features = this.send(VHOST_USER.GET_FEATURES)!;
    expect(features & (1n << 32n)).toBe(1n << 32n);
    const proto = this.send(VHOST_USER.GET_PROTOCOL_FEATURES)!;
    expect(proto & (1n << PROTOCOL_F.SLAVE_REQ)).not.toBe(0n);
    this.send(VHOST_USER.SET_PROTOCOL_FEATURES, this.u64(proto));
    const ack = FLAG_NEED_REPLY;
    expect(this.send(VHOST_USER.SET_SLAVE_REQ_FD, undefined, [this.slave], ack)).toBe(0n);
    expect(this.send(VHOST_USER.SET_FEATURES, this.u64(features), [], ack)).toBe(0n);
    const table = new Uint8Array(72);
    const tv = new DataView(table.buffer);
    tv.setUint32(0, 1, true);
    tv.setBigUint64(8, GUEST, true);
    tv.setBigUint64(16, BigInt(MEM), true);
    tv.setBigUint64(24, GUEST, true);
    tv.setBigUint64(32, 0n, true);
    expect(this.send(VHOST_USER.SET_MEM_TABLE, table, [this.memFd], ack)).toBe(0n);
    for (const q of [0, 1]) {
      this.send(VHOST_USER.SET_VRING_CALL, this.u64(BigInt(q)), [this.call[q]], ack);
      this.send(VHOST_USER.SET_VRING_NUM, this.state(q, NUM), [], ack);
      this.send(VHOST_USER.SET_VRING_BASE, this.state(q, 0), [], ack);
      const a = new Uint8Array(40);
      const av = new DataView(a.buffer);
      av.setUint32(0, q, true);
      av.setBigUint64(8, RING[q].desc, true);
      av.setBigUint64(16, RING[q].used, true);
      av.setBigUint64(24, RING[q].avail, true);
      av.setBigUint64(32, ~0n & 0xffff_ffff_ffff_ffffn, true);
      this.send(VHOST_USER.SET_VRING_ADDR, a, [], ack);
    }
    for (const q of [0, 1]) {
      this.send(VHOST_USER.SET_VRING_KICK, this.u64(BigInt(q)), [this.kick[q]], ack);
      this.send(VHOST_USER.SET_VRING_ENABLE, this.state(q, 1), [], ack);
    }
    expect(this.be.ready).toBe(true);
  }
  off(addr: bigint): number {
    return Number(addr - GUEST);
  }
  /** Places a buffer; returns its guest address. */
  buffer(data: Uint8Array | number): bigint {
    const len = typeof data === 'number' ? data : data.length;
    const at = this.bufAt;
    if (typeof data !== 'number') this.bytes.set(data, this.off(at));
    this.bufAt += BigInt((len + 15) & ~15);
    return at;
  }
  /** Makes a chain available: [address, length, writable] per descriptor; `link` overrides the next indices. */
  post(q: number, segs: [bigint, number, boolean][], link?: number[]): number {
    const head = this.nextDesc[q];
    segs.forEach(([addr, len, w], i) => {
      const d = this.off(RING[q].desc) + 16 * ((head + i) % NUM);
      this.mem.setBigUint64(d, addr, true);
      this.mem.setUint32(d + 8, len, true);
      this.mem.setUint16(d + 12, (i < segs.length - 1 || link ? 1 : 0) | (w ? 2 : 0), true);
      this.mem.setUint16(d + 14, link?.[i] ?? (head + i + 1) % NUM, true);
    });
    this.nextDesc[q] = (head + segs.length) % NUM;
    const a = this.off(RING[q].avail);
    this.mem.setUint16(a + 4 + 2 * (this.availIdx[q] % NUM), head, true);
    this.availIdx[q] = (this.availIdx[q] + 1) & 0xffff;
    this.mem.setUint16(a + 2, this.availIdx[q], true);
    io.writeCounter(this.kick[q], 1);
    return head;
  }
  used(q: number): { idx: number; id: number; len: number } {
    const u = this.off(RING[q].used);
    const idx = this.mem.getUint16(u + 2, true);
    const slot = (idx - 1) % NUM;
    return { idx, id: this.mem.getUint32(u + 4 + 8 * slot, true), len: this.mem.getUint32(u + 8 + 8 * slot, true) };
  }
  close(): void {
    for (const fd of [this.sock, this.memFd, ...this.kick, ...this.call, this.slave]) io.close(fd);
  }
}

function cmd(op: number, bar: number, size: number, addr: number, data: number[] = []): Uint8Array {
  const b = new Uint8Array(16 + data.length);
  const dv = new DataView(b.buffer);
  b[0] = op;
  b[1] = bar;
  dv.setUint32(4, size, true);
  dv.setBigUint64(8, BigInt(addr), true);
  b.set(data, 16);
  return b;
}

describe('vhost-user back-end (UML PCI over virtio)', () => {
  const open: { be: VhostUserBackend; fe?: FrontEnd; dir?: string }[] = [];
  const make = () => {
    const be = new VhostUserBackend({ timeoutMs: 1000 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfpga-vhost-test-'));
    const fe = new FrontEnd(be, path.join(dir, 'mem'));
    open.push({ be, fe, dir });
    return { be, fe };
  };
  afterEach(() => {
    for (const { be, fe, dir } of open.splice(0)) {
      fe?.close();
      be.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps its socket in a private directory and removes it once the guest connected', () => {
    const be = new VhostUserBackend({ timeoutMs: 1000 });
    open.push({ be });
    expect(fs.statSync(be.dir).mode & 0o777).toBe(0o700);
    expect(fs.existsSync(be.socketPath)).toBe(true);
    const fd = io.connect(be.socketPath);
    be.accept(1000);
    expect(fs.existsSync(be.socketPath)).toBe(false);
    io.close(fd);
    be.close();
    expect(fs.existsSync(be.dir)).toBe(false);
  });

  it('sets up as 6.1 does, answers a configuration read, takes a posted write, delivers an MSI', () => {
    const { be, fe } = make();
    fe.setUp();
    const seen: PciRequest[] = [];
    const serve = (r: PciRequest) => {
      seen.push({ ...r, data: r.data.slice() });
      return r.op === 'cfg-read' ? Uint8Array.of(0xf4, 0x1a) : undefined;
    };
    // CFG_READ of the vendor ID: header out, 8-byte answer buffer in (virt-pci's message buffer).
    const hdr = fe.buffer(cmd(PCIDEV_OP.CFG_READ, 0, 2, 0));
    const answer = fe.buffer(8);
    const head = fe.post(0, [
      [hdr, 16, false],
      [answer, 8, true],
    ]);
    expect(be.poll(0, serve)).toBe(1);
    expect(seen[0]).toMatchObject({ op: 'cfg-read', offset: 0, size: 2 });
    expect(fe.used(0)).toEqual({ idx: 1, id: head, len: 2 });
    expect(fe.bytes[fe.off(answer)]).toBe(0xf4);
    expect(io.readCounter(fe.call[0])).toBe(1);
    // MMIO_WRITE, posted: header and data in one buffer.
    const w = fe.buffer(cmd(PCIDEV_OP.MMIO_WRITE, 0, 4, 0x1004, [1, 2, 3, 4]));
    fe.post(0, [[w, 20, false]]);
    be.poll(0, serve);
    expect(seen[1]).toMatchObject({
      op: 'mmio-write',
      bar: 0,
      offset: 0x1004,
      size: 4,
      data: Uint8Array.of(1, 2, 3, 4),
    });
    expect(fe.used(0)).toMatchObject({ idx: 2, len: 0 });
    // An MSI waits for an interrupt buffer, then fills it: OP_MSI, size 4, the data word.
    be.sendMsi(37);
    expect(fe.used(1).idx).toBe(0);
    const irq = fe.buffer(20);
    fe.post(1, [[irq, 20, true]]);
    be.poll(0, serve);
    expect(fe.used(1)).toMatchObject({ idx: 1, len: 20 });
    const m = new DataView(fe.bytes.buffer, fe.off(irq), 20);
    expect([m.getUint8(0), m.getUint32(4, true), m.getUint32(16, true)]).toEqual([PCIDEV_OP.MSI, 4, 37]);
    expect(io.readCounter(fe.call[1])).toBe(1);
  });

  it('ends the run on an out-of-order message, naming it and what came before', () => {
    const { fe } = make();
    fe.send(VHOST_USER.SET_OWNER);
    expect(() => fe.send(VHOST_USER.SET_VRING_NUM, fe.state(0, 8))).toThrow(
      /SET_VRING_NUM .*before SET_FEATURES; before it: SET_OWNER/,
    );
  });

  it('ends the run on a request it does not handle and on a malformed payload', () => {
    const { fe } = make();
    expect(() => fe.send(VHOST_USER.GET_FEATURES)).toThrow(/GET_FEATURES .*before SET_OWNER/);
    const { fe: fe2 } = make();
    fe2.send(VHOST_USER.SET_OWNER);
    expect(() => fe2.send(VHOST_USER.SET_FEATURES, new Uint8Array(4))).toThrow(/SET_FEATURES .*payload is not one u64/);
    const { fe: fe3 } = make();
    fe3.send(VHOST_USER.SET_OWNER);
    expect(() => fe3.send(VHOST_USER.SET_LOG_BASE, fe3.u64(0n))).toThrow(
      /SET_LOG_BASE .*not a request this back-end handles/,
    );
  });

  it('ends the run on a descriptor chain that loops and on a command it cannot carry out', () => {
    const { be, fe } = make();
    fe.setUp();
    const hdr = fe.buffer(cmd(PCIDEV_OP.CFG_READ, 0, 4, 0));
    fe.post(
      0,
      [
        [hdr, 16, false],
        [hdr, 16, false],
      ],
      [1, 0],
    );
    expect(() => be.poll(0, () => Uint8Array.of(0, 0, 0, 0))).toThrow(/cmd queue: the chain from descriptor 0 loops/);
    const { be: be2, fe: fe2 } = make();
    fe2.setUp();
    const bad = fe2.buffer(cmd(PCIDEV_OP.MSI, 0, 4, 0));
    fe2.post(0, [[bad, 16, false]]);
    expect(() => be2.poll(0, () => undefined)).toThrow(/virt-pci MSI .*not an operation a driver sends/);
  });
});
