import type { Context } from "../context.js";
import { isUniqueViolation } from "../db/errors.js";
import { deliver, type Tx, withEvents } from "../delivery/user-log.js";
import { messageToWire } from "../delivery/wire.js";
import { AppError, badInput, forbidden } from "../errors.js";
import { type Message, type MessageType, Prisma, type User } from "../generated/prisma/client.js";
import { consumeLimit, sendLimit } from "../security/abuse-limits.js";
import { requireAdmin, requireUser } from "./access.js";
import { onChatLog } from "./chat-kinds.js";
import {
  type ChatTargetInput,
  type DirectTarget,
  ensureChat,
  findChat,
  forgetUsername,
  type PeerRef,
  type RoomTarget,
  requireConversation,
  resolveTarget,
  type Target,
} from "./chats.js";
import { sendCommand } from "./commands.js";
import { blockedByRecipient, notAContact, requireMayMessage } from "./contacts.js";
import { refreshConversation } from "./conversations.js";
import { sendToGroup } from "./groups/messages.js";
import { manages } from "./groups/policy.js";
import {
  type BodyInput,
  bodyType,
  checkMessageSize,
  type MessageRecord,
  prepareBody,
} from "./message-bodies.js";
import { type DirectSendResult, storeDirectMessage } from "./message-store.js";
import { pageSize } from "./paging.js";
import { requireRoomMember } from "./rooms/access.js";
import { historyFloor, sendToRoom } from "./rooms/messages.js";
import { RoomNotes } from "./rooms/roster.js";
import { moderateMessage, type Outgoing, recordOutgoing, screenOutgoing } from "./screening.js";
import { sendToThread } from "./threads/messages.js";
import * as check from "./validation.js";
import { parseMessageId, readableWhere, requireVisibleMessage, visibleMessages } from "./visibility.js";

export type { MessageRecord } from "./message-bodies.js";

export const MAX_EDITS = 10;
const MAX_MENTIONS = 100;

export interface SendMessageInput {
  to: ChatTargetInput;
  body: BodyInput;
  clientMessageId?: string | null;
  ext?: unknown;
  mentions?: readonly string[] | null;
  mentionAll?: boolean | null;
  targets?: readonly string[] | null;
  priority?: string | null;
  requestReadReceipts?: boolean | null;
}

export async function sendMessage(ctx: Context, input: SendMessageInput): Promise<MessageRecord> {
  const { user } = requireUser(ctx);
  return sendAs(ctx, user, input, { screened: true });
}

/** The app server sends as one of its users (system notices, messages on a user's behalf). */
export async function adminSendMessage(
  ctx: Context,
  from: string,
  input: SendMessageInput,
): Promise<MessageRecord> {
  requireAdmin(ctx);
  const name = check.maybeUsername(from);
  const sender = name ? await ctx.prisma.user.findUnique({ where: { username: name } }) : null;
  if (!sender || sender.deletedAt) throw new AppError("NOT_FOUND", `No user named "${from}"`);
  return sendAs(ctx, sender, input, { screened: false });
}

/**
 * Sends as `sender`: the signed-in user, or whoever the app server sends for (adminSendMessage).
 * Users' sends are screened (block list, REQUIRE_CONTACT_FOR_DIRECT); the app server's are not.
 */
export async function sendAs(
  ctx: Context,
  sender: User,
  input: SendMessageInput,
  { screened }: { screened: boolean },
): Promise<MessageRecord> {
  if (sender.bannedAt) throw new AppError("USER_BANNED", "A banned user cannot send messages");
  const target = await resolveTarget(ctx, input.to, sender.id);
  // A user's sends spend their budget for the kind of chat; the app server's, its admin budget.
  if (screened) await consumeLimit(ctx, sendLimit(target.type), sender.id);
  const written = await prepareBody(ctx, sender.id, input.body);
  const writtenExt =
    input.ext == null ? {} : check.jsonObject(input.ext, "ext", ctx.services.config.maxMessageBytes);
  checkMessageSize(ctx, written.body, writtenExt);
  const clientMessageId =
    input.clientMessageId == null ? null : check.text(input.clientMessageId, "clientMessageId", { max: 128 });
  // Commands are never stored, so there is nothing to screen.
  const outgoing =
    screened && written.type !== "COMMAND"
      ? await screenOutgoing(ctx, sender, target, { prepared: written, ext: writtenExt }, clientMessageId)
      : { prepared: written, ext: writtenExt, findings: [] };
  const message = await storeOutgoing(ctx, sender, target, input, outgoing, clientMessageId, screened);
  await recordOutgoing(ctx, outgoing, { userId: sender.id, chatId: message.chatId, messageId: message.id });
  return message;
}

