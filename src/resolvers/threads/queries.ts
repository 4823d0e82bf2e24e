import type { Context } from "../../context.js";
import type { Thread, ThreadMember } from "../../generated/prisma/client.js";
import { requireUser } from "../access.js";
import { requireMemberOrAdmin } from "../groups/access.js";
import { afterTimeCursor, type NodePage, nodePage, pageSize } from "../paging.js";
import { viewThread } from "./access.js";

// Reading threads: one thread, a group's, the caller's, and a thread's members.

export async function thread(ctx: Context, id: string): Promise<Thread> {
  return (await viewThread(ctx, id)).thread;
}

/** The group's live threads, newest first: for its members and the app server. */
export async function threads(
  ctx: Context,
  args: { groupId: string; first?: number | null; after?: string | null },
): Promise<NodePage<Thread>> {
  const { group } = await requireMemberOrAdmin(ctx, args.groupId);
  const first = pageSize(args.first, "first");
  const rows = await ctx.prisma.thread.findMany({
    where: { groupId: group.id, destroyedAt: null, ...afterTimeCursor(args.after, "createdAt", "id", "lt") },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

/** The threads the caller joined, the most recently joined first. */
export async function myThreads(
  ctx: Context,
  args: { first?: number | null; after?: string | null },
): Promise<NodePage<ThreadMember & { thread: Thread }>> {
  const { user } = requireUser(ctx);
  const first = pageSize(args.first, "first");
  const rows = await ctx.prisma.threadMember.findMany({
    where: { userId: user.id, ...afterTimeCursor(args.after, "joinedAt", "threadId", "lt") },
    include: { thread: true },
    orderBy: [{ joinedAt: "desc" }, { threadId: "desc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

/** The thread's members in the order they joined: for the group's members and the app server. */
export async function threadMembers(
  ctx: Context,
  args: { id: string; first?: number | null; after?: string | null },
): Promise<NodePage<ThreadMember>> {
  const access = await viewThread(ctx, args.id);
  const first = pageSize(args.first, "first");
  const rows = await ctx.prisma.threadMember.findMany({
    where: { threadId: access.thread.id, ...afterTimeCursor(args.after, "joinedAt", "userId", "gt") },
    orderBy: [{ joinedAt: "asc" }, { userId: "asc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}
