// Logic depth of a synthesized Xilinx netlist (Yosys `write_json` after `synth_xilinx -flatten`), the way
// `ltp -noff` measures it on the netlist read back with the cell library: only combinational cells are
// graph nodes (LUT1..6, MUXF7/8/9, INV, and CARRY4/8 when counted), so flip-flops, LUTRAM, block RAM, DSPs
// and ports start and end paths; a path's length is its number of cells. Besides the two lengths this gives
// the longest path itself, with the public signal names around each cell, and every flip-flop, memory or
// output port whose input arrives deeper than a budget, so one synthesis run shows all the paths to fix.

/** One module of Yosys's JSON netlist (only what is read here). */
export interface JsonModule {
  attributes?: Record<string, string>;
  ports: Record<string, { direction: string; bits: (number | string)[] }>;
  cells: Record<
    string,
    {
      hide_name: number;
      type: string;
      port_directions?: Record<string, string>;
      connections: Record<string, (number | string)[]>;
    }
  >;
  netnames: Record<string, { hide_name: number; bits: (number | string)[] }>;
}

/** A cell of the longest path: its type and the public names of its output and of its other inputs. */
export interface PathStep {
  type: string;
  /** Public names of the output bit on the path (empty when the net has only a generated name). */
  out: string;
  /** Public names of the cell's inputs other than the one on the path, grouped by signal. */
  inputs: string;
}

/** An end point (flip-flop input, memory input, output port) reached deeper than the budget. */
export interface Endpoint {
  /** The register (flip-flop output name, without bit index), memory cell or port the path ends in. */
  end: string;
  /** LUT levels of its deepest input. */
  levels: number;
  /** Where that deepest path starts (register, memory or port name). */
  start: string;
}

export interface DepthReport {
  /** Longest path in cells (LUT, MUXF, INV, CARRY). */
  pathCells: number;
  /** Longest path in LUT/MUXF/INV cells (carry cells not counted: they break the path, as in `ltp`). */
  lutLevels: number;
  /** The LUT-level path: where it starts, its cells, where it ends. */
  path: { start: string; steps: PathStep[]; end: string };
  /** End points deeper than `over` levels, deepest first, one line per register / memory / port. */
  endpoints: Endpoint[];
}

const LUT_LEVEL_CELL = /^(LUT[1-6]|MUXF[789]|INV)$/;
const CARRY_CELL = /^CARRY[48]$/;

/** Port directions of the combinational cells, for netlists written without them. */
function directionOf(type: string, port: string): 'input' | 'output' {
  if (CARRY_CELL.test(type)) return port === 'O' || port === 'CO' ? 'output' : 'input';
  return port === 'O' ? 'output' : 'input';
}

type Bit = number;

/** Public names of single bits: `name` or `name[i]`; Yosys's escaped names lose the backslash in JSON. */
function bitNamer(mod: JsonModule): (b: Bit) => string[] {
  const names = new Map<Bit, string[]>();
  for (const [name, n] of Object.entries(mod.netnames)) {
    if (n.hide_name) continue;
    n.bits.forEach((b, i) => {
      if (typeof b !== 'number') return;
      const list = names.get(b) ?? [];
      list.push(n.bits.length === 1 ? name : `${name}[${i}]`);
      names.set(b, list);
    });
  }
  // Designer-written names first: the DSL's temporaries (`_mux_3`) and Yosys's (`$...`) say less.
  const rank = (s: string) => (/(^|\.)_/.test(s) ? 1 : 0);
  for (const list of names.values()) list.sort((a, b) => rank(a) - rank(b) || a.length - b.length || (a < b ? -1 : 1));
  return (b) => names.get(b) ?? [];
}

/** `a[1], a[3], b` -> `a[1,3], b`: names grouped by signal, at most `max` signals. */
function groupNames(names: string[], max = 4): string {
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const m = /^(.*)\[(\d+)\]$/.exec(n);
    const base = m ? m[1] : n;
    const list = groups.get(base) ?? [];
    if (m) list.push(m[2]);
    groups.set(base, list);
  }
  const parts = [...groups].map(([base, idx]) =>
    idx.length ? `${base}[${[...new Set(idx)].sort((a, b) => Number(a) - Number(b)).join(',')}]` : base,
  );
  return parts.length > max ? `${parts.slice(0, max).join(', ')}, +${parts.length - max} more` : parts.join(', ');
}

