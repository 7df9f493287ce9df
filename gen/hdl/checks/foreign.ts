// Foreign signals: every expression of a module may read only the module's own signals. A signal captured
// from another module's body (a closure over a parent's or sibling's variable) must come through a port.
import { refsOf, sideExprs, walkStmts } from '../ir';
import type { Expr } from '../expr';
import { HdlError, type SrcLoc } from '../srcloc';
import type { CheckPass } from './pass';

export const foreignSignals: CheckPass = {
  name: 'foreign signals',
  run({ mod }, report) {
    const mine = new Set(mod.signals);
    const check = (e: Expr, loc: SrcLoc) => {
      for (const r of refsOf(e)) {
        if (mine.has(r)) continue;
        report(
          new HdlError(
            `${r.describe()} belongs to module '${r.owner.moduleName}', not to '${mod.name}' (connect it through a port)`,
            loc,
            'context',
          ),
        );
      }
    };
    walkStmts(mod.stmts, (s) => {
      if (s.k === 'if') check(s.cond, s.loc);
      else if (s.k === 'switch') check(s.sel, s.loc);
      else check(s.value, s.loc);
    });
    for (const { e, loc } of sideExprs(mod)) check(e, loc);
  },
};
