// Clock-domain crossing for single bits, Gray-coded registers and quasi-static values: a chain of registers in
// the destination domain, the first marked as a synchronizer that says what it carries, which the DSL's checks
// hold it to (gen/hdl/checks/synchronizers.ts; what that proves and what it does not: docs/dsl.md).
import { atCaller, type ClockDomain, type Expr, type ModuleBuilder, paramError, type Signal } from '../hdl';

export interface SyncOptions {
  /** Register stages, at least 2 (default 2). */
  stages?: number;
  /**
   * What crosses: `'bit'` (the default) a single bit; `'gray'` a register of the source domain whose every next
   * value is a `toGray()` (a pointer or counter stepping by one), checked; `'quasiStatic'` a value the designer
   * keeps stable whenever it may be sampled (configuration, data under a handshake), not checked.
   */
  carries?: 'bit' | 'gray' | 'quasiStatic';
}

/**
 * `stages` registers clocked by `domain`, sampling `value` from another domain; returns the last one. Latency:
 * `stages` cycles of the destination clock (plus up to one for the sampling edge). No reset: a synchronizer must
 * not depend on a reset that is itself asynchronous to the source. Its registers, and any error about what it
 * carries, are located at the line that calls syncBits.
 */
export function syncBits(
  m: ModuleBuilder,
  name: string,
  value: Expr,
  domain: ClockDomain,
  opts: SyncOptions = {},
): Signal {
  const stages = opts.stages ?? 2;
  if (!Number.isInteger(stages) || stages < 2) throw paramError(`syncBits '${name}': at least 2 stages, got ${stages}`);
  const carries = opts.carries ?? 'bit';
  return atCaller(() => {
    let prev: Expr = value;
    let last: Signal | undefined;
    for (let i = 0; i < stages; i++) {
      const r = m.reg(`${name}_sync${i}`, value.width, { domain, synchronizer: i === 0 ? carries : false });
      r.next(prev);
      prev = r;
      last = r;
    }
    return last!;
  });
}
