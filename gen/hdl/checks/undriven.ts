// Undriven signals: every output, wire, register and instance input must be driven (or have a default).
// Reported at the declaration: drive it, or remove it.
import { HdlError } from '../srcloc';
import type { CheckPass } from './pass';

export const undrivenSignals: CheckPass = {
  name: 'undriven signals',
  run({ mod }, report) {
    for (const s of mod.signals) {
      if (s.kind === 'input' || s.kind === 'inst-out' || s.kind === 'mem-rd') continue;
      if (s.driven || s.default) continue;
      const what =
        s.kind === 'reg'
          ? `register '${s.name}' is never assigned a next value`
          : s.kind === 'inst-in'
            ? `instance input '${s.name}' is never driven`
            : `${s.kind} '${s.name}' is never driven`;
      report(new HdlError(what, s.loc, 'undriven'));
    }
  },
};
