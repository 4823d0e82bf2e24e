import type { Context } from "../../context.js";
import { isUniqueViolation } from "../../db/errors.js";
import type { Tx } from "../../delivery/user-log.js";
import { AppError, badInput } from "../../errors.js";
import type { Message, MessageType, Prisma, User } from "../../generated/prisma/client.js";
import { countStored } from "../../metrics/registry.js";
import type { ThreadTarget } from "../chats.js";
import { commandMessage } from "../commands.js";
import type { PreparedSend } from "../groups/messages.js";
import { receiptsAllowed, speakRefusal } from "../groups/policy.js";
import type { MessageRecord } from "../message-bodies.js";
import { requireInChat, requireUsersNamed } from "../users.js";
import * as check from "../validation.js";
import { changeThread, notInGroup, notThreadMember } from "./access.js";
import { noteNewMessage } from "./summaries.js";

// Sending to a thread: to its members, under the group's speaking rules. The send holds the group's
// chat and the thread's, so it is ordered with the group's membership changes (someone removed from
// the group cannot send after) and with the thread's other messages.

const MAX_MENTIONS = 100;

/** The sender may speak in the thread: a member of it and of its group, not muted there. */
async function requireSpeaker(
  db: Pick<Tx, "threadMember" | "groupMember" | "group">,
  target: ThreadTarget,
  sender: User,
): Promise<void> {
  const { id: threadId, groupId } = target.thread;
  const [threadMember, groupMember, group] = await Promise.all([
    db.threadMember.findUnique({ where: { threadId_userId: { threadId, userId: sender.id } } }),
    db.groupMember.findUnique({ where: { groupId_userId: { groupId, userId: sender.id } } }),
    db.group.findUniqueOrThrow({ where: { id: groupId } }),
  ]);
  if (!groupMember) throw notInGroup(target.group);
  if (!threadMember) throw notThreadMember();
  if (speakRefusal(group, groupMember)) throw new AppError("MUTED", "You are muted in this group");
}

/** Mentions name members of the thread. */
async function mentionedMembers(ctx: Context, threadId: string, usernames: readonly string[]) {
  check.list(usernames, "mentions", MAX_MENTIONS);
  const users = await requireUsersNamed(ctx, usernames, "mentions");
  return requireInChat(users, "mentions", "thread", async (ids) =>
    (
      await ctx.prisma.threadMember.findMany({
        where: { threadId, userId: { in: ids } },
        select: { userId: true },
      })
    ).map((row) => row.userId),
  );
}

export async function sendToThread(
  ctx: Context,
  sender: User,
  target: ThreadTarget,
  send: PreparedSend,
): Promise<MessageRecord> {
  const { input, prepared } = send;
  if (input.targets != null) throw badInput("targets is for group and room messages", "targets");
  const requestReadReceipts = input.requestReadReceipts ?? false;
  const receiptsMax = ctx.services.config.groupReadReceiptMaxMembers;
  if (requestReadReceipts && !receiptsAllowed(target.thread, receiptsMax)) {
    throw new AppError("LIMIT_EXCEEDED", `Read receipts are for threads of at most ${receiptsMax} members`, {
      field: "requestReadReceipts",
    });
  }
  const mentions = await mentionedMembers(ctx, target.chatId, input.mentions ?? []);
  const fields = {
    chatId: target.chatId,
    chatType: "THREAD" as const,
    senderId: sender.id,
    clientMessageId: send.clientMessageId,
    mentions,
    mentionAll: input.mentionAll ?? false,
    requestReadReceipts,
    ext: send.ext as Prisma.InputJsonObject,
  };
  if (prepared.type === "COMMAND") {
    if (send.screened) await requireSpeaker(ctx.prisma, target, sender);
    const message = await commandMessage(ctx, { ...fields, recipientId: null, body: prepared.body });
    ctx.services.pubsub.publish("chatEphemeral", "all", {
      chatId: target.chatId,
      senderId: sender.id,
      event: { kind: "COMMAND", payload: message.wire, createdAt: message.record.createdAt.toISOString() },
    });
    return message.record;
  }
  let created = false;
  try {
    const stored = await changeThread(ctx, target.thread, [], async (write): Promise<Message | null> => {
      if (send.screened) await requireSpeaker(write.tx, target, sender);
      if (send.clientMessageId) {
        const earlier = await write.tx.message.findUnique({
          where: { senderId_clientMessageId: { senderId: sender.id, clientMessageId: send.clientMessageId } },
        });
        if (earlier) return earlier.chatId === target.chatId ? earlier : null;
      }
      const message = await write.tx.message.create({
        data: {
          ...fields,
          type: prepared.type as MessageType,
          body: prepared.body as Prisma.InputJsonObject,
          attachmentIds: prepared.attachmentIds,
          searchText: prepared.searchText,
        },
      });
      await write.out.append({ chatId: target.chatId, kind: "MESSAGE", messageId: message.id });
      await write.tx.chat.update({
        where: { id: target.chatId },
        data: { lastMessageAt: message.createdAt },
      });
      await noteNewMessage(write, ctx.services.config.threadSummarySeconds);
      created = true;
      return message;
    });
    if (created) countStored("thread");
    if (stored) return stored;
  } catch (error) {
    // Two sends with one clientMessageId racing: the one that lost gets the first's message.
    const first = isUniqueViolation(error) ? await send.earlier() : null;
    if (first) return first;
    throw error;
  }
  throw new AppError("CONFLICT", "This clientMessageId was used for another message");
}
