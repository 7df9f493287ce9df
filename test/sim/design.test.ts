// Where simulated designs are emitted (sim/design.ts): two versions of one top (same name, different generator
// code, as in an A/B experiment or a worktree edited under a running benchmark) get directories of their own
// and neither overwrites the other; the same version is found again in place.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { defineModule } from '../../gen/hdl';
import { designPorts } from '../../sim/design';

const root = mkdtempSync(join(tmpdir(), 'vfpga-designs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A top named `twin` whose output is its input plus `k`: versions differ in code, not in name or parameters. */
const twin = (k: number) =>
  defineModule('twin', (m) => {
    m.output('y', 8).set(m.input('a', 8).add(k).trunc(8));
  }).elaborate();

describe('designPorts', () => {
  test('two versions of one top do not overwrite each other', () => {
    const p1 = designPorts(twin(1), root);
    const p2 = designPorts(twin(2), root);
    expect(dirname(p1)).not.toBe(dirname(p2));
    expect(dirname(dirname(p1))).toBe(join(root, 'twin'));
    const v1 = readFileSync(join(dirname(p1), 'twin.v'), 'utf8');
    const v2 = readFileSync(join(dirname(p2), 'twin.v'), 'utf8');
    expect(v1).not.toBe(v2);
    expect(designPorts(twin(1), root)).toBe(p1); // the same version again: same place, unchanged text
    expect(readFileSync(join(dirname(p1), 'twin.v'), 'utf8')).toBe(v1);
  });

  test('old versions are pruned, the one in use is kept', () => {
    let last = '';
    for (let k = 10; k < 22; k++) last = designPorts(twin(k), root);
    const versions = readdirSync(join(root, 'twin'));
    expect(versions.length).toBe(8);
    expect(versions).toContain(dirname(last).split('/').pop());
  });
});
