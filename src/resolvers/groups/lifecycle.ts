import { randomUUID } from "node:crypto";
import type { Context } from "../../context.js";
import { closeSpans, openSpan } from "../../delivery/chat-log.js";
import { deliver } from "../../delivery/user-log.js";
import { AppError, badInput } from "../../errors.js";
import type { Group, GroupJoinPolicy, Prisma } from "../../generated/prisma/client.js";
import { requireUser } from "../access.js";
import { moderateField } from "../moderation/check.js";
import { endThreads } from "../threads/ending.js";
import { requireUsersNamed } from "../users.js";
import * as check from "../validation.js";
import { actorId, requireManager, requireOwner } from "./access.js";
import { LIMITS } from "./policy.js";
import { changeGroup, membersAmong, record, release } from "./roster.js";

// Creating, changing and destroying groups.

export interface CreateGroupInput {
  name: string;
  description?: string | null;
  isPublic?: boolean | null;
  joinPolicy?: GroupJoinPolicy | null;
  allowMemberInvites?: boolean | null;
  maxMembers?: number | null;
  members?: readonly string[] | null;
  ext?: unknown;
}

const DEFAULT_MAX_MEMBERS = 3000;

function checkMaxMembers(ctx: Context, maxMembers: number): number {
  const ceiling = ctx.services.config.groupMaxMembers;
  if (!Number.isInteger(maxMembers) || maxMembers < 2)
    throw badInput("maxMembers must be at least 2", "maxMembers");
  if (maxMembers > ceiling) {
    throw new AppError("LIMIT_EXCEEDED", `maxMembers can be at most ${ceiling} (GROUP_MAX_MEMBERS)`, {
      field: "maxMembers",
    });
  }
  return maxMembers;
}

const ext = (raw: unknown) => check.jsonObject(raw, "ext", LIMITS.extBytes) as Prisma.InputJsonObject;
const description = (raw: string) => check.text(raw, "description", { min: 0, max: LIMITS.description });

/** The caller owns the new group; `members` are in at once, everyone told by one GROUP_CREATED. */
export async function createGroup(ctx: Context, input: CreateGroupInput): Promise<Group> {
  const { user } = requireUser(ctx);
  const name = await moderateField(
    ctx,
    "GROUP_PROFILE",
    check.text(input.name, "name", { max: LIMITS.name }),
  );
  const groupDescription =
    input.description == null
      ? ""
      : await moderateField(ctx, "GROUP_PROFILE", description(input.description));
  const maxMembers = checkMaxMembers(
    ctx,
    input.maxMembers ?? Math.min(DEFAULT_MAX_MEMBERS, ctx.services.config.groupMaxMembers),
  );
  check.list(input.members ?? [], "members", LIMITS.initialMembers);
  const others = (await requireUsersNamed(ctx, input.members ?? [], "members")).filter(
    (u) => u.id !== user.id,
  );
  if (others.length + 1 > maxMembers) {
    throw new AppError("LIMIT_EXCEEDED", `maxMembers is ${maxMembers}: that is fewer than the members given`);
  }
  const id = randomUUID();
  const members = [user.id, ...others.map((other) => other.id)];
  return deliver(ctx, { chats: [id] }, async (tx, out) => {
    await tx.chat.create({ data: { id, type: "GROUP" } });
    const group = await tx.group.create({
      data: {
        id,
        name,
        description: groupDescription,
        isPublic: input.isPublic ?? false,
        joinPolicy: input.joinPolicy ?? "APPROVAL",
        allowMemberInvites: input.allowMemberInvites ?? false,
        maxMembers,
        memberCount: members.length,
        ownerId: user.id,
        ext: input.ext == null ? {} : ext(input.ext),
      },
    });
    await tx.groupMember.createMany({
      data: members.map((userId) => ({ groupId: id, userId, role: userId === user.id ? "OWNER" : "MEMBER" })),
    });
    await tx.conversation.createMany({
      data: members.map((userId) => ({ userId, chatId: id, chatType: "GROUP" })),
    });
    const entry = await record({ tx, out, group }, "GROUP_CREATED", user.id, members);
    for (const userId of members) await openSpan(tx, id, userId, entry.pos);
    return group;
  });
}

