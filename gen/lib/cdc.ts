// Clock-domain crossing for single bits and quasi-static values: a chain of registers in the destination
// domain, the first marked as a synchronizer (the DSL's CDC check then accepts its asynchronous input).
// Use it for levels (flags, status, Gray-coded pointers), never for multi-bit data that changes freely:
// bits of such a value can resolve in different cycles.
import { type ClockDomain, type Expr, type ModuleBuilder, paramError, type Signal } from '../hdl';

/**
 * `stages` registers (at least 2) clocked by `domain`, sampling `value` from another domain; returns the
 * last one. Latency: `stages` cycles of the destination clock. No reset: a synchronizer must not depend on
 * a reset that is itself asynchronous to the source.
 */
export function syncBits(m: ModuleBuilder, name: string, value: Expr, domain: ClockDomain, stages = 2): Signal {
  if (!Number.isInteger(stages) || stages < 2) throw paramError(`syncBits '${name}': at least 2 stages, got ${stages}`);
  let prev: Expr = value;
  let last: Signal | undefined;
  for (let i = 0; i < stages; i++) {
    const r = m.reg(`${name}_sync${i}`, value.width, { domain, synchronizer: i === 0 });
    r.next(prev);
    prev = r;
    last = r;
  }
  return last!;
}
