import type { Context } from "../context.js";
import { conversationFromRow } from "../db/rows.js";
import { fragment, sql } from "../db/sql.js";
import { type Tx, withEvents } from "../delivery/user-log.js";
import { AppError, badInput } from "../errors.js";
import type { ChatType, Conversation } from "../generated/prisma/client.js";
import { requireUser } from "./access.js";
import { onChatLog } from "./chat-kinds.js";
import { type ChatTargetInput, requireConversation } from "./chats.js";
import { ACTIVITY_SQL, groupConversationStats, LISTED_SQL } from "./conversation-stats.js";
import { pageSize } from "./paging.js";
import * as check from "./validation.js";

// The caller's conversation list and the per-user state of each conversation. Every change here
// is an event in the caller's stream, so all their devices follow along.

export type ConversationChange = "READ" | "PINNED" | "MARKED" | "MUTED" | "DELETED" | "HISTORY_CLEARED";

const MAX_PINNED = 50;
const MAX_MARKS = 20;

/**
 * Recomputes what depends on which messages the user can still see: the last message, and the
 * unread count (messages from others after the read mark, neither recalled, deleted nor imported).
 */
export async function refreshConversation(tx: Tx, userId: string, chatId: string): Promise<void> {
  await tx.$executeRaw`
    UPDATE "Conversation" AS c SET
      "lastMessageId" = (
        SELECT max(m.id) FROM "Message" m
        WHERE m."chatId" = c."chatId" AND m.id > c."clearedUpToId"
          AND NOT EXISTS (SELECT 1 FROM "HiddenMessage" h WHERE h."userId" = c."userId" AND h."messageId" = m.id)),
      "unreadCount" = (
        SELECT count(*) FROM "Message" m
        WHERE m."chatId" = c."chatId" AND m.id > greatest(c."clearedUpToId", c."readUpToId")
          AND m."senderId" <> c."userId" AND m."recalledAt" IS NULL AND m."importedAt" IS NULL
          AND NOT EXISTS (SELECT 1 FROM "HiddenMessage" h WHERE h."userId" = c."userId" AND h."messageId" = m.id)),
      "updatedAt" = now()
    WHERE c."userId" = ${userId}::uuid AND c."chatId" = ${chatId}::uuid`;
}

export interface ConversationFilter {
  pinned?: boolean | null;
  mark?: string | null;
  chatType?: ChatType | null;
}

export interface ConversationPage {
  conversations: Conversation[];
  hasNextPage: boolean;
}

type SortKey = [pinned: boolean, activityAt: string, chatId: string];

