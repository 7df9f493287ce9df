// Memories (synchronous and asynchronous reads, byte enables, several ports) and the fsm helper, simulated in
// Icarus against TypeScript models and linted with Verilator -Wall.
import { describe, expect, it } from 'vitest';
import { defineModule } from '../../gen/hdl';
import { cycleSim, type Vector } from '../support/cyclesim';
import { Rng } from '../../sim/random';
import { caseSeed } from '../support/seeds';
import { expectLintClean, U, verilogOf } from './helpers';

const X = -1n; // what cycleSim reports for a value with unknown bits

describe('memories', () => {
  const Mems = defineModule('mems', (m) => {
    const we = m.input('we', 1);
    const waddr = m.input('waddr', 4);
    const wdata = m.input('wdata', 32);
    const strb = m.input('strb', 4);
    const raddr = m.input('raddr', 4);
    const ren = m.input('ren', 1);
    const aaddr = m.input('aaddr', 4);
    const we2 = m.input('we2', 1);

    // 16 x 32 with byte enables; a sync read with enable, an async read and a sync read without enable.
    const ram = m.memory('ram', { width: 32, depth: 16 });
    ram.write(waddr, wdata, we, strb);
    m.output('q_sync', 32).set(ram.readSync(raddr, ren));
    m.output('q_async', 32).set(ram.readAsync(aaddr));
    m.output('q_sync2', 32).set(ram.readSync(aaddr));

    // 10 x 8 (depth not a power of two), two write ports, one async read.
    const dp = m.memory('dp', { width: 8, depth: 10 });
    dp.write(waddr, wdata.bits(7, 0), we);
    dp.write(aaddr, wdata.bits(15, 8), we2);
    m.output('dq', 8).set(dp.readAsync(raddr));
  });

  it('read-first sync reads, async reads see the last write, byte enables, two write ports', () => {
    const top = Mems.elaborate();
    const { seed, replay } = caseSeed(404);
    const rng = new Rng(seed);
    const stim: Vector[] = [];
    for (let a = 0; a < 16; a++) stim.push({ we: 1, waddr: a, wdata: rng.bits(32), strb: 0xf, we2: 0 }); // fill
    for (let n = 0; n < 400; n++) {
      const waddr = rng.below(16);
      let aaddr = rng.below(16);
      const we = rng.bits(1);
      const we2 = rng.chance(0.3);
      if (we && we2 && aaddr === waddr) aaddr = (aaddr + 1) % 16; // two writes to one address: undefined
      stim.push({
        we,
        waddr,
        wdata: rng.bits(32),
        strb: rng.bits(4),
        raddr: rng.below(16),
        ren: rng.bits(1),
        aaddr,
        we2,
      });
    }
    const out = cycleSim(top, stim);

    const ram: bigint[][] = Array.from({ length: 16 }, () => [X, X, X, X]); // bytes, X unknown
    const word = (a: number) =>
      ram[a].some((b) => b === X) ? X : ram[a].reduce((w, b, i) => w | (b << BigInt(8 * i)), 0n);
    const dp: bigint[] = new Array(10).fill(X);
    // During the two reset cycles all inputs are 0: ren = 0 keeps q_sync unknown, q_sync2 reads ram[0] (X).
    let qSync = X;
    let qSync2 = X;
    const v = (n: number, k: string) => Number(stim[n][k] ?? 0);
    let held: Record<string, number> = {};
    out.forEach((o, n) => {
      held = { ...held, ...Object.fromEntries(Object.keys(stim[n]).map((k) => [k, v(n, k)])) };
      const h = (k: string) => held[k] ?? 0;
      const ctx = `cycle ${n} (${replay})`;
      expect(o.q_async, ctx).toBe(word(h('aaddr')));
      expect(o.q_sync, ctx).toBe(qSync);
      expect(o.q_sync2, ctx).toBe(qSync2);
      expect(o.dq, ctx).toBe(h('raddr') < 10 ? dp[h('raddr')] : X);
      // The clock edge: reads take the old contents, then the writes land.
      if (h('ren')) qSync = word(h('raddr'));
      qSync2 = word(h('aaddr'));
      const wdata = BigInt(stim[n].wdata ?? 0);
      if (h('we')) {
        for (let b = 0; b < 4; b++) if ((h('strb') >> b) & 1) ram[h('waddr')][b] = (wdata >> BigInt(8 * b)) & 0xffn;
        if (h('waddr') < 10) dp[h('waddr')] = wdata & 0xffn;
      }
      if (h('we2') && h('aaddr') < 10) dp[h('aaddr')] = (wdata >> 8n) & 0xffn;
    });
  });

  it('emits an array with one always block per port (block RAM / distributed RAM templates), lint clean', () => {
    const top = Mems.elaborate();
    expectLintClean(top);
    const t = verilogOf(top);
    expect(t).toContain('reg [31:0] ram [0:15];');
    expect(t).toContain('reg [7:0] dp [0:9];');
    expect(t).toMatch(
      /always @\(posedge clk\) begin  \/\/ \S+\n    if \(we\) begin\n      if \(strb\[0\]\) ram\[waddr\]\[7:0\] <= wdata\[7:0\];/,
    );
    expect(t).toMatch(/always @\(posedge clk\) begin  \/\/ \S+\n    if \(ren\) ram_rd0 <= ram\[raddr\];/);
    expect(t).toMatch(/assign ram_rd1 = ram\[aaddr\];/);
    expect(t).toMatch(/always @\(posedge clk\) begin  \/\/ \S+\n    ram_rd2 <= ram\[aaddr\];/);
  });
});

