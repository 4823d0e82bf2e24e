import type { SqlStatement } from "../db/sql.js";
import { sql } from "../db/sql.js";

// Direct chats made in bulk inside a transaction (broadcasts, imports); a single send uses ensureChat
// (chats.ts). Both agree on one chat per pair through the unique directKey.

export type Query = <Row>(statement: SqlStatement) => Promise<Row[]>;

/** The direct chat of each pair, made where missing, by directKey (the sorted ids joined by ':'). */
export async function ensureDirectChats(
  query: Query,
  pairs: readonly (readonly [string, string])[],
): Promise<Map<string, string>> {
  const keys = [...new Set(pairs.map(directKey))];
  if (keys.length === 0) return new Map();
  const rows = await query<{ id: string; directKey: string }>(sql`
    WITH made AS (
      INSERT INTO "Chat" (id, type, "directKey")
      SELECT gen_random_uuid(), 'DIRECT', key FROM unnest(${keys}::text[]) AS key ORDER BY key
      ON CONFLICT ("directKey") DO NOTHING
      RETURNING id, "directKey"
    )
    SELECT id, "directKey" FROM made
    UNION ALL
    SELECT id, "directKey" FROM "Chat" WHERE "directKey" = ANY(${keys}::text[])`);
  return new Map(rows.map((row) => [row.directKey, row.id]));
}

export function directKey(pair: readonly [string, string]): string {
  return [...pair].sort().join(":");
}
