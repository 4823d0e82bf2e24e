import type { Context } from "../../context.js";
import { type ChatEntry, closeSpans, openSpan } from "../../delivery/chat-log.js";
import { deliver, type Outbox, type Tx } from "../../delivery/user-log.js";
import { AppError, notFound } from "../../errors.js";
import type { Group, GroupMember, GroupRole, Prisma, User } from "../../generated/prisma/client.js";
import { leaveGroupThreads } from "../threads/ending.js";
import type { GroupChange } from "./policy.js";

// Every change to a group runs here: under the group's chat lock, so it is ordered with the
// group's messages (EVENT-LOG.md invariant 7), and recorded as one chat-log entry that members read
// from their spans. Joins open spans at their entry and removals close them at theirs, so a new
// member reads nothing from before the join and a removed one nothing after the removal.

export interface GroupWrite {
  tx: Tx;
  out: Outbox;
  /** The group as it is under the lock. */
  group: Group;
}

/**
 * Runs `work` holding the group's chat (and the stream heads of `users`, for events to people
 * outside it). The group is re-read under the lock; destroyed meanwhile is NOT_FOUND.
 */
export function changeGroup<T>(
  ctx: Pick<Context, "prisma" | "services">,
  groupId: string,
  users: readonly string[],
  work: (write: GroupWrite) => Promise<T>,
): Promise<T> {
  return deliver(ctx, { users, chats: [groupId] }, async (tx, out) => {
    const group = await tx.group.findUnique({ where: { id: groupId } });
    if (!group || group.destroyedAt) throw notFound(`No group with id "${groupId}"`);
    return work({ tx, out, group });
  });
}

/** A GroupEvent entry: every member reads it, or only `audience` when given. */
export function record(
  write: GroupWrite,
  kind: GroupChange,
  actor: string | null,
  users: readonly string[] = [],
  audience?: readonly string[],
): Promise<ChatEntry> {
  return write.out.append({
    chatId: write.group.id,
    kind: "GROUP",
    audience,
    data: { kind, actor, users: [...users] },
  });
}

/** A GroupEvent in the streams of users outside the group (invitees, applicants); heads locked by changeGroup. */
export function tell(write: GroupWrite, userIds: readonly string[], kind: GroupChange, actor: string | null) {
  for (const userId of new Set(userIds)) {
    write.out.emit({
      userId,
      kind: "GROUP",
      chatId: write.group.id,
      data: { kind, actor, users: [userId] },
    });
  }
}

/** BLOCKED when the group's admins barred any of these users (blockGroupMembers). */
export async function refuseBarred(write: GroupWrite, userIds: readonly string[]): Promise<void> {
  const barred = await write.tx.groupBlock.count({
    where: { groupId: write.group.id, userId: { in: [...userIds] } },
  });
  if (barred > 0) {
    const who = userIds.length === 1 ? "This user is" : "Some of these users are";
    throw new AppError("BLOCKED", `${who} blocked from the group by its admins`);
  }
}

/**
 * Makes users members: the seat check runs under the lock, so two joins racing for the last seat
 * admit exactly one. Users barred from the group are BLOCKED.
 */
