import type { Context } from "../../context.js";
import { AppError, badInput, forbidden, notFound } from "../../errors.js";
import type { Group, GroupMember, User } from "../../generated/prisma/client.js";
import { requireUser } from "../access.js";
import { requireUsersNamed } from "../users.js";
import * as check from "../validation.js";
import { actorId, findGroup, membership, requireManager, requireOwner, viewGroup } from "./access.js";
import { LIMITS, mayInvite, requireOutranks } from "./policy.js";
import {
  admit,
  changeGroup,
  type GroupWrite,
  membersAmong,
  record,
  refuseBarred,
  release,
  requireMembers,
  requireStillMember,
  tell,
} from "./roster.js";

// Joining and leaving, invitations and requests, roles and the group's block list.

/** The ids of the owner and admins, who answer join requests. */
async function managers(write: GroupWrite): Promise<string[]> {
  const rows = await write.tx.groupMember.findMany({
    where: { groupId: write.group.id, role: { in: ["OWNER", "ADMIN"] } },
    select: { userId: true },
  });
  return rows.map((row) => row.userId);
}

/** OPEN groups take the caller at once; APPROVAL ones file a request that the owner and admins see. */
export async function joinGroup(
  ctx: Context,
  id: string,
  message: string | null | undefined,
): Promise<Group> {
  const { user } = requireUser(ctx);
  const { group, member } = await viewGroup(ctx, id);
  if (member) throw new AppError("CONFLICT", "You are already a member of this group");
  if (group.joinPolicy === "INVITE_ONLY") {
    throw forbidden("This group takes members by invitation only: ask a member to invite you");
  }
  const text =
    message == null ? null : check.text(message, "message", { min: 0, max: LIMITS.requestMessage });
  return changeGroup(ctx, group.id, [user.id], async (write) => {
    await refuseBarred(write, [user.id]);
    if ((await membersAmong(write, [user.id])).size > 0) {
      throw new AppError("CONFLICT", "You are already a member of this group");
    }
    if (write.group.joinPolicy === "OPEN") {
      await admit(write, [user.id], user.id);
      return write.group;
    }
    await write.tx.groupJoinRequest.upsert({
      where: { groupId_userId: { groupId: group.id, userId: user.id } },
      create: { groupId: group.id, userId: user.id, message: text },
      update: {
        message: text,
        status: "PENDING",
        createdAt: new Date(),
        answeredAt: null,
        answeredById: null,
      },
    });
    await record(write, "JOIN_REQUESTED", user.id, [user.id], await managers(write));
    tell(write, [user.id], "JOIN_REQUESTED", user.id);
    return write.group;
  });
}

async function pendingRequest(write: GroupWrite, userId: string) {
  const request = await write.tx.groupJoinRequest.findUnique({
    where: { groupId_userId: { groupId: write.group.id, userId } },
  });
  if (!request) throw notFound("There is no request from this user to join the group");
  if (request.status !== "PENDING") throw new AppError("CONFLICT", "This request has already been answered");
  return request;
}

/** The first answer wins: the second answerer gets CONFLICT. */
export async function approveJoinRequest(ctx: Context, id: string, username: string): Promise<boolean> {
  const { group } = await requireManager(ctx, id);
  const [applicant] = await requireUsersNamed(ctx, [username], "username");
  await changeGroup(ctx, group.id, [], async (write) => {
    await pendingRequest(write, applicant!.id);
    await admit(write, [applicant!.id], actorId(ctx));
  });
  return true;
}

export async function declineJoinRequest(ctx: Context, id: string, username: string): Promise<boolean> {
  const { group } = await requireManager(ctx, id);
  const [applicant] = await requireUsersNamed(ctx, [username], "username");
  await changeGroup(ctx, group.id, [applicant!.id], async (write) => {
    const request = await pendingRequest(write, applicant!.id);
    await write.tx.groupJoinRequest.update({
      where: { id: request.id },
      data: { status: "DECLINED", answeredAt: new Date(), answeredById: actorId(ctx) },
    });
    await record(write, "JOIN_DECLINED", actorId(ctx), [applicant!.id], await managers(write));
    tell(write, [applicant!.id], "JOIN_DECLINED", actorId(ctx));
  });
  return true;
}

