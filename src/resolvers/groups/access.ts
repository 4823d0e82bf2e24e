import type { Context } from "../../context.js";
import type { Tx } from "../../delivery/user-log.js";
import { AppError, forbidden, notFound } from "../../errors.js";
import type { Group, GroupMember } from "../../generated/prisma/client.js";
import * as check from "../validation.js";
import { manages } from "./policy.js";

// Finding a group and the caller's place in it. A private group is NOT_FOUND to anyone outside it,
// so nobody learns what it is; a public one tells outsiders NOT_MEMBER. Sending (and typing) to a
// group is the one exception: API.md answers every non-member NOT_MEMBER there, and for a private
// group that answer names nothing.

export interface GroupAccess {
  group: Group;
  /** The caller's membership; null for outsiders and the app server. */
  member: GroupMember | null;
  /** The app server acts with the owner's powers. */
  isAdmin: boolean;
}

/** The live (not destroyed) group with this id, or NOT_FOUND. */
export async function findGroup(ctx: Pick<Context, "prisma">, id: string): Promise<Group> {
  const group = check.isId(id) ? await ctx.prisma.group.findUnique({ where: { id } }) : null;
  if (!group || group.destroyedAt) throw notFound(`No group with id "${id}"`);
  return group;
}

export async function membership(
  db: Pick<Tx, "groupMember">,
  groupId: string,
  userId: string,
): Promise<GroupMember | null> {
  return db.groupMember.findUnique({ where: { groupId_userId: { groupId, userId } } });
}

/** The group as the caller may see it: members, anyone for public groups, the app server always. */
export async function viewGroup(ctx: Context, id: string): Promise<GroupAccess> {
  const group = await findGroup(ctx, id);
  if (ctx.viewer.kind === "admin") return { group, member: null, isAdmin: true };
  if (ctx.viewer.kind !== "user") throw notFound(`No group with id "${id}"`);
  const member = await membership(ctx.prisma, group.id, ctx.viewer.user.id);
  if (!member && !group.isPublic) throw notFound(`No group with id "${id}"`);
  return { group, member, isAdmin: false };
}

/** As viewGroup, and the caller must be a member. */
export async function requireMember(
  ctx: Context,
  id: string,
): Promise<GroupAccess & { member: GroupMember }> {
  const access = await viewGroup(ctx, id);
  if (!access.member) throw notMember(access.group);
  return access as GroupAccess & { member: GroupMember };
}

/** As requireMember, but the app server passes too (with member null). */
export async function requireMemberOrAdmin(ctx: Context, id: string): Promise<GroupAccess> {
  const access = await viewGroup(ctx, id);
  if (!access.isAdmin && !access.member) throw notMember(access.group);
  return access;
}

/** As viewGroup, and the caller must be the owner or an admin (or the app server). */
export async function requireManager(ctx: Context, id: string): Promise<GroupAccess> {
  const access = await viewGroup(ctx, id);
  if (access.isAdmin) return access;
  if (!access.member) throw notMember(access.group);
  if (!manages(access.member)) throw forbidden("Only the group's owner and admins can do this");
  return access;
}

/** As viewGroup, and the caller must be the owner (or the app server). */
export async function requireOwner(ctx: Context, id: string): Promise<GroupAccess> {
  const access = await viewGroup(ctx, id);
  if (access.isAdmin) return access;
  if (!access.member) throw notMember(access.group);
  if (access.member.role !== "OWNER") throw forbidden("Only the group's owner can do this");
  return access;
}

export function notMember(group: Pick<Group, "name" | "isPublic">) {
  return new AppError(
    "NOT_MEMBER",
    group.isPublic
      ? `You are not a member of the group "${group.name}"`
      : "You are not a member of this group",
  );
}

/** The acting user's id, or null for the app server. */
export function actorId(ctx: Context): string | null {
  return ctx.viewer.kind === "user" ? ctx.viewer.user.id : null;
}
