// The host I/O addon (sim/cpp/hostio.h): file descriptors over Unix sockets, shared mappings, eventfd counters and
// poll(), for the Linux bridge's vhost-user back-end. Built once per toolchain with g++ into
// build/sim/hostio-<hash>/hostio.node (same cache, lock and publish as the models). The constants both sides use
// are defined here and generated into the C++ (the one schema for the boundary).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDON_DEFINES, DEFAULT_CACHE_DIR, PIC, publish, runStep, tools, withLock } from './build';

const CPP = join(dirname(fileURLToPath(import.meta.url)), 'cpp', 'hostio.h');

/** poll() result bits per descriptor. */
export const POLL = { readable: 1, hangup: 2, error: 4 } as const;
/** Most descriptors one received message may carry (vhost-user: SET_MEM_TABLE's regions, 8 at most). */
export const MAX_FDS = 8;

function constantsCpp(): string {
  return [
    `namespace vfpga::hostio {`,
    `// generated from sim/hostio.ts`,
    `constexpr int kPollReadable = ${POLL.readable};`,
    `constexpr int kPollHangup = ${POLL.hangup};`,
    `constexpr int kPollError = ${POLL.error};`,
    `constexpr int kMaxFds = ${MAX_FDS};`,
    `}  // namespace vfpga::hostio`,
  ].join('\n');
}

export interface HostIo {
  listen(path: string): number;
  /** A connection, or -1 after timeoutMs. */
  accept(listenFd: number, timeoutMs: number): number;
  peerCredentials(fd: number): [pid: number, uid: number, gid: number];
  /** Reads exactly len bytes into buf; returns the descriptors received (in fds), or -1 at end of stream. */
  recv(fd: number, buf: Uint8Array, len: number, fds: Int32Array, timeoutMs: number): number;
  send(fd: number, buf: Uint8Array, len: number): void;
  /** A read/write shared mapping, unmapped when the buffer is collected. */
  mmap(fd: number, size: number, offset: number): ArrayBuffer;
  readCounter(fd: number): number;
  writeCounter(fd: number, value: number): void;
  setNonBlocking(fd: number): void;
  /** Ready descriptors; out[i] gets POLL bits. */
  poll(fds: Int32Array, n: number, timeoutMs: number, out: Uint8Array): number;
  close(fd: number): void;
  // The front-end's side, for tests that play the guest:
  connect(path: string): number;
  sendFds(fd: number, buf: Uint8Array, len: number, fds: number[]): void;
  eventfd(): number;
}

let loaded: HostIo | undefined;

/** The addon, built on first use. */
export function hostIo(opts: { cacheDir?: string; quiet?: boolean } = {}): HostIo {
  if (loaded) return loaded;
  const t = tools();
  const source = [
    constantsCpp(),
    `#include "hostio.h"`,
    `static Napi::Object hostioInit(Napi::Env env, Napi::Object exports) { return vfpga::hostio::Init(env, exports); }`,
    `NODE_API_MODULE(NODE_GYP_MODULE_NAME, hostioInit)`,
    ``,
  ].join('\n');
  const flags = ['-O2', '-std=c++17', ...PIC, `-I${t.nodeInclude}`, `-I${t.napiInclude}`, `-I${dirname(CPP)}`];
  const defines = ADDON_DEFINES.map((d) => d.replace('vfpga_sim', 'vfpga_hostio'));
  const hash = createHash('sha256')
    .update([t.gxxVersion, process.versions.node, process.versions.napi, ...flags, ...defines, source].join('\0'))
    .update(readFileSync(CPP))
    .digest('hex')
    .slice(0, 16);
  const cacheDir = resolve(opts.cacheDir ?? process.env.VFPGA_SIM_CACHE ?? DEFAULT_CACHE_DIR);
  const dir = join(cacheDir, `hostio-${hash}`);
  const addon = join(dir, 'hostio.node');
  if (!existsSync(addon)) {
    mkdirSync(cacheDir, { recursive: true });
    withLock(join(cacheDir, `hostio-${hash}.lock`), () => {
      if (existsSync(addon)) return;
      if (!opts.quiet) console.error(`sim: building the host I/O addon into ${dir}`);
      const tmp = join(cacheDir, `.tmp-hostio-${hash}-${process.pid}-${Date.now()}`);
      mkdirSync(tmp, { recursive: true });
      try {
        writeFileSync(join(tmp, 'hostio.cpp'), source);
        runStep(
          'g++',
          [...flags, ...defines, '-shared', '-o', join(tmp, 'hostio.node'), join(tmp, 'hostio.cpp')],
          'compiling the host I/O addon',
        );
        publish(tmp, dir);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
    });
  }
  loaded = createRequire(import.meta.url)(addon) as HostIo;
  return loaded;
}
