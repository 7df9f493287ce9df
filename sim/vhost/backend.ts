// A vhost-user back-end for User Mode Linux's PCI over virtio (virtio_uml + virt-pci in Linux 6.1): one guest
// connection on a socket in a private directory, the protocol's set-up in the order 6.1 sends it, the guest's
// memory mapped in place, and virt-pci's two queues: commands (configuration and BAR accesses, turned into
// PciRequest objects for the caller) and interrupts (OP_MSI messages the caller sends). The native parts
// (descriptors, mmap, eventfds, poll) are sim/hostio; everything else is here.
//
// Protocol errors (an unknown or out-of-order message, a malformed payload, a malformed ring) throw
// VhostProtocolError: the run ends with a message naming what came, never a crash or a hang.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hostIo, MAX_FDS, POLL, type HostIo } from '../hostio';
import {
  CMD_QUEUE,
  FLAG_NEED_REPLY,
  FLAG_REPLY,
  FLAG_VERSION,
  HEADER_BYTES,
  IRQ_QUEUE,
  MAX_PAYLOAD,
  PCIDEV_HEADER_BYTES,
  PCIDEV_OP,
  PCIDEV_OP_NAME,
  PROTOCOL_F,
  VHOST_USER,
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_NAME,
  VIRTIO_F_VERSION_1,
  VRING_INDEX_MASK,
  VRING_NOFD_MASK,
} from './defs';
import { GuestMemory } from './guestmem';
import { SplitVring, type Chain } from './vring';

export class VhostProtocolError extends Error {}

/** One configuration or BAR access from the guest. Reads are answered with respond(); writes need nothing. */
export interface PciRequest {
  op: 'cfg-read' | 'cfg-write' | 'mmio-read' | 'mmio-write' | 'mmio-memset';
  bar: number;
  /** Offset in configuration space, or in the BAR. */
  offset: number;
  size: number;
  /** Write data (cfg-write: `size` bytes; memset: one byte, repeated `size` times). */
  data: Uint8Array;
}

export interface BackendOptions {
  /** Ms to wait for the guest to connect, and for the rest of a message once its first byte came. */
  timeoutMs?: number;
  log?: (s: string) => void;
}

/** What the back-end offers: VERSION_1 and protocol features; REPLY_ACK and SLAVE_REQ (6.1 needs it for IRQs). */
const OFFERED_FEATURES = (1n << VIRTIO_F_VERSION_1) | (1n << VHOST_USER_F_PROTOCOL_FEATURES);
const OFFERED_PROTOCOL = (1n << PROTOCOL_F.REPLY_ACK) | (1n << PROTOCOL_F.SLAVE_REQ);

interface QueueSetup {
  num?: number;
  base?: number;
  addr?: { desc: bigint; avail: bigint; used: bigint };
  kick?: number;
  call?: number;
  enabled: boolean;
  ring?: SplitVring;
}

type Phase = 'owner' | 'features' | 'running';

export class VhostUserBackend {
  readonly dir: string;
  readonly socketPath: string;
  private readonly io: HostIo;
  private listenFd = -1;
  private fd = -1;
  private readonly timeoutMs: number;
  private readonly log: (s: string) => void;
  private phase: Phase = 'owner';
  private protocol = 0n;
  private features?: bigint;
  private slaveFd = -1;
  private mem?: GuestMemory;
  private readonly queues: QueueSetup[] = [{ enabled: false }, { enabled: false }];
  private readonly hdr = new Uint8Array(HEADER_BYTES + MAX_PAYLOAD);
  private readonly fds = new Int32Array(MAX_FDS);
  private readonly pollFds = new Int32Array(3);
  private readonly pollOut = new Uint8Array(3);
  /** Interrupt messages waiting for a buffer on the interrupt queue. */
  private readonly irqBacklog: Uint8Array[] = [];
  private callsPending = new Set<number>();
  /** Counts for the report. */
  readonly stats = { messages: 0, requests: 0, reads: 0, writes: 0, interrupts: 0, kicks: 0 };
  /** The last vhost-user messages, for errors. */
  private readonly recent: string[] = [];

  constructor(opts: BackendOptions = {}) {
    this.io = hostIo({ quiet: true });
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.log = opts.log ?? (() => {});
    // A private directory: the guest's memory becomes this process's, so no other local user may attach.
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfpga-vhost-'));
    fs.chmodSync(this.dir, 0o700);
    this.socketPath = path.join(this.dir, 'pci.sock');
    this.listenFd = this.io.listen(this.socketPath);
  }

