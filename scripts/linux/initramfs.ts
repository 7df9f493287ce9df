// The guest's initramfs: busybox-static and init.sh in a gzip'd cpio (newc) archive, written by this module (no
// cpio tool needed), cached next to the kernel and keyed by the busybox binary and init.sh.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { busyboxPath, cacheRoot } from './kernel';

const initScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'init.sh');

interface Entry {
  name: string;
  mode: number;
  data?: Uint8Array;
  /** A device node's major and minor numbers. */
  rdev?: [number, number];
}

/** A cpio "newc" archive of `entries` and its trailer. */
export function cpioNewc(entries: Entry[]): Uint8Array {
  const parts: Buffer[] = [];
  const pad4 = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const hex = (v: number) => v.toString(16).padStart(8, '0');
  let ino = 1;
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }]) {
    const data = e.data ?? new Uint8Array(0);
    const name = Buffer.from(e.name + '\0');
    const [major, minor] = 'rdev' in e && e.rdev ? e.rdev : [0, 0];
    const fields = [ino++, e.mode, 0, 0, 1, 0, data.length, 0, 0, major, minor, name.length, 0];
    const head = Buffer.from('070701' + fields.map(hex).join(''), 'ascii');
    parts.push(head, name, pad4(head.length + name.length), Buffer.from(data), pad4(data.length));
  }
  return Buffer.concat(parts);
}

/** The initramfs (cached); returns its path. */
export function ensureInitramfs(): string {
  const busybox = fs.readFileSync(busyboxPath);
  const init = fs.readFileSync(initScript);
  const key = createHash('sha256').update(busybox).update(init).digest('hex').slice(0, 16);
  const file = path.join(cacheRoot(), `initramfs-${key}.cpio.gz`);
  if (fs.existsSync(file)) return file;
  const dir = 0o040755;
  const exe = 0o100755;
  const archive = cpioNewc([
    { name: 'bin', mode: dir },
    { name: 'dev', mode: dir },
    // init's stdin/stdout: the kernel opens /dev/console before devtmpfs is mounted.
    { name: 'dev/console', mode: 0o020600, rdev: [5, 1] },
    { name: 'proc', mode: dir },
    { name: 'sys', mode: dir },
    { name: 'tmp', mode: dir },
    { name: 'bin/busybox', mode: exe, data: busybox },
    { name: 'init', mode: exe, data: init },
  ]);
  fs.mkdirSync(cacheRoot(), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, gzipSync(archive));
  fs.renameSync(tmp, file);
  return file;
}