export function conversationCursor(conversation: Conversation): string {
  const key: SortKey = [conversation.pinned, conversation.activityAt.toISOString(), conversation.chatId];
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

function parseCursor(raw: string): SortKey {
  try {
    const key = JSON.parse(Buffer.from(raw, "base64url").toString()) as SortKey;
    if (typeof key[0] === "boolean" && !Number.isNaN(Date.parse(key[1])) && check.isId(key[2])) return key;
  } catch {}
  throw badInput("after must be a cursor from an earlier page", "after");
}

/** Pinned first, then by last activity; deleted conversations are left out until their next message. */
export async function listConversations(
  ctx: Context,
  args: { first?: number | null; after?: string | null; filter?: ConversationFilter | null },
): Promise<ConversationPage> {
  const { user } = requireUser(ctx);
  const first = pageSize(args.first, "first");
  const { filter } = args;
  if (filter?.mark != null) check.text(filter.mark, "filter.mark", { max: 64 });
  const [afterPinned, afterAt, afterId] = args.after == null ? [null, null, null] : parseCursor(args.after);
  // Ordered in SQL: a group's last activity is derived (ACTIVITY_SQL), not stored on the row.
  const rows = await ctx.services.db.query<Record<string, unknown>>(sql`
    SELECT c."userId", c."chatId", c."chatType", c."peerId", c."unreadCount", c."readUpToId", c."lastMessageId",
      ${fragment(ACTIVITY_SQL)} AS "activityAt", c.pinned, c."pinnedAt", c.marks, c.muted, c."clearedUpToId",
      NULL AS "deletedAt", c."updatedAt"
    FROM "Conversation" c JOIN "Chat" ch ON ch.id = c."chatId"
    WHERE c."userId" = ${user.id}::uuid AND ${fragment(LISTED_SQL)}
      AND (${filter?.pinned ?? null}::bool IS NULL OR c.pinned = ${filter?.pinned ?? null}::bool)
      AND (${filter?.mark ?? null}::text IS NULL OR ${filter?.mark ?? null}::text = ANY(c.marks))
      AND (${filter?.chatType ?? null}::text IS NULL OR c."chatType"::text = ${filter?.chatType ?? null}::text)
      AND (${afterPinned}::bool IS NULL OR (${afterPinned}::bool AND NOT c.pinned) OR (c.pinned = ${afterPinned}::bool
        AND (${fragment(ACTIVITY_SQL)} < (${afterAt}::timestamptz AT TIME ZONE 'UTC')
          OR (${fragment(ACTIVITY_SQL)} = (${afterAt}::timestamptz AT TIME ZONE 'UTC')
            AND c."chatId" < ${afterId}::uuid))))
    ORDER BY c.pinned DESC, ${fragment(ACTIVITY_SQL)} DESC, c."chatId" DESC
    LIMIT ${first + 1}`);
  // Listed rows carry their derived activity and are not deleted (LISTED_SQL).
  const listed = rows.map(conversationFromRow);
  for (const row of listed) ctx.loaders.conversations.prime(row.chatId, row);
  return { conversations: listed.slice(0, first), hasNextPage: listed.length > first };
}

export async function totalUnread(ctx: Context): Promise<number> {
  const { user } = requireUser(ctx);
  const rows = await ctx.prisma.conversation.findMany({
    where: { userId: user.id },
    select: { chatId: true, chatType: true, unreadCount: true, deletedAt: true },
  });
  let total = 0;
  for (const row of rows) if (row.chatType === "DIRECT" && !row.deletedAt) total += row.unreadCount;
  // A deleted group (or thread) conversation with messages since counts again (LISTED_SQL).
  const groups = rows.filter((row) => onChatLog(row.chatType)).map((row) => row.chatId);
  for (const entry of (await groupConversationStats(ctx, user.id, groups)).values()) {
    if (!entry.deleted) total += entry.unreadCount;
  }
  return total;
}

/** Applies a change to the caller's conversation and tells all their devices. */
async function change(
  ctx: Context,
  target: ChatTargetInput,
  kind: ConversationChange,
  apply: (tx: Tx, conversation: Conversation) => Promise<void>,
): Promise<Conversation> {
  const { user } = requireUser(ctx);
  const { conversation } = await requireConversation(ctx, target);
  const key = { userId_chatId: { userId: user.id, chatId: conversation.chatId } };
  return withEvents(ctx, [user.id], async (tx, emit) => {
    // Re-read under the stream lock: the caller's other devices change the same row.
    const current = await tx.conversation.findUniqueOrThrow({ where: key });
    await apply(tx, current);
    emit({ userId: user.id, kind: "CONVERSATION", chatId: conversation.chatId, data: { kind } });
    return tx.conversation.findUniqueOrThrow({ where: key });
  });
}

export function pinConversation(ctx: Context, target: ChatTargetInput, pinned: boolean) {
  return change(ctx, target, "PINNED", async (tx, conversation) => {
    if (conversation.pinned === pinned) return;
    if (pinned) {
      const count = await tx.conversation.count({ where: { userId: conversation.userId, pinned: true } });
      if (count >= MAX_PINNED) {
        throw new AppError("LIMIT_EXCEEDED", `At most ${MAX_PINNED} conversations can be pinned`);
      }
    }
    await tx.conversation.update({
      where: { userId_chatId: { userId: conversation.userId, chatId: conversation.chatId } },
      data: { pinned, pinnedAt: pinned ? new Date() : null },
    });
  });
}

export function markConversation(
  ctx: Context,
  target: ChatTargetInput,
  add: readonly string[] | null | undefined,
  remove: readonly string[] | null | undefined,
) {
  const adding = (add ?? []).map((mark) => check.text(mark, "add", { max: 64 }));
  const removing = new Set((remove ?? []).map((mark) => mark.trim()));
  return change(ctx, target, "MARKED", async (tx, conversation) => {
    const marks = [...new Set([...conversation.marks, ...adding])].filter((mark) => !removing.has(mark));
    if (marks.length > MAX_MARKS) {
      throw new AppError("LIMIT_EXCEEDED", `A conversation has at most ${MAX_MARKS} marks`, { field: "add" });
    }
    await tx.conversation.update({
      where: { userId_chatId: { userId: conversation.userId, chatId: conversation.chatId } },
      data: { marks },
    });
  });
}

export function muteConversation(ctx: Context, target: ChatTargetInput, muted: boolean) {
  return change(ctx, target, "MUTED", async (tx, conversation) => {
    await tx.conversation.update({
      where: { userId_chatId: { userId: conversation.userId, chatId: conversation.chatId } },
      data: { muted },
    });
  });
}

/** Hides the conversation from the list until its next message; with deleteHistory, clears it too. */
export async function deleteConversation(
  ctx: Context,
  target: ChatTargetInput,
  deleteHistory: boolean,
): Promise<boolean> {
  await change(ctx, target, "DELETED", async (tx, conversation) => {
    const key = { userId_chatId: { userId: conversation.userId, chatId: conversation.chatId } };
    const newest = await tx.message.findFirst({
      where: { chatId: conversation.chatId },
      orderBy: { id: "desc" },
      select: { id: true },
    });
    const lastId = newest?.id ?? 0n;
    await tx.conversation.update({
      where: key,
      data: {
        deletedAt: new Date(),
        pinned: false,
        pinnedAt: null,
        // Deleting a conversation reads it: it would come back with stale unread messages otherwise.
        readUpToId: lastId > conversation.readUpToId ? lastId : conversation.readUpToId,
        ...(deleteHistory && lastId > conversation.clearedUpToId ? { clearedUpToId: lastId } : {}),
      },
    });
    await refreshConversation(tx, conversation.userId, conversation.chatId);
  });
  return true;
}
