// The root complex's own behaviour that the scenario suites do not pin down (found by mutation testing, see
// docs/mutation.md): the pump's windows and batching, what it counts and traces, the convenience accessors, the
// interrupt listeners and waits, and the unsupported requests it answers with UR. The pump is driven through a
// scripted link that records every run() call, or through ScriptLink and the TypeScript model endpoint.
import { describe, expect, test } from 'vitest';
import { PCI_COMMAND } from '../../tb/pcie/cfgspace';
import { PcieViolation, RcTimeoutError } from '../../tb/pcie/errors';
import { TapLink, type Link, type LinkRunOptions } from '../../tb/pcie/link';
import { MODEL_REGS as R, ModelEndpoint } from '../../tb/pcie/modeldev';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import type { RawTlp } from '../../sim/raw';
import { CplStatus, MsgCode, MsgRouting, decodeTlp, encodeTlp, type CplDTlp, type Tlp } from '../../tb/pcie/tlp';
import { DEV, mrd, mwr, setup, violation } from './crafted';
import { ScriptLink } from './support';

/** A link whose run() does what the test scripted (advance, reason, TLPs out) and records its options. */
class RecordingLink implements Link {
  cycle = 0;
  readonly runs: LinkRunOptions[] = [];
  readonly sent: { raw: RawTlp; at: number | undefined }[] = [];
  /** What each run() does, in order; afterwards a run advances its `cycles` and stops for 'cycles'. */
  readonly script: { advance: number; reason: string; tx?: RawTlp[] }[] = [];
  copiesOnSend?: boolean;
  private out: RawTlp[] = [];
  send(raw: RawTlp, atCycle?: number): void {
    // A link that copies on send may be handed memory the RC reuses afterwards.
    if (this.copiesOnSend) raw = { hdr: raw.hdr.slice(), data: raw.data.slice() };
    this.sent.push({ raw, at: atCycle });
  }
  run(opts: LinkRunOptions): { reason: string; cycles: number } {
    this.runs.push({ ...opts });
    const s = this.script.shift() ?? { advance: opts.cycles ?? 0, reason: 'cycles' };
    this.cycle += s.advance;
    this.out.push(...(s.tx ?? []));
    return { reason: s.reason, cycles: s.advance };
  }
  takeTx(): RawTlp[] {
    return this.out.splice(0);
  }
}

const at = (t: Tlp, cycle: number): RawTlp => ({ ...encodeTlp(t), cycle });

function recording(opts: RootComplexOptions = {}) {
  const link = new RecordingLink();
  const lines: string[] = [];
  const rc = new RootComplex(link, {
    seed: 3,
    latency: { min: 20, max: 20 },
    window: 1000,
    trace: (l) => lines.push(l),
    ...opts,
  });
  rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x6, 0); // bus master on
  return { link, rc, lines };
}

function model(rcOpts: RootComplexOptions = {}) {
  const dev = new ModelEndpoint();
  const tap = new TapLink(dev);
  const rc = new RootComplex(tap, { seed: 5, ...rcOpts });
  rc.enumerate();
  return { dev, tap, rc };
}