/** Owner and admins invite, and members too when the group allows it; invitees accept or decline. */
export async function inviteToGroup(
  ctx: Context,
  id: string,
  usernames: readonly string[],
): Promise<boolean> {
  const access = await viewGroup(ctx, id);
  if (!access.isAdmin && !access.member)
    throw new AppError("NOT_MEMBER", "Only members can invite to a group");
  if (!access.isAdmin && !mayInvite(access.group, access.member)) {
    throw forbidden("Only the group's owner and admins can invite to this group");
  }
  check.list(usernames, "usernames", LIMITS.inviteBatch);
  if (usernames.length === 0) throw badInput("usernames must name at least one user", "usernames");
  const invitees = await requireUsersNamed(ctx, usernames);
  const ids = invitees.map((invitee) => invitee.id);
  const inviter = actorId(ctx);
  await changeGroup(ctx, access.group.id, [...ids, ...(inviter ? [inviter] : [])], async (write) => {
    const members = await membersAmong(write, ids);
    if (members.size > 0) throw new AppError("CONFLICT", `${names(invitees, members)} already in the group`);
    await refuseBarred(write, ids);
    for (const userId of ids) {
      await write.tx.groupInvite.upsert({
        where: { groupId_userId: { groupId: write.group.id, userId } },
        create: { groupId: write.group.id, userId, inviterId: inviter ?? write.group.ownerId },
        update: {
          inviterId: inviter ?? write.group.ownerId,
          status: "PENDING",
          createdAt: new Date(),
          answeredAt: null,
        },
      });
    }
    tell(write, ids, "MEMBER_INVITED", inviter);
  });
  return true;
}

function names(users: User[], among: Map<string, unknown>): string {
  return users
    .filter((user) => among.has(user.id))
    .map((user) => `"${user.username}"`)
    .join(", ");
}

async function pendingInvite(ctx: Context, groupId: string, userId: string) {
  const invite = await ctx.prisma.groupInvite.findUnique({ where: { groupId_userId: { groupId, userId } } });
  if (invite?.status !== "PENDING") throw notFound("You have no pending invitation to this group");
  return invite;
}

export async function acceptGroupInvite(ctx: Context, id: string): Promise<Group> {
  const { user } = requireUser(ctx);
  const group = await findGroup(ctx, id);
  await pendingInvite(ctx, group.id, user.id);
  return changeGroup(ctx, group.id, [], async (write) => {
    const invite = await write.tx.groupInvite.findUnique({
      where: { groupId_userId: { groupId: group.id, userId: user.id } },
    });
    if (invite?.status !== "PENDING") throw notFound("You have no pending invitation to this group");
    await admit(write, [user.id], user.id);
    return write.group;
  });
}

export async function declineGroupInvite(ctx: Context, id: string): Promise<boolean> {
  const { user } = requireUser(ctx);
  const group = await findGroup(ctx, id);
  const invite = await pendingInvite(ctx, group.id, user.id);
  await changeGroup(ctx, group.id, [user.id, invite.inviterId], async (write) => {
    const updated = await write.tx.groupInvite.updateMany({
      where: { id: invite.id, status: "PENDING" },
      data: { status: "DECLINED", answeredAt: new Date() },
    });
    if (updated.count === 0) throw notFound("You have no pending invitation to this group");
    tell(write, [user.id, invite.inviterId], "INVITE_DECLINED", user.id);
  });
  return true;
}

export async function leaveGroup(ctx: Context, id: string): Promise<boolean> {
  const { user } = requireUser(ctx);
  const { group, member } = await viewGroup(ctx, id);
  if (!member) throw new AppError("NOT_MEMBER", "You are not a member of this group");
  if (member.role === "OWNER") {
    throw forbidden("The owner cannot leave: transfer the ownership first (transferGroupOwnership)");
  }
  await changeGroup(ctx, group.id, [], async (write) => {
    await requireStillMember(write, user.id);
    await release(write, [user.id], user.id, "MEMBER_LEFT");
  });
  return true;
}

/**
 * The members named, read under the lock, that the caller may act on: everyone listed must be a
 * member of lower rank (admins cannot act on admins or the owner; nobody on themself).
 */
export async function subordinates(
  ctx: Context,
  write: GroupWrite,
  users: User[],
  { membersOnly = true } = {},
): Promise<Map<string, GroupMember>> {
  const self = actorId(ctx);
  if (users.some((user) => user.id === self)) throw badInput("You cannot do this to yourself", "usernames");
  const members = membersOnly
    ? await requireMembers(write, users)
    : await membersAmong(
        write,
        users.map((user) => user.id),
      );
  const actor = self ? await membership(write.tx, write.group.id, self) : null;
  requireOutranks(actor, self === null, [...members.values()], "group");
  return members;
}

async function namedUsers(ctx: Context, usernames: readonly string[]): Promise<User[]> {
  check.list(usernames, "usernames", LIMITS.inviteBatch);
  if (usernames.length === 0) throw badInput("usernames must name at least one user", "usernames");
  return requireUsersNamed(ctx, usernames);
}

/** The owner or an admin (or the app server) acts on the users named, under the group's lock. */
export async function actOnUsers(
  ctx: Context,
  id: string,
  usernames: readonly string[],
  work: (write: GroupWrite, users: User[]) => Promise<void>,
  { outsidersToo = false } = {},
): Promise<boolean> {
  const { group } = await requireManager(ctx, id);
  const users = await namedUsers(ctx, usernames);
  // With outsidersToo, users outside the group are told in their own streams: those are held too.
  const streams = outsidersToo ? users.map((user) => user.id) : [];
  await changeGroup(ctx, group.id, streams, (write) => work(write, users));
  return true;
}

