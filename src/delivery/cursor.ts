// A device's resume point covers two logs: its user's own stream (direct chats, receipts, its
// conversations and contacts) and the shared chat log (every group it belongs to). The cursor
// names a position in each, `<user>.<chat>`; clients treat it as opaque, and its size stays fixed
// however many groups the user is in.

export interface Cursor {
  /** Position in the user's own stream. */
  user: bigint;
  /** Position in the chat log. */
  chat: bigint;
}

const CURSOR = /^(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})$/;

/** Null when `raw` is not a cursor this server makes. */
export function parseCursor(raw: string): Cursor | null {
  const match = CURSOR.exec(raw);
  return match ? { user: BigInt(match[1]!), chat: BigInt(match[2]!) } : null;
}

export function formatCursor(cursor: Cursor): string {
  return `${cursor.user}.${cursor.chat}`;
}
