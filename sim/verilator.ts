// What is particular to verilating one design: its own flags and top-level parameters (from its ports JSON and
// Sim.load), its warnings (collected in one run and checked against waivers), and a check that the verilated
// top has the ports its ports JSON describes (a -G parameter can change a width the JSON states).
import { IDENT, WAIVER, type ParameterValue } from '../gen/hdl/ports_schema';
import type { LoadedPorts } from './ports';

/** A design's own Verilator settings: the ports JSON's `verilator` section, then Sim.load's options over it. */
export interface DesignVerilator {
  /** Extra Verilator arguments, -G parameters included (part of the build's cache key). */
  flags: string[];
  /** Accepted warnings (not part of the cache key: a build is kept whatever its warnings, checked at each load). */
  waive: string[];
}

export interface DesignVerilatorOptions {
  verilatorFlags?: string[];
  parameters?: Record<string, ParameterValue>;
  waive?: string[];
}

/** A sized Verilog number (16'h0300, 8'b1010_0101, 4'sd3): passed to -G as a number, not as a string. */
const SIZED_LITERAL = /^\d+'[sS]?([bB][01xXzZ_]+|[oO][0-7xXzZ_]+|[dD][0-9_]+|[hH][0-9a-fA-FxXzZ_]+)$/;

/**
 * -G arguments for top-level parameters: integers in decimal (fine for an integer or unsized parameter; a
 * parameter with a range wants a sized literal, or Verilator warns WIDTH), sized Verilog numbers as
 * written ("16'h0300"), other strings as Verilog strings.
 */
export function parameterFlags(params: Record<string, ParameterValue>): string[] {
  return Object.entries(params).map(([name, v]) => {
    if (!IDENT.test(name)) throw new Error(`sim: parameter name ${JSON.stringify(name)} is not a Verilog identifier`);
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new Error(`sim: parameter ${name}: ${v} is not an integer`);
      return `-G${name}=${v}`;
    }
    if (typeof v !== 'string') throw new Error(`sim: parameter ${name}: must be an integer or a string`);
    if (SIZED_LITERAL.test(v)) return `-G${name}=${v}`;
    if (/["\\\n]/.test(v)) throw new Error(`sim: parameter ${name}: a string parameter cannot hold quotes or newlines`);
    return `-G${name}="${v}"`;
  });
}

export function designVerilator(p: LoadedPorts, o: DesignVerilatorOptions): DesignVerilator {
  const j = p.desc.verilator ?? {};
  const params = { ...j.parameters, ...o.parameters };
  const waive = [...(j.waive ?? []), ...(o.waive ?? [])];
  for (const w of o.waive ?? [])
    if (!WAIVER.test(w))
      throw new Error(
        `sim: waive: ${JSON.stringify(w)} is not CODE, CODE:file or CODE:file:line (e.g. "WIDTH:dma.v:42")`,
      );
  return { flags: [...(j.flags ?? []), ...(o.verilatorFlags ?? []), ...parameterFlags(params)], waive };
}

export interface VerilatorWarning {
  code: string;
  /** As Verilator printed it (absolute or relative to where it ran). */
  file?: string;
  line?: number;
  /** The first line of the warning, and the context lines Verilator printed under it. */
  text: string;
}

/** Every `%Warning-CODE: file:line:col: message` in Verilator's output, with its context lines. */
export function parseWarnings(output: string): VerilatorWarning[] {
  const out: VerilatorWarning[] = [];
  let cur: VerilatorWarning | undefined;
  for (const line of output.split('\n')) {
    const m = /^%Warning-([A-Z0-9_]+): (?:([^:\s]+):(\d+):(?:\d+:)? )?/.exec(line);
    if (m) {
      cur = { code: m[1], text: line };
      if (m[2]) {
        cur.file = m[2];
        cur.line = Number(m[3]);
      }
      out.push(cur);
    } else if (line.startsWith('%')) cur = undefined;
    else if (cur && line.trim() !== '' && !/\.\.\. (For warning description|Use "\/\*)/.test(line))
      cur.text += '\n' + line;
  }
  return out;
}

/** Whether a waiver (CODE, CODE:file, CODE:file:line) covers a warning; file matches by name or path suffix. */
export function waives(waiver: string, w: VerilatorWarning): boolean {
  const [code, file, line] = waiver.split(':');
  if (code !== w.code) return false;
  if (file === undefined) return true;
  if (!w.file || !(w.file === file || w.file.endsWith('/' + file))) return false;
  return line === undefined || Number(line) === w.line;
}

/** Thrown when a design builds with warnings nobody waived: lists all of them at once. */
export class VerilatorWarningsError extends Error {
  constructor(
    readonly top: string,
    readonly warnings: VerilatorWarning[],
  ) {
    const codes = [...new Set(warnings.map((w) => w.code))].join(', ');
    super(
      `sim: ${top}: Verilator reports ${warnings.length} warning(s) (${codes}), all listed below. Fix them, or ` +
        `waive them in the ports JSON ("verilator": { "waive": [...] }) or Sim.load({ waive: [...] }) by ` +
        `CODE, CODE:file or CODE:file:line:\n${warnings.map((w) => '  ' + w.text.replace(/\n/g, '\n  ')).join('\n')}`,
    );
    this.name = 'VerilatorWarningsError';
  }
}

/** Throws VerilatorWarningsError for the warnings no waiver covers. */
export function checkWarnings(top: string, warnings: VerilatorWarning[], waive: readonly string[]): void {
  const open = warnings.filter((w) => !waive.some((x) => waives(x, w)));
  if (open.length > 0) throw new VerilatorWarningsError(top, open);
}

/**
 * Compares the ports of the verilated top (its `V<top>.h`: VL_IN8(&name,msb,lsb) ...) with the ports JSON;
 * throws one error listing every difference. Every input must be described (the simulator drives them all).
 */
export function checkVerilatedPorts(p: LoadedPorts, header: string, flags: readonly string[]): void {
  const actual = new Map<string, { direction: string; width: number }>();
  for (const m of header.matchAll(/\bVL_(IN|OUT|INOUT)(?:8|16|64|W)?\(&(\w+),(\d+),(\d+)/g))
    actual.set(m[2], {
      direction: m[1] === 'IN' ? 'input' : m[1] === 'OUT' ? 'output' : 'inout',
      width: Math.abs(Number(m[3]) - Number(m[4])) + 1,
    });
  const problems: string[] = [];
  for (const q of p.desc.ports) {
    const a = actual.get(q.name);
    if (!a) problems.push(`port ${q.name} is not a port of module ${p.desc.top}`);
    else if (a.width !== q.width || a.direction !== q.direction)
      problems.push(
        `port ${q.name}: the JSON says a ${q.width}-bit ${q.direction}, the Verilog has a ${a.width}-bit ${a.direction}`,
      );
  }
  const described = new Set(p.desc.ports.map((q) => q.name));
  for (const [name, a] of actual)
    if (!described.has(name) && a.direction !== 'output')
      problems.push(`${a.direction} ${name} (${a.width} bits) of the Verilog is missing from the JSON`);
  if (problems.length > 0) {
    const g = flags.filter((f) => f.startsWith('-G'));
    throw new Error(
      `sim: ${p.path}: the ports do not match module ${p.desc.top}${g.length ? ` as verilated with ${g.join(' ')}` : ''}:\n` +
        problems.map((s) => `  ${s}`).join('\n'),
    );
  }
}
