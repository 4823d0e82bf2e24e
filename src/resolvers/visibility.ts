import type { Context } from "../context.js";
import { notFound } from "../errors.js";
import type { Conversation, Message, Prisma } from "../generated/prisma/client.js";

// Who can see a message: a participant of its chat (someone with a Conversation in it, or a member
// of its room) who has not deleted it from, or cleared it out of, their own history. Anything else is NOT_FOUND, so that
// nobody learns whether a message they are not party to exists.

const MESSAGE_ID = /^[1-9][0-9]{0,18}$/;

export function parseMessageId(raw: string): bigint | null {
  return MESSAGE_ID.test(raw) ? BigInt(raw) : null;
}

/**
 * A targeted group message is for its targets and its sender only. The twin of readableSql; with
 * isVisibleIn, the whole rule for who sees a message.
 */
export function readableBy(message: Pick<Message, "targets" | "senderId">, userId: string): boolean {
  return message.targets.length === 0 || message.senderId === userId || message.targets.includes(userId);
}

/** readableBy in SQL, for a message alias and a user-id expression (fixed SQL, never input). */
export function readableSql(message: string, user: string): string {
  return `(cardinality(${message}.targets) = 0 OR ${message}."senderId" = ${user} OR ${user} = ANY(${message}.targets))`;
}

/**
 * isVisibleIn in SQL, and not deleted by the user: message alias `message` is in the history of
 * conversation alias `conversation` (fixed SQL, never input). Recalled messages stay in history (as
 * tombstones); callers that want them gone say so.
 */
export function inHistorySql(message: string, conversation: string): string {
  return `${message}.id > ${conversation}."clearedUpToId" AND ${readableSql(message, `${conversation}."userId"`)}
    AND NOT EXISTS (SELECT 1 FROM "HiddenMessage" h WHERE h."userId" = ${conversation}."userId" AND h."messageId" = ${message}.id)`;
}

/** readableBy as a Prisma filter. */
export function readableWhere(userId: string): Prisma.MessageWhereInput {
  return { OR: [{ targets: { isEmpty: true } }, { targets: { has: userId } }, { senderId: userId }] };
}

export function isVisibleIn(message: Message, conversation: Conversation | null | undefined): boolean {
  return (
    Boolean(conversation) &&
    message.id > conversation!.clearedUpToId &&
    readableBy(message, conversation!.userId)
  );
}

/** The messages among `ids` that `userId` can see, by id; recalled ones only with `includeRecalled`. */
export async function visibleMessages(
  ctx: Context,
  userId: string,
  ids: readonly string[],
  { includeRecalled = false } = {},
): Promise<Map<string, Message>> {
  const parsed = ids.map(parseMessageId).filter((id): id is bigint => id !== null);
  if (parsed.length === 0) return new Map();
  const messages = await ctx.prisma.message.findMany({
    where: {
      id: { in: parsed },
      hiddenBy: { none: { userId } },
      ...(includeRecalled ? {} : { recalledAt: null }),
    },
  });
  const chatIds = [...new Set(messages.map((message) => message.chatId))];
  const [conversations, rooms] = await Promise.all([
    ctx.prisma.conversation.findMany({ where: { userId, chatId: { in: chatIds } } }),
    ctx.prisma.roomMember.findMany({ where: { userId, roomId: { in: chatIds } }, select: { roomId: true } }),
  ]);
  const byChat = new Map(conversations.map((c) => [c.chatId, c]));
  // Rooms keep no conversation: their members see what the room still holds.
  const inRoom = new Set(rooms.map((row) => row.roomId));
  const visible = (message: Message) =>
    message.chatType === "ROOM"
      ? inRoom.has(message.chatId) && readableBy(message, userId)
      : isVisibleIn(message, byChat.get(message.chatId));
  return new Map(messages.filter(visible).map((message) => [message.id.toString(), message]));
}

export async function requireVisibleMessage(
  ctx: Context,
  userId: string,
  id: string,
  options: { includeRecalled?: boolean } = {},
): Promise<Message> {
  const message = (await visibleMessages(ctx, userId, [id], options)).get(id);
  if (!message) throw notFound(`No message "${id}"`);
  return message;
}