  /** Waits for the guest's connection (one only: the listening socket is closed and removed then). */
  accept(timeoutMs = this.timeoutMs, expectPid?: number): void {
    const fd = this.io.accept(this.listenFd, timeoutMs);
    if (fd < 0) throw new VhostProtocolError(`vhost-user: the guest did not connect within ${timeoutMs} ms`);
    const [pid, uid] = this.io.peerCredentials(fd);
    if (uid !== process.getuid?.()) {
      this.io.close(fd);
      throw new VhostProtocolError(`vhost-user: connection from uid ${uid} (pid ${pid}), not this user's`);
    }
    this.log(`vhost-user: guest connected (pid ${pid}${expectPid ? `, UML ${expectPid}` : ''})`);
    this.fd = fd;
    this.io.close(this.listenFd);
    this.listenFd = -1;
    fs.rmSync(this.socketPath, { force: true });
  }

  get connected(): boolean {
    return this.fd >= 0;
  }
  get memory(): GuestMemory | undefined {
    return this.mem;
  }
  get negotiatedFeatures(): bigint | undefined {
    return this.features;
  }
  /** Both queues set up and enabled: commands may come. */
  get ready(): boolean {
    return this.queues.every((q) => q.enabled && q.ring);
  }

  /**
   * Waits up to `timeoutMs` for the guest (a message, a kick), handles every vhost-user message that came, and
   * returns the PCI requests queued on the command queue. Returns [] also when the guest hung up (see `closed`).
   */
  poll(timeoutMs: number, onRequest: (r: PciRequest) => Uint8Array | undefined): number {
    if (this.fd < 0) return 0;
    const kicks = this.queues.map((q) => q.kick ?? -1);
    let n = 0;
    this.pollFds[n++] = this.fd;
    for (const k of kicks) if (k >= 0) this.pollFds[n++] = k;
    this.io.poll(this.pollFds, n, timeoutMs, this.pollOut);
    if (this.pollOut[0] & POLL.readable) {
      // Every message waiting (each is short; the socket is read until it would block).
      do {
        if (!this.receive()) return 0;
        this.io.poll(this.pollFds, 1, 0, this.pollOut);
      } while (this.pollOut[0] & POLL.readable);
    } else if (this.pollOut[0] & (POLL.hangup | POLL.error)) {
      this.hangup('the guest closed the connection');
      return 0;
    }
    for (const q of this.queues)
      if (q.kick !== undefined && q.kick >= 0 && this.io.readCounter(q.kick)) this.stats.kicks++;
    this.flushIrqs();
    return this.serveCommands(onRequest);
  }

  /** The connection ended (the guest powered off or died). */
  closed = false;
  private hangup(why: string): void {
    this.log(`vhost-user: ${why}`);
    this.closed = true;
    this.io.close(this.fd);
    this.fd = -1;
  }

  /** Serves the command queue: each request to `onRequest`, its answer (reads) written back. */
  private serveCommands(onRequest: (r: PciRequest) => Uint8Array | undefined): number {
    const ring = this.queues[CMD_QUEUE].ring;
    if (!ring || !this.queues[CMD_QUEUE].enabled) return 0;
    let served = 0;
    for (let c = ring.pop(); c; c = ring.pop()) {
      const req = this.decode(c);
      this.stats.requests++;
      const answer = onRequest(req);
      let written = 0;
      if (req.op === 'cfg-read' || req.op === 'mmio-read') {
        this.stats.reads++;
        if (!answer || answer.length !== req.size)
          throw new Error(`bridge: no ${req.size}-byte answer to ${req.op} of offset 0x${req.offset.toString(16)}`);
        written = scatter(c.writable, answer);
      } else this.stats.writes++;
      ring.push(c.head, written);
      served++;
    }
    // One interrupt per batch: the guest reclaims the buffers of posted writes in its callback.
    if (served) this.call(CMD_QUEUE);
    return served;
  }

