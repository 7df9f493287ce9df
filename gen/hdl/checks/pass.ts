// What a check pass is: a named rule over one elaborated module that reports each violation it finds as a
// located HdlError. Passes read the IR and the analyses; they never change either.
import type { CombGraph } from '../analysis/comb';
import type { HwModule } from '../ir';
import type { HdlError } from '../srcloc';

export interface CheckContext {
  readonly mod: HwModule;
  readonly graph: CombGraph;
}

export interface CheckPass {
  /** The rule's name, for messages and the docs. */
  readonly name: string;
  run(ctx: CheckContext, report: (e: HdlError) => void): void;
}
