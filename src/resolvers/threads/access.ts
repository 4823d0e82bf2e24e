import type { Context } from "../../context.js";
import { deliver, type Outbox, type Tx } from "../../delivery/user-log.js";
import { AppError, forbidden, notFound } from "../../errors.js";
import type { Group, Thread, ThreadMember } from "../../generated/prisma/client.js";
import { type GroupAccess, viewGroup } from "../groups/access.js";
import { manages } from "../groups/policy.js";
import * as check from "../validation.js";

// Finding a thread and the caller's place in it. A thread is seen as its group is: by the group's
// members (and the app server); to anyone else it answers as the group does (NOT_FOUND for a private
// group, NOT_MEMBER for a public one). Taking part (reading, sending) needs the thread's membership.

export interface ThreadAccess extends GroupAccess {
  thread: Thread;
  /** The caller's membership of the thread; null for non-members and the app server. */
  threadMember: ThreadMember | null;
}

/** The live thread with this id (its group live too), or NOT_FOUND. */
export async function findThread(ctx: Pick<Context, "prisma">, id: string): Promise<Thread> {
  const thread = check.isId(id) ? await ctx.prisma.thread.findUnique({ where: { id } }) : null;
  if (!thread || thread.destroyedAt) throw notFound(`No thread with id "${id}"`);
  return thread;
}

/** The thread, for its group's members and the app server. */
export async function viewThread(ctx: Context, id: string): Promise<ThreadAccess> {
  const thread = await findThread(ctx, id);
  const access = await viewGroup(ctx, thread.groupId).catch((error: unknown) => {
    throw error instanceof AppError && error.code === "NOT_FOUND"
      ? notFound(`No thread with id "${id}"`)
      : error;
  });
  if (!access.isAdmin && !access.member) throw notInGroup(access.group);
  const threadMember =
    ctx.viewer.kind === "user"
      ? await ctx.prisma.threadMember.findUnique({
          where: { threadId_userId: { threadId: thread.id, userId: ctx.viewer.user.id } },
        })
      : null;
  return { ...access, thread, threadMember };
}

/** As viewThread, and the caller must have joined the thread. */
export async function requireThreadMember(ctx: Context, id: string): Promise<ThreadAccess> {
  const access = await viewThread(ctx, id);
  if (!access.threadMember) throw notThreadMember();
  return access;
}

/** Renames are for the thread's creator and the group's owner and admins (and the app server). */
export function mayRename(access: ThreadAccess): boolean {
  return access.isAdmin || manages(access.member) || access.thread.creatorId === access.member?.userId;
}

/** As viewThread, and the caller must run the group (owner, admins, the app server). */
export async function requireThreadManager(ctx: Context, id: string): Promise<ThreadAccess> {
  const access = await viewThread(ctx, id);
  if (!access.isAdmin && !manages(access.member)) {
    throw forbidden("Only the group's owner and admins can do this");
  }
  return access;
}

export function notInGroup(group: Pick<Group, "name" | "isPublic">) {
  return new AppError(
    "NOT_MEMBER",
    group.isPublic
      ? `You are not a member of the group "${group.name}"`
      : "You are not a member of this group",
  );
}

export function notThreadMember() {
  return new AppError("NOT_MEMBER", "You have not joined this thread: joinThread first");
}

export interface ThreadWrite {
  tx: Tx;
  out: Outbox;
  /** The thread as it is under the lock. */
  thread: Thread;
}

/**
 * Runs `work` holding the thread's group chat and its own chat (in that one lock order every writer
 * keeps), so thread changes are ordered with the group's membership changes and the thread's
 * messages. The thread is re-read under the lock; destroyed meanwhile is NOT_FOUND.
 */
export function changeThread<T>(
  ctx: Pick<Context, "prisma" | "services">,
  thread: Pick<Thread, "id" | "groupId">,
  users: readonly string[],
  work: (write: ThreadWrite) => Promise<T>,
): Promise<T> {
  return deliver(ctx, { users, chats: [thread.groupId, thread.id] }, async (tx, out) => {
    const current = await tx.thread.findUnique({ where: { id: thread.id } });
    if (!current || current.destroyedAt) throw notFound(`No thread with id "${thread.id}"`);
    return work({ tx, out, thread: current });
  });
}

/** The users' group memberships, read under the lock. */
export async function groupMembersAmong(write: ThreadWrite, userIds: readonly string[]) {
  const rows = await write.tx.groupMember.findMany({
    where: { groupId: write.thread.groupId, userId: { in: [...userIds] } },
  });
  return new Map(rows.map((row) => [row.userId, row]));
}