/** The depth analysis of one module: lengths, the longest LUT-level path, end points deeper than `over`. */
export function netlistDepth(mod: JsonModule, over = Infinity): DepthReport {
  const cellsLevels = longest(mod, (t) => LUT_LEVEL_CELL.test(t));
  const cellsAll = longest(mod, (t) => LUT_LEVEL_CELL.test(t) || CARRY_CELL.test(t));
  const names = bitNamer(mod);
  const nameOf = (b: Bit) => names(b)[0] ?? '';

  // What drives each bit (any cell, or an input port): to name where a path starts.
  const driver = new Map<Bit, { cell: string; type: string; port: string } | { port: string }>();
  for (const [p, d] of Object.entries(mod.ports)) {
    if (d.direction !== 'input') continue;
    for (const b of d.bits) if (typeof b === 'number') driver.set(b, { port: p });
  }
  for (const [cn, c] of Object.entries(mod.cells)) {
    for (const [port, bits] of Object.entries(c.connections)) {
      const dir = c.port_directions?.[port] ?? directionOf(c.type, port);
      if (dir !== 'output') continue;
      for (const b of bits) if (typeof b === 'number') driver.set(b, { cell: cn, type: c.type, port });
    }
  }
  const strip = (s: string) => s.replace(/\[\d+\]$/, '');
  // Where a path starts: the flip-flop, memory or port driving its first cell. A path that starts at a
  // carry chain's output (carries are not LUT levels) is named by where the chain's own longest path starts.
  const sourceOf = (b: Bit): { bit: Bit; viaCarry: boolean } => {
    const d = driver.get(b);
    if (!d || !('cell' in d) || !CARRY_CELL.test(d.type)) return { bit: b, viaCarry: false };
    let first = d.cell;
    while (cellsAll.pred.get(first)) first = cellsAll.pred.get(first)!;
    const enter = cellsAll.pathIn.get(first);
    return enter === undefined || enter === b ? { bit: b, viaCarry: true } : { ...sourceOf(enter), viaCarry: true };
  };
  const describeSource = (b: Bit, brief = false): string => {
    const src = sourceOf(b);
    const d = driver.get(src.bit);
    const all = names(src.bit);
    const n = all[0] ?? `net ${src.bit}`;
    const via = src.viaCarry ? ', through a carry chain' : '';
    if (brief) return `${strip(n)}${via ? ' (carry)' : ''}`;
    const kind = !d ? 'undriven' : 'cell' in d ? d.type : 'input port';
    const aka = all.length > 1 ? `; also ${all.slice(1, 3).join(', ')}` : '';
    return `${n} (${kind}${via}${aka})`;
  };

  const { depth, pred, pathIn, order } = cellsLevels;
  // The longest path: its last cell, back to its first.
  let last: string | undefined;
  for (const c of order) if (!last || depth.get(c)! > depth.get(last)!) last = c;
  const chain: string[] = [];
  for (let c = last; c; c = pred.get(c)) chain.unshift(c);
  const outBitOf = (c: string): Bit | undefined => {
    const cell = mod.cells[c];
    for (const [port, bits] of Object.entries(cell.connections)) {
      const dir = cell.port_directions?.[port] ?? directionOf(cell.type, port);
      if (dir === 'output') return bits.find((b): b is number => typeof b === 'number');
    }
    return undefined;
  };
  const steps: PathStep[] = chain.map((c, i) => {
    const cell = mod.cells[c];
    const onPath = i > 0 ? outBitOf(chain[i - 1]) : pathIn.get(c);
    const ins: string[] = [];
    for (const [port, bits] of Object.entries(cell.connections)) {
      const dir = cell.port_directions?.[port] ?? directionOf(cell.type, port);
      if (dir !== 'input') continue;
      for (const b of bits) if (typeof b === 'number' && b !== onPath && nameOf(b)) ins.push(nameOf(b));
    }
    const o = outBitOf(c);
    return { type: cell.type, out: o === undefined ? '' : names(o).slice(0, 2).join(' = '), inputs: groupNames(ins) };
  });
  const startBit = chain.length ? pathIn.get(chain[0]) : undefined;

  // End points: every input of a non-path cell (flip-flop, memory, ...) and every output port bit.
  const sinks = new Map<string, { levels: number; from: string }>();
  const note = (end: string, b: Bit) => {
    const d = driver.get(b);
    if (!d || !('cell' in d) || !depth.has(d.cell)) return;
    const lv = depth.get(d.cell)!;
    const prev = sinks.get(end);
    if (prev && prev.levels >= lv) return;
    let first = d.cell;
    while (pred.get(first)) first = pred.get(first)!;
    const sb = pathIn.get(first);
    sinks.set(end, { levels: lv, from: sb === undefined ? '?' : describeSource(sb, true) });
  };
  const endName = (cn: string): string => {
    const c = mod.cells[cn];
    // A flip-flop is named by the register it holds, a carry chain by what it computes, anything else by
    // its cell name.
    const out = /^FD[RSCP]E$/.test(c.type) ? c.connections.Q : CARRY_CELL.test(c.type) ? c.connections.O : undefined;
    const named = out?.find((b): b is number => typeof b === 'number' && nameOf(b) !== '');
    if (named !== undefined) return strip(nameOf(named));
    return c.hide_name ? `${c.type} ${cn}` : cn;
  };
  const endpoints: Endpoint[] = [];
  if (Number.isFinite(over)) {
    for (const [cn, c] of Object.entries(mod.cells)) {
      if (depth.has(cn)) continue;
      for (const [port, bits] of Object.entries(c.connections)) {
        const dir = c.port_directions?.[port] ?? 'input';
        if (dir !== 'input') continue;
        for (const b of bits) if (typeof b === 'number') note(endName(cn), b);
      }
    }
    for (const [p, d] of Object.entries(mod.ports)) {
      if (d.direction !== 'output') continue;
      for (const b of d.bits) if (typeof b === 'number') note(`${p} (output port)`, b);
    }
    for (const [end, s] of sinks) if (s.levels > over) endpoints.push({ end, levels: s.levels, start: s.from });
    endpoints.sort((a, b) => b.levels - a.levels || (a.end < b.end ? -1 : 1));
  }

  let end = '';
  if (last) {
    const o = outBitOf(last);
    const users: string[] = [];
    for (const [cn, c] of Object.entries(mod.cells)) {
      if (depth.has(cn)) continue;
      for (const [port, bits] of Object.entries(c.connections)) {
        if ((c.port_directions?.[port] ?? 'input') === 'input' && bits.includes(o!))
          users.push(`${endName(cn)} (${c.type} ${port})`);
      }
    }
    for (const [p, d] of Object.entries(mod.ports))
      if (d.direction === 'output' && d.bits.includes(o!)) users.push(`${p} (output port)`);
    end = [...new Set(users)].slice(0, 3).join(', ');
  }
  return {
    pathCells: cellsAll.max,
    lutLevels: cellsLevels.max,
    path: { start: startBit === undefined ? '' : describeSource(startBit), steps, end },
    endpoints,
  };
}