  private decode(c: Chain): PciRequest {
    const b = c.readable;
    if (b.length < PCIDEV_HEADER_BYTES)
      throw new VhostProtocolError(`virt-pci: a command of ${b.length} bytes (the header alone is 16)`);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const op = b[0];
    const bar = b[1];
    const size = dv.getUint32(4, true);
    const addr = dv.getBigUint64(8, true);
    const data = b.subarray(PCIDEV_HEADER_BYTES);
    const where = `virt-pci ${PCIDEV_OP_NAME[op] ?? `op ${op}`} (bar ${bar}, offset 0x${addr.toString(16)}, size ${size})`;
    const wantIn = (n: number) => {
      const room = c.writable.reduce((s, w) => s + w.length, 0);
      if (room < n) throw new VhostProtocolError(`${where}: ${room} writable bytes for a ${n}-byte answer`);
    };
    if (addr > 0xffff_ffffn || size === 0 || size > 4096) throw new VhostProtocolError(`${where}: bad address or size`);
    const offset = Number(addr);
    switch (op) {
      case PCIDEV_OP.CFG_READ:
        if (![1, 2, 4, 8].includes(size)) throw new VhostProtocolError(`${where}: bad size`);
        wantIn(size);
        return { op: 'cfg-read', bar, offset, size, data };
      case PCIDEV_OP.CFG_WRITE:
        // 6.1's memset_io sends CFG_WRITE with the BAR and a one-byte payload (a configuration write carries 8).
        if (data.length === 1) return { op: 'mmio-memset', bar, offset, size, data };
        if (![1, 2, 4, 8].includes(size) || data.length < size) throw new VhostProtocolError(`${where}: bad size`);
        return { op: 'cfg-write', bar, offset, size, data: data.subarray(0, size) };
      case PCIDEV_OP.MMIO_READ:
        wantIn(size);
        return { op: 'mmio-read', bar, offset, size, data };
      case PCIDEV_OP.MMIO_WRITE:
        if (data.length < size) throw new VhostProtocolError(`${where}: ${data.length} data bytes`);
        return { op: 'mmio-write', bar, offset, size, data: data.subarray(0, size) };
      case PCIDEV_OP.MMIO_MEMSET:
        if (data.length < 1) throw new VhostProtocolError(`${where}: no data byte`);
        return { op: 'mmio-memset', bar, offset, size, data: data.subarray(0, 1) };
      default:
        throw new VhostProtocolError(`${where}: not an operation a driver sends`);
    }
  }

  /** Sends an MSI message (the data word the MSI-X table entry holds: the guest's IRQ number). */
  sendMsi(data: number): void {
    const m = new Uint8Array(PCIDEV_HEADER_BYTES + 4);
    const dv = new DataView(m.buffer);
    m[0] = PCIDEV_OP.MSI;
    dv.setUint32(4, 4, true);
    dv.setUint32(PCIDEV_HEADER_BYTES, data >>> 0, true);
    this.irqBacklog.push(m);
    this.stats.interrupts++;
    this.flushIrqs();
  }

  /** Interrupt messages into the buffers the guest posted (the rest wait for more). */
  private flushIrqs(): void {
    const ring = this.queues[IRQ_QUEUE].ring;
    if (!ring || !this.queues[IRQ_QUEUE].enabled) return;
    let sent = 0;
    while (this.irqBacklog.length) {
      const c = ring.pop();
      if (!c) break;
      const m = this.irqBacklog.shift()!;
      const n = scatter(c.writable, m);
      if (n < m.length) throw new VhostProtocolError(`virt-pci: an interrupt buffer of ${n} bytes (needs ${m.length})`);
      ring.push(c.head, n);
      sent++;
    }
    if (sent) this.call(IRQ_QUEUE);
    for (const q of this.callsPending) this.signal(q);
    this.callsPending.clear();
  }

  private call(q: number): void {
    this.callsPending.add(q);
    if (q === CMD_QUEUE) {
      this.signal(q);
      this.callsPending.delete(q);
    }
  }

  private signal(q: number): void {
    const fd = this.queues[q].call;
    if (fd === undefined || fd < 0) throw new VhostProtocolError(`vhost-user: queue ${q} has no call descriptor`);
    this.io.writeCounter(fd, 1);
  }

  // ---- vhost-user messages