export async function admit(
  write: GroupWrite,
  userIds: readonly string[],
  actor: string | null,
  kind: GroupChange = "MEMBER_JOINED",
  roleOf: (userId: string) => GroupRole = () => "MEMBER",
): Promise<ChatEntry> {
  const { tx, group } = write;
  const ids = [...new Set(userIds)];
  await refuseBarred(write, ids);
  if (group.memberCount + ids.length > group.maxMembers) {
    throw new AppError("LIMIT_EXCEEDED", `The group is full: it takes at most ${group.maxMembers} members`);
  }
  // History starts at the join: what was sent before is neither readable, nor unread, nor read by them.
  const [{ last }] = await tx.$queryRaw<[{ last: bigint }]>`
    SELECT coalesce(max(id), 0) AS last FROM "Message" WHERE "chatId" = ${group.id}::uuid`;
  await tx.groupMember.createMany({
    data: ids.map((userId) => ({ groupId: group.id, userId, role: roleOf(userId), historyFromId: last })),
  });
  await tx.$executeRaw`
    INSERT INTO "Conversation" ("userId", "chatId", "chatType", "readUpToId", "clearedUpToId", "activityAt", "updatedAt")
    SELECT u, ${group.id}::uuid, 'GROUP', ${last}, ${last}, now(), now()
    FROM unnest(${ids}::uuid[]) AS u
    ON CONFLICT ("userId", "chatId") DO UPDATE SET "readUpToId" = EXCLUDED."readUpToId",
      "clearedUpToId" = EXCLUDED."clearedUpToId", "deletedAt" = NULL, "activityAt" = now(), "updatedAt" = now()`;
  await tx.group.update({ where: { id: group.id }, data: { memberCount: { increment: ids.length } } });
  await tx.groupInvite.updateMany({
    where: { groupId: group.id, userId: { in: ids }, status: "PENDING" },
    data: { status: "ACCEPTED", answeredAt: new Date() },
  });
  await tx.groupJoinRequest.updateMany({
    where: { groupId: group.id, userId: { in: ids }, status: "PENDING" },
    data: { status: "ACCEPTED", answeredAt: new Date(), answeredById: actor },
  });
  const entry = await record(write, kind, actor, ids);
  for (const userId of ids) await openSpan(tx, group.id, userId, entry.pos, { afterMessageId: last });
  write.group = { ...group, memberCount: group.memberCount + ids.length };
  return entry;
}

/** Ends users' membership; they read this entry and nothing of the group after it. */
export async function release(
  write: GroupWrite,
  userIds: readonly string[],
  actor: string | null,
  kind: GroupChange,
): Promise<ChatEntry> {
  const { tx, group } = write;
  const ids = [...new Set(userIds)];
  const removed = await tx.groupMember.deleteMany({ where: { groupId: group.id, userId: { in: ids } } });
  await tx.conversation.deleteMany({ where: { chatId: group.id, userId: { in: ids } } });
  await tx.group.update({ where: { id: group.id }, data: { memberCount: { decrement: removed.count } } });
  const entry = await record(write, kind, actor, ids);
  await closeSpans(tx, group.id, ids, entry.pos);
  await leaveGroupThreads(tx, group.id, ids, entry.pos);
  write.group = { ...group, memberCount: group.memberCount - removed.count };
  return entry;
}

/** The named users' memberships, read under the lock; NOT_MEMBER names anyone not in the group. */
export async function requireMembers(
  write: GroupWrite,
  users: readonly Pick<User, "id" | "username">[],
): Promise<Map<string, GroupMember>> {
  const members = await membersAmong(
    write,
    users.map((user) => user.id),
  );
  const outsiders = users.filter((user) => !members.has(user.id));
  if (outsiders.length > 0) {
    throw new AppError(
      "NOT_MEMBER",
      `Not in the group: ${outsiders.map((u) => `"${u.username}"`).join(", ")}`,
    );
  }
  return members;
}

/** The caller's own membership, read under the lock: it may have ended since they were checked. */
export async function requireStillMember(write: GroupWrite, userId: string): Promise<GroupMember> {
  const member = (await membersAmong(write, [userId])).get(userId);
  if (!member) throw new AppError("NOT_MEMBER", "You are not a member of this group");
  return member;
}

/** Changes the members' rows and records the change as one GroupEvent about them. */
export async function updateMembers(
  write: GroupWrite,
  userIds: readonly string[],
  data: Prisma.GroupMemberUpdateManyMutationInput,
  kind: GroupChange,
  actor: string | null,
): Promise<void> {
  await write.tx.groupMember.updateMany({
    where: { groupId: write.group.id, userId: { in: [...userIds] } },
    data,
  });
  await record(write, kind, actor, userIds);
}

/** The members among `userIds`, read under the lock, by user id. */
export async function membersAmong(write: GroupWrite, userIds: readonly string[]) {
  const rows = await write.tx.groupMember.findMany({
    where: { groupId: write.group.id, userId: { in: [...userIds] } },
  });
  return new Map(rows.map((row) => [row.userId, row]));
}
