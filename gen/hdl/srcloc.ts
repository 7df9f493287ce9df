// Source locations: every DSL object remembers the line of the *designer's* TypeScript that created it,
// so that errors and `// file.ts:line` comments in the Verilog point at generator code, never at the DSL core.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A position in the designer's TypeScript source. */
export interface SrcLoc {
  file: string; // relative to the project root when inside it
  line: number;
}

const coreDir = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(coreDir, '..', '..');

/** Frames from these files are the DSL's own and are skipped. */
function isCoreFrame(file: string): boolean {
  return file.startsWith(coreDir + path.sep) || file.includes('node_modules') || file.startsWith('node:');
}

const frameRe = /\(?((?:file:\/\/)?\/[^():]+|[A-Za-z]:[^():]+):(\d+):\d+\)?$/;

/** The first stack frame outside the DSL core. */
export function callerLoc(): SrcLoc {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = saved;
  for (const raw of stack.split('\n').slice(1)) {
    const m = frameRe.exec(raw.trim());
    if (!m) continue;
    let file = m[1];
    if (file.startsWith('file://')) file = fileURLToPath(file);
    if (isCoreFrame(file)) continue;
    const rel = path.relative(projectRoot, file);
    return { file: rel.startsWith('..') ? file : rel, line: Number(m[2]) };
  }
  return { file: '<unknown>', line: 0 };
}

export function fmtLoc(loc: SrcLoc | undefined): string {
  return loc ? `${loc.file}:${loc.line}` : '<unknown>';
}

/** An error in a design, reported at the designer's source line. */
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
  | 'param';