  /** Reads and handles one message; false when the guest hung up. */
  private receive(): boolean {
    const nfds = this.io.recv(this.fd, this.hdr, HEADER_BYTES, this.fds, this.timeoutMs);
    if (nfds < 0) {
      this.hangup('the guest closed the connection');
      return false;
    }
    const fds = Array.from(this.fds.subarray(0, nfds));
    const dv = new DataView(this.hdr.buffer);
    const request = dv.getUint32(0, true);
    const flags = dv.getUint32(4, true);
    const size = dv.getUint32(8, true);
    const name = VHOST_USER_NAME[request] ?? `request ${request}`;
    const fail = (why: string): never => {
      for (const f of fds) this.io.close(f);
      throw new VhostProtocolError(
        `vhost-user: ${name} (flags 0x${flags.toString(16)}, ${size} payload bytes): ${why}` +
          (this.recent.length ? `; before it: ${this.recent.join(', ')}` : ''),
      );
    };
    if ((flags & 3) !== FLAG_VERSION || flags & FLAG_REPLY) fail('not a version-1 request');
    if (size > MAX_PAYLOAD) fail(`payload larger than the ${MAX_PAYLOAD} bytes any expected request carries`);
    if (size) this.io.recv(this.fd, this.hdr.subarray(HEADER_BYTES), size, this.fds, this.timeoutMs);
    this.stats.messages++;
    this.recent.push(name);
    if (this.recent.length > 8) this.recent.shift();
    const p = new DataView(this.hdr.buffer, HEADER_BYTES, size);
    const u64 = () => (size === 8 ? p.getBigUint64(0, true) : fail('payload is not one u64'));
    const fdCount = (n: number) => fds.length === n || fail(`${fds.length} descriptors (expected ${n})`);
    const needsReply = (flags & FLAG_NEED_REPLY) !== 0;
    const state = () => {
      if (size !== 8) fail('payload is not a vring state');
      const index = p.getUint32(0, true);
      if (index !== CMD_QUEUE && index !== IRQ_QUEUE) fail(`queue ${index} (virt-pci has 2)`);
      return { index, num: p.getUint32(4, true) };
    };
    const running = () => this.phase === 'running' || fail('before SET_FEATURES');
    let reply: bigint | undefined;
    switch (request) {
      case VHOST_USER.SET_OWNER:
        fdCount(0);
        if (this.phase !== 'owner') fail('sent twice');
        this.phase = 'features';
        break;
      case VHOST_USER.GET_FEATURES:
        fdCount(0);
        if (this.phase === 'owner') fail('before SET_OWNER');
        reply = OFFERED_FEATURES;
        break;
      case VHOST_USER.GET_PROTOCOL_FEATURES:
        fdCount(0);
        if (this.phase !== 'features') fail('out of order');
        reply = OFFERED_PROTOCOL;
        break;
      case VHOST_USER.SET_PROTOCOL_FEATURES: {
        fdCount(0);
        if (this.phase !== 'features') fail('out of order');
        const f = u64();
        if (f & ~OFFERED_PROTOCOL) fail(`protocol features 0x${f.toString(16)} beyond those offered`);
        if (!(f & (1n << PROTOCOL_F.SLAVE_REQ))) fail('SLAVE_REQ not accepted (6.1 needs it for interrupts)');
        this.protocol = f;
        break;
      }
      case VHOST_USER.SET_SLAVE_REQ_FD:
        fdCount(1);
        if (this.phase !== 'features') fail('out of order');
        this.slaveFd = fds[0];
        break;
      case VHOST_USER.SET_FEATURES: {
        fdCount(0);
        if (this.phase === 'owner') fail('before SET_OWNER');
        const f = u64();
        if (f & ~OFFERED_FEATURES) fail(`features 0x${f.toString(16)} beyond those offered`);
        if (!(f & (1n << VIRTIO_F_VERSION_1))) fail('VIRTIO_F_VERSION_1 not accepted');
        this.features = f;
        this.phase = 'running';
        break;
      }
      case VHOST_USER.SET_MEM_TABLE: {
        running();
        if (this.mem) fail('the memory table is set already (this back-end maps it once)');
        if (size < 8) fail('short payload');
        const n = p.getUint32(0, true);
        // 6.1 always sends room for two regions (72 bytes) and says how many are used.
        if (n < 1 || n > 2 || size < 8 + 32 * n) fail(`${n} regions in ${size} bytes`);
        fdCount(n);
        const table = [];
        for (let i = 0; i < n; i++) {
          const o = 8 + 32 * i;
          table.push({
            guestAddr: p.getBigUint64(o, true),
            size: p.getBigUint64(o + 8, true),
            userAddr: p.getBigUint64(o + 16, true),
            mmapOffset: p.getBigUint64(o + 24, true),
          });
        }
        try {
          this.mem = GuestMemory.map(this.io, table, fds);
        } catch (e) {
          fail((e as Error).message);
        }
        for (const f of fds) this.io.close(f);
        this.log(
          `vhost-user: guest memory ${table.map((r) => `0x${r.guestAddr.toString(16)}+${r.size >> 20n} MiB`).join(', ')}`,
        );
        break;
      }
      case VHOST_USER.SET_VRING_NUM: {
        running();
        fdCount(0);
        const s = state();
        this.settable(s.index, fail);
        this.queues[s.index].num = s.num;
        break;
      }
      case VHOST_USER.SET_VRING_BASE: {
        running();
        fdCount(0);
        const s = state();
        this.settable(s.index, fail);
        this.queues[s.index].base = s.num;
        break;
      }
      case VHOST_USER.SET_VRING_ADDR: {
        running();
        fdCount(0);
        if (size !== 40) fail('payload is not a vring address');
        const index = p.getUint32(0, true);
        if (index !== CMD_QUEUE && index !== IRQ_QUEUE) fail(`queue ${index} (virt-pci has 2)`);
        this.settable(index, fail);
        const q = this.queues[index];
        if (q.num === undefined) fail('before SET_VRING_NUM');
        if (!this.mem) fail('before SET_MEM_TABLE');
        q.addr = { desc: p.getBigUint64(8, true), used: p.getBigUint64(16, true), avail: p.getBigUint64(24, true) };
        try {
          q.ring = new SplitVring(
            index === CMD_QUEUE ? 'cmd queue' : 'irq queue',
            q.num!,
            q.addr,
            this.mem!,
            q.base ?? 0,
          );
        } catch (e) {
          fail((e as Error).message);
        }
        break;
      }
      case VHOST_USER.SET_VRING_KICK:
      case VHOST_USER.SET_VRING_CALL: {
        running();
        const v = u64();
        const index = Number(v & VRING_INDEX_MASK);
        if (v & ~(VRING_INDEX_MASK | VRING_NOFD_MASK)) fail(`payload 0x${v.toString(16)}`);
        if (index !== CMD_QUEUE && index !== IRQ_QUEUE) fail(`queue ${index} (virt-pci has 2)`);
        if (v & VRING_NOFD_MASK) fail('no descriptor (in-band notifications were not offered)');
        fdCount(1);
        const q = this.queues[index];
        const old = request === VHOST_USER.SET_VRING_KICK ? q.kick : q.call;
        if (old !== undefined) this.io.close(old);
        if (request === VHOST_USER.SET_VRING_KICK) {
          this.io.setNonBlocking(fds[0]);
          q.kick = fds[0];
        } else {
          this.io.setNonBlocking(fds[0]);
          q.call = fds[0];
        }
        break;
      }
      case VHOST_USER.SET_VRING_ENABLE: {
        running();
        fdCount(0);
        const s = state();
        const q = this.queues[s.index];
        if (s.num > 1) fail(`enable value ${s.num}`);
        if (s.num && (!q.ring || q.call === undefined || q.kick === undefined))
          fail(`queue ${s.index} enabled before its size, address, kick and call were set`);
        q.enabled = s.num === 1;
        if (this.ready) this.log('vhost-user: both queues ready');
        break;
      }
      default:
        fail('not a request this back-end handles');
    }
    const ack = needsReply && reply === undefined;
    if (reply !== undefined || ack) {
      if (ack && !(this.protocol & (1n << PROTOCOL_F.REPLY_ACK))) fail('NEED_REPLY without REPLY_ACK negotiated');
      this.sendReply(request, reply ?? 0n);
    }
    return true;
  }