describe('fsm helper', () => {
  const Fsm = defineModule('fsm_demo', (m) => {
    const start = m.input('start', 1);
    const stop = m.input('stop', 1);
    const f = m.fsm('st', ['idle', 'run', 'pause', 'done', 'spare'] as const); // 5 states: 3 bits
    const n = m.reg('n', 4, { reset: 0 });
    f.switch({
      idle: () => {
        m.if(start, () => {
          f.goto('run');
          n.next(0);
        });
      },
      run: () => {
        n.next(n.inc());
        m.if(stop, () => f.goto('pause')).elseIf(n.eq(9), () => f.goto('done'));
      },
      pause: () => m.if(start, () => f.goto('run')),
      done: () => f.goto('idle'),
      // 'spare' is never entered and has no arm
    });
    m.output('busy', 1).set(f.is('run').or(f.is('pause')));
    m.output('at_done', 1).set(f.state.eq(f.value('done')));
    m.output('state', f.state).set(f.state);
    m.output('cnt', 4).set(n);
  });

  it('walks its states like the model', () => {
    const top = Fsm.elaborate();
    expect(top.localparams.map((p) => [p.name, p.value])).toEqual([
      ['ST_IDLE', 0n],
      ['ST_RUN', 1n],
      ['ST_PAUSE', 2n],
      ['ST_DONE', 3n],
      ['ST_SPARE', 4n],
    ]);
    const { seed, replay } = caseSeed(505);
    const rng = new Rng(seed);
    const stim: Vector[] = Array.from({ length: 400 }, () => ({ start: rng.chance(0.3), stop: rng.chance(0.1) }));
    const out = cycleSim(top, stim);
    let st = 0; // reset state: the first one
    let n = 0n;
    out.forEach((o, c) => {
      const ctx = `cycle ${c} (${replay})`;
      expect(o.state, ctx).toBe(BigInt(st));
      expect(o.cnt, ctx).toBe(n);
      expect(o.busy, ctx).toBe(st === 1 || st === 2 ? 1n : 0n);
      expect(o.at_done, ctx).toBe(st === 3 ? 1n : 0n);
      const { start, stop } = stim[c];
      if (st === 0) {
        if (start) {
          st = 1;
          n = 0n;
        }
      } else if (st === 1) {
        const n0 = n;
        n = U(n + 1n, 4);
        if (stop) st = 2;
        else if (n0 === 9n) st = 3;
      } else if (st === 2) {
        if (start) st = 1;
      } else if (st === 3) st = 0;
    });
  });

  it('emits the states as localparams (waived UNUSEDPARAM) and a case on them; lint clean', () => {
    const top = Fsm.elaborate();
    expectLintClean(top);
    const t = verilogOf(top);
    expect(t).toMatch(/\/\* verilator lint_off UNUSEDPARAM \*\/\n  localparam \[2:0\] ST_IDLE = 3'd0;  \/\/ \S+\n/);
    expect(t).toContain("localparam [2:0] ST_SPARE = 3'd4;");
    expect(t).toMatch(/case \(st\)  \/\/ \S+\n +ST_IDLE: begin/);
    expect(t).toContain('st <= ST_RUN;');
    expect(t).toContain('st <= ST_IDLE;'); // the done arm
    expect(t).toMatch(/if \(rst\) begin\n +st <= ST_IDLE;/); // reset to the first state, by name
  });
});