async function storeOutgoing(
  ctx: Context,
  sender: User,
  target: Target,
  input: SendMessageInput,
  { prepared, ext }: Outgoing,
  clientMessageId: string | null,
  screened: boolean,
): Promise<MessageRecord> {
  // A retry of a clientMessageId already stored gets the first message back.
  const earlier = () => (clientMessageId ? findByClientId(ctx, sender.id, clientMessageId) : null);
  if (target.type !== "DIRECT") {
    const send = { input, prepared, ext, clientMessageId, screened, earlier };
    switch (target.type) {
      case "GROUP":
        return sendToGroup(ctx, sender, target, send);
      case "THREAD":
        return sendToThread(ctx, sender, target, send);
      case "ROOM":
        return sendToRoom(ctx, sender, target, send);
    }
  }
  if (input.targets != null) throw badInput("targets is for group and room messages", "targets");
  const mentions = await mentionedUsers(ctx, input.mentions ?? [], [sender.id, target.peer.id]);
  const chatId = await ensureChat(ctx, target);
  const fields = {
    chatId,
    chatType: target.type,
    senderId: sender.id,
    recipientId: target.peer.id,
    clientMessageId,
    ext: ext as Prisma.InputJsonObject,
    mentions,
    mentionAll: input.mentionAll ?? false,
    requestReadReceipts: input.requestReadReceipts ?? false,
  };
  const contactsOnly = screened && ctx.services.config.requireContactForDirect;
  if (prepared.type === "COMMAND") {
    if (screened) await requireMayMessage(ctx, sender.id, target.peer);
    return sendCommand(ctx, { ...fields, body: prepared.body });
  }

  const message = {
    ...fields,
    ext,
    type: prepared.type as MessageType,
    body: prepared.body,
    attachmentIds: prepared.attachmentIds,
    searchText: prepared.searchText,
    screened,
    contactsOnly,
  };
  const store = async (peer: PeerRef, chatId: string): Promise<MessageRecord | "RECIPIENT_GONE"> => {
    let result: DirectSendResult;
    try {
      result = await storeDirectMessage(ctx, {
        ...message,
        chatId,
        recipientId: peer.id,
        recipientUsername: peer.username,
      });
    } catch (error) {
      // Two attempts racing past the check in the statement: the one that lost gets the first's message.
      const first = isUniqueViolation(error) ? await earlier() : null;
      if (first) return first;
      throw error;
    }
    if ("message" in result) return result.message;
    switch (result.refusal) {
      case "DUPLICATE":
        return (await earlier())!;
      case "BLOCKED":
        throw blockedByRecipient(peer);
      case "NOT_CONTACT":
        throw notAContact(peer);
      case "RECIPIENT_GONE":
        return "RECIPIENT_GONE";
    }
  };
  const stored = await store(target.peer, chatId);
  if (stored !== "RECIPIENT_GONE") return stored;
  // The cached username pointed at a user since deleted: look again, once.
  forgetUsername(ctx.services, target.peer.username);
  const fresh = (await resolveTarget(ctx, input.to, sender.id)) as DirectTarget;
  const retried = await store(fresh.peer, await ensureChat(ctx, fresh));
  if (retried !== "RECIPIENT_GONE") return retried;
  throw new AppError("NOT_FOUND", `No user named "${fresh.peer.username}"`);
}

function findByClientId(ctx: Context, senderId: string, clientMessageId: string) {
  return ctx.prisma.message.findUnique({
    where: { senderId_clientMessageId: { senderId, clientMessageId } },
  });
}

async function mentionedUsers(
  ctx: Context,
  usernames: readonly string[],
  participants: string[],
): Promise<string[]> {
  check.list(usernames, "mentions", MAX_MENTIONS);
  if (usernames.length === 0) return [];
  const names = [...new Set(usernames.map((name) => check.username(name, "mentions")))];
  const users = await ctx.prisma.user.findMany({ where: { username: { in: names }, deletedAt: null } });
  const unknown = names.filter((name) => !users.some((user) => user.username === name));
  if (unknown.length > 0) throw badInput(`mentions names unknown users: ${unknown.join(", ")}`, "mentions");
  const outsiders = users.filter((user) => !participants.includes(user.id));
  if (outsiders.length > 0) throw badInput("mentions must name people in the conversation", "mentions");
  return users.map((user) => user.id);
}

// --- Reading --------------------------------------------------------------------------------------

export interface HistoryInput {
  conversation: ChatTargetInput;
  last?: number | null;
  before?: string | null;
  types?: readonly MessageType[] | null;
  from?: string | null;
}

