// docs/testdev.md carries the register map and the configuration-space table generated from the objects
// the RTL uses; this fails when the document is stale (fix: npm run gen).
import * as fs from 'node:fs';
import { expect, test } from 'vitest';
import { DOC_PATH, updateDoc } from '../../gen/testdev/docs';

test('docs/testdev.md tables match the register map and the configuration space', () => {
  const text = fs.readFileSync(DOC_PATH, 'utf8');
  expect(updateDoc(text) === text, 'docs/testdev.md is stale: run npm run gen').toBe(true);
});
