// Definitions: a module generator is a TypeScript function of ordinary parameters; elaborating it with one
// parameter set runs the body once (cached), checks the result and gives one module with a deterministic name.
import { createHash } from 'node:crypto';
import { combGraph, combPathSummary } from './analysis/comb';
import { ModuleBuilder, elaborateWith } from './builder';
import { runChecks } from './checks';
import type { HwType } from './expr';
import { type CombPaths, fingerprint, type HwModule } from './ir';
import { isIdentifier, isKeyword, stableJson } from './names';
import { callerLoc, fmtLoc, HdlError } from './srcloc';

export interface ModuleDef<P, IO = Record<string, unknown>> {
  readonly base: string;
  /** Elaborate once per distinct parameter set (cached): same parameters, same module object. */
  elaborate(params: P): HwModule;
  /** The Verilog name for a parameter set. */
  nameFor(params: P): string;
  /** Marker for typed `io` on instances. */
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

/** Attach the module's combinational summary and run the checks: the last step of every elaboration. */
function finishModule(ir: Omit<HwModule, 'combPaths'>): HwModule {
  const mod: HwModule = { ...ir, combPaths: combPathSummary(ir, combGraph(ir)) };
  const errors = runChecks(mod);
  if (errors.length) throw errors[0];
  return mod;
}

/**
 * Define a module generator. `body(m, params)` declares the hardware; the result's `elaborate(params)` gives
 * the module for those parameters.
 */
export function defineModule<P = void, IO = Record<string, unknown>>(
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
    if (!isIdentifier(name) || isKeyword(name)) {
      throw new HdlError(
        `invalid module name '${name}' (letters, digits and _, starting with a letter; not a Verilog keyword)`,
        defLoc,
        'name',
      );
    }
    const m = new ModuleBuilder(name, defLoc);
    m.doc = opts.doc;
    elaborateWith(m, () => body(m, params));
    return finishModule(m.ir());
  }
}

export interface BlackboxPort {
  dir: 'input' | 'output';
  type: HwType | number;
}

/**
 * A module defined elsewhere (a vendor primitive, hard IP): only its ports are known. `verilogParams` become
 * `#(.NAME(value))` on the instance. `combPaths` lists outputs that depend combinationally on inputs (default:
 * none), so loops through the black box are still found.
 */
export function defineBlackbox<P = void>(
  moduleName: string | ((p: P) => string),
  ports: Record<string, BlackboxPort> | ((p: P) => Record<string, BlackboxPort>),
  opts: {
    verilogParams?: (p: P) => Record<string, number | string | bigint>;
    combPaths?: Record<string, string[]>;
    doc?: string;
  } = {},
): ModuleDef<P> {
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
      elaborateWith(m, () => {
        const ps = typeof ports === 'function' ? ports(params) : ports;
        for (const [pn, p] of Object.entries(ps)) {
          const s = p.dir === 'input' ? m.input(pn, p.type) : m.output(pn, p.type);
          s.driven = true;
        }
      });
      const combPaths: CombPaths = new Map(Object.entries(opts.combPaths ?? {}).map(([o, ins]) => [o, new Set(ins)]));
      const mod: HwModule = {
        ...m.ir({ doc: opts.doc, blackbox: true, verilogParams: opts.verilogParams?.(params) ?? {} }),
        combPaths,
      };
      cache.set(key, mod);
      return mod;
    },
  };
}