export interface HistoryPage {
  messages: Message[];
  hasPreviousPage: boolean;
}

/** Newest page first; oldest to newest inside the page. */
export async function history(ctx: Context, input: HistoryInput): Promise<HistoryPage> {
  const { user } = requireUser(ctx);
  const last = pageSize(input.last, "last");
  const before = input.before == null ? null : parseMessageId(input.before);
  if (input.before != null && before === null) throw badInput("before must be a message cursor", "before");
  const target = await resolveTarget(ctx, input.conversation);
  if (target.type === "ROOM") return roomHistory(ctx, target, input, last, before);
  const chatId = await findChat(ctx, target);
  const conversation = chatId
    ? await ctx.prisma.conversation.findUnique({ where: { userId_chatId: { userId: user.id, chatId } } })
    : null;
  if (!conversation) {
    if (target.type !== "DIRECT") await requireConversation(ctx, input.conversation);
    return { messages: [], hasPreviousPage: false };
  }
  return historyPage(ctx, input, last, {
    chatId: conversation.chatId,
    id: { gt: conversation.clearedUpToId, ...(before === null ? {} : { lt: before }) },
    hiddenBy: { none: { userId: user.id } },
    ...readableWhere(user.id),
  });
}

/** A room's recent history (ROOM_HISTORY_LIMIT), for its members. */
async function roomHistory(
  ctx: Context,
  target: RoomTarget,
  input: HistoryInput,
  last: number,
  before: bigint | null,
): Promise<HistoryPage> {
  const { member } = await requireRoomMember(ctx, target.chatId);
  const floor = await historyFloor(ctx.services, target.chatId);
  return historyPage(ctx, input, last, {
    chatId: target.chatId,
    id: { gte: floor, ...(before === null ? {} : { lt: before }) },
    ...(member ? readableWhere(member.userId) : {}),
  });
}

/** Newest first, `last` of them, with the `types` and `from` filters; oldest to newest inside. */
async function historyPage(
  ctx: Context,
  input: HistoryInput,
  last: number,
  where: Prisma.MessageWhereInput,
): Promise<HistoryPage> {
  let senderId: string | undefined;
  if (input.from != null) {
    const name = check.maybeUsername(input.from);
    const sender = name ? await ctx.prisma.user.findUnique({ where: { username: name } }) : null;
    if (!sender) return { messages: [], hasPreviousPage: false };
    senderId = sender.id;
  }
  const rows = await ctx.prisma.message.findMany({
    where: {
      ...where,
      ...(input.types?.length ? { type: { in: [...input.types] } } : {}),
      ...(senderId ? { senderId } : {}),
    },
    orderBy: { id: "desc" },
    take: last + 1,
  });
  for (const row of rows) ctx.loaders.messages.prime(row.id, row);
  return { messages: rows.slice(0, last).reverse(), hasPreviousPage: rows.length > last };
}

export async function message(ctx: Context, id: string): Promise<Message> {
  const { user } = requireUser(ctx);
  return requireVisibleMessage(ctx, user.id, id, { includeRecalled: true });
}

// --- Changing ------------------------------------------------------------------------------------

/**
 * Changes a message in one transaction and tells everyone who had it, by its chat's kind: the two
 * streams of a direct chat, one chat-log entry for a group or thread (its targets only, when
 * targeted), or a room's live traffic.
 * `work` returns null when there turned out to be nothing to change, and then nobody is told.
 * Recalls, edits and reactions (resolvers/reactions.ts) all choose their recipients here.
 */
export async function changeMessage<T>(
  ctx: Context,
  message: Message,
  kind: "MESSAGE_RECALLED" | "MESSAGE_EDITED" | "REACTION",
  data: Record<string, unknown> | null,
  work: (tx: Tx) => Promise<T | null>,
): Promise<T | null> {
  const { chatId, id: messageId } = message;
  if (message.chatType === "ROOM") {
    if (kind === "REACTION") throw new Error("Room messages take no reactions");
    // Live only: the members online hear of it once it has committed.
    const result = await ctx.prisma.$transaction((tx) => work(tx));
    if (result !== null) {
      const changed = await ctx.prisma.message.findUniqueOrThrow({ where: { id: messageId } });
      const change =
        kind === "MESSAGE_EDITED"
          ? { kind: "EDITED" as const }
          : { kind: "RECALLED" as const, by: (data?.by as string | null) ?? null };
      const notes = new RoomNotes(ctx.services, chatId);
      notes.traffic({
        roomId: chatId,
        priority: "HIGH",
        createdAt: new Date().toISOString(),
        message: messageToWire(changed),
        change,
        ...(message.targets.length > 0 ? { audience: [...message.targets, message.senderId] } : {}),
      });
      notes.send();
    }
    return result;
  }
  if (onChatLog(message.chatType)) {
    const audience = message.targets.length > 0 ? [...message.targets, message.senderId] : [];
    return deliver(ctx, { chats: [chatId] }, async (tx, out) => {
      const result = await work(tx);
      if (result !== null) await out.append({ chatId, kind, messageId, audience, data });
      return result;
    });
  }
  const participants = message.recipientId ? [message.senderId, message.recipientId] : [message.senderId];
  return withEvents(ctx, participants, async (tx, emit) => {
    const result = await work(tx);
    if (result !== null) for (const userId of participants) emit({ userId, kind, chatId, messageId, data });
    return result;
  });
}