/**
 * Longest path through the cells `isNode` selects: for each, its depth (cells on the longest path ending in
 * it), its predecessor on that path and, for a path's first cell, the input bit the path enters by.
 */
function longest(mod: JsonModule, isNode: (type: string) => boolean) {
  const nodes = Object.entries(mod.cells).filter(([, c]) => isNode(c.type));
  const driverOf = new Map<Bit, string>();
  for (const [cn, c] of nodes) {
    for (const [port, bits] of Object.entries(c.connections)) {
      if ((c.port_directions?.[port] ?? directionOf(c.type, port)) !== 'output') continue;
      for (const b of bits) if (typeof b === 'number') driverOf.set(b, cn);
    }
  }
  const inputsOf = new Map<string, Bit[]>();
  for (const [cn, c] of nodes) {
    const ins: Bit[] = [];
    for (const [port, bits] of Object.entries(c.connections)) {
      if ((c.port_directions?.[port] ?? directionOf(c.type, port)) !== 'input') continue;
      for (const b of bits) if (typeof b === 'number') ins.push(b);
    }
    inputsOf.set(cn, ins);
  }
  const depth = new Map<string, number>();
  const pred = new Map<string, string>();
  const pathIn = new Map<string, Bit>();
  const order: string[] = [];
  // Iterative depth-first evaluation (paths can be long; a loop is a netlist error).
  const state = new Map<string, 1 | 2>();
  for (const [root] of nodes) {
    if (state.get(root) === 2) continue;
    const stack: string[] = [root];
    while (stack.length) {
      const c = stack[stack.length - 1];
      if (state.get(c) === 2) {
        stack.pop();
        continue;
      }
      const ins = inputsOf.get(c)!;
      if (state.get(c) !== 1) {
        state.set(c, 1);
        for (const b of ins) {
          const d = driverOf.get(b);
          if (d === undefined || d === c) continue;
          if (state.get(d) === 1) throw new Error(`combinational loop through cell ${d} in the netlist`);
          if (state.get(d) !== 2) stack.push(d);
        }
        continue;
      }
      let best = 0;
      let bestPred: string | undefined;
      let enter: Bit | undefined;
      for (const b of ins) {
        const d = driverOf.get(b);
        if (d === undefined || d === c) {
          enter ??= b;
          continue;
        }
        if (depth.get(d)! > best) {
          best = depth.get(d)!;
          bestPred = d;
        }
      }
      depth.set(c, best + 1);
      if (bestPred) pred.set(c, bestPred);
      else if (enter !== undefined) pathIn.set(c, enter);
      state.set(c, 2);
      order.push(c);
      stack.pop();
    }
  }
  let max = 0;
  for (const d of depth.values()) max = Math.max(max, d);
  return { depth, pred, pathIn, order, max };
}
