import type { Context } from "../../context.js";
import { closeSpans, openSpan } from "../../delivery/chat-log.js";
import { AppError, badInput, forbidden } from "../../errors.js";
import type { Thread } from "../../generated/prisma/client.js";
import { requireUser } from "../access.js";
import { actorId } from "../groups/access.js";
import { manages, outranks } from "../groups/policy.js";
import { requireUsersNamed } from "../users.js";
import {
  changeThread,
  groupMembersAmong,
  notInGroup,
  notThreadMember,
  requireThreadManager,
  type ThreadWrite,
  viewThread,
} from "./access.js";
import { record } from "./summaries.js";

// Joining and leaving a thread. Its members read it from their spans in the thread's chat: a
// joiner's span opens at their join, so live events start there; the thread's whole history is
// theirs to read with `messages`, as in the group's other threads.

/** Any member of the group joins; their read position starts at the thread's newest message. */
export async function joinThread(ctx: Context, id: string): Promise<Thread> {
  const { user } = requireUser(ctx);
  const access = await viewThread(ctx, id);
  if (access.threadMember) throw new AppError("CONFLICT", "You are already a member of this thread");
  return changeThread(ctx, access.thread, [], async (write) => {
    const { tx, thread } = write;
    if ((await groupMembersAmong(write, [user.id])).size === 0) throw notInGroup(access.group);
    const joined = await tx.threadMember.createMany({
      data: [{ threadId: thread.id, userId: user.id }],
      skipDuplicates: true,
    });
    if (joined.count === 0) throw new AppError("CONFLICT", "You are already a member of this thread");
    const [{ last }] = await tx.$queryRaw<[{ last: bigint }]>`
      SELECT coalesce(max(id), 0) AS last FROM "Message" WHERE "chatId" = ${thread.id}::uuid`;
    await tx.$executeRaw`
      INSERT INTO "Conversation" ("userId", "chatId", "chatType", "readUpToId", "activityAt", "updatedAt")
      VALUES (${user.id}::uuid, ${thread.id}::uuid, 'THREAD', ${last}, now(), now())`;
    const updated = await tx.thread.update({
      where: { id: thread.id },
      data: { memberCount: { increment: 1 } },
    });
    const entry = await record(write, "MEMBER_JOINED", user.id, [user.id]);
    await openSpan(tx, thread.id, user.id, entry.pos);
    return updated;
  });
}

/** Ends users' membership of the thread: they read this entry and nothing of the thread after it. */
async function release(
  write: ThreadWrite,
  userIds: string[],
  kind: "MEMBER_LEFT" | "MEMBER_REMOVED",
  actor: string | null,
) {
  const { tx, thread } = write;
  const removed = await tx.threadMember.deleteMany({
    where: { threadId: thread.id, userId: { in: userIds } },
  });
  if (removed.count === 0) return false;
  await tx.conversation.deleteMany({ where: { chatId: thread.id, userId: { in: userIds } } });
  await tx.thread.update({ where: { id: thread.id }, data: { memberCount: { decrement: removed.count } } });
  const entry = await record(write, kind, actor, userIds);
  await closeSpans(tx, thread.id, userIds, entry.pos);
  return true;
}

export async function leaveThread(ctx: Context, id: string): Promise<boolean> {
  const { user } = requireUser(ctx);
  const access = await viewThread(ctx, id);
  if (!access.threadMember) throw notThreadMember();
  await changeThread(ctx, access.thread, [], async (write) => {
    if (!(await release(write, [user.id], "MEMBER_LEFT", user.id))) throw notThreadMember();
  });
  return true;
}

/** The group's owner and admins remove a member (admins not the owner or other admins). */
export async function removeThreadMember(ctx: Context, id: string, username: string): Promise<boolean> {
  const { thread } = await requireThreadManager(ctx, id);
  const [user] = await requireUsersNamed(ctx, [username], "username");
  const actor = actorId(ctx);
  if (user!.id === actor) throw badInput("To leave a thread yourself, use leaveThread", "username");
  await changeThread(ctx, thread, [], async (write) => {
    if (actor) {
      const roles = await groupMembersAmong(write, [actor, user!.id]);
      const [self, subject] = [roles.get(actor), roles.get(user!.id)];
      if (!manages(self)) throw forbidden("Only the group's owner and admins can do this");
      if (subject && !outranks(self!, subject))
        throw forbidden("Admins cannot act on other admins or the owner");
    }
    if (!(await release(write, [user!.id], "MEMBER_REMOVED", actor))) {
      throw new AppError("NOT_MEMBER", `"${user!.username}" is not a member of this thread`);
    }
  });
  return true;
}