/** Whether the viewer runs the message's group (owners and admins recall any message there and in its threads). */
async function managesChat(ctx: Context, message: Message): Promise<boolean> {
  if (message.chatType === "ROOM") {
    if (ctx.viewer.kind !== "user") return false;
    const member = await ctx.prisma.roomMember.findUnique({
      where: { roomId_userId: { roomId: message.chatId, userId: ctx.viewer.user.id } },
    });
    return manages(member);
  }
  if (!onChatLog(message.chatType)) return false;
  const groupId =
    message.chatType === "THREAD"
      ? (await ctx.loaders.threads.load(message.chatId))?.groupId
      : message.chatId;
  return groupId !== undefined && manages(await ctx.loaders.memberships.load(groupId));
}

/** A thread message the viewer may moderate without having joined the thread: they run its group. */
async function moderatedThreadMessage(ctx: Context, id: string): Promise<Message> {
  const messageId = parseMessageId(id);
  const message = messageId === null ? null : await ctx.loaders.messages.load(messageId);
  if (message?.chatType !== "THREAD" || !(await managesChat(ctx, message))) {
    throw new AppError("NOT_FOUND", `No message "${id}"`);
  }
  return message;
}

export async function recallMessage(ctx: Context, id: string): Promise<Message> {
  const isAdmin = ctx.viewer.kind === "admin";
  let found: Message | null;
  if (isAdmin) {
    const messageId = parseMessageId(id);
    found = messageId === null ? null : await ctx.prisma.message.findUnique({ where: { id: messageId } });
    if (!found) throw new AppError("NOT_FOUND", `No message "${id}"`);
  } else {
    const { user } = requireUser(ctx);
    found =
      (await visibleMessages(ctx, user.id, [id], { includeRecalled: true })).get(id) ??
      (await moderatedThreadMessage(ctx, id));
    const groupManager = await managesChat(ctx, found);
    if (found.senderId !== user.id && !groupManager) {
      throw forbidden(
        found.chatType !== "DIRECT"
          ? "Only the sender and the owner and admins of its group or room can recall this message"
          : "Only the sender can recall a direct message",
      );
    }
    const windowMs = ctx.services.config.recallWindowSeconds * 1000;
    if (!groupManager && !found.recalledAt && Date.now() - found.createdAt.getTime() > windowMs) {
      throw new AppError(
        "RECALL_WINDOW_EXPIRED",
        `Messages can be recalled for ${ctx.services.config.recallWindowSeconds} seconds after sending`,
      );
    }
  }
  const original = found;
  if (original.recalledAt) return original;
  const by = ctx.viewer.kind === "user" ? ctx.viewer.user.id : null;
  await changeMessage(ctx, original, "MESSAGE_RECALLED", { by }, async (tx) => {
    const recalled = await tx.message.updateMany({
      where: { id: original.id, recalledAt: null },
      data: { recalledAt: new Date(), recalledById: by, body: Prisma.DbNull },
    });
    if (recalled.count === 0) return null; // recalled meanwhile; that recall told everyone
    // An unread recalled message no longer counts as unread (group counts are derived and follow);
    // imported history never counted.
    if (original.importedAt) return true;
    await tx.$executeRaw`
      UPDATE "Conversation" SET "unreadCount" = greatest("unreadCount" - 1, 0), "updatedAt" = now()
      WHERE "chatId" = ${original.chatId}::uuid AND "chatType" = 'DIRECT' AND "userId" <> ${original.senderId}::uuid
        AND "readUpToId" < ${original.id} AND "clearedUpToId" < ${original.id}
        AND NOT EXISTS (SELECT 1 FROM "HiddenMessage" h WHERE h."userId" = "Conversation"."userId" AND h."messageId" = ${original.id})`;
    return true;
  });
  return ctx.prisma.message.findUniqueOrThrow({ where: { id: original.id } });
}

