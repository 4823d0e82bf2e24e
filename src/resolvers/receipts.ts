import type { Context } from "../context.js";
import { userFromRow } from "../db/rows.js";
import { withEvents } from "../delivery/user-log.js";
import { AppError, badInput } from "../errors.js";
import type { Conversation, Message, User } from "../generated/prisma/client.js";
import { requireUser } from "./access.js";
import { onChatLog } from "./chat-kinds.js";
import { type ChatTargetInput, requireConversation } from "./chats.js";
import { groupReaders } from "./conversation-stats.js";
import { refreshConversation } from "./conversations.js";
import { pageSize } from "./paging.js";
import { parseUsernameCursor, usernameCursor } from "./user-pages.js";
import * as check from "./validation.js";
import { parseMessageId, readableWhere, visibleMessages } from "./visibility.js";

// Delivery and read receipts. They change the sender's view of their messages (Message.status), so
// each one is an event in the sender's stream.

const MAX_DELIVERED = 100;
/** A receipt lists at most this many message ids; upTo covers the rest. */
const MAX_RECEIPT_IDS = 500;

export async function markDelivered(ctx: Context, messageIds: readonly string[]): Promise<boolean> {
  const { user } = requireUser(ctx);
  check.list(messageIds, "messageIds", MAX_DELIVERED);
  const ids = [...new Set(messageIds)];
  const found = await visibleMessages(ctx, user.id, ids);
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length > 0) throw new AppError("NOT_FOUND", `No message ${missing.slice(0, 5).join(", ")}`);
  // Marking your own messages is harmless and does nothing.
  // Group messages have no per-recipient delivery state: their receipts are read positions.
  const pending = [...found.values()].filter(
    (m) => m.chatType === "DIRECT" && m.senderId !== user.id && !m.deliveredAt,
  );
  if (pending.length === 0) return true;
  const senders = [...new Set(pending.map((m) => m.senderId))];
  await withEvents(ctx, senders, async (tx, emit) => {
    const delivered = await tx.$queryRaw<{ id: bigint; senderId: string; chatId: string }[]>`
      UPDATE "Message" SET "deliveredAt" = now()
      WHERE id = ANY(${pending.map((m) => m.id.toString())}::text[]::bigint[]) AND "deliveredAt" IS NULL
      RETURNING id, "senderId", "chatId"`;
    const bySenderAndChat = new Map<string, { senderId: string; chatId: string; ids: string[] }>();
    for (const row of delivered) {
      const key = `${row.senderId}/${row.chatId}`;
      const entry = bySenderAndChat.get(key) ?? { senderId: row.senderId, chatId: row.chatId, ids: [] };
      entry.ids.push(String(row.id));
      bySenderAndChat.set(key, entry);
    }
    for (const { senderId, chatId, ids: deliveredIds } of bySenderAndChat.values()) {
      emit({
        userId: senderId,
        kind: "RECEIPT",
        chatId,
        data: { kind: "DELIVERED", by: user.id, messageIds: deliveredIds.sort(byNumber), upTo: null },
      });
    }
  });
  return true;
}