/** The owner ends the group: members read GROUP_DESTROYED as its last entry, and their conversations end. */
export async function destroyGroup(ctx: Context, id: string): Promise<boolean> {
  const { group } = await requireOwner(ctx, id);
  await destroy(ctx, group.id, actorId(ctx));
  return true;
}

async function destroy(ctx: Pick<Context, "prisma" | "services">, groupId: string, actor: string | null) {
  await changeGroup(ctx, groupId, [], async (write) => {
    const { tx } = write;
    const entry = await record(write, "GROUP_DESTROYED", actor);
    await closeSpans(tx, groupId, "all", entry.pos);
    await endThreads(tx, { groupId }, entry.pos);
    await tx.groupMember.deleteMany({ where: { groupId } });
    await tx.conversation.deleteMany({ where: { chatId: groupId } });
    await tx.groupInvite.deleteMany({ where: { groupId } });
    await tx.groupJoinRequest.deleteMany({ where: { groupId } });
    await tx.group.update({ where: { id: groupId }, data: { destroyedAt: new Date(), memberCount: 0 } });
  });
}

/**
 * A deleted account leaves its groups: the groups it owned are destroyed (as Easemob does), the
 * others see it leave. One group at a time, each under its own lock.
 */
export async function leaveAllGroups(
  ctx: Pick<Context, "prisma" | "services">,
  userId: string,
): Promise<void> {
  const memberships = await ctx.prisma.groupMember.findMany({ where: { userId } });
  for (const { groupId, role } of memberships) {
    if (role === "OWNER") {
      await destroy(ctx, groupId, null);
      continue;
    }
    await changeGroup(ctx, groupId, [], async (write) => {
      if ((await membersAmong(write, [userId])).size > 0)
        await release(write, [userId], userId, "MEMBER_LEFT");
    });
  }
}

export interface UpdateGroupInput {
  name?: string | null;
  description?: string | null;
  ext?: unknown;
  isPublic?: boolean | null;
  joinPolicy?: GroupJoinPolicy | null;
  allowMemberInvites?: boolean | null;
  maxMembers?: number | null;
}

/** Owner and admins change the group's profile and settings; members read GROUP_UPDATED. */
export async function updateGroup(ctx: Context, id: string, input: UpdateGroupInput): Promise<Group> {
  const { group } = await requireManager(ctx, id);
  const data: Prisma.GroupUpdateInput = {};
  const moderated = (text: string) => moderateField(ctx, "GROUP_PROFILE", text, group.id);
  if (input.name != null) data.name = await moderated(check.text(input.name, "name", { max: LIMITS.name }));
  if (input.description != null) data.description = await moderated(description(input.description));
  if (input.ext != null) data.ext = ext(input.ext);
  if (input.isPublic != null) data.isPublic = input.isPublic;
  if (input.joinPolicy != null) data.joinPolicy = input.joinPolicy;
  if (input.allowMemberInvites != null) data.allowMemberInvites = input.allowMemberInvites;
  const maxMembers = input.maxMembers == null ? null : checkMaxMembers(ctx, input.maxMembers);
  return changeGroup(ctx, group.id, [], async (write) => {
    if (maxMembers !== null) {
      if (maxMembers < write.group.memberCount) {
        throw new AppError("LIMIT_EXCEEDED", `The group has ${write.group.memberCount} members already`, {
          field: "maxMembers",
        });
      }
      data.maxMembers = maxMembers;
    }
    if (Object.keys(data).length === 0) return write.group;
    const updated = await write.tx.group.update({ where: { id: group.id }, data });
    await record(write, "GROUP_UPDATED", actorId(ctx));
    return updated;
  });
}

export async function setGroupAnnouncement(ctx: Context, id: string, text: string): Promise<Group> {
  const { group } = await requireManager(ctx, id);
  const announcement = await moderateField(
    ctx,
    "GROUP_PROFILE",
    check.text(text, "text", { min: 0, max: LIMITS.announcement }),
    group.id,
  );
  return changeGroup(ctx, group.id, [], async (write) => {
    const updated = await write.tx.group.update({ where: { id: group.id }, data: { announcement } });
    await record(write, "ANNOUNCEMENT_CHANGED", actorId(ctx));
    return updated;
  });
}
