import { randomUUID } from "node:crypto";
import type { Context } from "../../context.js";
import { openSpan } from "../../delivery/chat-log.js";
import { AppError, badInput, forbidden } from "../../errors.js";
import type { Thread } from "../../generated/prisma/client.js";
import { requireUser } from "../access.js";
import { actorId } from "../groups/access.js";
import { changeGroup, requireStillMember } from "../groups/roster.js";
import * as check from "../validation.js";
import { requireVisibleMessage } from "../visibility.js";
import { changeThread, mayRename, requireThreadManager, viewThread } from "./access.js";
import { endThreads } from "./ending.js";
import { LIMITS } from "./policy.js";
import { announce } from "./summaries.js";

// Starting, renaming and destroying threads. Each is an entry in the group's chat, so every member
// of the group hears of it in the group's order.

const threadName = (raw: string) => check.text(raw, "name", { max: LIMITS.name });

/**
 * A member starts a thread from a group message they can see; they are its first member. A message
 * has at most one thread.
 */
export async function createThread(ctx: Context, parentMessageId: string, name: string): Promise<Thread> {
  const { user } = requireUser(ctx);
  const parent = await requireVisibleMessage(ctx, user.id, parentMessageId);
  if (parent.chatType !== "GROUP") {
    throw badInput("A thread starts from a group message", "parentMessageId");
  }
  if (parent.targets.length > 0) {
    throw badInput("A thread needs a message every member can see, not a targeted one", "parentMessageId");
  }
  const checkedName = threadName(name);
  const id = randomUUID();
  return changeGroup(ctx, parent.chatId, [], async (write) => {
    const { tx, out } = write;
    await requireStillMember(write, user.id);
    const [recalled, taken] = await Promise.all([
      tx.message.count({ where: { id: parent.id, recalledAt: { not: null } } }),
      tx.thread.count({ where: { parentMessageId: parent.id } }),
    ]);
    if (recalled > 0) throw badInput("This message was recalled", "parentMessageId");
    if (taken > 0) throw new AppError("CONFLICT", "This message has a thread already");
    await tx.chat.create({ data: { id, type: "THREAD" } });
    const thread = await tx.thread.create({
      data: {
        id,
        groupId: parent.chatId,
        parentMessageId: parent.id,
        name: checkedName,
        creatorId: user.id,
        memberCount: 1,
        members: { create: { userId: user.id } },
      },
    });
    await tx.conversation.create({ data: { userId: user.id, chatId: id, chatType: "THREAD" } });
    const entry = await announce(out, thread, "THREAD_CREATED", user.id, [user.id]);
    await openSpan(tx, id, user.id, entry.pos);
    return thread;
  });
}

/** The creator, and the group's owner and admins, rename a thread; the group hears of it. */
export async function updateThreadName(ctx: Context, id: string, name: string): Promise<Thread> {
  const access = await viewThread(ctx, id);
  if (!mayRename(access))
    throw forbidden("Only the thread's creator and the group's owner and admins can rename it");
  const checkedName = threadName(name);
  return changeThread(ctx, access.thread, [], async (write) => {
    if (write.thread.name === checkedName) return write.thread;
    const updated = await write.tx.thread.update({
      where: { id: write.thread.id },
      data: { name: checkedName },
    });
    await announce(write.out, updated, "THREAD_UPDATED", actorId(ctx));
    return updated;
  });
}

/** The group's owner and admins destroy a thread: its members read the end and nothing after. */
export async function destroyThread(ctx: Context, id: string): Promise<boolean> {
  const { thread } = await requireThreadManager(ctx, id);
  await changeThread(ctx, thread, [], async (write) => {
    const entry = await announce(write.out, write.thread, "THREAD_DESTROYED", actorId(ctx));
    await endThreads(write.tx, { id: write.thread.id }, entry.pos);
  });
  return true;
}
