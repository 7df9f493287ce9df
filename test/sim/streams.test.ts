// TLP streams without some fields, on the loopback fixture described differently: without keep the payload
// length of a received TLP comes from its header's Length; without data a stream carries header-only TLPs,
// one beat each (a request-only stream), and sop/eop may be absent too.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { Sim, type RawTlp } from '../../sim/index';
import { Rng } from '../../sim/random';
import { forEachSeed } from '../support/seeds';
import { FIXTURES, LOOPBACK_W64, echoOf, randomTlp } from './helpers';

const tmp = mkdtempSync(join(tmpdir(), 'vfpga-streams-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const open: Sim[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

/** The W=64 loopback with its streams' fields edited (the ports stay, as plain sideband ports). */
function described(name: string, drop: { rx: string[]; tx: string[] }): string {
  for (const f of ['loopback_core.v', 'loopback_w64.v']) copyFileSync(join(FIXTURES, f), join(tmp, f));
  const j = JSON.parse(readFileSync(LOOPBACK_W64, 'utf8'));
  for (const itf of j.interfaces) for (const f of drop[itf.name as 'rx' | 'tx']) delete itf.fields[f];
  for (const p of j.ports)
    if (
      p.interface &&
      !Object.values(j.interfaces.find((i: { name: string }) => i.name === p.interface).fields).includes(p.name)
    ) {
      delete p.interface;
      delete p.field;
    }
  const path = join(tmp, `${name}.ports.json`);
  writeFileSync(path, JSON.stringify(j, null, 2));
  return path;
}

function load(ports: string, seed = 1, opts: { rxIdle?: number; txBackpressure?: number } = {}): Sim {
  const sim = Sim.load({ ports, quiet: true, seed, ...opts });
  open.push(sim);
  return sim;
}

describe('streams without keep', () => {
  test('the payload of each received TLP is as long as its header says, under idle and backpressure', () => {
    // rx without keep: the loopback echoes keep = 0; tx without keep ignores it and counts from the header.
    const ports = described('nokeep', { rx: ['keep'], tx: ['keep'] });
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      const sim = load(ports, seed, { rxIdle: 0.2, txBackpressure: 0.3 });
      const sent: RawTlp[] = Array.from({ length: 120 }, (_, i) => randomTlp(rng, i < 70 ? i : rng.int(0, 70)));
      for (const t of sent) sim.send(t);
      expect(sim.run({ untilTx: sent.length, maxCycles: 100_000 }).reason).toBe('tx');
      const got = sim.takeTx();
      expect(got.length).toBe(sent.length);
      got.forEach((g, i) => {
        const want = echoOf(sent[i]);
        expect([...g.hdr], `TLP ${i}`).toEqual([...want.hdr]);
        expect([...g.data], `TLP ${i}`).toEqual([...want.data]);
      });
    });
  });

  test('an eop missing where the header ends the payload, or a beat after it, is reported', () => {
    const sim = load(described('nokeep', { rx: ['keep'], tx: ['keep'] }));
    const rng = new Rng(3);
    const long = randomTlp(rng, 4); // two full beats at W=64
    long.hdr[0] = (long.hdr[0] & ~0x3ff) | 1; // but the header says 1 dword
    sim.send(long);
    expect(() => sim.run({ untilTx: 1, maxCycles: 100 })).toThrow(
      /tx: no eop on the beat where the payload ends \(the header says 1 payload dwords\)/,
    );
    sim.reset();
    sim.takeTx();
    const extra = randomTlp(rng, 3); // two beats, the second with one dword
    extra.hdr[0] = (extra.hdr[0] & ~0x3ff) | 2; // the header says 2 dwords: one beat
    sim.send(extra);
    expect(() => sim.run({ untilTx: 1, maxCycles: 100 })).toThrow(
      /tx: a beat after the payload ended \(the header says 2 payload dwords\)/,
    );
  });
});

describe('streams without data (header only)', () => {
  test('header-only TLPs go both ways; a payload cannot be sent, and a data Fmt coming back is reported', () => {
    const ports = described('hdronly', { rx: ['data', 'keep'], tx: ['data', 'keep', 'sop', 'eop'] });
    const sim = load(ports, 2, { rxIdle: 0.3, txBackpressure: 0.3 });
    const rng = new Rng(5);
    const reads = Array.from({ length: 50 }, () => randomTlp(rng, 0));
    for (const t of reads) sim.send(t);
    expect(sim.run({ untilTx: reads.length, maxCycles: 10_000 }).reason).toBe('tx');
    const got = sim.takeTx();
    expect(got.map((t) => [...t.hdr])).toEqual(reads.map((t) => [...echoOf(t).hdr]));
    expect(got.every((t) => t.data.length === 0)).toBe(true);
    // One beat per TLP: back to back without idle or backpressure.
    sim.setRxIdle(0);
    sim.setTxBackpressure(0);
    const start = sim.cycle;
    for (const t of reads.slice(0, 10)) sim.send(t);
    sim.run({ untilTx: 10, maxCycles: 100 });
    expect(sim.takeTx().map((t) => t.cycle! - start)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    expect(() => sim.send(randomTlp(rng, 2))).toThrow(/sink stream rx has no data field; a TLP with 2 payload dwords/);
    const mwr = randomTlp(rng, 0);
    mwr.hdr[0] = ((0b010 << 29) | (mwr.hdr[0] & 0x1fff_ffff)) >>> 0; // Fmt: with data
    sim.send(mwr);
    expect(() => sim.run({ untilTx: 1, maxCycles: 100 })).toThrow(
      /tx: the stream has no data field, but the TLP's Fmt \(2\) says it carries data/,
    );
  });

  test('a header-only stream with sop and eop reports a beat that is not a whole TLP', () => {
    const sim = load(described('hdronly_sop', { rx: ['data', 'keep'], tx: ['data', 'keep'] }));
    sim.poke('mode', 1); // the loopback stops asserting tx_eop
    sim.send(randomTlp(new Rng(6), 0));
    expect(() => sim.run({ untilTx: 1, maxCycles: 100 })).toThrow(
      /tx: a stream without data carries one-beat TLPs, but this beat has sop without eop/,
    );
  });

  test('a stream with data needs sop and eop; keep needs data', () => {
    expect(() => load(described('bad1', { rx: ['sop'], tx: [] }))).toThrow(
      /interfaces\[0\] \(rx\)\.fields\.sop: missing \(a stream with data needs sop and eop/,
    );
    expect(() => load(described('bad2', { rx: [], tx: ['data'] }))).toThrow(
      /interfaces\[1\] \(tx\)\.fields\.keep: a stream without data has no keep/,
    );
  });
});
