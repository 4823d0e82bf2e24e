import type { Context } from "../context.js";
import { onChatLogSql } from "./chat-kinds.js";
import { readableSql } from "./visibility.js";

// Kept apart from the conversations domain: the per-request loaders (context.ts) use it too.

/**
 * Where a conversation `c` (joined to its chat `ch`) stands in its user's list. A group message
 * moves the group's chat row only, never each member's conversation, so a group conversation's
 * last activity is its chat's last message when that is later, and one the member deleted is back
 * once a message came after the deletion.
 */
export const ACTIVITY_SQL = `CASE WHEN ${onChatLogSql('c."chatType"')}
  THEN greatest(c."activityAt", coalesce(ch."lastMessageAt", c."activityAt")) ELSE c."activityAt" END`;
export const LISTED_SQL = `(c."deletedAt" IS NULL OR (${onChatLogSql('c."chatType"')} AND ch."lastMessageAt" > c."deletedAt"))`;

/** A group conversation's derived state (EVENT-LOG.md invariant 9): nothing is counted on send. */
export interface GroupConversationStats {
  unreadCount: number;
  mentionCount: number;
  lastMessageId: bigint | null;
  activityAt: Date;
  deleted: boolean;
}

/**
 * The counts of the viewer's group conversations, by chat id: unread are others' messages after the
 * read position that the viewer may read and has not deleted, imported history aside; a member who blocked the group's
 * messages has none. Nothing is counted on send, so nothing can drift.
 */
export async function groupConversationStats(
  ctx: Pick<Context, "services">,
  userId: string,
  chatIds: readonly string[],
): Promise<Map<string, GroupConversationStats>> {
  if (chatIds.length === 0) return new Map();
  // In the member's own history: readable by them (targets) and not deleted by them.
  const inHistory = `${readableSql("m", 'c."userId"')}
    AND NOT EXISTS (SELECT 1 FROM "HiddenMessage" h WHERE h."userId" = c."userId" AND h."messageId" = m.id)`;
  const rows = await ctx.services.db.query<{
    chatId: string;
    unread: number;
    mentions: number;
    last: string | null;
    activityAt: Date;
    listed: boolean;
  }>({
    text: `SELECT c."chatId", u.unread::int AS unread, u.mentions::int AS mentions,
        ${ACTIVITY_SQL} AS "activityAt", ${LISTED_SQL} AS listed,
        (SELECT max(m.id)::text FROM "Message" m
          WHERE m."chatId" = c."chatId" AND m.id > c."clearedUpToId" AND ${inHistory}) AS last
      FROM "Conversation" c
      JOIN "Chat" ch ON ch.id = c."chatId"
      LEFT JOIN "GroupMember" gm ON gm."groupId" = c."chatId" AND gm."userId" = c."userId"
      CROSS JOIN LATERAL (
        SELECT count(*) AS unread, count(*) FILTER (WHERE m."mentionAll" OR c."userId" = ANY(m.mentions)) AS mentions
        FROM "Message" m
        WHERE m."chatId" = c."chatId" AND m.id > greatest(c."readUpToId", c."clearedUpToId")
          AND m."senderId" <> c."userId" AND m."recalledAt" IS NULL AND m."importedAt" IS NULL
          AND NOT coalesce(gm."messagesBlocked", false)
          AND ${inHistory}) AS u
      WHERE c."userId" = $1::uuid AND c."chatId" = ANY($2::uuid[])`,
    values: [userId, [...chatIds]],
  });
  return new Map(
    rows.map((row) => [
      row.chatId,
      {
        unreadCount: Number(row.unread),
        mentionCount: Number(row.mentions),
        lastMessageId: row.last === null ? null : BigInt(row.last),
        activityAt: row.activityAt,
        deleted: !row.listed,
      },
    ]),
  );
}

/**
 * Who has read a group message: members other than its sender, who were in the group when it was
 * sent and may read it, whose read position passed it. A thread's members read its whole history,
 * so any of them whose read position passed it.
 */
const READERS = `c."chatId" = m."chatId" AND c."userId" <> m."senderId" AND c."readUpToId" >= m.id
  AND ${readableSql("m", 'c."userId"')}
  AND (m."chatType" = 'THREAD' OR EXISTS (SELECT 1 FROM "GroupMember" gm
    WHERE gm."groupId" = m."chatId" AND gm."userId" = c."userId" AND gm."historyFromId" < m.id))`;

/** readCount of group messages, by id: zero unless they asked for receipts. */
export async function groupReadCounts(
  ctx: Pick<Context, "services">,
  messageIds: readonly bigint[],
): Promise<Map<string, number>> {
  const rows = await ctx.services.db.query<{ id: string; n: number }>({
    text: `SELECT m.id::text AS id, (SELECT count(*) FROM "Conversation" c WHERE ${READERS})::int AS n
      FROM "Message" m WHERE m.id = ANY($1::text[]::bigint[]) AND m."requestReadReceipts"`,
    values: [messageIds.map(String)],
  });
  return new Map(rows.map((row) => [row.id, Number(row.n)]));
}

/** The readers of a group message, by username, after `after` (a username). */
export async function groupReaders(
  ctx: Pick<Context, "services">,
  messageId: bigint,
  after: string | null,
  take: number,
): Promise<Record<string, unknown>[]> {
  return ctx.services.db.query({
    text: `SELECT to_jsonb(u) AS "user" FROM "Message" m
      JOIN "Conversation" c ON ${READERS}
      JOIN "User" u ON u.id = c."userId"
      WHERE m.id = $1::text::bigint AND ($2::text IS NULL OR u.username > $2::text)
      ORDER BY u.username LIMIT $3`,
    values: [String(messageId), after, take],
  });
}