  /** A queue's set-up may change only while it is disabled. */
  private settable(index: number, fail: (why: string) => never): void {
    if (this.queues[index].enabled) fail(`queue ${index} is enabled`);
  }

  private sendReply(request: number, value: bigint): void {
    const m = new Uint8Array(HEADER_BYTES + 8);
    const dv = new DataView(m.buffer);
    dv.setUint32(0, request, true);
    dv.setUint32(4, FLAG_VERSION | FLAG_REPLY, true);
    dv.setUint32(8, 8, true);
    dv.setBigUint64(HEADER_BYTES, value, true);
    this.io.send(this.fd, m, m.length);
  }

  /** Closes everything and removes the private directory. */
  close(): void {
    for (const q of this.queues) {
      if (q.kick !== undefined) this.io.close(q.kick);
      if (q.call !== undefined) this.io.close(q.call);
      q.kick = q.call = undefined;
    }
    if (this.slaveFd >= 0) this.io.close(this.slaveFd);
    if (this.fd >= 0) this.io.close(this.fd);
    if (this.listenFd >= 0) this.io.close(this.listenFd);
    this.slaveFd = this.fd = this.listenFd = -1;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Copies `src` into the writable buffers in order; returns the bytes written. */
function scatter(bufs: Uint8Array[], src: Uint8Array): number {
  let at = 0;
  for (const b of bufs) {
    if (at >= src.length) break;
    const n = Math.min(b.length, src.length - at);
    b.set(src.subarray(at, at + n), 0);
    at += n;
  }
  return at;
}