export async function editMessage(ctx: Context, id: string, body: BodyInput): Promise<Message> {
  const { user } = requireUser(ctx);
  const original = await requireVisibleMessage(ctx, user.id, id, { includeRecalled: true });
  if (original.senderId !== user.id) throw forbidden("Only the sender can edit a message");
  if (original.recalledAt) throw badInput("A recalled message cannot be edited", "id");
  if (original.type !== "TEXT" && original.type !== "CUSTOM") {
    throw badInput("Only text and custom messages can be edited", "id");
  }
  if (bodyType(body) !== original.type) {
    throw badInput(`The new body must be of the same type (${original.type.toLowerCase()})`, "body");
  }
  const ext = original.ext as Record<string, unknown>;
  const where = { userId: user.id, chatId: original.chatId, messageId: original.id };
  // The ext was screened when the message was sent; the new body is screened now.
  const written = await prepareBody(ctx, user.id, body);
  checkMessageSize(ctx, written.body, ext);
  const outgoing = await moderateMessage(ctx, where, original.chatType, { prepared: written, ext: {} });
  const prepared = outgoing.prepared;
  const edited = await changeMessage(ctx, original, "MESSAGE_EDITED", null, async (tx) => {
    const [current] = await tx.$queryRaw<{ editCount: number; recalledAt: Date | null }[]>`
      SELECT "editCount", "recalledAt" FROM "Message" WHERE id = ${original.id} FOR UPDATE`;
    if (current!.recalledAt) throw badInput("A recalled message cannot be edited", "id");
    if (current!.editCount >= MAX_EDITS) {
      throw new AppError("LIMIT_EXCEEDED", `A message can be edited at most ${MAX_EDITS} times`);
    }
    return tx.message.update({
      where: { id: original.id },
      data: {
        body: prepared.body as Prisma.InputJsonObject,
        searchText: prepared.searchText,
        editedAt: new Date(),
        editCount: { increment: 1 },
      },
    });
  });
  await recordOutgoing(ctx, outgoing, where);
  return edited!;
}

const MAX_DELETE = 100;

/** One-sided: gone from the caller's history on all their devices; the other side keeps it. */
export async function deleteMessages(
  ctx: Context,
  target: ChatTargetInput,
  messageIds: readonly string[],
): Promise<boolean> {
  const { user } = requireUser(ctx);
  check.list(messageIds, "messageIds", MAX_DELETE);
  if (messageIds.length === 0) throw badInput("messageIds must name at least one message", "messageIds");
  const { conversation } = await requireConversation(ctx, target);
  const ids = [...new Set(messageIds)];
  const found = await visibleMessages(ctx, user.id, ids, { includeRecalled: true });
  const missing = ids.filter((id) => found.get(id)?.chatId !== conversation.chatId);
  if (missing.length > 0)
    throw new AppError("NOT_FOUND", `No message ${missing.slice(0, 5).join(", ")} in this conversation`);
  const hidden = [...found.values()].map((m) => m.id);
  await withEvents(ctx, [user.id], async (tx, emit) => {
    await tx.hiddenMessage.createMany({
      data: hidden.map((messageId) => ({ userId: user.id, messageId })),
      skipDuplicates: true,
    });
    await refreshConversation(tx, user.id, conversation.chatId);
    emit({
      userId: user.id,
      kind: "MESSAGE_DELETED",
      chatId: conversation.chatId,
      data: { messageIds: ids },
    });
  });
  return true;
}

/** One-sided: clears the caller's history up to `before` (everything when omitted). */
export async function clearConversationHistory(
  ctx: Context,
  target: ChatTargetInput,
  before: Date | null | undefined,
): Promise<boolean> {
  const { user } = requireUser(ctx);
  const { conversation } = await requireConversation(ctx, target);
  const newest = await ctx.prisma.message.findFirst({
    where: { chatId: conversation.chatId, ...(before ? { createdAt: { lte: before } } : {}) },
    orderBy: { id: "desc" },
    select: { id: true },
  });
  if (!newest || newest.id <= conversation.clearedUpToId) return true;
  await withEvents(ctx, [user.id], async (tx, emit) => {
    await tx.$executeRaw`
      UPDATE "Conversation" SET "clearedUpToId" = greatest("clearedUpToId", ${newest.id}), "updatedAt" = now()
      WHERE "userId" = ${user.id}::uuid AND "chatId" = ${conversation.chatId}::uuid`;
    await refreshConversation(tx, user.id, conversation.chatId);
    emit({
      userId: user.id,
      kind: "CONVERSATION",
      chatId: conversation.chatId,
      data: { kind: "HISTORY_CLEARED" },
    });
  });
  return true;
}
