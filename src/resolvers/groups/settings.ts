import type { Context } from "../../context.js";
import { closeSpans, openSpan } from "../../delivery/chat-log.js";
import { AppError, badInput, forbidden, notFound } from "../../errors.js";
import type { Group, GroupFile, GroupMember, Prisma } from "../../generated/prisma/client.js";
import { requireUser } from "../access.js";
import { requireUsersNamed } from "../users.js";
import * as check from "../validation.js";
import { actorId, requireManager, requireMember, requireMemberOrAdmin } from "./access.js";
import { actOnUsers, subordinates } from "./membership.js";
import { LIMITS, manages, muteEnd } from "./policy.js";
import { changeGroup, record, requireMembers, requireStillMember, updateMembers } from "./roster.js";

// Who may speak (mutes, mute-all and its allow list), members' own settings and attributes, and
// the group's shared files.

export async function muteGroupMembers(
  ctx: Context,
  id: string,
  usernames: readonly string[],
  durationSeconds: number,
): Promise<boolean> {
  const mutedUntil = muteEnd(durationSeconds);
  return actOnUsers(ctx, id, usernames, async (write, users) => {
    const members = await subordinates(ctx, write, users);
    await updateMembers(write, [...members.keys()], { mutedUntil }, "MEMBERS_MUTED", actorId(ctx));
  });
}

export async function unmuteGroupMembers(
  ctx: Context,
  id: string,
  usernames: readonly string[],
): Promise<boolean> {
  return actOnUsers(ctx, id, usernames, async (write, users) => {
    const members = await subordinates(ctx, write, users);
    await updateMembers(write, [...members.keys()], { mutedUntil: null }, "MEMBERS_UNMUTED", actorId(ctx));
  });
}

/** While all are muted only the owner, admins and the allow list speak. */
export async function muteAllGroupMembers(ctx: Context, id: string, muted: boolean): Promise<Group> {
  const { group } = await requireManager(ctx, id);
  return changeGroup(ctx, group.id, [], async (write) => {
    if (write.group.allMuted === muted) return write.group;
    const updated = await write.tx.group.update({ where: { id: group.id }, data: { allMuted: muted } });
    await record(write, muted ? "ALL_MUTED" : "ALL_UNMUTED", actorId(ctx));
    return updated;
  });
}

async function setAllowListed(ctx: Context, id: string, usernames: readonly string[], allowListed: boolean) {
  return actOnUsers(ctx, id, usernames, async (write, users) => {
    const members = await requireMembers(write, users);
    const kind = allowListed ? "ALLOW_LIST_ADDED" : "ALLOW_LIST_REMOVED";
    await updateMembers(write, [...members.keys()], { allowListed }, kind, actorId(ctx));
  });
}

export const addToGroupAllowList = (ctx: Context, id: string, usernames: readonly string[]) =>
  setAllowListed(ctx, id, usernames, true);
export const removeFromGroupAllowList = (ctx: Context, id: string, usernames: readonly string[]) =>
  setAllowListed(ctx, id, usernames, false);

/**
 * The caller stops (or starts again) receiving the group's messages and stays a member. It is a new
 * span from the next position, so what they receive changes exactly here in the group's order.
 */
export async function blockGroupMessages(ctx: Context, id: string, blocked: boolean): Promise<boolean> {
  const { user } = requireUser(ctx);
  const { group } = await requireMember(ctx, id);
  await changeGroup(ctx, group.id, [], async (write) => {
    const member = await requireStillMember(write, user.id);
    if (member.messagesBlocked === blocked) return;
    await write.tx.groupMember.update({
      where: { groupId_userId: { groupId: group.id, userId: user.id } },
      data: { messagesBlocked: blocked },
    });
    if (!blocked) {
      // What arrived while blocked is skipped, not left unread.
      await write.tx.$executeRaw`
        UPDATE "Conversation" SET "readUpToId" = greatest("readUpToId",
          (SELECT coalesce(max(id), 0) FROM "Message" WHERE "chatId" = ${group.id}::uuid)), "updatedAt" = now()
        WHERE "userId" = ${user.id}::uuid AND "chatId" = ${group.id}::uuid`;
    }
    const entry = await record(
      write,
      blocked ? "MESSAGES_BLOCKED" : "MESSAGES_UNBLOCKED",
      user.id,
      [user.id],
      [user.id],
    );
    await closeSpans(write.tx, group.id, [user.id], entry.pos);
    await openSpan(write.tx, group.id, user.id, entry.pos + 1n, {
      receivesMessages: !blocked,
      afterMessageId: member.historyFromId,
    });
  });
  return true;
}

