import type { Context } from "../context.js";
import { AppError, badInput } from "../errors.js";
import type { Conversation } from "../generated/prisma/client.js";
import { requireUser } from "./access.js";
import { type ChatTargetInput, participants, requireConversation } from "./chats.js";
import { refreshConversation } from "./conversations.js";
import { withEvents } from "./event-log.js";
import * as check from "./validation.js";
import { parseMessageId, visibleMessages } from "./visibility.js";

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
  const pending = [...found.values()].filter((m) => m.senderId !== user.id && !m.deliveredAt);
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
  if (upToId <= conversation.readUpToId && conversation.unreadCount === 0) return conversation;
  const key = { userId_chatId: { userId: user.id, chatId } };
  return withEvents(ctx, participants(conversation), async (tx, emit) => {
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

function byNumber(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