/** Reads the conversation up to `upTo` (its newest message when omitted) on all the caller's devices. */
export async function markConversationRead(
  ctx: Context,
  target: ChatTargetInput,
  upTo: string | null | undefined,
): Promise<Conversation> {
  const { user } = requireUser(ctx);
  const { conversation } = await requireConversation(ctx, target);
  const { chatId } = conversation;
  let upToId: bigint;
  if (upTo != null) {
    const id = parseMessageId(upTo);
    if (id === null) throw badInput("upTo must be a message id", "upTo");
    const inChat = await ctx.prisma.message.findFirst({ where: { id, chatId }, select: { id: true } });
    if (!inChat || id <= conversation.clearedUpToId)
      throw new AppError("NOT_FOUND", `No message "${upTo}" in this conversation`);
    upToId = id;
  } else {
    const newest = await ctx.prisma.message.findFirst({
      where: { chatId },
      orderBy: { id: "desc" },
      select: { id: true },
    });
    upToId = newest?.id ?? 0n;
  }
  if (onChatLog(conversation.chatType)) return readGroup(ctx, conversation, upToId);
  if (upToId <= conversation.readUpToId && conversation.unreadCount === 0) return conversation;
  const key = { userId_chatId: { userId: user.id, chatId } };
  const participants = conversation.peerId ? [user.id, conversation.peerId] : [user.id];
  return withEvents(ctx, participants, async (tx, emit) => {
    const current = await tx.conversation.findUniqueOrThrow({ where: key });
    const read = await tx.$queryRaw<{ id: bigint }[]>`
      UPDATE "Message" SET "readAt" = now(), "deliveredAt" = coalesce("deliveredAt", now())
      WHERE "chatId" = ${chatId}::uuid AND "senderId" <> ${user.id}::uuid
        AND id > ${current.readUpToId} AND id <= ${upToId} AND "readAt" IS NULL AND "recalledAt" IS NULL
      RETURNING id`;
    if (upToId > current.readUpToId)
      await tx.conversation.update({ where: key, data: { readUpToId: upToId } });
    await refreshConversation(tx, user.id, chatId);
    emit({ userId: user.id, kind: "CONVERSATION", chatId, data: { kind: "READ" } });
    if (read.length > 0 && conversation.peerId) {
      const messageIds = read
        .map((row) => String(row.id))
        .sort(byNumber)
        .slice(-MAX_RECEIPT_IDS);
      emit({
        userId: conversation.peerId,
        kind: "RECEIPT",
        chatId,
        data: { kind: "READ", by: user.id, messageIds, upTo: upToId.toString() },
      });
    }
    return tx.conversation.findUniqueOrThrow({ where: key });
  });
}

/**
 * In a group (or thread), reading moves the reader's read position, which only moves forward; unread counts
 * and readCount are derived from it. Senders of messages that asked for receipts get a READ
 * ReceiptEvent for the ones this read covers.
 */
async function readGroup(ctx: Context, conversation: Conversation, upToId: bigint): Promise<Conversation> {
  const { userId, chatId } = conversation;
  if (upToId <= conversation.readUpToId) return conversation;
  const asked = await ctx.prisma.message.findMany({
    where: {
      chatId,
      id: { gt: conversation.readUpToId, lte: upToId },
      requestReadReceipts: true,
      senderId: { not: userId },
      recalledAt: null,
      ...readableWhere(userId),
    },
    select: { id: true, senderId: true },
  });
  const senders = [...new Set(asked.map((message) => message.senderId))];
  const key = { userId_chatId: { userId, chatId } };
  return withEvents(ctx, [userId, ...senders], async (tx, emit) => {
    await tx.$executeRaw`
      UPDATE "Conversation" SET "readUpToId" = greatest("readUpToId", ${upToId}), "updatedAt" = now()
      WHERE "userId" = ${userId}::uuid AND "chatId" = ${chatId}::uuid`;
    emit({ userId, kind: "CONVERSATION", chatId, data: { kind: "READ" } });
    for (const senderId of senders) {
      const messageIds = asked
        .filter((message) => message.senderId === senderId)
        .map((message) => String(message.id))
        .sort(byNumber)
        .slice(-MAX_RECEIPT_IDS);
      emit({
        userId: senderId,
        kind: "RECEIPT",
        chatId,
        data: { kind: "READ", by: userId, messageIds, upTo: upToId.toString() },
      });
    }
    return tx.conversation.findUniqueOrThrow({ where: key });
  });
}

function byNumber(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** A group message's readers, for its sender only (null for anyone else, and for other messages). */
export async function readBy(
  ctx: Context,
  message: Pick<Message, "id" | "senderId" | "chatType" | "requestReadReceipts">,
  args: { first?: number | null; after?: string | null },
): Promise<{ nodes: User[]; cursorOf: (user: User) => string; hasNextPage: boolean } | null> {
  if (ctx.viewer.kind !== "user" || ctx.viewer.user.id !== message.senderId) return null;
  if (!onChatLog(message.chatType) || !message.requestReadReceipts) return null;
  const first = pageSize(args.first, "first");
  const after = args.after == null ? null : parseUsernameCursor(args.after);
  const rows = await groupReaders(ctx, message.id, after, first + 1);
  const users = rows.map((row) => userFromRow(row.user as Record<string, unknown>));
  return {
    nodes: users.slice(0, first),
    cursorOf: (user) => usernameCursor(user.username),
    hasNextPage: users.length > first,
  };
}
