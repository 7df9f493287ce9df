// Source locations: every DSL object remembers the line and column of the *designer's* TypeScript that
// created it, so that errors (file:line:col) and the `// file.ts:line` comments in the Verilog point at
// generator code, never at the DSL core. The column tells apart several operators chained on one line.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A position in the designer's TypeScript source. */
export interface SrcLoc {
  file: string; // relative to the project root when inside it
  line: number;
  col: number; // 1-based: the start of the called method's name (`a.add(b)`: the `a` of `add`)
}

const coreDir = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(coreDir, '..', '..');

/** Files of helpers running under atCaller(): their frames are skipped like the core's. */
const transparentFiles: string[] = [];

/** Frames from these files are the DSL's own (or a helper's under atCaller) and are skipped. */
function isCoreFrame(file: string): boolean {
  return (
    file.startsWith(coreDir + path.sep) ||
    file.includes('node_modules') ||
    file.startsWith('node:') ||
    (transparentFiles.length > 0 && transparentFiles.includes(file))
  );
}

/**
 * Run `body` with every location the DSL records (declarations, statements, errors) taken at the line that
 * called the function calling atCaller, not at that function's own lines: for library helpers that build a
 * part of their caller's design (gen/lib/cdc.ts syncBits), so that check errors and the `// file.ts:line`
 * comments in the Verilog point at the helper's call. Frames of the helper's whole file are skipped meanwhile.
 */
export function atCaller<T>(body: () => T): T {
  const helper = userFrames(1)[0];
  if (!helper) return body();
  transparentFiles.push(helper.abs);
  try {
    return body();
  } finally {
    transparentFiles.pop();
  }
}

const frameRe = /\(?((?:file:\/\/)?\/[^():]+|[A-Za-z]:[^():]+):(\d+):(\d+)\)?$/;

/** Mapped locations by raw (generated-code) position: mapping a stack through source maps is slow. */
const locCache = new Map<string, SrcLoc>();

function rawCallSites(): NodeJS.CallSite[] {
  const saved = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  Error.prepareStackTrace = (_e, cs) => cs;
  Error.stackTraceLimit = 16;
  const holder: { stack?: unknown } = {};
  Error.captureStackTrace(holder, rawCallSites);
  const cs = holder.stack as NodeJS.CallSite[];
  Error.prepareStackTrace = saved;
  Error.stackTraceLimit = savedLimit;
  return cs;
}

function normFile(f: string): string {
  return f.startsWith('file://') ? fileURLToPath(f) : f;
}

/** The first stack frame outside the DSL core. */
export function callerLoc(): SrcLoc {
  // Fast path: the raw position of the first frame outside the core, looked up in the cache.
  const cs = rawCallSites();
  const site = cs.find((c) => {
    const f = c.getFileName();
    return f !== null && f !== undefined && !isCoreFrame(normFile(f));
  });
  const key = site ? `${site.getFileName()}:${site.getLineNumber()}:${site.getColumnNumber()}` : undefined;
  const hit = key && locCache.get(key);
  if (hit) return hit;
  const loc = mappedCallerLoc();
  if (key) locCache.set(key, loc);
  return loc;
}

/**
 * The first frame outside the DSL core and outside `dir` too: for a library built on the DSL whose errors
 * should point at its caller's line rather than its own.
 */
export function callerLocOutside(dir: string): SrcLoc {
  const d = path.resolve(dir) + path.sep;
  const f = userFrames().find((x) => !x.abs.startsWith(d));
  return f?.loc ?? unknownLoc;
}

/**
 * Where a generator was called from: the first frame outside the DSL core and outside the folder of the code
 * asking (the generator). A library function in gen/lib checking its arguments gets its caller's line, a
 * module body in gen/pcie checking its parameters gets the line that instantiates (or elaborates) it.
 */
export function generatorCallerLoc(): SrcLoc {
  const frames = userFrames();
  if (!frames.length) return unknownLoc;
  const dir = path.dirname(frames[0].abs) + path.sep;
  return (frames.find((x) => !x.abs.startsWith(dir)) ?? frames[0]).loc;
}

const unknownLoc: SrcLoc = { file: '<unknown>', line: 0, col: 0 };

/**
 * The slow path: the frames outside the core, from the formatted (source-mapped) stack, at most `max` of
 * them. Formatting maps every frame up to the stack limit, so the common case asks for one frame, shallowly.
 */
function userFrames(max = Infinity, depth = 80): { abs: string; loc: SrcLoc }[] {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = depth;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = saved;
  const out: { abs: string; loc: SrcLoc }[] = [];
  for (const raw of stack.split('\n').slice(1)) {
    const m = frameRe.exec(raw.trim());
    if (!m) continue;
    const file = normFile(m[1]);
    if (isCoreFrame(file)) continue;
    const rel = path.relative(projectRoot, file);
    out.push({ abs: file, loc: { file: rel.startsWith('..') ? file : rel, line: Number(m[2]), col: Number(m[3]) } });
    if (out.length >= max) break;
  }
  return out;
}

function mappedCallerLoc(): SrcLoc {
  return userFrames(1, 40)[0]?.loc ?? unknownLoc;
}

/** `file:line:col`, for messages. */
export function fmtLoc(loc: SrcLoc | undefined): string {
  return loc ? `${loc.file}:${loc.line}:${loc.col}` : '<unknown>';
}

/** `file:line`, for the comments in the emitted Verilog (a line is what a reader of the Verilog looks up). */
export function fmtLine(loc: SrcLoc | undefined): string {
  return loc ? `${loc.file}:${loc.line}` : '<unknown>';
}

/**
 * A broken invariant inside the DSL itself (an emitter meeting an operator it does not know): a bug to report,
 * never a mistake in a design. Design mistakes are HdlErrors.
 */
export class HdlInternalError extends Error {
  constructor(message: string) {
    super(`internal error in gen/hdl (please report): ${message}`);
    this.name = 'HdlInternalError';
  }
}

/** An error in a design, reported at the designer's source line and column. */
export class HdlError extends Error {
  constructor(
    message: string,
    readonly loc: SrcLoc,
    readonly kind: HdlErrorKind,
  ) {
    super(`${fmtLoc(loc)}: ${message}`);
    this.name = 'HdlError';
  }
}

/**
 * Several design errors found in one elaboration, each with its own location: the message lists them one per
 * line, `errors` holds them for tools. A single error is always thrown as a plain HdlError.
 */
export class HdlErrors extends Error {
  constructor(
    readonly errors: readonly HdlError[],
    context: string,
  ) {
    super(`${errors.length} design errors (${context}):\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
    this.name = 'HdlErrors';
  }
}

/** The design errors an exception carries (one for an HdlError, each of an HdlErrors), or none. */
export function designErrors(e: unknown): HdlError[] {
  if (e instanceof HdlError) return [e];
  if (e instanceof HdlErrors) return [...e.errors];
  return [];
}

/** Throw what was found: nothing for no error, the error itself for one, an HdlErrors for several. */
export function throwDesignErrors(errors: readonly HdlError[], context: string): void {
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new HdlErrors(errors, context);
}

export type HdlErrorKind =
  | 'width'
  | 'latch'
  | 'multiple-drivers'
  | 'undriven'
  | 'comb-loop'
  | 'range'
  | 'name'
  | 'type'
  | 'context'
  | 'param'
  | 'cdc'
  | 'io' // a body's returned io does not match its ports
  | 'direction'; // connect(): both sides of a field are sources, or both sinks
