// Definitions: a module generator is a TypeScript function of ordinary parameters; elaborating it with one
// parameter set runs the body once (cached), checks the result and gives one module with a deterministic name.
import { createHash } from 'node:crypto';
import { combGraph, combPathSummary } from './analysis/comb';
import { ModuleBuilder, elaborateWith } from './builder';
import { runChecks } from './checks';
import type { HwType } from './expr';
import type { InPort, OutPort, WidthOf } from './io';
import { type CombPaths, fingerprint, type HwModule } from './ir';
import { isIdentifier, isKeyword, stableJson } from './names';
import type { Signal } from './signal';
import { callerLoc, designErrors, fmtLoc, HdlError, throwDesignErrors } from './srcloc';

export interface ModuleDef<P, IO = unknown> {
  readonly base: string;
  /** Elaborate once per distinct parameter set (cached): same parameters, same module object. */
  elaborate(params: P): HwModule;
  /** The Verilog name for a parameter set. */
  nameFor(params: P): string;
  /** Type-level only: the io the body returns (instances see it as pins). */
  readonly __io?: IO;
}

export interface DefineOptions<P> {
  /** Name for a parameter set; default: base followed by each parameter as `_<key><value>`, keys sorted. */
  name?: (p: P) => string;
  doc?: string;
}

/**
 * The default module name: the base, then `_<key><value>` per parameter in sorted key order, so that the name
 * is a function of the parameter values alone (`{ w: 8, k: 3 }` and `{ k: 3, w: 8 }` are `s_k3_w8`).
 */
function defaultName(base: string, p: unknown): string {
  if (p === undefined || p === null) return base;
  if (typeof p !== 'object') return `${base}_${sanitize(String(p))}`;
  const parts: string[] = [base];
  const entries = Object.entries(p as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of entries) {
    if (v === undefined) continue; // an optional parameter left out
    if (['number', 'string', 'boolean', 'bigint'].includes(typeof v)) parts.push(`${k}${sanitize(String(v))}`);
    else parts.push(`${k}${createHash('sha256').update(stableJson(v)).digest('hex').slice(0, 8)}`);
  }
  return parts.join('_');
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9]/g, '_');
}

/**
 * Define a module generator. `body(m, params)` declares the hardware; the result's `elaborate(params)` gives
 * the module for those parameters.
 */
export function defineModule<P = void, IO = unknown>(
  base: string,
  body: (m: ModuleBuilder, params: P) => IO | void,
  opts: DefineOptions<P> = {},
): ModuleDef<P, IO> {
  const defLoc = callerLoc();
  const cache = new Map<string, HwModule>();
  const byName = new Map<string, { key: string; mod: HwModule }>();
  const nameFor = (p: P) => opts.name?.(p) ?? defaultName(base, p);
  return {
    base,
    nameFor,
    elaborate(params: P): HwModule {
      const key = stableJson(params ?? null);
      const hit = cache.get(key);
      if (hit) return hit;
      const name = nameFor(params);
      const mod = elaborateFresh(name, params);
      // Parameter sets that differ only in spelling (a default given explicitly) name the same module: one
      // module object per name, as long as the hardware is the same.
      const same = byName.get(name);
      if (same) {
        if (fingerprint(same.mod) !== fingerprint(mod)) {
          throw new HdlError(
            `module name '${name}' (defined at ${fmtLoc(defLoc)}) is generated for parameters ${same.key} and ${key}, which give different hardware; include every parameter that changes the hardware in the name`,
            callerLoc(),
            'name',
          );
        }
        cache.set(key, same.mod);
        return same.mod;
      }
      byName.set(name, { key, mod });
      cache.set(key, mod);
      return mod;
    },
  };

  function elaborateFresh(name: string, params: P): HwModule {
    const m = new ModuleBuilder(name, defLoc);
    m.doc = opts.doc;
    const context = `elaborating module '${name}'`;
    let returned: unknown;
    try {
      returned = elaborateWith(m, () => body(m, params));
    } catch (e) {
      // A mistake the body could not go on from (a bad parameter, an expression, a declaration, a child
      // module): reported after those it made before. The module is incomplete, so the checks do not run.
      const thrown = designErrors(e);
      if (!thrown.length) throw e;
      throwDesignErrors([...m.errors, ...thrown], context);
    }
    // The name is checked after the body, so that a bad parameter that makes a bad name is reported as such.
    const badName =
      !isIdentifier(name) || isKeyword(name)
        ? [
            new HdlError(
              `invalid module name '${name}' (letters, digits and _, starting with a letter; not a Verilog keyword)`,
              defLoc,
              'name',
            ),
          ]
        : [];
    const ir = m.ir(m.takeIo(returned, defLoc));
    // The summary (an analysis), then every check pass; all mistakes of the module are reported together.
    const mod: HwModule = { ...ir, combPaths: combPathSummary(ir, combGraph(ir)) };
    throwDesignErrors([...badName, ...m.errors, ...runChecks(mod)], context);
    return mod;
  }
}

export interface BlackboxPort {
  dir: 'input' | 'output';
  type: HwType | number;
}

/** The io of a black box: its ports as declared, inputs read only, outputs driven (seen from the inside). */
export type BlackboxIo<Ports> = {
  readonly [K in keyof Ports]: Ports[K] extends { dir: 'input'; type: infer T }
    ? InPort<WidthOf<T>>
    : Ports[K] extends { type: infer T }
      ? OutPort<WidthOf<T>>
      : never;
};

/**
 * A module defined elsewhere (a vendor primitive, hard IP): only its ports are known. `verilogParams` become
 * `#(.NAME(value))` on the instance. `combPaths` lists outputs that depend combinationally on inputs (default:
 * none), so loops through the black box are still found. An instance's `io` has one pin per port.
 */
export function defineBlackbox<
  P = void,
  const Ports extends Record<string, BlackboxPort> = Record<string, BlackboxPort>,
>(
  moduleName: string | ((p: P) => string),
  ports: Ports | ((p: P) => Ports),
  opts: {
    verilogParams?: (p: P) => Record<string, number | string | bigint>;
    combPaths?: Record<string, string[]>;
    doc?: string;
  } = {},
): ModuleDef<P, BlackboxIo<Ports>> {
  const defLoc = callerLoc();
  const cache = new Map<string, HwModule>();
  const nameFor = (p: P) => (typeof moduleName === 'string' ? moduleName : moduleName(p));
  return {
    base: typeof moduleName === 'string' ? moduleName : 'blackbox',
    nameFor,
    elaborate(params: P): HwModule {
      const key = stableJson(params ?? null);
      const hit = cache.get(key);
      if (hit) return hit;
      const m = new ModuleBuilder(nameFor(params), defLoc);
      const io: Record<string, unknown> = {};
      elaborateWith(m, () => {
        const ps = typeof ports === 'function' ? ports(params) : ports;
        for (const [pn, p] of Object.entries(ps)) {
          const s = m.port(pn, p.type, p.dir, defLoc) as Signal;
          s.driven = true;
          io[pn] = s;
        }
      });
      const combPaths: CombPaths = new Map(Object.entries(opts.combPaths ?? {}).map(([o, ins]) => [o, new Set(ins)]));
      const mod: HwModule = {
        ...m.ir(io, { doc: opts.doc, blackbox: true, verilogParams: opts.verilogParams?.(params) ?? {} }),
        combPaths,
      };
      cache.set(key, mod);
      return mod;
    },
  };
}
