// A statement for Database.query: `sql\`SELECT ... WHERE id = ${id}\`` numbers the values as $1, $2, ...
// A `fragment(...)` value is spliced in as SQL text instead: for fixed SQL (a policy's twin), never input.

export interface SqlStatement {
  text: string;
  values: unknown[];
  /** Set by `prepared`: the server plans it once per connection. */
  name?: string;
}

class Fragment {
  constructor(readonly text: string) {}
}

export function fragment(text: string): Fragment {
  return new Fragment(text);
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): SqlStatement {
  let text = strings[0]!;
  const bound: unknown[] = [];
  for (let i = 1; i < strings.length; i++) {
    const value = values[i - 1];
    if (value instanceof Fragment) text += value.text;
    else {
      bound.push(value);
      text += `$${bound.length}`;
    }
    text += strings[i];
  }
  return { text, values: bound };
}

/**
 * The statement, planned once per database connection instead of on every run (a hot statement's
 * planning cost more than its execution). Only for statements whose text never varies.
 */
export function prepared(name: string, statement: SqlStatement): SqlStatement {
  return { ...statement, name };
}
