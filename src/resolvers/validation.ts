import { AppError, badInput } from "../errors.js";

// Input rules shared by every domain. Each returns the normalized value or throws BAD_USER_INPUT
// (LIMIT_EXCEEDED for size caps) naming the argument.

const USERNAME = /^[a-z0-9_.-]{1,64}$/;

export function username(raw: string, field = "username"): string {
  const name = raw.trim().toLowerCase();
  if (!USERNAME.test(name)) {
    throw badInput(
      `${field} must be 1-64 characters of a-z, 0-9, '_', '-' and '.'; got "${raw.slice(0, 80)}"`,
      field,
    );
  }
  return name;
}

/** For look-ups: an input that cannot be a username simply matches no one. */
export function maybeUsername(raw: string): string | undefined {
  const name = raw.trim().toLowerCase();
  return USERNAME.test(name) ? name : undefined;
}

export function password(raw: string, field = "password"): string {
  const length = [...raw].length;
  if (length < 6 || length > 64) throw badInput(`${field} must be 6-64 characters long`, field);
  return raw;
}

/** Trimmed text of `min`-`max` characters (code points, so emoji count once), without control characters. */
export function text(raw: string, field: string, { min = 1, max }: { min?: number; max: number }): string {
  const value = raw.trim();
  const length = [...value].length;
  if (length < min || length > max) {
    throw badInput(
      min > 0
        ? `${field} must be ${min}-${max} characters long`
        : `${field} must be at most ${max} characters long`,
      field,
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) {
    throw badInput(`${field} must not contain control characters`, field);
  }
  return value;
}

export function httpUrl(raw: string, field: string, max = 1024): string {
  const value = text(raw, field, { max });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badInput(`${field} must be an absolute http(s) URL`, field);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw badInput(`${field} must be an absolute http(s) URL`, field);
  }
  return value;
}

/** A JSON object (not an array or scalar) whose serialized form is at most `maxBytes` bytes. */
export function jsonObject(raw: unknown, field: string, maxBytes: number): Record<string, unknown> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw badInput(`${field} must be a JSON object`, field);
  }
  const bytes = Buffer.byteLength(JSON.stringify(raw));
  if (bytes > maxBytes) {
    throw new AppError("LIMIT_EXCEEDED", `${field} is ${bytes} bytes; at most ${maxBytes} are allowed`, {
      field,
    });
  }
  return raw as Record<string, unknown>;
}

export function list<T>(items: readonly T[], field: string, max: number): readonly T[] {
  if (items.length > max) {
    throw new AppError("LIMIT_EXCEEDED", `${field} takes at most ${max} entries; got ${items.length}`, {
      field,
    });
  }
  return items;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** IDs are opaque to clients; one that is not even well-formed names nothing. */
export function isId(raw: string): boolean {
  return UUID.test(raw);
}

const MAX_DAYS = 366;

/** The UTC days of `from` through `to` (YYYY-MM-DD), for per-day statistics: at most a year. */
export function dayRange(range: { from: Date; to: Date }): { from: string; to: string } {
  const from = range.from.toISOString().slice(0, 10);
  const to = range.to.toISOString().slice(0, 10);
  if (to < from) throw badInput("to is before from", "to");
  if ((Date.parse(to) - Date.parse(from)) / 86_400_000 >= MAX_DAYS) {
    throw badInput(`At most ${MAX_DAYS} days at a time`, "to");
  }
  return { from, to };
}

/** Deeper JSON than any real attribute needs; also what JSON.stringify and the database can nest. */
export const MAX_JSON_DEPTH = 32;

/** NUL and unpaired surrogates: JavaScript strings hold them, PostgreSQL's text and jsonb cannot. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what it looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unstorable = (text: string) => UNSTORABLE.test(text);

/**
 * Refuses JSON nested deeper than MAX_JSON_DEPTH, or with text the database cannot store; walks
 * without recursion so depth cannot overflow it.
 */
export function storableJson(value: unknown, field?: string): unknown {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    if (typeof node === "string" && unstorable(node)) {
      throw badInput("JSON text must not contain NUL or unpaired surrogates", field);
    }
    if (node === null || typeof node !== "object") continue;
    if (depth > MAX_JSON_DEPTH) {
      throw badInput(`JSON may nest at most ${MAX_JSON_DEPTH} levels deep`, field);
    }
    for (const [key, child] of Object.entries(node)) {
      if (unstorable(key)) throw badInput("JSON keys must not contain NUL or unpaired surrogates", field);
      pending.push([child, depth + 1]);
    }
  }
  return value;
}

/** A search term: trimmed, undefined when blank; the database cannot compare control characters. */
export function searchTerm(raw: string | null | undefined, field = "search"): string | undefined {
  if (raw == null || raw.trim() === "") return undefined;
  return text(raw, field, { max: 200 });
}
