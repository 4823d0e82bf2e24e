import { createHash, randomBytes } from "node:crypto";

/** Opaque bearer tokens: 32 random bytes; only their sha256 is stored, so a database leak reveals none. */
export type TokenKind = "user" | "admin";

const PREFIX: Record<TokenKind, string> = { user: "imu_", admin: "ima_" };

export function newToken(kind: TokenKind): { token: string; hash: string } {
  const token = PREFIX[kind] + randomBytes(32).toString("base64url");
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function tokenKind(token: string): TokenKind | undefined {
  if (token.startsWith(PREFIX.user)) return "user";
  if (token.startsWith(PREFIX.admin)) return "admin";
  return undefined;
}

/** `Bearer <token>` (scheme case-insensitive) → token. */
export function parseBearer(header: string | null | undefined): string | undefined {
  const match = header?.match(/^\s*Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}