function checkAttributes(raw: unknown): Record<string, string | null> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw badInput("attributes must be a JSON object of strings", "attributes");
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  for (const [key, value] of entries) {
    if (key.length === 0 || Buffer.byteLength(key) > LIMITS.attributeKeyBytes) {
      throw badInput(
        `Attribute keys are 1-${LIMITS.attributeKeyBytes} bytes; "${key.slice(0, 40)}" is not`,
        "attributes",
      );
    }
    if (value !== null && typeof value !== "string") {
      throw badInput(`Attribute "${key}" must be a string (or null to remove it)`, "attributes");
    }
    if (typeof value === "string" && Buffer.byteLength(value) > LIMITS.attributeValueBytes) {
      throw new AppError("LIMIT_EXCEEDED", `Attribute "${key}" is over ${LIMITS.attributeValueBytes} bytes`, {
        field: "attributes",
      });
    }
  }
  return raw as Record<string, string | null>;
}

/** Merges into the member's attributes (null removes a key): themself, or the owner and admins for anyone. */
export async function setGroupMemberAttributes(
  ctx: Context,
  id: string,
  username: string,
  attributes: unknown,
): Promise<GroupMember> {
  const changes = checkAttributes(attributes);
  const access = await requireMemberOrAdmin(ctx, id);
  const [subject] = await requireUsersNamed(ctx, [username], "username");
  const self = actorId(ctx);
  if (subject!.id !== self && !access.isAdmin && !manages(access.member)) {
    throw forbidden("Only the owner and admins can set another member's attributes");
  }
  return changeGroup(ctx, access.group.id, [], async (write) => {
    const member = (await requireMembers(write, [subject!])).get(subject!.id)!;
    const merged: Record<string, string> = { ...(member.attributes as Record<string, string>) };
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    const bytes = Buffer.byteLength(JSON.stringify(merged));
    if (bytes > LIMITS.attributesBytes) {
      throw new AppError(
        "LIMIT_EXCEEDED",
        `A member's attributes are at most ${LIMITS.attributesBytes} bytes (${bytes})`,
        {
          field: "attributes",
        },
      );
    }
    const updated = await write.tx.groupMember.update({
      where: { groupId_userId: { groupId: member.groupId, userId: member.userId } },
      data: { attributes: merged as Prisma.InputJsonObject },
    });
    await record(write, "MEMBER_ATTRIBUTES_CHANGED", self, [subject!.id]);
    return updated;
  });
}

export interface MemberAttributes {
  userId: string;
  attributes: Record<string, string>;
}

export async function groupMemberAttributes(
  ctx: Context,
  id: string,
  usernames: readonly string[],
  keys: readonly string[] | null | undefined,
): Promise<MemberAttributes[]> {
  const { group } = await requireMemberOrAdmin(ctx, id);
  check.list(usernames, "usernames", LIMITS.inviteBatch);
  const users = await requireUsersNamed(ctx, usernames);
  const rows = await ctx.prisma.groupMember.findMany({
    where: { groupId: group.id, userId: { in: users.map((user) => user.id) } },
  });
  const wanted = keys ? new Set(keys) : null;
  return rows.map((row) => ({
    userId: row.userId,
    attributes: Object.fromEntries(
      Object.entries(row.attributes as Record<string, string>).filter(([key]) => !wanted || wanted.has(key)),
    ),
  }));
}

/** Shares an attachment the caller uploaded with the group; members can then download it. */
export async function uploadGroupFile(ctx: Context, id: string, attachmentId: string): Promise<GroupFile> {
  const { user } = requireUser(ctx);
  const { group } = await requireMember(ctx, id);
  const attachment = check.isId(attachmentId)
    ? await ctx.prisma.attachment.findUnique({ where: { id: attachmentId } })
    : null;
  if (!attachment || attachment.uploaderId !== user.id)
    throw notFound(`No attachment "${attachmentId}" of yours`);
  return changeGroup(ctx, group.id, [], async (write) => {
    await requireStillMember(write, user.id);
    const file = await write.tx.groupFile.create({
      data: { groupId: group.id, attachmentId: attachment.id, uploaderId: user.id },
    });
    await record(write, "FILE_UPLOADED", user.id);
    return file;
  });
}

/** Its uploader, or the owner and admins. */
export async function deleteGroupFile(ctx: Context, id: string, fileId: string): Promise<boolean> {
  const access = await requireMemberOrAdmin(ctx, id);
  const file = check.isId(fileId) ? await ctx.prisma.groupFile.findUnique({ where: { id: fileId } }) : null;
  if (!file || file.groupId !== access.group.id) throw notFound(`No file "${fileId}" in this group`);
  if (!access.isAdmin && file.uploaderId !== actorId(ctx) && !manages(access.member)) {
    throw forbidden("Only its uploader, the owner and admins can delete a group file");
  }
  await changeGroup(ctx, access.group.id, [], async (write) => {
    await write.tx.groupFile.deleteMany({ where: { id: file.id } });
    await record(write, "FILE_DELETED", actorId(ctx));
  });
  return true;
}
