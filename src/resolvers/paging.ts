import { badInput } from "../errors.js";
import * as check from "./validation.js";

export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;

export function pageSize(requested: number | null | undefined, field: string): number {
  if (requested == null) return DEFAULT_PAGE;
  if (!Number.isInteger(requested) || requested < 1 || requested > MAX_PAGE) {
    throw badInput(`${field} must be from 1 to ${MAX_PAGE}`, field);
  }
  return requested;
}

/** An opaque keyset cursor: the sort key of the last row of a page. */
export function keyCursor(key: readonly (string | number | boolean)[]): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/** The key of a keyset cursor, checked by `valid`; BAD_USER_INPUT for anything else. */
export function parseKeyCursor<Key extends readonly unknown[]>(
  raw: string,
  valid: (key: unknown[]) => boolean,
  field = "after",
): Key {
  try {
    const key = JSON.parse(Buffer.from(raw, "base64url").toString());
    if (Array.isArray(key) && valid(key)) return key as unknown as Key;
  } catch {}
  throw badInput(`${field} must be a cursor from an earlier page`, field);
}

/** One page of rows, as list resolvers return it. */
export interface NodePage<Node> {
  nodes: Node[];
  hasNextPage: boolean;
}

/** The page from `first + 1` rows read: the extra one only says there is more. */
export function nodePage<Node>(rows: Node[], first: number): NodePage<Node> {
  return { nodes: rows.slice(0, first), hasNextPage: rows.length > first };
}

/** A keyset cursor over (a time, an id): lists ordered by when, then by id. */
export const timeCursor = (at: Date, id: string) => keyCursor([at.toISOString(), id]);

export function parseTimeCursor(raw: string): { at: Date; id: string } {
  const [at, id] = parseKeyCursor<[string, string]>(
    raw,
    (key) => typeof key[0] === "string" && !Number.isNaN(Date.parse(key[0])) && check.isId(String(key[1])),
  );
  return { at: new Date(at), id };
}

/**
 * The Prisma condition for the rows after a time cursor, in a list ordered by `atField` then
 * `idField`: "lt" when newest first, "gt" when oldest first.
 */
export function afterTimeCursor(
  raw: string | null | undefined,
  atField: string,
  idField: string,
  direction: "lt" | "gt",
) {
  if (raw == null) return {};
  const { at, id } = parseTimeCursor(raw);
  return { OR: [{ [atField]: { [direction]: at } }, { [atField]: at, [idField]: { [direction]: id } }] };
}
