// Mutation scores from a Stryker JSON report, per file and leaving out the mutants that only change error-message
// text. Run by `npm run mutate` after Stryker; alone: `npx tsx scripts/mutation-report.ts [report.json] [--list]`
// (default build/mutation/mutation.json; --list also prints every surviving mutant that can change behaviour).
//
// A mutant is "message-only" when Stryker's StringLiteral mutator changed a string or template literal whose value
// provably ends up in nothing but the text of an error: the message of an Error (new Error(...), super(...) in an
// Error subclass) or the reason of a violation (documented in tb/pcie/errors.ts as text for people; tests match the
// code). "Provably" is a conservative data-flow walk over the TypeScript program (the language service resolves
// calls, parameters, variables and properties across files). The value may pass through:
//   - template literals, `+`, the branches of `c ? a : b`, the right side of `??` / `||`, parentheses;
//   - an argument or a parameter's default, into a parameter all of whose uses are such places
//     (fail(t, field, what) -> new TlpError(...));
//   - a const variable or an object property all of whose reads are such places ({ field, reason } problems);
//   - an object literal indexed at once ({ UR: '...', CA: '...' }[status]), an array joined into the message;
//   - the return value of a function that is not exported and whose every call is such a place.
// Uses in test/ do not count (a test that reads a message checks the message, it does not act on it).
// Anything else (a returned value of an exported function, a condition, a comparison, a field of a non-Error
// object, a name...) counts as behaviour. Other mutators (operators, conditions) always count as behaviour, even
// inside a message. Every mutant classified message-only is listed so a reader can check the classification.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';

interface Position {
  line: number;
  column: number;
}
interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: Position; end: Position };
}
interface Report {
  files: Record<string, { source: string; mutants: Mutant[] }>;
}

/** Stryker's statuses: detected, undetected, and those outside the score (they never ran against a test). */
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

// ---------------------------------------------------------------------------------------
// The data-flow walk

