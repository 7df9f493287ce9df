/**
 * The port description of a top, `<top>.ports.json`: the one schema (types and validator) for what the emitter
 * writes (portsJson() in emit.ts), what people write by hand for their own Verilog, and what the simulator reads
 * (sim/ports.ts). docs/byo-rtl.md documents every field with an example.
 *
 * This file depends on nothing: gen/hdl imports nothing outside itself, and the simulator imports from here.
 * What a field means to one consumer (which interface kinds the simulator drives, which widths a TLP stream's
 * fields need) is that consumer's business; the rules here hold for every ports file.
 *
 * The types describe a validated description: a file may leave out the fields documented with a default
 * (`signed`, `blackboxes`, `interfaces`), and the validator fills them in.
 */

export type PortDirection = 'input' | 'output';

export interface PortJson {
  /** The Verilog port name: a plain identifier (the simulator's C++ names the port directly). */
  name: string;
  direction: PortDirection;
  /** Bits, at least 1. */
  width: number;
  /** Two's complement (declared `signed`); default false. */
  signed: boolean;
  /** The interface (bundle) this port belongs to, naming an entry of `interfaces`. */
  interface?: string;
  /** The port's field path within that interface (e.g. "valid", "hdr"). */
  field?: string;
}

export interface ResetJson {
  /** A 1-bit input port. */
  name: string;
  /** True: reset while the port is 1; false: while it is 0. */
  activeHigh: boolean;
}

export interface InterfaceJson {
  /** Unique among the interfaces; for a generated top, the bundle's port name (e.g. "rx"). */
  name: string;
  /** What protocol: "tlp_stream" is the one the simulator drives; other kinds are carried along. */
  kind: string;
  /** sink: the design receives on it; source: the design sends on it. */
  role: 'sink' | 'source';
  /** Protocol parameters (a TLP stream: dataWidth). */
  params: Record<string, number | string | boolean>;
  /** Field (path) -> port name: which port plays which part of the protocol. */
  fields: Record<string, string>;
}

/** A top-level Verilog parameter override: a number, or a string for a string parameter. */
export type ParameterValue = number | string;

/** How the simulator verilates this design (all optional). */
export interface VerilatorJson {
  /** Extra Verilator arguments, e.g. ["-Wno-WIDTHEXPAND", "--public-flat-rw"]. */
  flags?: string[];
  /** Top-level parameter overrides, passed as -G<name>=<value>. */
  parameters?: Record<string, ParameterValue>;
  /** Verilator warnings accepted in this design: "CODE", "CODE:file.v" or "CODE:file.v:line". */
  waive?: string[];
}

export interface PortsJson {
  /** The top module's name. */
  top: string;
  /** Verilog sources, relative to the JSON file's directory. */
  files: string[];
  /** Modules the design instantiates without defining them (their Verilog comes from elsewhere); default none. */
  blackboxes: string[];
  /** The clock: a 1-bit input port. A purely combinational top has none (and cannot be simulated). */
  clock?: string;
  reset?: ResetJson;
  ports: PortJson[];
  /** Groups of ports that form one protocol interface; default none. */
  interfaces: InterfaceJson[];
  verilator?: VerilatorJson;
}

