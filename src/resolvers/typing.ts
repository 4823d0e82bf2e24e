import type { Context } from "../context.js";
import { AppError, badInput } from "../errors.js";
import { consumeLimit } from "../security/abuse-limits.js";
import { requireUser } from "./access.js";
import { type ChatTargetInput, findChat, resolveTarget } from "./chats.js";
import { requireMayMessage } from "./contacts.js";
import { notMember } from "./groups/access.js";
import { notThreadMember } from "./threads/access.js";

// Typing indicators: live-only hints to the other side, never stored or replayed.

/**
 * Tells the other side of the conversation (or the group's members) that the caller is typing. A
 * recipient who blocked the caller is simply not told (typing is a hint; the caller learns of the
 * block when they send).
 */
export async function sendTyping(ctx: Context, conversation: ChatTargetInput): Promise<boolean> {
  const { user } = requireUser(ctx);
  const target = await resolveTarget(ctx, conversation);
  if (target.type === "ROOM") throw badInput("Rooms have no typing indicators", "conversation");
  if (target.type === "GROUP") {
    const member = await ctx.prisma.groupMember.findUnique({
      where: { groupId_userId: { groupId: target.chatId, userId: user.id } },
    });
    if (!member) throw notMember(target.group);
  }
  if (target.type === "THREAD") {
    const member = await ctx.prisma.threadMember.findUnique({
      where: { threadId_userId: { threadId: target.chatId, userId: user.id } },
    });
    if (!member) throw notThreadMember();
  }
  // Counted once the call is known to be allowed: refused calls spend nothing.
  await consumeLimit(ctx, "typing", user.id);
  const createdAt = new Date().toISOString();
  if (target.type !== "DIRECT") {
    // One publish for the whole group (or thread): each instance tells its own members' streams.
    ctx.services.pubsub.publish("chatEphemeral", "all", {
      chatId: target.chatId,
      senderId: user.id,
      event: { kind: "TYPING", payload: { userId: user.id, chatId: target.chatId }, createdAt },
    });
    return true;
  }
  try {
    await requireMayMessage(ctx, user.id, target.peer);
  } catch (error) {
    if (error instanceof AppError && error.code === "BLOCKED") return true;
    throw error;
  }
  ctx.services.pubsub.publish("ephemeral", target.peer.id, {
    kind: "TYPING",
    payload: { userId: user.id, chatId: await findChat(ctx, target) },
    createdAt,
  });
  return true;
}
