// Shared helpers for the DSL tests: bit arithmetic for BigInt reference models, the caller's source line and
// column (to check error locations without hard-coded numbers), HdlError assertions, and Verilator lint.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { emitDesign, HdlError, HdlErrors, type HwModule, type SrcLoc } from '../../gen/hdl';
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
export function here(): { file: string; line: number } {
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

const sourceLines = new Map<string, string[]>();

/**
 * The column (1-based) of the call `call` on a line of a test file: where V8, and so the DSL, puts the call's
 * location (the start of the method's name). `call` is a method or function name, called exactly once on the
 * line (`'add'` for `a.add(b)`), or `'name#2'` for its second call there; any other text is looked up
 * literally (`'('` for the parenthesis of a computed call `a[op](b)`, which is where V8 puts that call).
 */
function callColumn(file: string, line: number, call: string): number {
  let lines = sourceLines.get(file);
  if (!lines) sourceLines.set(file, (lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n')));
  const text = lines[line - 1];
  const [name, nth] = call.split('#');
  const starts: number[] = [];
  if (/^[A-Za-z_$][\w$]*$/.test(name)) {
    for (const m of text.matchAll(new RegExp(`(?<![\\w$])${name}\\s*\\(`, 'g'))) starts.push(m.index);
  } else {
    for (let i = text.indexOf(name); i >= 0; i = text.indexOf(name, i + 1)) starts.push(i);
  }
  const k = nth === undefined ? 0 : Number(nth) - 1;
  if (starts.length === 0 || (nth === undefined && starts.length > 1) || k >= starts.length) {
    throw new Error(
      `Mark: ${file}:${line} has ${starts.length} calls of '${name}' (say which with '${name}#<n>'):\n${text}`,
    );
  }
  return starts[k] + 1;
}

/**
 * A location marker that a design body fills in while it runs: the line it is called on, and the column of
 * the call named `call` on that line, the DSL call whose mistake the test expects (`a.add(mk.at(b, 'add'))`).
 */
export class Mark {
  loc?: SrcLoc;
  /** Record the caller's line and the column of `call` on it; returns `x` so it can wrap an expression. */
  at<T>(x: T, call: string): T {
    const h = here();
    this.loc = { ...h, col: callColumn(h.file, h.line, call) };
    return x;
  }
  /** The same, then run `f`: for a mistake that throws before a wrapped argument would be evaluated. */
  on<T>(call: string, f: () => T): T {
    const h = here();
    this.loc = { ...h, col: callColumn(h.file, h.line, call) };
    return f();
  }
}

export interface ErrorSpec {
  kind: HdlError['kind'];
  /** Where the mistake is: the error's `loc` must be exactly this file, line and column. */
  at: SrcLoc | Mark;
  /** Substrings (or patterns) the message must contain. */
  msg?: (string | RegExp)[];
}

function checkError(err: HdlError, spec: ErrorSpec): void {
  const at = spec.at instanceof Mark ? spec.at.loc : spec.at;
  if (!at) throw new Error('expectHdlError: the mark was never set (the body did not reach the marked line)');
  expect(err.kind, err.message).toBe(spec.kind);
  expect(err.loc, err.message).toEqual(at);
  expect(err.message.startsWith(`${at.file}:${at.line}:${at.col}: `), err.message).toBe(true);
  for (const m of spec.msg ?? []) {
    if (typeof m === 'string') expect(err.message).toContain(m);
    else expect(err.message).toMatch(m);
  }
}

function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Run `f`, expect one HdlError of the given kind at the given line and column, naming the given things. */
export function expectHdlError(f: () => unknown, spec: ErrorSpec): HdlError {
  const err = thrownBy(f);
  if (!(err instanceof HdlError)) {
    throw new Error(
      `expected an HdlError (${spec.kind}), got ${err === undefined ? 'no error' : String((err as Error).stack ?? err)}`,
    );
  }
  checkError(err, spec);
  return err;
}

/** Run `f`, expect an HdlErrors holding exactly these errors, in this order, each listed in its message. */
export function expectHdlErrors(f: () => unknown, specs: ErrorSpec[]): HdlErrors {
  const err = thrownBy(f);
  if (!(err instanceof HdlErrors)) {
    throw new Error(`expected HdlErrors, got ${err === undefined ? 'no error' : String((err as Error).stack ?? err)}`);
  }
  expect(err.errors.length, err.message).toBe(specs.length);
  specs.forEach((s, i) => checkError(err.errors[i], s));
  const lines = err.message.split('\n');
  expect(lines[0]).toMatch(new RegExp(`^${specs.length} design errors \\(`));
  expect(lines.slice(1)).toEqual(err.errors.map((e) => `  ${e.message}`));
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