describe('the pump', () => {
  test('a step runs one window, stopping at the first TLP, and batches what comes before the first answer', () => {
    const { link, rc } = recording();
    rc.mem.map(0x1000_0000n, new Uint8Array(0x100));
    link.cycle = 80;
    link.script.push(
      { advance: 21, reason: 'tx', tx: [at(mrd(0x1000_0000n, 1), 100)] },
      { advance: 19, reason: 'cycles', tx: [at(mwr(0x1000_0010n, 4), 110)] },
    );
    expect(rc.step()).toEqual({ tlps: 2, cycles: 40, reason: 'tx' });
    // The first run: the whole window, until one TLP; MWr count (no batchWrites). The second: up to the read's
    // first answer (read at 100 + latency 20 = 120, from 101).
    expect(link.runs).toEqual([
      { cycles: 1000, untilTx: 1, until: undefined, writesCountOnlyIn: undefined },
      { cycles: 19, until: undefined },
    ]);
    expect(rc.stats()).toMatchObject({ steps: 1, runCalls: 2 });
    expect(rc.stats().fromDevice).toEqual({ MRd: { tlps: 1, bytes: 0 }, MWr: { tlps: 1, bytes: 4 } });
    expect(rc.mem.read(0x1000_0010n, 4)).toEqual(new Uint8Array(4).fill(0xa5));
  });

  test('the batching run is bounded by maxCycles, and needs at least 2 cycles of room', () => {
    const { link, rc } = recording();
    rc.mem.map(0x1000_0000n, new Uint8Array(0x100));
    link.cycle = 95;
    link.script.push({ advance: 6, reason: 'tx', tx: [at(mrd(0x1000_0000n, 1), 100)] });
    rc.step({ maxCycles: 10 });
    expect(link.runs[1]).toEqual({ cycles: 4, until: undefined }); // 10 cycles from 95, 6 used
    // Room of exactly one cycle (a read at 100, latency 2, now 101): no second run.
    const tight = recording({ latency: { min: 2, max: 2 } });
    tight.rc.mem.map(0x1000_0000n, new Uint8Array(0x100));
    tight.link.cycle = 95;
    tight.link.script.push({ advance: 6, reason: 'tx', tx: [at(mrd(0x1000_0000n, 1), 100)] });
    tight.rc.step();
    expect(tight.link.runs).toHaveLength(1);
    // Room of two cycles: a second run.
    const two = recording({ latency: { min: 3, max: 3 } });
    two.rc.mem.map(0x1000_0000n, new Uint8Array(0x100));
    two.link.cycle = 95;
    two.link.script.push({ advance: 6, reason: 'tx', tx: [at(mrd(0x1000_0000n, 1), 100)] });
    two.rc.step();
    expect(two.link.runs[1]).toEqual({ cycles: 2, until: undefined });
  });

  test('the batching run counts from the earliest read, and only reads start it', () => {
    const { link, rc } = recording();
    rc.mem.map(0x1000_0000n, new Uint8Array(0x100));
    link.cycle = 0;
    const late = mrd(0x1000_0000n, 1, 2);
    const early = mrd(0x1000_0004n, 1, 3);
    link.script.push({ advance: 101, reason: 'tx', tx: [at(late, 100), at(early, 90)] });
    rc.step();
    expect(link.runs[1]).toEqual({ cycles: 9, until: undefined }); // 90 + 20 - 101
    // Writes alone do not: they get no answer.
    const w = recording();
    w.rc.mem.map(0x1000_0000n, new Uint8Array(0x100));
    w.link.script.push({ advance: 101, reason: 'tx', tx: [at(mwr(0x1000_0000n, 4), 100)] });
    w.rc.step();
    expect(w.link.runs).toHaveLength(1);
    // A read without a cycle stamp counts from now.
    const u = recording();
    u.rc.mem.map(0x1000_0000n, new Uint8Array(0x100));
    u.link.script.push({ advance: 50, reason: 'tx', tx: [encodeTlp(mrd(0x1000_0000n, 1))] });
    u.rc.step();
    expect(u.link.runs[1]).toEqual({ cycles: 20, until: undefined });
    // A step that stopped on its `until` signal does not run on.
    const s = recording();
    s.rc.mem.map(0x1000_0000n, new Uint8Array(0x100));
    s.link.script.push({ advance: 101, reason: 'until', tx: [at(mrd(0x1000_0000n, 1), 100)] });
    expect(s.rc.step({ until: { signal: 'x', equals: 1 } }).reason).toBe('until');
    expect(s.link.runs).toEqual([
      { cycles: 1000, untilTx: 1, until: { signal: 'x', equals: 1 }, writesCountOnlyIn: undefined },
    ]);
  });

  test('a batch is handled in the order the TLPs left the device, whatever order the link gives them', () => {
    const { link, rc, lines } = recording();
    rc.mem.map(0x1000_0000n, new Uint8Array(0x100));
    const w = (v: number) => mwr(0x1000_0000n, 4, { data: new Uint8Array(4).fill(v) });
    link.script.push({ advance: 50, reason: 'tx', tx: [at(w(3), 30), at(w(1), 10), at(w(2), 20)] });
    rc.step();
    expect(lines.filter((l) => l.includes('<- dev')).map((l) => /<- dev @(\d+)/.exec(l)![1])).toEqual([
      '10',
      '20',
      '30',
    ]);
    expect(rc.mem.read(0x1000_0000n, 1)[0]).toBe(3);
  });

  test('the window ends at the next completion deadline, counted from now', () => {
    const { link, rc } = recording({ completionTimeout: 100 });
    link.cycle = 1000;
    const p = rc.startCfgRead(0);
    rc.step();
    expect(link.runs[0].cycles).toBe(100);
    expect(p.done).toBe(true);
    expect(() => p.result()).toThrow(RcTimeoutError);
    expect(rc.stats().requester.timeouts).toBe(1);
  });

  test('a link that executed $finish, or that did not advance, is an error', () => {
    const { link, rc } = recording();
    link.script.push({ advance: 5, reason: 'finish' });
    expect(() => rc.step()).toThrow(/cycle 5: the simulation executed \$finish/);
    link.script.push({ advance: 0, reason: 'tx' });
    expect(() => rc.step()).toThrow(/the link did not advance \(run\(\) stopped with 'tx' after 0 cycles/);
    // Stopped by its `until` condition at once: fine.
    link.script.push({ advance: 0, reason: 'until' });
    expect(rc.step({ until: { signal: 'x', equals: 0 } })).toEqual({ tlps: 0, cycles: 0, reason: 'until' });
    // A TLP without time passing: fine.
    link.script.push({
      advance: 0,
      reason: 'tx',
      tx: [at({ type: 'Msg', routing: MsgRouting.Local, code: 0x7e, requesterId: DEV, tag: 0 } as Tlp, 5)],
    });
    expect(rc.step().tlps).toBe(1);
  });

  test('runFor, waits and settle batch writes (MSI window aside); waitFor does not', () => {
    const { link, rc } = recording({ msiWindow: { base: 0xfee0_0000n, size: 0x1000 } });
    const batched = { from: 0xfee0_0000n, to: 0xfee0_1000n };
    link.cycle = 100;
    rc.runFor(250);
    expect(rc.now).toBe(350);
    expect(link.runs).toEqual([{ cycles: 250, untilTx: 1, until: undefined, writesCountOnlyIn: batched }]);
    link.runs.length = 0;
    expect(rc.waitFor('cycle 400', () => rc.now >= 400)).toBe(1000); // one whole window
    expect(link.runs[0].writesCountOnlyIn).toBeUndefined();
    for (const f of [
      () => rc.wait(rc.startCfgRead(0), { timeout: 10 }),
      () => rc.waitForInterrupt(undefined, { timeout: 10 }),
      () => rc.waitForIntx(true, { timeout: 10 }),
    ]) {
      link.runs.length = 0;
      expect(f).toThrow(RcTimeoutError);
      expect(link.runs[0].writesCountOnlyIn).toEqual(batched);
    }
    // settle: with a read of the device to answer first.
    const s = recording({ msiWindow: { base: 0xfee0_0000n, size: 0x1000 } });
    s.rc.mem.map(0x1000_0000n, new Uint8Array(0x100));
    s.link.script.push({ advance: 11, reason: 'tx', tx: [at(mrd(0x1000_0000n, 1), 10)] });
    s.rc.settle();
    expect(s.link.runs.length).toBeGreaterThan(1);
    expect(s.link.runs.every((r) => r.cycles === undefined || r.untilTx === undefined || r.writesCountOnlyIn)).toBe(
      true,
    );
    const t = s.rc.now;
    s.rc.settle({ quiet: 30 });
    expect(s.rc.now).toBe(t + 30);
    s.rc.settle();
    expect(s.rc.now).toBe(t + 30);
  });

  test('waitForSignal steps with the signal as stop condition until the link stops on it', () => {
    const { link, rc } = recording({ waitTimeout: 5000 });
    const until = { signal: 'done', equals: 1 };
    link.cycle = 100;
    link.script.push({ advance: 30, reason: 'cycles' }, { advance: 7, reason: 'until' });
    expect(rc.waitForSignal('done', 1, { timeout: 500 })).toBe(37);
    expect(rc.now).toBe(137);
    // Each step may use what is left of the limit (and no more than a window).
    expect(link.runs).toEqual([
      { cycles: 500, untilTx: 1, until, writesCountOnlyIn: undefined },
      { cycles: 470, untilTx: 1, until, writesCountOnlyIn: undefined },
    ]);
    // Without a timeout: options.waitTimeout, here in windows of 1000 cycles.
    link.runs.length = 0;
    expect(() => rc.waitForSignal('busy', 0n)).toThrow(RcTimeoutError);
    expect(rc.now).toBe(5137);
    expect(link.runs.map((r) => r.cycles)).toEqual([1000, 1000, 1000, 1000, 1000]);
  });

  test('waitForSignal times out after exactly its limit, naming the signal and the value', () => {
    const { link, rc } = recording();
    link.cycle = 10;
    expect(() => rc.waitForSignal('x', 2n, { timeout: 50 })).toThrow(
      /^rc: cycle 60: timeout after 50 cycles waiting for x == 2$/,
    );
    expect(link.runs.map((r) => r.cycles)).toEqual([50]);
  });

  test('waitForIntx waits for INTA asserted by default', () => {
    const { link, rc } = recording();
    const assertA: Tlp = {
      type: 'Msg',
      routing: MsgRouting.Local,
      code: MsgCode.Assert_INTA,
      requesterId: DEV,
      tag: 0,
    };
    link.script.push({ advance: 40, reason: 'tx', tx: [at(assertA, 40)] });
    rc.waitForIntx();
    expect(rc.now).toBe(40);
    expect(rc.intx.asserted('A')).toBe(true);
  });

  test('the waits name what they waited for', () => {
    const { rc } = recording();
    expect(() => rc.waitForInterrupt(undefined, { timeout: 10 })).toThrow(/waiting for an MSI-X interrupt$/m);
    expect(() => rc.waitForInterrupt(4, { timeout: 10 })).toThrow(/waiting for an MSI-X interrupt on vector 4/);
    expect(() => rc.waitForIntx(true, { timeout: 10, pin: 'C' })).toThrow(/waiting for INTC asserted/);
  });
});

describe('violations', () => {
  test('one violation alone names no others; an INTx violation found by the pump names INTx', () => {
    const { from } = setup();
    const v = violation(() => from(mrd(0x1000_0000n, 1, 1, { requesterId: 0x200 })), 'requester-id');
    expect(v.more).toEqual([]);
    expect(v.message).not.toMatch(/more in the same batch/);
    const { rc, link, from: from2 } = setup({ grace: 64 });
    from2({ type: 'Msg', routing: MsgRouting.Local, code: MsgCode.Assert_INTA, requesterId: DEV, tag: 0 } as Tlp, 10);
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x406, link.cycle);
    link.cycle += 110;
    const w = violation(() => rc.step({ maxCycles: 10 }), 'intx');
    expect(w.tlp).toEqual({ desc: 'INTx' });
  });

  test('byte-enable and 4 KB violations are not called malformed', () => {
    const { from } = setup();
    const be = violation(() => from(mwr(0x1000_0000n, 8, { firstBe: 0 })), 'byte-enables');
    expect(be.reason).not.toMatch(/malformed TLP/);
  });

  test('locked completions from the device are completions for the requester; MsgD is a message', () => {
    const { rc, link } = setup({ violations: 'record' });
    link.responder = (t) =>
      t.type === 'CfgRd0'
        ? [
            {
              type: 'CplDLk',
              completerId: DEV,
              requesterId: 0,
              tag: t.tag,
              status: CplStatus.SC,
              byteCount: 4,
              lowerAddress: 0,
              data: new Uint8Array(4),
            } as Tlp,
            {
              type: 'CplLk',
              completerId: DEV,
              requesterId: 0,
              tag: t.tag,
              status: CplStatus.UR,
              byteCount: 4,
              lowerAddress: 0,
            } as Tlp,
          ]
        : [];
    expect(() => rc.cfgRead(0, 4)).toThrow();
    expect(rc.violations.map((v) => [v.code, /which was not a locked read/.test(v.reason)])).toEqual([
      ['completion-mismatch', true],
      ['completion-mismatch', true],
    ]);
    const m = setup();
    m.from(
      { type: 'MsgD', routing: MsgRouting.Local, code: 0x7f, requesterId: DEV, tag: 0, data: new Uint8Array(4) } as Tlp,
      3,
    );
    expect(m.rc.messages.map((e) => [e.tlp.type, e.cycle])).toEqual([['MsgD', 3]]);
  });

  test('configuration and locked requests from an endpoint are named in the violation', () => {
    const { from } = setup();
    const cfg = { completerId: 0x0200, offset: 0, firstBe: 0xf, requesterId: DEV, tag: 1 };
    violation(() => from({ type: 'CfgRd0', ...cfg } as Tlp), 'unsupported', /must not send configuration requests/);
    violation(
      () =>
        from({
          type: 'MRdLk',
          address: 0x1000_0000n,
          length: 1,
          firstBe: 0xf,
          lastBe: 0,
          requesterId: DEV,
          tag: 2,
        } as Tlp),
      'unsupported',
      /must not send locked requests/,
    );
  });

  test('IO and AtomicOp requests get UR; the same Fmt/Type codes in other formats are malformed', () => {
    const raw = (dw0: number, data = 0): RawTlp => ({
      hdr: new Uint32Array([dw0, (DEV << 16) | (4 << 8) | 0xf, 0x60, 0x100]),
      data: new Uint32Array(data),
    });
    const cases: [number, number, string, RegExp][] = [
      [0x4200_0001, 1, 'unsupported', /IOWr from an endpoint/],
      [0x0200_0001, 0, 'unsupported', /IORd from an endpoint/],
      [0x2200_0001, 0, 'malformed', /./], // IO with a 4DW header
      [0x4c00_0001, 1, 'unsupported', /FetchAdd from an endpoint/],
      [0x4d00_0001, 1, 'unsupported', /Swap from an endpoint/],
      [0x6e00_0002, 2, 'unsupported', /CAS from an endpoint/],
      [0x4f00_0001, 1, 'malformed', /./], // Type 01111b: no AtomicOp
      [0x4b00_0001, 1, 'malformed', /./], // Type 01011b: no AtomicOp
      [0x0c00_0001, 0, 'malformed', /./], // FetchAdd without data
      [0x2c00_0001, 0, 'malformed', /./],
    ];
    for (const [dw0, data, code, re] of cases) {
      const { rc, from, link } = setup({ violations: 'record' });
      from(raw(dw0, data), 100);
      expect(
        rc.violations.map((v) => v.code),
        dw0.toString(16),
      ).toEqual([code]);
      expect(rc.violations[0].reason).toMatch(re);
      link.cycle = 200;
      expect(link.sentOf('Cpl').length, dw0.toString(16)).toBe(code === 'unsupported' ? 1 : 0);
    }
  });
});

