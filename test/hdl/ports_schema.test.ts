// The ports-JSON schema (gen/hdl/ports_schema.ts): what the emitter writes passes the validator unchanged, every
// ports file in hdl/ and the fixtures is valid, and each kind of mistake is named with its file and field.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { portsJson } from '../../gen/hdl';
import { parsePortsJson, PortsJsonError, validatePortsJson, type PortsJson } from '../../gen/hdl/ports_schema';
import { tops } from '../../gen/tops';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function portsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? portsFiles(join(dir, e.name)) : e.name.endsWith('.ports.json') ? [join(dir, e.name)] : [],
  );
}

/** A small valid description to edit into mistakes. */
function sample(): PortsJson {
  return {
    top: 'dut',
    files: ['dut.v'],
    blackboxes: [],
    clock: 'clk',
    reset: { name: 'rst_n', activeHigh: false },
    ports: [
      { name: 'clk', direction: 'input', width: 1, signed: false },
      { name: 'rst_n', direction: 'input', width: 1, signed: false },
      { name: 'rq_valid', direction: 'output', width: 1, signed: false, interface: 'rq', field: 'valid' },
      { name: 'rq_ready', direction: 'input', width: 1, signed: false, interface: 'rq', field: 'ready' },
      { name: 'rq_hdr', direction: 'output', width: 128, signed: false, interface: 'rq', field: 'hdr' },
      { name: 'level', direction: 'output', width: 12, signed: true },
    ],
    interfaces: [
      {
        name: 'rq',
        kind: 'tlp_stream',
        role: 'source',
        params: {},
        fields: { valid: 'rq_valid', ready: 'rq_ready', hdr: 'rq_hdr' },
      },
    ],
    verilator: { flags: ['-Wno-UNUSED'], parameters: { REQ_ID: 0x0300, NAME: 'dma' }, waive: ['WIDTHEXPAND:dut.v:12'] },
  };
}

describe('ports JSON schema', () => {
  test('the emitter writes what the validator accepts, unchanged', () => {
    for (const t of tops) {
      const j = portsJson(t.elaborate());
      expect(validatePortsJson(JSON.parse(JSON.stringify(j)), t.description)).toEqual(j);
    }
  });

  test('every ports file in hdl/ and the test fixtures is valid', () => {
    const files = [...portsFiles(join(ROOT, 'hdl')), ...portsFiles(join(ROOT, 'test', 'fixtures'))];
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) expect(() => parsePortsJson(readFileSync(f, 'utf8'), f), f).not.toThrow();
  });

  test('optional fields get their defaults; "$" keys are comments', () => {
    const j = validatePortsJson(
      {
        $comment: 'hand-written',
        top: 'dut',
        files: ['dut.v'],
        clock: 'clk',
        ports: [{ name: 'clk', direction: 'input', width: 1 }],
      },
      'dut.ports.json',
    );
    expect(j).toEqual({
      top: 'dut',
      files: ['dut.v'],
      blackboxes: [],
      clock: 'clk',
      ports: [{ name: 'clk', direction: 'input', width: 1, signed: false }],
      interfaces: [],
    });
    expect(validatePortsJson(sample(), 'x')).toEqual(sample());
  });

  test('each mistake is an error naming the file and the field', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- descriptions edited into malformed shapes
    const bad = (edit: (j: any) => void, field: string, problem: RegExp) => {
      const j = sample();
      edit(j);
      let err: unknown;
      try {
        validatePortsJson(JSON.parse(JSON.stringify(j)), 'my/dut.ports.json');
      } catch (e) {
        err = e;
      }
      expect(err, `${field}`).toBeInstanceOf(PortsJsonError);
      const e = err as PortsJsonError;
      expect(e.field).toBe(field);
      expect(e.file).toBe('my/dut.ports.json');
      expect(e.message.startsWith(`my/dut.ports.json: ${field}: `)).toBe(true);
      expect(e.message).toMatch(problem);
    };
    bad((j) => (j.top = 'my-dut'), 'top', /not a plain Verilog identifier/);
    bad((j) => (j.files = []), 'files', /must list the Verilog sources/);
    bad((j) => (j.files = 'dut.v'), 'files', /must be an array/);
    bad((j) => (j.interface = []), 'interface', /unknown field \(known: top, files/);
    bad((j) => (j.ports[5].width = 0), 'ports[5] (level).width', /positive integer, got 0/);
    bad((j) => (j.ports[5].width = '12'), 'ports[5] (level).width', /positive integer, got "12"/);
    bad((j) => (j.ports[5].direction = 'inout'), 'ports[5] (level).direction', /inout ports are not supported/);
    bad((j) => (j.ports[5].direction = 'out'), 'ports[5] (level).direction', /"input" or "output", got "out"/);
    bad((j) => (j.ports[5].signed = 1), 'ports[5] (level).signed', /true or false/);
    bad((j) => (j.ports[5].name = 'rq_hdr'), 'ports[5] (rq_hdr).name', /listed twice/);
    bad((j) => (j.ports[5].name = 'a.b'), 'ports[5].name', /not a plain Verilog identifier/);
    bad((j) => (j.ports[5].dir = 'x'), 'ports[5].dir', /unknown field/);
    bad((j) => (j.ports[2].interface = 'rx'), 'ports[2] (rq_valid).interface', /no interface named rx/);
    bad((j) => (j.clock = 'clock'), 'clock', /no port named clock/);
    bad((j) => (j.clock = 'level'), 'clock', /level must be a 1-bit input \(is a 12-bit output\)/);
    bad((j) => (j.reset.activeHigh = 'no'), 'reset.activeHigh', /true or false/);
    bad((j) => delete j.reset.name, 'reset.name', /non-empty string/);
    bad((j) => (j.interfaces[0].role = 'master'), 'interfaces[0] (rq).role', /"sink" or "source"/);
    bad((j) => (j.interfaces[0].fields.hdr = 'nope'), 'interfaces[0] (rq).fields.hdr', /no port named nope/);
    bad((j) => (j.interfaces[0].params.dataWidth = [64]), 'interfaces[0] (rq).params.dataWidth', /number, string/);
    bad((j) => j.interfaces.push({ ...j.interfaces[0] }), 'interfaces[1] (rq).name', /listed twice/);
    bad((j) => (j.verilator.flags = '-Wall'), 'verilator.flags', /must be an array/);
    bad((j) => (j.verilator.parameters.W = 1.5), 'verilator.parameters.W', /integer or a string/);
    bad((j) => (j.verilator.parameters['a-b'] = 1), 'verilator.parameters.a-b', /not a plain Verilog identifier/);
    bad((j) => (j.verilator.waive = ['width']), 'verilator.waive[0]', /not CODE, CODE:file or CODE:file:line/);
    bad((j) => (j.verilator.lint = true), 'verilator.lint', /unknown field \(known: flags, parameters, waive\)/);
    expect(() => parsePortsJson('{"top": ', 'x.json')).toThrow(/^x\.json: \(file\): not valid JSON/);
  });
});
