// Generated sections of hand-written documents: a generator owns the text between `<!-- BEGIN name -->` and
// `<!-- END name -->` in a Markdown file (a register table, a layout), the rest is prose. `npm run gen` rewrites
// every such section; each document's test fails when one is out of date.

/** A document lacks the markers of a section its generator owns. */
export class DocSectionError extends Error {
  constructor(
    readonly doc: string,
    readonly section: string,
  ) {
    super(`${doc}: no section ${section} (<!-- BEGIN ${section} --> ... <!-- END ${section} -->)`);
    this.name = 'DocSectionError';
  }
}

/** `text` (the contents of `doc`) with every section replaced by its generated body. */
export function replaceSections(doc: string, text: string, sections: Record<string, string>): string {
  let out = text;
  for (const [name, body] of Object.entries(sections)) {
    const re = new RegExp(`(<!-- BEGIN ${name} -->\\n)[\\s\\S]*?(<!-- END ${name} -->)`);
    if (!re.test(out)) throw new DocSectionError(doc, name);
    out = out.replace(re, (_m, a: string, b: string) => `${a}${body}\n${b}`);
  }
  return out;
}

/** A generated file: its path and its current contents. */
export interface GeneratedFile {
  path: string;
  contents: string;
}
