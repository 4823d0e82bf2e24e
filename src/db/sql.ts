// A statement for Database.query: `sql\`SELECT ... WHERE id = ${id}\`` numbers the values as $1, $2, ...

export interface SqlStatement {
  text: string;
  values: unknown[];
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): SqlStatement {
  let text = strings[0]!;
  for (let i = 1; i < strings.length; i++) text += `$${i}${strings[i]}`;
  return { text, values };
}
