// The check driver: every pass over a module, in a fixed order, collecting what each reports.
import { combGraph } from '../analysis/comb';
import type { HwModule } from '../ir';
import type { HdlError } from '../srcloc';
import { clockCrossings } from './crossing';
import { foreignSignals } from './foreign';
import { latches } from './latch';
import { combLoops } from './loops';
import type { CheckPass } from './pass';
import { synchronizers } from './synchronizers';
import { undrivenSignals } from './undriven';

/** The passes, in the order they run (and their errors are listed). */
export const checkPasses: readonly CheckPass[] = [
  foreignSignals,
  undrivenSignals,
  latches,
  clockCrossings,
  synchronizers,
  combLoops,
];

/** Every design error the passes find in `mod`, pass by pass. */
export function runChecks(mod: HwModule): HdlError[] {
  const ctx = { mod, graph: combGraph(mod) };
  const errors: HdlError[] = [];
  for (const p of checkPasses) p.run(ctx, (e) => errors.push(e));
  return errors;
}

export type { CheckContext, CheckPass } from './pass';
