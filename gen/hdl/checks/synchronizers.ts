// What synchronizers carry: a register marked as the first stage of a synchronizer samples another clock
// domain, and each of its bits resolves on its own. One bit is always safe to cross that way; several bits
// only when at most one of them changes at a time. The check enforces what it can see:
//  - 'bit' (and `synchronizer: true`): the register is one bit wide;
//  - 'gray': every assignment samples a register directly, and every next value of that register is a
//    toGray() (or a wire only ever driven with one), so its value is always a Gray code; that it steps by
//    one is the designer's (docs/dsl.md);
//  - 'quasiStatic': nothing (the designer promises the value is stable whenever it is sampled).
import type { Expr } from '../expr';
import { type Stmt, walkStmts } from '../ir';
import { Signal } from '../signal';
import { fmtLoc, HdlError } from '../srcloc';
import type { CheckPass } from './pass';

type Assign = Extract<Stmt, { k: 'assign' }>;

export const synchronizers: CheckPass = {
  name: 'synchronizers',
  run({ mod }, report) {
    const marked = mod.signals.filter((s) => s.kind === 'reg' && s.synchronizer && s.width > 1);
    if (!marked.length) return;
    const assigns = new Map<Signal, Assign[]>();
    walkStmts(mod.stmts, (s) => {
      if (s.k !== 'assign') return;
      const list = assigns.get(s.target);
      if (list) list.push(s);
      else assigns.set(s.target, [s]);
    });
    /** A toGray(), or a wire every assignment (and default) of which is one. */
    const grayWires = new Map<Signal, boolean>(); // false while being visited (a loop is no Gray code)
    const isGray = (e: Expr): boolean => {
      if (e.attrs.gray) return true;
      if (!(e instanceof Signal) || e.kind !== 'wire') return false;
      const known = grayWires.get(e);
      if (known !== undefined) return known;
      grayWires.set(e, false);
      const drives = [...(assigns.get(e) ?? []).map((a) => a.value), ...(e.default ? [e.default] : [])];
      const gray = drives.length > 0 && drives.every(isGray);
      grayWires.set(e, gray);
      return gray;
    };
    for (const t of marked) {
      const what = `synchronizer '${t.name}' (${t.typeName()})`;
      if (t.synchronizer === 'bit') {
        report(
          new HdlError(
            `${what} carries single bits but is ${t.width} bits wide: the bits of a changing value resolve in ` +
              `different cycles, so a binary count can arrive as a value it never had; cross a Gray-coded ` +
              `register ({ synchronizer: 'gray' }), or a value held stable while it crosses ({ synchronizer: 'quasiStatic' })`,
            t.loc,
            'cdc',
          ),
        );
        continue;
      }
      if (t.synchronizer !== 'gray') continue;
      for (const a of assigns.get(t) ?? []) {
        const src = a.value;
        if (!(src instanceof Signal) || src.kind !== 'reg') {
          report(
            new HdlError(
              `${what} carries a Gray code, so it must sample a register of the source domain directly; it samples ` +
                `${src.describe()}, which the check cannot see to be Gray-coded (and logic can glitch)`,
              a.loc,
              'cdc',
            ),
          );
          continue;
        }
        const binary = (assigns.get(src) ?? []).find((x) => !isGray(x.value));
        if (binary) {
          report(
            new HdlError(
              `${what} carries a Gray code, but its source register '${src.name}' is assigned ${binary.value.describe()} ` +
                `at ${fmtLoc(binary.loc)}, not a toGray(): a binary value through a synchronizer can arrive as a ` +
                `value it never had; give '${src.name}' only next values v.toGray()`,
              a.loc,
              'cdc',
            ),
          );
        }
      }
    }
  },
};
