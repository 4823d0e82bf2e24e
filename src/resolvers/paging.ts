import { badInput } from "../errors.js";

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
