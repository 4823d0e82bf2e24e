import type { Context } from "../../context.js";
import { AppError, badInput, notFound } from "../../errors.js";
import type { Message, MessageType, Prisma, User } from "../../generated/prisma/client.js";
import type { GroupTarget } from "../chats.js";
import { commandMessage } from "../commands.js";
import type { MessageRecord, PreparedBody } from "../message-bodies.js";
import { requireInChat, requireUsersNamed } from "../users.js";
import * as check from "../validation.js";
import { notMember } from "./access.js";
import { type GroupSendRefusal, storeGroupMessage } from "./message-store.js";
import { LIMITS, receiptsAllowed, speakRefusal } from "./policy.js";

// Sending to a group: mentions and targets are checked against the members here; who may speak is
// judged by the store, under the group's lock.

export interface PreparedSend {
  input: {
    mentions?: readonly string[] | null;
    mentionAll?: boolean | null;
    targets?: readonly string[] | null;
    requestReadReceipts?: boolean | null;
    priority?: string | null;
  };
  prepared: PreparedBody;
  ext: Record<string, unknown>;
  clientMessageId: string | null;
  /** Users' sends follow the group's rules; the app server's need no membership and ignore mutes. */
  screened: boolean;
  /** The sender's earlier message with this clientMessageId, if any. */
  earlier: () => Promise<Message | null> | null;
}

function memberIds(ctx: Context, groupId: string, users: User[], field: string): Promise<string[]> {
  return requireInChat(users, field, "group", async (ids) =>
    (
      await ctx.prisma.groupMember.findMany({
        where: { groupId, userId: { in: ids } },
        select: { userId: true },
      })
    ).map((row) => row.userId),
  );
}

function refused(refusal: GroupSendRefusal, target: GroupTarget): AppError {
  switch (refusal) {
    case "GONE":
      return notFound(`No group with id "${target.chatId}"`);
    case "NOT_MEMBER":
      return notMember(target.group);
    case "MUTED":
      return new AppError("MUTED", "You are muted in this group");
    case "TARGETS_LEFT":
      return badInput("targets must name members of the group", "targets");
    case "DUPLICATE":
      return new AppError("CONFLICT", "This clientMessageId was used for another message");
  }
}

/** The sender's membership, checked before anything about the group's members is answered. */
async function requireSpeaker(ctx: Context, sender: User, target: GroupTarget) {
  const member = await ctx.prisma.groupMember.findUnique({
    where: { groupId_userId: { groupId: target.chatId, userId: sender.id } },
  });
  if (!member) throw notMember(target.group);
  if (speakRefusal(target.group, member)) throw new AppError("MUTED", "You are muted in this group");
}

export async function sendToGroup(
  ctx: Context,
  sender: User,
  target: GroupTarget,
  send: PreparedSend,
): Promise<MessageRecord> {
  const { input, prepared } = send;
  const groupId = target.chatId;
  check.list(input.targets ?? [], "targets", LIMITS.targets);
  check.list(input.mentions ?? [], "mentions", 100);
  // Naming users is a question about the roster: an outsider gets NOT_MEMBER before any answer.
  // Other sends are judged by the store, under the group's lock, without this extra read.
  const naming = (input.targets?.length ?? 0) + (input.mentions?.length ?? 0) > 0;
  if (send.screened && (naming || prepared.type === "COMMAND")) await requireSpeaker(ctx, sender, target);
  const [targeted, mentioned] = await Promise.all([
    requireUsersNamed(ctx, input.targets ?? [], "targets"),
    requireUsersNamed(ctx, input.mentions ?? [], "mentions"),
  ]);
  const [targets, mentions] = await Promise.all([
    memberIds(ctx, groupId, targeted, "targets"),
    memberIds(ctx, groupId, mentioned, "mentions"),
  ]);
  const requestReadReceipts = input.requestReadReceipts ?? false;
  if (requestReadReceipts && !receiptsAllowed(target.group, ctx.services.config.groupReadReceiptMaxMembers)) {
    throw new AppError(
      "LIMIT_EXCEEDED",
      `Read receipts are for groups of at most ${ctx.services.config.groupReadReceiptMaxMembers} members`,
      { field: "requestReadReceipts" },
    );
  }
  const fields = {
    chatId: groupId,
    senderId: sender.id,
    clientMessageId: send.clientMessageId,
    mentions,
    mentionAll: input.mentionAll ?? false,
    requestReadReceipts,
  };
  if (prepared.type === "COMMAND") {
    const message = await commandMessage(ctx, {
      ...fields,
      chatType: "GROUP",
      recipientId: null,
      ext: send.ext as Prisma.InputJsonObject,
      body: prepared.body,
      targets,
    });
    ctx.services.pubsub.publish("chatEphemeral", "all", {
      chatId: groupId,
      senderId: sender.id,
      ...(targets.length > 0 ? { audience: [...targets, sender.id] } : {}),
      event: { kind: "COMMAND", payload: message.wire, createdAt: message.record.createdAt.toISOString() },
    });
    return message.record;
  }
  const result = await storeGroupMessage(ctx, {
    ...fields,
    type: prepared.type as MessageType,
    body: prepared.body,
    ext: send.ext,
    attachmentIds: prepared.attachmentIds,
    searchText: prepared.searchText,
    targets,
    screened: send.screened,
  });
  if ("message" in result) return result.message;
  if (result.refusal === "DUPLICATE") {
    const first = await send.earlier();
    if (first) return first;
  }
  throw refused(result.refusal, target);
}
