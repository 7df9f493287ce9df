// npm run gen: regenerate hdl/ from the generators (deterministic; CI fails on any difference), and the generated
// sections of the docs and the C header (include/virtio_fpga.h) from the same descriptions.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GeneratedFile } from '../gen/doc_sections';
import { emitDesign } from '../gen/hdl';
import { testdevDocs } from '../gen/testdev/docs';
import { tops } from '../gen/tops';
import { virtioDocs } from '../gen/virtio/docs';

export const hdlDir = path.resolve(import.meta.dirname, '..', 'hdl');

/** Write every top's files into hdl/, removing files no top produces. Returns the file names. */
export function generate(dir = hdlDir): string[] {
  const files = new Map<string, string>();
  for (const t of tops) {
    for (const [name, text] of emitDesign(t.elaborate())) {
      const prev = files.get(name);
      if (prev !== undefined && prev !== text) throw new Error(`two tops emit different contents for hdl/${name}`);
      files.set(name, text);
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) {
    if (!files.has(f) && (f.endsWith('.v') || f.endsWith('.json'))) fs.rmSync(path.join(dir, f));
  }
  for (const [name, text] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const p = path.join(dir, name);
    if (!fs.existsSync(p) || fs.readFileSync(p, 'utf8') !== text) fs.writeFileSync(p, text);
  }
  return [...files.keys()].sort();
}

/** The generated documentation and headers: written when they differ; returns the paths written. */
export function generateDocs(): string[] {
  const files: GeneratedFile[] = [...testdevDocs(), ...virtioDocs()];
  const written: string[] = [];
  for (const f of files) {
    const old = fs.existsSync(f.path) ? fs.readFileSync(f.path, 'utf8') : undefined;
    if (old === f.contents) continue;
    fs.mkdirSync(path.dirname(f.path), { recursive: true });
    fs.writeFileSync(f.path, f.contents);
    written.push(path.relative(path.resolve(import.meta.dirname, '..'), f.path));
  }
  return written;
}

if (import.meta.filename === process.argv[1]) {
  const t0 = performance.now();
  const names = generate();
  const docs = generateDocs();
  const v = names.filter((n) => n.endsWith('.v')).length;
  console.log(
    `gen: ${v} Verilog modules and ${names.length - v} port descriptions in hdl/ (${((performance.now() - t0) / 1000).toFixed(2)} s)`,
  );
  console.log(docs.length ? `gen: updated ${docs.join(', ')}` : 'gen: generated docs and headers up to date');
}
