// The generated parts of docs/testdev.md: the register map and the configuration-space table, from the
// same objects the RTL is built from. `npx tsx gen/testdev/docs.ts` rewrites them in place; a test
// (test/testdev/docs.test.ts) fails when the document is out of date.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cfgSpaceMarkdown } from '../pcie/cfg_space';
import { regMapMarkdown } from './regs';
import { TESTDEV_CFG, TESTDEV_WIDTHS, testdevParams } from './top';

export const DOC_PATH = path.resolve(import.meta.dirname, '..', '..', 'docs', 'testdev.md');

/** Generated sections, each between `<!-- BEGIN name -->` and `<!-- END name -->`. */
export function docSections(): Record<string, string> {
  return {
    'register-map': regMapMarkdown(TESTDEV_WIDTHS.map(testdevParams)),
    'config-space': cfgSpaceMarkdown(TESTDEV_CFG),
  };
}

/** `text` with every generated section replaced by its current contents. */
export function updateDoc(text: string): string {
  let out = text;
  for (const [name, body] of Object.entries(docSections())) {
    const re = new RegExp(`(<!-- BEGIN ${name} -->\\n)[\\s\\S]*?(<!-- END ${name} -->)`);
    if (!re.test(out)) throw new Error(`docs/testdev.md: no section ${name}`);
    out = out.replace(re, (_m, a: string, b: string) => `${a}${body}\n${b}`);
  }
  return out;
}

if (import.meta.filename === process.argv[1]) {
  const text = fs.readFileSync(DOC_PATH, 'utf8');
  const next = updateDoc(text);
  if (next !== text) fs.writeFileSync(DOC_PATH, next);
  console.log(next === text ? 'docs/testdev.md is up to date' : 'docs/testdev.md updated');
}
