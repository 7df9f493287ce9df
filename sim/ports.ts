// The port description that comes with every generated top as `<top>.ports.json`
// (written by the generator, read by the simulator). See docs/simulation.md.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface PortDesc {
  name: string;
  direction: 'input' | 'output' | 'inout';
  width: number;
  signed: boolean;
  /** Name of the interface this port belongs to; absent for sideband ports. */
  interface?: string;
}

export interface TlpStreamFields {
  valid: string;
  ready: string;
  hdr: string;
  data: string;
  keep: string;
  sop: string;
  eop: string;
}

export interface InterfaceDesc {
  name: string;
  /** Only "tlp_stream" is understood by the simulator; other kinds are ignored. */
  kind: string;
  /** sink: the device receives (the simulator drives it); source: the device sends. */
  role: 'sink' | 'source' | string;
  params: { dataWidth?: number; [key: string]: unknown };
  fields: Partial<TlpStreamFields> & Record<string, string>;
}

export interface PortsFile {
  top: string;
  /** Verilog sources, relative to the JSON file's directory. */
  files: string[];
  clock: string;
  reset?: { name: string; activeHigh: boolean };
  ports: PortDesc[];
  interfaces: InterfaceDesc[];
}

/** A TLP stream as the simulator uses it, after validation. */
export interface TlpStream {
  name: string;
  role: 'sink' | 'source';
  dataWidth: number;
  lanes: number;
  fields: TlpStreamFields;
}

/** A ports file loaded from disk, with absolute Verilog paths and validated streams. */
export interface LoadedPorts {
  path: string;
  raw: string;
  desc: PortsFile;
  files: string[];
  sinks: TlpStream[];
  sources: TlpStream[];
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FIELDS = ['valid', 'ready', 'hdr', 'data', 'keep', 'sop', 'eop'] as const;

export function loadPorts(path: string): LoadedPorts {
  const abs = resolve(path);
  const raw = readFileSync(abs, 'utf8');
  let desc: PortsFile;
  try {
    desc = JSON.parse(raw) as PortsFile;
  } catch (e) {
    throw new Error(`${abs}: not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const fail = (msg: string): never => {
    throw new Error(`${abs}: ${msg}`);
  };
  if (typeof desc.top !== 'string' || !IDENT.test(desc.top)) fail(`"top" must be a Verilog identifier`);
  if (!Array.isArray(desc.files) || desc.files.length === 0) fail(`"files" must list the Verilog sources`);
  if (!Array.isArray(desc.ports)) fail(`"ports" must be an array`);
  const byName = new Map<string, PortDesc>();
  for (const p of desc.ports) {
    // The generated C++ names ports directly (model->name), so names must be plain identifiers.
    if (typeof p.name !== 'string' || !IDENT.test(p.name))
      fail(`port name ${JSON.stringify(p.name)} is not a plain identifier`);
    if (!Number.isInteger(p.width) || p.width < 1) fail(`port ${p.name}: width must be a positive integer`);
    if (p.direction !== 'input' && p.direction !== 'output')
      fail(`port ${p.name}: direction ${p.direction} is not supported`);
    if (byName.has(p.name)) fail(`port ${p.name} listed twice`);
    byName.set(p.name, p);
  }
  const port = (name: string, what: string): PortDesc => byName.get(name) ?? fail(`${what}: no port named ${name}`);
  const clk = port(desc.clock, 'clock');
  if (clk.direction !== 'input' || clk.width !== 1) fail(`clock ${desc.clock} must be a 1-bit input`);
  if (desc.reset) {
    const r = port(desc.reset.name, 'reset');
    if (r.direction !== 'input' || r.width !== 1) fail(`reset ${desc.reset.name} must be a 1-bit input`);
  }

  const sinks: TlpStream[] = [];
  const sources: TlpStream[] = [];
  for (const itf of desc.interfaces ?? []) {
    if (itf.kind !== 'tlp_stream') continue;
    if (itf.role !== 'sink' && itf.role !== 'source') fail(`interface ${itf.name}: role must be sink or source`);
    const W = Number(itf.params?.dataWidth);
    if (!Number.isInteger(W) || W < 32 || W % 32 !== 0 || W > 1024)
      fail(`interface ${itf.name}: params.dataWidth must be a multiple of 32 up to 1024`);
    const lanes = W / 32;
    const fields = {} as TlpStreamFields;
    const devIn = itf.role === 'sink' ? 'input' : 'output';
    const devOut = itf.role === 'sink' ? 'output' : 'input';
    const expect: Record<(typeof FIELDS)[number], [number, string]> = {
      valid: [1, devIn],
      ready: [1, devOut],
      hdr: [128, devIn],
      data: [W, devIn],
      keep: [lanes, devIn],
      sop: [1, devIn],
      eop: [1, devIn],
    };
    for (const f of FIELDS) {
      const name = itf.fields?.[f];
      if (typeof name !== 'string') fail(`interface ${itf.name}: field ${f} missing`);
      const p = port(name!, `interface ${itf.name} field ${f}`);
      const [width, dir] = expect[f];
      if (p.width !== width || p.direction !== dir)
        fail(
          `interface ${itf.name}: ${f} port ${p.name} must be a ${width}-bit ${dir} (is a ${p.width}-bit ${p.direction})`,
        );
      fields[f] = p.name;
    }
    const role = itf.role as 'sink' | 'source';
    (role === 'sink' ? sinks : sources).push({ name: itf.name, role, dataWidth: W, lanes, fields });
  }
  const files = desc.files.map((f) => resolve(dirname(abs), f));
  return { path: abs, raw, desc, files, sinks, sources };
}
