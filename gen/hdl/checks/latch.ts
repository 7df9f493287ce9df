// Latches: a combinational signal (wire, output, instance input) without a default must be assigned on every
// path through the statements, or the Verilog `always @*` block would infer a latch. Reported at the if/case
// whose branch leaves it unassigned, where the fix goes.
import { covers, type Stmt, touches } from '../ir';
import type { Signal } from '../signal';
import { fmtLoc, HdlError, type SrcLoc } from '../srcloc';
import type { CheckPass } from './pass';

const combKinds = new Set(['wire', 'output', 'inst-in']);

export const latches: CheckPass = {
  name: 'latches',
  run({ mod }, report) {
    for (const s of mod.signals) {
      // Undriven signals are the undriven pass's to report.
      if (!combKinds.has(s.kind) || s.default || !s.driven || covers(mod.stmts, s)) continue;
      const w = witness(mod.stmts, s);
      report(
        new HdlError(
          `${s.describe()} declared at ${fmtLoc(s.loc)} is not assigned on every path and has no default: it would infer a latch` +
            (w ? ` (a path through this branch leaves it unassigned)` : '') +
            `; assign it in every branch or give it a default`,
          w ?? s.loc,
          'latch',
        ),
      );
    }
  },
};

/** Where a path that misses `t` leaves: the if/case whose branch does not assign it. */
function witness(stmts: readonly Stmt[], t: Signal): SrcLoc | undefined {
  for (const s of stmts) {
    if (s.k === 'assign' || !touches([s], t)) continue;
    if (s.k === 'if') {
      if (!covers(s.then, t)) return witness(s.then, t) ?? s.loc;
      return witness(s.else, t) ?? s.loc;
    }
    for (const c of s.cases) if (!covers(c.body, t)) return witness(c.body, t) ?? c.loc;
    if (!s.default) return s.loc;
    return witness(s.default, t) ?? s.loc;
  }
  return undefined;
}
