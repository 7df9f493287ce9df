// Parameter checks for generators: a bad parameter is the caller's mistake, so the error points at the line
// that called the generator (instantiated the module, or called the library function), never inside it.
// Every generator (gen/lib, gen/pcie, gen/testdev, your own) imports these from gen/hdl.
import { generatorCallerLoc, HdlError, type HdlErrorKind } from './srcloc';

/**
 * A bad generator parameter, at the generator's caller: the first line outside gen/hdl and outside the folder
 * of the code that calls paramError. `kind` is 'param' unless the mistake is better named (e.g. 'width').
 */
export function paramError(message: string, kind: HdlErrorKind = 'param'): HdlError {
  return new HdlError(message, generatorCallerLoc(), kind);
}

/**
 * `value` as a generator parameter that must be an integer from `min` to `max`; a paramError naming `what`
 * otherwise.
 */
export function intParam(what: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw paramError(`${what} must be an integer ${range}, got ${value}`);
  }
  return value;
}