export async function removeGroupMembers(
  ctx: Context,
  id: string,
  usernames: readonly string[],
): Promise<boolean> {
  return actOnUsers(ctx, id, usernames, async (write, users) => {
    await subordinates(ctx, write, users);
    await release(
      write,
      users.map((user) => user.id),
      actorId(ctx),
      "MEMBER_REMOVED",
    );
  });
}

/** Removes them if they are members, and bars them from joining or being invited until unblocked. */
export async function blockGroupMembers(
  ctx: Context,
  id: string,
  usernames: readonly string[],
): Promise<boolean> {
  return actOnUsers(
    ctx,
    id,
    usernames,
    async (write, users) => {
      const members = await subordinates(ctx, write, users, { membersOnly: false });
      const ids = users.map((user) => user.id);
      await write.tx.groupBlock.createMany({
        data: ids.map((userId) => ({ groupId: write.group.id, userId })),
        skipDuplicates: true,
      });
      const answered = { status: "DECLINED" as const, answeredAt: new Date() };
      await write.tx.groupInvite.updateMany({
        where: { groupId: write.group.id, userId: { in: ids }, status: "PENDING" },
        data: answered,
      });
      await write.tx.groupJoinRequest.updateMany({
        where: { groupId: write.group.id, userId: { in: ids }, status: "PENDING" },
        data: answered,
      });
      // Members read it as their removal; the others named are told in their own streams.
      await release(write, ids, actorId(ctx), "MEMBERS_BLOCKED");
      tell(
        write,
        ids.filter((userId) => !members.has(userId)),
        "MEMBERS_BLOCKED",
        actorId(ctx),
      );
    },
    { outsidersToo: true },
  );
}

export async function unblockGroupMembers(
  ctx: Context,
  id: string,
  usernames: readonly string[],
): Promise<boolean> {
  return actOnUsers(
    ctx,
    id,
    usernames,
    async (write, users) => {
      const ids = users.map((user) => user.id);
      const unbarred = await write.tx.groupBlock.findMany({
        where: { groupId: write.group.id, userId: { in: ids } },
        select: { userId: true },
      });
      if (unbarred.length === 0) return;
      const unbarredIds = unbarred.map((row) => row.userId);
      await write.tx.groupBlock.deleteMany({
        where: { groupId: write.group.id, userId: { in: unbarredIds } },
      });
      await record(write, "MEMBERS_UNBLOCKED", actorId(ctx), unbarredIds);
      tell(write, unbarredIds, "MEMBERS_UNBLOCKED", actorId(ctx));
    },
    { outsidersToo: true },
  );
}

export async function transferGroupOwnership(ctx: Context, id: string, username: string): Promise<Group> {
  const { group } = await requireOwner(ctx, id);
  const [heir] = await requireUsersNamed(ctx, [username], "username");
  return changeGroup(ctx, group.id, [], async (write) => {
    await requireMembers(write, [heir!]);
    if (heir!.id === write.group.ownerId) return write.group;
    await write.tx.groupMember.update({
      where: { groupId_userId: { groupId: group.id, userId: write.group.ownerId } },
      data: { role: "MEMBER" },
    });
    await write.tx.groupMember.update({
      where: { groupId_userId: { groupId: group.id, userId: heir!.id } },
      data: { role: "OWNER", mutedUntil: null },
    });
    const updated = await write.tx.group.update({ where: { id: group.id }, data: { ownerId: heir!.id } });
    await record(write, "OWNER_CHANGED", actorId(ctx), [heir!.id, write.group.ownerId]);
    return updated;
  });
}

async function setAdmin(ctx: Context, id: string, username: string, admin: boolean): Promise<boolean> {
  const { group } = await requireOwner(ctx, id);
  const [user] = await requireUsersNamed(ctx, [username], "username");
  await changeGroup(ctx, group.id, [], async (write) => {
    const member = (await requireMembers(write, [user!])).get(user!.id)!;
    if (member.role === "OWNER") throw badInput("The owner is not an admin", "username");
    if ((member.role === "ADMIN") === admin) return;
    if (admin) {
      const admins = await write.tx.groupMember.count({ where: { groupId: group.id, role: "ADMIN" } });
      if (admins >= LIMITS.admins) {
        throw new AppError("LIMIT_EXCEEDED", `A group has at most ${LIMITS.admins} admins`);
      }
    }
    await write.tx.groupMember.update({
      where: { groupId_userId: { groupId: group.id, userId: user!.id } },
      data: { role: admin ? "ADMIN" : "MEMBER" },
    });
    await record(write, admin ? "ADMIN_ADDED" : "ADMIN_REMOVED", actorId(ctx), [user!.id]);
  });
  return true;
}

export const addGroupAdmin = (ctx: Context, id: string, username: string) =>
  setAdmin(ctx, id, username, true);
export const removeGroupAdmin = (ctx: Context, id: string, username: string) =>
  setAdmin(ctx, id, username, false);
