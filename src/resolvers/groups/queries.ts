import type { Context } from "../../context.js";
import type {
  Group,
  GroupFile,
  GroupJoinRequest,
  GroupMember,
  GroupRole,
  Prisma,
} from "../../generated/prisma/client.js";
import { requireAdmin, requireUser } from "../access.js";
import { afterTimeCursor, type NodePage, nodePage, pageSize } from "../paging.js";
import { searchTerm } from "../validation.js";
import { requireManager, requireMemberOrAdmin, viewGroup } from "./access.js";

// Reading groups: one group, the caller's, the public directory (every group for the app server),
// members, requests and files.

export async function group(ctx: Context, id: string): Promise<Group> {
  return (await viewGroup(ctx, id)).group;
}

/** The caller's groups, the most recently joined first. */
export async function myGroups(
  ctx: Context,
  args: { first?: number | null; after?: string | null },
): Promise<NodePage<GroupMember & { group: Group }>> {
  const { user } = requireUser(ctx);
  const first = pageSize(args.first, "first");
  const rows = await ctx.prisma.groupMember.findMany({
    where: { userId: user.id, ...afterTimeCursor(args.after, "joinedAt", "groupId", "lt") },
    include: { group: true },
    orderBy: [{ joinedAt: "desc" }, { groupId: "desc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

export async function joinedGroupsCount(ctx: Context): Promise<number> {
  const { user } = requireUser(ctx);
  return ctx.prisma.groupMember.count({ where: { userId: user.id } });
}

/** Public groups, newest first; `search` matches names, case-insensitively. */
export const publicGroups = (ctx: Context, args: GroupListArgs) => listGroups(ctx, args, { isPublic: true });

/** Every group but destroyed ones, private ones too, for the app server. */
export function adminGroups(ctx: Context, args: GroupListArgs): Promise<NodePage<Group>> {
  requireAdmin(ctx);
  return listGroups(ctx, args, {});
}

interface GroupListArgs {
  first?: number | null;
  after?: string | null;
  search?: string | null;
}

async function listGroups(
  ctx: Context,
  args: GroupListArgs,
  where: Prisma.GroupWhereInput,
): Promise<NodePage<Group>> {
  const first = pageSize(args.first, "first");
  const search = searchTerm(args.search);
  const rows = await ctx.prisma.group.findMany({
    where: {
      ...where,
      destroyedAt: null,
      ...(search ? { name: { contains: search, mode: "insensitive" } } : {}),
      ...afterTimeCursor(args.after, "createdAt", "id", "lt"),
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

/** Members (owner and admins can be picked with `role`), in the order they joined. */
export async function groupMembers(
  ctx: Context,
  args: { id: string; role?: GroupRole | null; first?: number | null; after?: string | null },
): Promise<NodePage<GroupMember>> {
  const { group } = await requireMemberOrAdmin(ctx, args.id);
  const first = pageSize(args.first, "first");
  const rows = await ctx.prisma.groupMember.findMany({
    where: {
      groupId: group.id,
      ...(args.role ? { role: args.role } : {}),
      ...afterTimeCursor(args.after, "joinedAt", "userId", "gt"),
    },
    orderBy: [{ joinedAt: "asc" }, { userId: "asc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

/** Pending requests to join, for the owner and admins; newest first. */
export async function groupJoinRequests(
  ctx: Context,
  args: { id: string; first?: number | null; after?: string | null },
): Promise<NodePage<GroupJoinRequest>> {
  const { group } = await requireManager(ctx, args.id);
  const first = pageSize(args.first, "first");
  const rows = await ctx.prisma.groupJoinRequest.findMany({
    where: { groupId: group.id, status: "PENDING", ...afterTimeCursor(args.after, "createdAt", "id", "lt") },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

/** The caller's pending invitations, newest first. */
export async function myGroupInvites(ctx: Context, args: { first?: number | null; after?: string | null }) {
  const { user } = requireUser(ctx);
  const first = pageSize(args.first, "first");
  const rows = await ctx.prisma.groupInvite.findMany({
    where: { userId: user.id, status: "PENDING", ...afterTimeCursor(args.after, "createdAt", "id", "lt") },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

export async function groupFiles(
  ctx: Context,
  args: { id: string; first?: number | null; after?: string | null },
): Promise<NodePage<GroupFile>> {
  const { group } = await requireMemberOrAdmin(ctx, args.id);
  const first = pageSize(args.first, "first");
  const rows = await ctx.prisma.groupFile.findMany({
    where: { groupId: group.id, ...afterTimeCursor(args.after, "createdAt", "id", "lt") },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

/** Users barred from the group, for the owner and admins. */
export async function groupBlockList(ctx: Context, id: string): Promise<string[]> {
  const { group } = await requireManager(ctx, id);
  const rows = await ctx.prisma.groupBlock.findMany({
    where: { groupId: group.id },
    orderBy: { createdAt: "asc" },
  });
  return rows.map((row) => row.userId);
}
