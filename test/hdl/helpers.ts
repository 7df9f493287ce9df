// Shared helpers for the DSL tests: bit arithmetic for BigInt reference models, the caller's source line
// (to check error locations without hard-coded line numbers), HdlError assertions, and Verilator lint.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { emitDesign, HdlError, type HwModule, type SrcLoc } from '../../gen/hdl';
import type { Rng } from '../../sim/random';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---- bit arithmetic

export const mask = (w: number): bigint => (1n << BigInt(w)) - 1n;
/** The w-bit two's complement pattern of v. */
export const U = (v: bigint, w: number): bigint => v & mask(w);
/** The signed value of a w-bit pattern. */
export const S = (v: bigint, w: number): bigint => {
  const u = U(v, w);
  return u >> BigInt(w - 1) ? u - (1n << BigInt(w)) : u;
};
export const b2n = (b: boolean): bigint => (b ? 1n : 0n);

/** A random w-bit pattern, biased towards the edge values that break carries and signs. */
export function edgeBits(rng: Rng, w: number): bigint {
  const r = rng.below(10);
  if (r === 0) return 0n;
  if (r === 1) return mask(w);
  if (r === 2) return 1n << BigInt(w - 1); // most negative
  if (r === 3) return mask(w) >> 1n; // most positive
  if (r === 4) return U(1n, w);
  return rng.bits(w);
}

// ---- source locations

const frameRe = /\(?((?:file:\/\/)?\/[^():]+):(\d+):\d+\)?$/;

/** The test-file line that calls `here()`: write it on the same line as the mistake it marks. */
export function here(): SrcLoc {
  const stack = new Error().stack ?? '';
  const self = fileURLToPath(import.meta.url);
  for (const raw of stack.split('\n').slice(1)) {
    const m = frameRe.exec(raw.trim());
    if (!m) continue;
    const file = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
    if (file === self) continue;
    return { file: path.relative(root, file), line: Number(m[2]) };
  }
  throw new Error('here(): no caller frame');
}

/** A line marker that a design body fills in while it runs (for mistakes reported after the body returns). */
export class Mark {
  loc?: SrcLoc;
  /** Record the caller's line; returns its argument so it can wrap an expression. */
  at<T>(x?: T): T {
    this.loc = here();
    return x as T;
  }
  /** Record the caller's line, then run `f`: for a mistake that throws before a wrapped argument is evaluated. */
  on<T>(f: () => T): T {
    this.loc = here();
    return f();
  }
}

export interface ErrorSpec {
  kind: HdlError['kind'];
  /** Where the mistake is: the error's `loc` must be exactly this file and line. */
  at: SrcLoc | Mark;
  /** Substrings (or patterns) the message must contain. */
  msg?: (string | RegExp)[];
}

/** Run `f`, expect an HdlError of the given kind at the given line, naming the given things. */
export function expectHdlError(f: () => unknown, spec: ErrorSpec): HdlError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof HdlError)) {
    throw new Error(
      `expected an HdlError (${spec.kind}), got ${err === undefined ? 'no error' : String((err as Error).stack ?? err)}`,
    );
  }
  const at = spec.at instanceof Mark ? spec.at.loc : spec.at;
  if (!at) throw new Error('expectHdlError: the mark was never set (the body did not reach the marked line)');
  expect(err.kind, err.message).toBe(spec.kind);
  expect(err.loc, err.message).toEqual(at);
  expect(err.message.startsWith(`${at.file}:${at.line}: `), err.message).toBe(true);
  for (const m of spec.msg ?? []) {
    if (typeof m === 'string') expect(err.message).toContain(m);
    else expect(err.message).toMatch(m);
  }
  return err;
}

// ---- Verilator lint

/** `verilator --lint-only -Wall` over a design's emitted files; returns Verilator's messages ('' when clean). */
export function lintDesign(top: HwModule, extraFiles: string[] = []): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfpga-lint-'));
  try {
    const files = emitDesign(top);
    const vfiles: string[] = [];
    for (const [n, t] of files) {
      fs.writeFileSync(path.join(dir, n), t);
      if (n.endsWith('.v')) vfiles.push(n);
    }
    try {
      const out = execFileSync(
        'verilator',
        ['--lint-only', '-Wall', '--top-module', top.name, ...vfiles, ...extraFiles.map((f) => path.resolve(f))],
        { cwd: dir, stdio: 'pipe', encoding: 'utf8' },
      );
      return out.trim();
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string; message: string };
      const text = `${x.stdout ?? ''}${x.stderr ?? ''}`.trim() || x.message;
      return `${text}\n---- ${top.name}.v:\n${files.get(`${top.name}.v`)}`;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Assert a design lints clean. */
export function expectLintClean(top: HwModule, extraFiles: string[] = []): void {
  expect(lintDesign(top, extraFiles)).toBe('');
}

/** The emitted Verilog of one module of a design. */
export function verilogOf(top: HwModule, name = top.name): string {
  const t = emitDesign(top).get(`${name}.v`);
  if (t === undefined) throw new Error(`no module ${name} in the design of ${top.name}`);
  return t;
}