describe('sending, counting and tracing', () => {
  test('what the RC sends is counted by type and traced, the answers it encodes itself too', () => {
    const { link, rc, lines } = recording();
    rc.mem.map(0x1000_0000n, new Uint8Array(0x100));
    rc.memWrite(0x2000_0000n, new Uint8Array(8));
    rc.startCfgRead(4);
    link.script.push({ advance: 101, reason: 'tx', tx: [at(mrd(0x1000_0000n, 2), 100)] });
    rc.step();
    expect(rc.stats().toDevice).toEqual({
      MWr: { tlps: 1, bytes: 8 },
      CfgRd0: { tlps: 1, bytes: 0 },
      CplD: { tlps: 1, bytes: 8 },
    });
    expect(lines.filter((l) => l.includes('-> dev'))).toEqual([
      expect.stringMatching(/^rc @0: -> dev @0: MWr /),
      expect.stringMatching(/^rc @0: -> dev @0: CfgRd0 /),
      expect.stringMatching(/^rc @120: -> dev @120: CplD /),
    ]);
  });

  test('sendRaw counts by the lenient decode (else as malformed), sends no earlier than now, and traces', () => {
    const { link, rc, lines } = recording();
    link.cycle = 100;
    const good = encodeTlp(mrd(0x1000_0000n, 1));
    const reserved = { hdr: Uint32Array.from(good.hdr), data: good.data };
    reserved.hdr[0] |= 1 << 17; // a reserved bit: decodes only leniently
    rc.sendRaw(reserved, 50);
    rc.sendRaw({ hdr: new Uint32Array([0x8000_0000, 0, 0, 0]), data: new Uint32Array(3) });
    rc.sendRaw(good, 150);
    expect(rc.stats().toDevice).toEqual({ MRd: { tlps: 2, bytes: 0 }, malformed: { tlps: 1, bytes: 12 } });
    expect(link.sent.map((s) => s.at)).toEqual([100, 100, 150]);
    expect(lines).toEqual([
      expect.stringMatching(/^rc @100: -> dev @100: raw /),
      expect.stringMatching(/^rc @100: -> dev @100: raw /),
      expect.stringMatching(/^rc @100: -> dev @150: raw /),
    ]);
  });

  test('malformed TLPs from the device are counted by their dwords', () => {
    const { rc, from } = setup({ violations: 'record' });
    from({ hdr: new Uint32Array([0x8000_0000, 0, 0, 0]), data: new Uint32Array(2) });
    from(mwr(0x1000_0000n, 8));
    expect(rc.stats().fromDevice).toEqual({ malformed: { tlps: 1, bytes: 8 }, MWr: { tlps: 1, bytes: 8 } });
  });

  test('sendCopies follows the link', () => {
    const a = recording();
    expect(a.rc.sendCopies).toBe(false);
    const link = new RecordingLink();
    link.copiesOnSend = true;
    expect(new RootComplex(link).sendCopies).toBe(true);
  });

  test('on a link that copies what it is sent, read completions are built in one reused buffer', () => {
    const link = new RecordingLink();
    link.copiesOnSend = true;
    const rc = new RootComplex(link, { seed: 3, latency: { min: 20, max: 20 } });
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x6, 0);
    const host = new Uint8Array(0x1000).map((_, i) => i & 0xff);
    rc.mem.map(0x1000_0000n, host);
    link.script.push({ advance: 11, reason: 'tx', tx: [at(mrd(0x1000_0000n, 32, 1), 10)] });
    link.script.push({ advance: 100, reason: 'tx', tx: [at(mrd(0x1000_0800n, 128, 2), 110)] });
    rc.runFor(200);
    const cpls = link.sent.map((s) => decodeTlp(s.raw)).filter((t): t is CplDTlp => t.type === 'CplD');
    const of = (tag: number) => Buffer.concat(cpls.filter((c) => c.tag === tag).map((c) => c.data));
    expect(cpls.filter((c) => c.tag === 2).length).toBeGreaterThan(1);
    expect(new Uint8Array(of(1))).toEqual(host.subarray(0, 128));
    expect(new Uint8Array(of(2))).toEqual(host.subarray(0x800, 0x800 + 512));
  });

  test('a raw request may wait longer than waitTimeout and than completionTimeout', () => {
    const link = new ScriptLink();
    link.replyDelay = 300;
    link.responder = () => [
      {
        type: 'Cpl',
        completerId: DEV,
        requesterId: 0,
        tag: 0,
        status: CplStatus.UR,
        byteCount: 4,
        lowerAddress: 0,
      } as Tlp,
    ];
    const rc = new RootComplex(link, { seed: 1, waitTimeout: 100, completionTimeout: 100 });
    const cpls = rc.rawRequest(
      { hdr: new Uint32Array([0x0400_0001, 0x0f, 0x0100_0000, 0]), data: new Uint32Array(0) },
      { timeout: 500 },
    );
    expect(cpls.map((c) => c.status)).toEqual([CplStatus.UR]);
  });

  test('the statistics count the faults injected', () => {
    const { rc, from, buf } = setup({ onRead: () => 'ur' });
    from(mrd(buf.addr, 1));
    expect(rc.stats().faults).toMatchObject({ ur: 1 });
  });
});

