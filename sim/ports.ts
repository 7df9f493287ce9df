// Loads a top's port description (`<top>.ports.json`, schema in gen/hdl/ports_schema.ts, documented in
// docs/byo-rtl.md) and finds the TLP streams the simulator drives.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parsePortsJson, PortsJsonError, type PortJson, type PortsJson } from '../gen/hdl/ports_schema';
import { AXI4_FIELDS, AXI4_KIND, axiFieldWidth, type Axi4Field } from '../gen/lib/axi_fields';
import type { AxiPort } from './axi';

export type { InterfaceJson, PortJson, PortsJson } from '../gen/hdl/ports_schema';

/**
 * The ports of a TLP stream (interface kind "tlp_stream"). `data` and `keep` may be absent: a stream without
 * `data` carries header-only TLPs, one beat each (a request-only stream; `sop`/`eop` optional too); a stream
 * with `data` but without `keep` takes each TLP's payload length from its header's Length field.
 */
export interface TlpStreamFields {
  valid: string;
  ready: string;
  hdr: string;
  data?: string;
  keep?: string;
  sop?: string;
  eop?: string;
}

/** A TLP stream as the simulator uses it, after validation. */
export interface TlpStream {
  name: string;
  role: 'sink' | 'source';
  /** Payload bits per beat; 0 for a stream without `data`. */
  dataWidth: number;
  /** Payload dwords per beat (dataWidth / 32); 0 for a stream without `data`. */
  lanes: number;
  fields: TlpStreamFields;
}

/** A ports file loaded from disk, with absolute Verilog paths and validated streams. */
export interface LoadedPorts {
  path: string;
  raw: string;
  desc: PortsJson;
  /** The clock port (the simulator needs one). */
  clock: string;
  files: string[];
  sinks: TlpStream[];
  sources: TlpStream[];
  /** AXI4 master ports (interface kind "axi4", role "source"): each is served by a sparse memory model (sim/axi.ts). */
  axiMasters: AxiPort[];
}

const FIELDS = ['valid', 'ready', 'hdr', 'data', 'keep', 'sop', 'eop'] as const;

export function loadPorts(path: string): LoadedPorts {
  const abs = resolve(path);
  const raw = readFileSync(abs, 'utf8');
  const desc = parsePortsJson(raw, abs);
  const fail = (field: string, msg: string): never => {
    throw new PortsJsonError(abs, field, msg);
  };
  const clock = desc.clock ?? fail('clock', 'the simulator needs a clock: name the 1-bit clock input port');
  const byName = new Map<string, PortJson>(desc.ports.map((p) => [p.name, p]));

  const sinks: TlpStream[] = [];
  const sources: TlpStream[] = [];
  const axiMasters: AxiPort[] = [];
  desc.interfaces.forEach((itf, index) => {
    const where = `interfaces[${index}] (${itf.name})`;
    if (itf.kind === AXI4_KIND && itf.role === 'source') {
      axiMasters.push(axiMaster(itf.name, itf.params, itf.fields, where, byName, fail));
      return;
    }
    if (itf.kind !== 'tlp_stream') return;
    for (const f of Object.keys(itf.fields))
      if (!(FIELDS as readonly string[]).includes(f))
        fail(`${where}.fields.${f}`, `not a TLP stream field (known: ${FIELDS.join(', ')})`);
    const has = (f: (typeof FIELDS)[number]) => itf.fields[f] !== undefined;
    for (const f of ['valid', 'ready', 'hdr'] as const) if (!has(f)) fail(`${where}.fields.${f}`, 'missing');
    let W = 0;
    if (has('data')) {
      W = Number(itf.params.dataWidth);
      if (!Number.isInteger(W) || W < 32 || W % 32 !== 0 || W > 1024)
        fail(`${where}.params.dataWidth`, `must be a multiple of 32 up to 1024, got ${itf.params.dataWidth}`);
      for (const f of ['sop', 'eop'] as const)
        if (!has(f)) fail(`${where}.fields.${f}`, 'missing (a stream with data needs sop and eop to delimit TLPs)');
    } else if (has('keep')) fail(`${where}.fields.keep`, 'a stream without data has no keep');
    const lanes = W / 32;
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
    const fields: TlpStreamFields = { valid: '', ready: '', hdr: '' };
    for (const f of FIELDS) {
      const name = itf.fields[f];
      if (name === undefined) continue;
      const p = byName.get(name)!; // the schema checked that fields name ports
      const [width, dir] = expect[f];
      if (p.width !== width || p.direction !== dir)
        fail(
          `${where}.fields.${f}`,
          `port ${p.name} must be a ${width}-bit ${dir} (is a ${p.width}-bit ${p.direction})`,
        );
      fields[f] = p.name;
    }
    (itf.role === 'sink' ? sinks : sources).push({ name: itf.name, role: itf.role, dataWidth: W, lanes, fields });
  });
  const files = desc.files.map((f) => resolve(dirname(abs), f));
  return { path: abs, raw, desc, clock, files, sinks, sources, axiMasters };
}

/** An AXI4 master interface checked against gen/lib/axi_fields.ts's table: every field, its width and direction. */
function axiMaster(
  name: string,
  params: Record<string, number | string | boolean>,
  given: Record<string, string>,
  where: string,
  byName: Map<string, PortJson>,
  fail: (field: string, msg: string) => never,
): AxiPort {
  const dataBits = Number(params.dataBits);
  const addrBits = Number(params.addrBits);
  if (!Number.isInteger(dataBits) || dataBits < 8 || dataBits > 1024 || (dataBits & (dataBits - 1)) !== 0)
    fail(`${where}.params.dataBits`, `must be a power of two from 8 to 1024, got ${params.dataBits}`);
  if (!Number.isInteger(addrBits) || addrBits < 1 || addrBits > 64)
    fail(`${where}.params.addrBits`, `must be 1..64, got ${params.addrBits}`);
  for (const f of Object.keys(given))
    if (!(f in AXI4_FIELDS))
      fail(`${where}.fields.${f}`, `not an AXI4 field (known: ${Object.keys(AXI4_FIELDS).join(', ')})`);
  const fields = {} as Record<Axi4Field, string>;
  for (const [f, d] of Object.entries(AXI4_FIELDS) as [Axi4Field, (typeof AXI4_FIELDS)[Axi4Field]][]) {
    const port = given[f];
    if (port === undefined) fail(`${where}.fields.${f}`, 'missing (the AXI4 memory model needs every field)');
    const p = byName.get(port)!; // the schema checked that fields name ports
    const width = axiFieldWidth(d.width, dataBits, addrBits);
    const dir = d.by === 'master' ? 'output' : 'input';
    if (p.width !== width || p.direction !== dir)
      fail(`${where}.fields.${f}`, `port ${p.name} must be a ${width}-bit ${dir} (is a ${p.width}-bit ${p.direction})`);
    fields[f] = p.name;
  }
  return { name, dataBits, addrBits, fields };
}
