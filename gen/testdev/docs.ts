// The generated parts of docs/testdev.md: the register map and the configuration-space table, from the
// same objects the RTL is built from. `npm run gen` rewrites them in place; a test
// (test/testdev/docs.test.ts) fails when the document is out of date.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type GeneratedFile, replaceSections } from '../doc_sections';
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

/** `text` (docs/testdev.md) with every generated section replaced by its current contents. */
export function updateDoc(text: string): string {
  return replaceSections('docs/testdev.md', text, docSections());
}

/** docs/testdev.md as `npm run gen` writes it. */
export function testdevDocs(): GeneratedFile[] {
  return [{ path: DOC_PATH, contents: updateDoc(fs.readFileSync(DOC_PATH, 'utf8')) }];
}