/** A language service over the project's tsconfig, with the report's sources standing in for the files it mutated. */
function languageService(sources: Map<string, string>): ts.LanguageService {
  const configPath = resolve('tsconfig.json');
  const cfg = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(`mutation-report: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
      },
    },
  )!;
  const host: ts.LanguageServiceHost = {
    getCompilationSettings: () => cfg.options,
    getScriptFileNames: () => cfg.fileNames,
    getScriptVersion: () => '1',
    getScriptSnapshot: (f) => {
      const text = sources.get(resolve(f)) ?? ts.sys.readFile(f);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => process.cwd(),
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: (f) => sources.has(resolve(f)) || ts.sys.fileExists(f),
    readFile: (f) => sources.get(resolve(f)) ?? ts.sys.readFile(f),
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  return ts.createLanguageService(host);
}

const TEST_DIR = resolve('test') + '/';

class MessageFlow {
  private readonly program: ts.Program;
  private readonly checker: ts.TypeChecker;
  /** Results per node (true while a node is being decided: a cycle adds no non-message use). */
  private readonly memo = new Map<ts.Node, boolean>();

  constructor(private readonly ls: ts.LanguageService) {
    this.program = ls.getProgram()!;
    this.checker = this.program.getTypeChecker();
  }

  /** The string/template literal a StringLiteral mutant replaced, if it is one. */
  literalAt(file: string, m: Mutant): ts.Expression | undefined {
    const sf = this.program.getSourceFile(resolve(file));
    if (!sf) return undefined;
    const pos = (p: Position) => ts.getPositionOfLineAndCharacter(sf, p.line - 1, p.column - 1);
    const start = pos(m.location.start);
    const end = pos(m.location.end);
    let found: ts.Expression | undefined;
    const visit = (n: ts.Node): void => {
      if (found || n.getStart(sf) > start || n.getEnd() < end) return;
      if (
        n.getStart(sf) === start &&
        n.getEnd() === end &&
        (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateExpression(n))
      ) {
        found = n;
        return;
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
    return found;
  }

  /** Whether the value of `e` reaches only error messages. */
  onlyInMessages(e: ts.Expression): boolean {
    const known = this.memo.get(e);
    if (known !== undefined) return known;
    this.memo.set(e, true);
    const r = this.decide(e);
    this.memo.set(e, r);
    if (!r && process.env.MUTATION_REPORT_DEBUG) {
      const sf = e.getSourceFile();
      const { line } = sf.getLineAndCharacterOfPosition(e.getStart(sf));
      console.log(
        `  not a message: ${sf.fileName}:${line + 1} ${ts.SyntaxKind[e.parent.kind]} <- ${e.getText(sf).slice(0, 60)}`,
      );
    }
    return r;
  }

  private decide(e: ts.Expression): boolean {
    const p = e.parent;
    if (
      ts.isParenthesizedExpression(p) ||
      ts.isAsExpression(p) ||
      ts.isNonNullExpression(p) ||
      ts.isSatisfiesExpression(p)
    )
      return this.onlyInMessages(p);
    if (ts.isTemplateSpan(p)) return this.onlyInMessages(p.parent);
    if (ts.isBinaryExpression(p)) {
      const op = p.operatorToken.kind;
      if (op === ts.SyntaxKind.PlusToken) return this.onlyInMessages(p);
      if ((op === ts.SyntaxKind.QuestionQuestionToken || op === ts.SyntaxKind.BarBarToken) && p.right === e)
        return this.onlyInMessages(p);
      return false;
    }
    if (ts.isConditionalExpression(p)) return p.condition !== e && this.onlyInMessages(p);
    if (ts.isPropertyAssignment(p) && p.initializer === e) return this.propertyOnlyInMessages(p);
    if (ts.isShorthandPropertyAssignment(p)) return false;
    if (ts.isVariableDeclaration(p) && p.initializer === e) return this.variableOnlyInMessages(p);
    if (ts.isParameter(p) && p.initializer === e) {
      const f = p.parent;
      return ts.isFunctionLike(f) && this.parameterOnlyInMessages(f, f.parameters.indexOf(p));
    }
    if (ts.isReturnStatement(p)) return this.returnOnlyInMessages(p);
    if (ts.isArrowFunction(p) && p.body === e) return this.functionResultOnlyInMessages(p);
    if ((ts.isCallExpression(p) || ts.isNewExpression(p)) && p.arguments?.includes(e))
      return this.argumentOnlyInMessages(p, p.arguments.indexOf(e));
    if (ts.isArrayLiteralExpression(p)) return this.arrayOnlyInMessages(p);
    return false;
  }

  /** `{ k: v }[i]` (the object indexed where it is written), or a property all of whose reads reach messages. */
  private propertyOnlyInMessages(p: ts.PropertyAssignment): boolean {
    const obj = p.parent;
    if (ts.isElementAccessExpression(obj.parent) && obj.parent.expression === obj)
      return this.onlyInMessages(obj.parent);
    const refs = this.references(p.name);
    if (refs === undefined) return false;
    return refs.every((r) => {
      if (r === p.name) return true;
      const access = r.parent;
      // A property assignment elsewhere writes the property (another value); reads must reach messages.
      if (ts.isPropertyAssignment(access) && access.name === r) return true;
      if (ts.isPropertySignature(access)) return true;
      if (ts.isPropertyAccessExpression(access) && access.name === r) return this.onlyInMessages(access);
      return false;
    });
  }

  private variableOnlyInMessages(d: ts.VariableDeclaration): boolean {
    if (!ts.isIdentifier(d.name)) return false;
    if (!(d.parent.flags & ts.NodeFlags.Const)) return false;
    return this.identifierReadsOnlyInMessages(d.name);
  }

  /** Every read of the variable or parameter named by `name` reaches messages. */
  private identifierReadsOnlyInMessages(name: ts.Identifier): boolean {
    const refs = this.references(name);
    if (refs === undefined) return false;
    return refs.every((r) => r === name || (ts.isIdentifier(r) && this.readOnlyInMessages(r)));
  }

  private readOnlyInMessages(r: ts.Identifier): boolean {
    const p = r.parent;
    // parts.push(x) adds to a list whose uses are checked through the list itself.
    if (ts.isPropertyAccessExpression(p) && p.expression === r) {
      const call = p.parent;
      if (p.name.text === 'length') return true;
      if (ts.isCallExpression(call) && call.expression === p) {
        if (p.name.text === 'push') return ts.isExpressionStatement(call.parent);
        if (p.name.text === 'join') return this.onlyInMessages(call);
      }
      return false;
    }
    if (ts.isShorthandPropertyAssignment(p)) return false;
    return this.onlyInMessages(r);
  }

  /** An array of strings whose only use is to be joined into a message (directly or through a const). */
  private arrayOnlyInMessages(a: ts.ArrayLiteralExpression): boolean {
    const p = a.parent;
    if (ts.isPropertyAccessExpression(p) && p.expression === a && p.name.text === 'join') {
      return ts.isCallExpression(p.parent) && this.onlyInMessages(p.parent);
    }
    if (ts.isVariableDeclaration(p) && p.initializer === a) return this.variableOnlyInMessages(p);
    return false;
  }

  private argumentOnlyInMessages(call: ts.CallExpression | ts.NewExpression, index: number): boolean {
    const callee = call.expression;
    // The separator of a join: where the joined string goes.
    if (
      ts.isPropertyAccessExpression(callee) &&
      callee.name.text === 'join' &&
      index === 0 &&
      ts.isCallExpression(call)
    )
      return this.onlyInMessages(call);
    // x.push(v): v joins a list; only a local list whose uses all reach messages.
    if (ts.isPropertyAccessExpression(callee) && callee.name.text === 'push' && ts.isIdentifier(callee.expression)) {
      const decl = this.declarationOf(callee.expression);
      return (
        decl !== undefined &&
        ts.isVariableDeclaration(decl) &&
        ts.isIdentifier(decl.name) &&
        this.identifierReadsOnlyInMessages(decl.name)
      );
    }
    // super(message) in an Error subclass, new Error(message).
    if (callee.kind === ts.SyntaxKind.SuperKeyword) return index === 0 && this.extendsError(call);
    if (ts.isNewExpression(call) && ts.isIdentifier(callee) && this.isBuiltinError(callee)) return index === 0;
    // Any other call: the parameter it binds to, in every implementation.
    const impls = this.implementations(call);
    if (impls.length === 0) return false;
    return impls.every((f) => this.parameterOnlyInMessages(f, index));
  }

  private parameterOnlyInMessages(f: ts.SignatureDeclaration, index: number): boolean {
    const param = f.parameters[index];
    if (!param || param.dotDotDotToken || !ts.isIdentifier(param.name)) return false;
    // A parameter property is also a public field: allowed only for an Error's message fields (errors.ts: "messages
    // are for people"), i.e. in the constructor of an Error subclass.
    if (ts.getModifiers(param)?.length) {
      if (!ts.isConstructorDeclaration(f) || !this.classExtendsError(f.parent)) return false;
    }
    return this.identifierReadsOnlyInMessages(param.name);
  }

  private returnOnlyInMessages(r: ts.ReturnStatement): boolean {
    const f = ts.findAncestor(r, ts.isFunctionLike);
    return f !== undefined && this.functionResultOnlyInMessages(f);
  }

  /** A function that is not part of the public API, every call of which reaches messages. */
  private functionResultOnlyInMessages(f: ts.SignatureDeclaration): boolean {
    let name: ts.Node | undefined;
    if (ts.isFunctionDeclaration(f)) {
      if (ts.getModifiers(f)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) return false;
      name = f.name;
    } else if (ts.isMethodDeclaration(f)) {
      if (!ts.getModifiers(f)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) return false;
      name = f.name;
    } else if (ts.isArrowFunction(f) && ts.isVariableDeclaration(f.parent) && f.parent.initializer === f) {
      const stmt = f.parent.parent.parent;
      if (ts.getModifiers(stmt as ts.VariableStatement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword))
        return false;
      name = f.parent.name;
    }
    if (!name) return false;
    const refs = this.references(name);
    if (refs === undefined) return false;
    return refs.every((r) => {
      if (r === name) return true;
      const call = ts.isPropertyAccessExpression(r.parent) && r.parent.name === r ? r.parent.parent : r.parent;
      const callee = ts.isPropertyAccessExpression(r.parent) ? r.parent : r;
      return ts.isCallExpression(call) && call.expression === callee && this.onlyInMessages(call);
    });
  }

  // ---- program queries ----

  private references(name: ts.Node): ts.Node[] | undefined {
    const sf = name.getSourceFile();
    const found = this.ls.findReferences(sf.fileName, name.getStart(sf));
    if (!found) return undefined;
    const out: ts.Node[] = [];
    for (const sym of found) {
      for (const ref of sym.references) {
        // Tests observe values (a test that reads a message checks the message); only the product's uses count.
        if (ref.fileName.startsWith(TEST_DIR)) continue;
        const rsf = this.program.getSourceFile(ref.fileName);
        const node = rsf && findNodeAt(rsf, ref.textSpan.start, ref.textSpan.start + ref.textSpan.length);
        if (!node) return undefined;
        out.push(node);
      }
    }
    return out;
  }

  private declarationOf(id: ts.Identifier): ts.Declaration | undefined {
    return this.checker.getSymbolAtLocation(id)?.valueDeclaration;
  }

  /** The function bodies a call can run: its declaration, or the implementations of an interface method. */
  private implementations(call: ts.CallExpression | ts.NewExpression): ts.SignatureDeclaration[] {
    const decl = this.checker.getResolvedSignature(call)?.declaration;
    if (!decl || ts.isJSDocSignature(decl)) return [];
    if ('body' in decl && decl.body) return [decl];
    if (!ts.isMethodSignature(decl)) return [];
    const sf = decl.getSourceFile();
    const impls = this.ls.getImplementationAtPosition(sf.fileName, decl.name.getStart(sf)) ?? [];
    const out: ts.SignatureDeclaration[] = [];
    for (const i of impls) {
      const isf = this.program.getSourceFile(i.fileName);
      const n = isf && findNodeAt(isf, i.textSpan.start, i.textSpan.start + i.textSpan.length);
      const f = n && ts.findAncestor(n, ts.isFunctionLike);
      if (!f || !('body' in f) || !f.body) return [];
      out.push(f);
    }
    return out;
  }

  private isBuiltinError(id: ts.Identifier): boolean {
    const d = this.declarationOf(id);
    return (
      ['Error', 'TypeError', 'RangeError'].includes(id.text) &&
      d !== undefined &&
      d.getSourceFile().hasNoDefaultLib === true
    );
  }

  private extendsError(superCall: ts.CallExpression | ts.NewExpression): boolean {
    const ctor = ts.findAncestor(superCall, ts.isConstructorDeclaration);
    return ctor !== undefined && this.classExtendsError(ctor.parent);
  }

  private classExtendsError(c: ts.ClassLikeDeclaration): boolean {
    const base = this.checker.getTypeAtLocation(c).getBaseTypes?.() ?? [];
    return base.some((b) => b.getSymbol()?.getName() === 'Error' || this.symbolExtendsError(b.getSymbol()));
  }

  private symbolExtendsError(s: ts.Symbol | undefined): boolean {
    const d = s?.valueDeclaration;
    return d !== undefined && ts.isClassLike(d) && this.classExtendsError(d);
  }
}

function findNodeAt(sf: ts.SourceFile, start: number, end: number): ts.Node | undefined {
  let best: ts.Node | undefined;
  const visit = (n: ts.Node): void => {
    if (n.getStart(sf) > start || n.getEnd() < end) return;
    if (n.getStart(sf) === start && n.getEnd() === end) best = n;
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return best;
}

// ---------------------------------------------------------------------------------------
// Scores

interface Tally {
  detected: number;
  undetected: number;
  /** Message-only mutants, detected or not: left out of the second score. */
  msgDetected: number;
  msgUndetected: number;
}

const pct = (num: number, den: number) => (den === 0 ? '   n/a' : `${((100 * num) / den).toFixed(1).padStart(5)}%`);

function where(file: string, m: Mutant): string {
  return `${file}:${m.location.start.line}:${m.location.start.column}`;
}

function snippet(source: string[], m: Mutant): string {
  const s = m.location.start;
  const e = m.location.end;
  const text =
    s.line === e.line
      ? source[s.line - 1].slice(s.column - 1, e.column - 1)
      : source[s.line - 1].slice(s.column - 1) + ' ...';
  const short = (x: string) => (x.length > 70 ? x.slice(0, 67) + '...' : x);
  return `${short(text.trim())} -> ${short(m.replacement ?? m.mutatorName)}`;
}

export function summarize(reportPath: string, opts: { list?: boolean } = {}): void {
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as Report;
  const files = Object.keys(report.files).sort();
  const sources = new Map(files.map((f) => [resolve(f), report.files[f].source]));
  const flow = new MessageFlow(languageService(sources));

  const rows: string[] = [];
  const messageOnly: string[] = [];
  const survivors: string[] = [];
  const total: Tally = { detected: 0, undetected: 0, msgDetected: 0, msgUndetected: 0 };
  for (const file of files) {
    const { mutants, source } = report.files[file];
    const lines = source.split('\n');
    const t: Tally = { detected: 0, undetected: 0, msgDetected: 0, msgUndetected: 0 };
    for (const m of mutants.slice().sort((a, b) => a.location.start.line - b.location.start.line)) {
      const detected = DETECTED.has(m.status);
      if (!detected && !UNDETECTED.has(m.status)) continue;
      const lit = m.mutatorName === 'StringLiteral' ? flow.literalAt(file, m) : undefined;
      const msg = lit !== undefined && flow.onlyInMessages(lit);
      if (detected) t.detected++;
      else t.undetected++;
      if (msg && detected) t.msgDetected++;
      if (msg && !detected) {
        t.msgUndetected++;
        messageOnly.push(`  ${where(file, m)}  ${snippet(lines, m)}`);
      }
      if (!msg && !detected) survivors.push(`  ${where(file, m)}  ${m.mutatorName}  ${snippet(lines, m)}`);
    }
    rows.push(row(file, t));
    for (const k of Object.keys(total) as (keyof Tally)[]) total[k] += t[k];
  }
  console.log(`${'file'.padEnd(28)} mutants  killed  survived   score   without message-only`);
  for (const r of rows) console.log(r);
  if (files.length > 1) console.log(row('total', total));
  console.log(
    `\nmessage-only: ${total.msgDetected + total.msgUndetected} mutants (${total.msgDetected} killed, ` +
      `${total.msgUndetected} survived); the survivors, for checking:`,
  );
  for (const l of messageOnly) console.log(l);
  if (opts.list) {
    console.log(`\nsurvivors that can change behaviour (${survivors.length}):`);
    for (const l of survivors) console.log(l);
  }
}

function row(name: string, t: Tally): string {
  const all = t.detected + t.undetected;
  const score = pct(t.detected, all);
  const without = pct(t.detected - t.msgDetected, all - t.msgDetected - t.msgUndetected);
  return (
    `${name.padEnd(28)} ${String(all).padStart(7)} ${String(t.detected).padStart(7)} ${String(t.undetected).padStart(9)}` +
    `  ${score}   ${without}`
  );
}

if (process.argv[1] && resolve(process.argv[1]) === resolve('scripts/mutation-report.ts')) {
  const args = process.argv.slice(2);
  const list = args.includes('--list');
  const path = args.find((a) => !a.startsWith('--')) ?? 'build/mutation/mutation.json';
  summarize(path, { list });
}