/** A mistake in a ports file: the message names the file and the field (e.g. `ports[3].width`). */
export class PortsJsonError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${file}: ${field}: ${problem}`);
    this.name = 'PortsJsonError';
  }
}

/** A plain (unescaped) Verilog identifier. */
export const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses and validates the text of a ports file; `file` names it in errors. */
export function parsePortsJson(text: string, file: string): PortsJson {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new PortsJsonError(file, '(file)', `not valid JSON: ${(e as Error).message}`);
  }
  return validatePortsJson(value, file);
}

/**
 * Checks that `value` is a well-formed ports description and returns it typed. Unknown keys are errors (a
 * misspelt optional field would otherwise be ignored silently); keys starting with "$" are comments.
 */
export function validatePortsJson(value: unknown, file: string): PortsJson {
  const fail = (field: string, problem: string): never => {
    throw new PortsJsonError(file, field, problem);
  };
  const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v) ?? v));
  const obj = (v: unknown, field: string, keys: readonly string[]): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(field, `must be an object, got ${show(v)}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o))
      if (!k.startsWith('$') && !keys.includes(k))
        fail(field === '' ? k : `${field}.${k}`, `unknown field (known: ${keys.join(', ')})`);
    return o;
  };
  const str = (v: unknown, field: string): string =>
    typeof v === 'string' && v !== '' ? v : fail(field, `must be a non-empty string, got ${show(v)}`);
  const ident = (v: unknown, field: string): string =>
    IDENT.test(str(v, field)) ? (v as string) : fail(field, `${show(v)} is not a plain Verilog identifier`);
  const bool = (v: unknown, field: string): boolean =>
    typeof v === 'boolean' ? v : fail(field, `must be true or false, got ${show(v)}`);
  const arr = (v: unknown, field: string): unknown[] =>
    Array.isArray(v) ? v : fail(field, `must be an array, got ${show(v)}`);

  const top = obj(value, '', ['top', 'files', 'blackboxes', 'clock', 'reset', 'ports', 'interfaces', 'verilator']);
  const out: PortsJson = {
    top: ident(top.top, 'top'),
    files: arr(top.files, 'files').map((f, i) => str(f, `files[${i}]`)),
    blackboxes: arr(top.blackboxes ?? [], 'blackboxes').map((b, i) => ident(b, `blackboxes[${i}]`)),
    ports: [],
    interfaces: [],
  };
  if (out.files.length === 0) fail('files', 'must list the Verilog sources (none given)');

  const byName = new Map<string, PortJson>();
  arr(top.ports, 'ports').forEach((p0, i) => {
    const f = `ports[${i}]`;
    const p = obj(p0, f, ['name', 'direction', 'width', 'signed', 'interface', 'field']);
    const name = ident(p.name, `${f}.name`);
    const where = `${f} (${name})`;
    if (byName.has(name)) fail(`${where}.name`, `port ${name} is listed twice`);
    const direction =
      p.direction === 'input' || p.direction === 'output'
        ? p.direction
        : fail(
            `${where}.direction`,
            p.direction === 'inout'
              ? 'inout ports are not supported'
              : `must be "input" or "output", got ${show(p.direction)}`,
          );
    const width =
      Number.isSafeInteger(p.width) && (p.width as number) >= 1
        ? (p.width as number)
        : fail(`${where}.width`, `must be a positive integer, got ${show(p.width)}`);
    const port: PortJson = {
      name,
      direction,
      width,
      signed: p.signed === undefined ? false : bool(p.signed, `${where}.signed`),
    };
    if (p.interface !== undefined) port.interface = str(p.interface, `${where}.interface`);
    if (p.field !== undefined) port.field = str(p.field, `${where}.field`);
    byName.set(name, port);
    out.ports.push(port);
  });
  const bit1Input = (v: unknown, field: string): string => {
    const name = ident(v, field);
    const p = byName.get(name) ?? fail(field, `no port named ${name}`);
    if (p.direction !== 'input' || p.width !== 1)
      fail(field, `${name} must be a 1-bit input (is a ${p.width}-bit ${p.direction})`);
    return name;
  };
  if (top.clock !== undefined) out.clock = bit1Input(top.clock, 'clock');
  if (top.reset !== undefined) {
    const r = obj(top.reset, 'reset', ['name', 'activeHigh']);
    out.reset = { name: bit1Input(r.name, 'reset.name'), activeHigh: bool(r.activeHigh, 'reset.activeHigh') };
  }

  if (top.interfaces !== undefined) {
    const names = new Set<string>();
    out.interfaces = arr(top.interfaces, 'interfaces').map((i0, i) => {
      const f = `interfaces[${i}]`;
      const itf = obj(i0, f, ['name', 'kind', 'role', 'params', 'fields']);
      const name = ident(itf.name, `${f}.name`);
      const where = `${f} (${name})`;
      if (names.has(name)) fail(`${where}.name`, `interface ${name} is listed twice`);
      names.add(name);
      const role =
        itf.role === 'sink' || itf.role === 'source'
          ? itf.role
          : fail(`${where}.role`, `must be "sink" or "source", got ${show(itf.role)}`);
      const params: InterfaceJson['params'] = {};
      for (const [k, v] of Object.entries(obj(itf.params ?? {}, `${where}.params`, Object.keys(itf.params ?? {}))))
        params[k] =
          typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean'
            ? v
            : fail(`${where}.params.${k}`, `must be a number, string or boolean, got ${show(v)}`);
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(obj(itf.fields, `${where}.fields`, Object.keys(itf.fields ?? {})))) {
        const port = ident(v, `${where}.fields.${k}`);
        if (!byName.has(port)) fail(`${where}.fields.${k}`, `no port named ${port}`);
        fields[k] = port;
      }
      return { name, kind: str(itf.kind, `${where}.kind`), role, params, fields };
    });
  }
  const interfaceNames = new Set(out.interfaces.map((i) => i.name));
  out.ports.forEach((p, i) => {
    if (p.interface !== undefined && !interfaceNames.has(p.interface))
      fail(`ports[${i}] (${p.name}).interface`, `no interface named ${p.interface}`);
  });

  if (top.verilator !== undefined) {
    const v = obj(top.verilator, 'verilator', ['flags', 'parameters', 'waive']);
    const vj: VerilatorJson = {};
    if (v.flags !== undefined)
      vj.flags = arr(v.flags, 'verilator.flags').map((x, i) => str(x, `verilator.flags[${i}]`));
    if (v.parameters !== undefined) {
      const ps = obj(v.parameters, 'verilator.parameters', Object.keys(v.parameters ?? {}));
      vj.parameters = {};
      for (const [k, x] of Object.entries(ps)) {
        const field = `verilator.parameters.${k}`;
        if (!IDENT.test(k)) fail(field, `${show(k)} is not a plain Verilog identifier`);
        vj.parameters[k] =
          (typeof x === 'number' && Number.isSafeInteger(x)) || typeof x === 'string'
            ? x
            : fail(field, `must be an integer or a string, got ${show(x)}`);
      }
    }
    if (v.waive !== undefined)
      vj.waive = arr(v.waive, 'verilator.waive').map((x, i) => waiver(str(x, `verilator.waive[${i}]`), file, i));
    out.verilator = vj;
  }
  return out;
}

/** A waiver is CODE, CODE:file or CODE:file:line (CODE as Verilator prints it after %Warning-). */
export const WAIVER = /^[A-Z][A-Z0-9_]*(:[^:]+(:\d+)?)?$/;

function waiver(w: string, file: string, i: number): string {
  if (!WAIVER.test(w))
    throw new PortsJsonError(
      file,
      `verilator.waive[${i}]`,
      `${JSON.stringify(w)} is not CODE, CODE:file or CODE:file:line (e.g. "WIDTHEXPAND:dma.v:42")`,
    );
  return w;
}
