import type { ParserOptions, PGlite } from "@electric-sql/pglite";
import type { SqlStatement } from "./sql.js";

// PGlite's query() sends every statement unnamed, as six protocol messages, and PostgreSQL parses
// and plans it each time: the direct send took 5.5 ms there, against 1.6 ms for EXECUTE of the same
// statement PREPAREd once. PGlite has no named statements in its API and EXECUTE takes no bind
// parameters, so the values go into the EXECUTE as quoted literals, which the prepared statement's
// parameter types (its casts) then read; only strings and numbers are taken, quoted as
// quote_literal quotes them.

/** Runs `prepared` statements (those with a name) as PREPARE once, then EXECUTE. */
export function preparedRunner(pglite: PGlite, parsers: ParserOptions) {
  const ready = new Map<string, Promise<unknown>>();
  return async <Row>(statement: SqlStatement & { name: string }): Promise<Row[]> => {
    let prepared = ready.get(statement.name);
    if (!prepared) {
      prepared = pglite.exec(`PREPARE ${identifier(statement.name)} AS ${statement.text}`);
      // A failed PREPARE (the database was closing) is tried again by the next call.
      prepared.catch(() => ready.delete(statement.name));
      ready.set(statement.name, prepared);
    }
    await prepared;
    const args = statement.values.map(literal).join(", ");
    const [result] = await pglite.exec(`EXECUTE ${identifier(statement.name)}(${args})`, { parsers });
    return (result?.rows ?? []) as Row[];
  };
}

function identifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "number" || typeof value === "bigint") return `'${value}'`;
  // An escape string reads the same whatever standard_conforming_strings says.
  if (typeof value === "string") return `E'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
  throw new TypeError(`A prepared statement on PGlite takes strings and numbers, not ${typeof value}`);
}