describe('accessors, interrupts and helpers', () => {
  test('config accessors of each width', () => {
    const { rc } = model();
    expect(rc.cfgRead8(0x01)).toBe(0x12);
    expect(rc.cfgRead16(0x02)).toBe(0x5678);
    expect(rc.cfgRead32(0x00)).toBe(0x5678_1234);
    rc.cfgWrite8(0x3c, 0x5a);
    expect(rc.cfgRead8(0x3c)).toBe(0x5a);
    rc.cfgWrite16(0x3c, 0x00a5);
    expect(rc.cfgRead8(0x3c)).toBe(0xa5);
    rc.cfgWrite32(0x3c, -1); // as an unsigned dword: only the Interrupt Line byte is writable
    expect(rc.cfgRead32(0x3c)).toBe(0xff);
  });

  test('byte writes and BAR accessors; BAR offsets are checked', () => {
    const { rc, dev } = model();
    const b4 = rc.bar(4);
    rc.write8(b4.address + 3n, 0x77);
    b4.write8(5, 0x66);
    // flush: a zero-length read, which also lands the posted writes before it.
    const before = dev.received.length;
    rc.flush(b4.address);
    expect(dev.received.slice(before).map((t) => t.type)).toEqual(['MWr', 'MWr', 'MRd']);
    expect(dev.received.at(-1)).toMatchObject({ type: 'MRd', length: 1, firstBe: 0, lastBe: 0 });
    expect(Array.from(dev.scratch.subarray(3, 6))).toEqual([0x77, 0, 0x66]);
    expect(b4.addr(0x10)).toBe(b4.address + 0x10n);
    expect(b4.size).toBe(0x1000n);
    expect(() => b4.addr(-4)).toThrow(RangeError);
    expect(() => b4.addr(1.5)).toThrow(RangeError);
    expect(() => b4.addr(0xffc, 8)).toThrow(RangeError);
    expect(() => rc.bar(1)).toThrow(/BAR 1 is not implemented/);
  });

  test('bar() before enumeration says so', () => {
    const rc = new RootComplex(new ScriptLink());
    expect(() => rc.bar(0)).toThrow(/BAR 0 is not implemented \(enumerate first\)/);
  });

  test('interrupt listeners are removed once, each its own; waitForInterrupt(v) leaves the others untaken', () => {
    const { rc } = model();
    rc.msix.setup();
    const b0 = rc.bar(0);
    const f: number[] = [];
    const g: number[] = [];
    const h: number[] = [];
    const offF = rc.onInterrupt((e) => f.push(e.vector));
    const offG = rc.onInterrupt((e) => g.push(e.vector));
    rc.onInterrupt((e) => h.push(e.vector));
    offF();
    offF(); // a second call removes nothing else
    b0.write32(R.IRQ, 1);
    b0.write32(R.IRQ, 2);
    expect(rc.waitForInterrupt(2).vector).toBe(2);
    expect(f).toEqual([]);
    expect(g).toEqual([1, 2]);
    expect(h).toEqual([1, 2]);
    offG();
    expect(rc.takeInterrupts().map((e) => e.vector)).toEqual([1]);
    b0.write32(R.IRQ, 3);
    expect(rc.waitForInterrupt().vector).toBe(3);
    expect(g).toEqual([1, 2]);
    expect(h).toEqual([1, 2, 3]);
    expect(rc.stats()).toMatchObject({ interrupts: 3, completer: { interrupts: 3 } });
  });

  test('setFaults replaces only what it is given', () => {
    const { rc } = setup();
    const hook = () => 'ur' as const;
    rc.setFaults({ onRead: hook });
    rc.setFaults({ rates: { ca: 0.5 } });
    expect(rc.injector.hook).toBe(hook);
    expect(rc.injector.rates).toEqual({ ca: 0.5 });
    rc.setFaults({ onRead: undefined });
    expect(rc.injector.hook).toBeUndefined();
    expect(rc.injector.rates).toEqual({ ca: 0.5 });
  });

  test('unexpected completions: a CplD by default, a Cpl with the status asked for', () => {
    const { rc, link } = setup();
    rc.sendUnexpectedCompletion({ tag: 9 });
    rc.sendUnexpectedCompletion({ tag: 10, status: 'SC', bytes: 6 });
    rc.sendUnexpectedCompletion({ tag: 11, status: 'UR' });
    rc.sendUnexpectedCompletion({ tag: 12, status: 'CA', bytes: 8 });
    expect(
      link.sent.map(({ tlp: t }) =>
        t.type === 'CplD' || t.type === 'Cpl'
          ? [t.type, t.tag, t.status, t.byteCount, 'data' in t ? t.data.length : -1]
          : [t.type],
      ),
    ).toEqual([
      ['CplD', 9, CplStatus.SC, 4, 4],
      ['CplD', 10, CplStatus.SC, 6, 8],
      ['Cpl', 11, CplStatus.UR, 4, -1],
      ['Cpl', 12, CplStatus.CA, 8, -1],
    ]);
  });

  test('the RC is idle only after the cycle of its last scheduled answer', () => {
    const { rc, link, from, buf } = setup();
    link.cycle = 100;
    from(mrd(buf.addr, 1), 100);
    link.cycle = 120; // the answer goes out at 120
    expect(rc.idle).toBe(false);
    link.cycle = 121;
    expect(rc.idle).toBe(true);
  });

  test('a violation in throw mode is a PcieViolation', () => {
    const { from } = setup();
    expect(() => from(mrd(0x1000_0000n, 1, 1, { requesterId: 0x200 }))).toThrow(PcieViolation);
  });
});
