import type { Context, Services } from "../../context.js";
import { AppError, badInput, forbidden } from "../../errors.js";
import type { Room, RoomMember, User } from "../../generated/prisma/client.js";
import { requireUser } from "../access.js";
import { actorId } from "../groups/access.js";
import { muteEnd, requireOutranks } from "../groups/policy.js";
import { requireUsersNamed } from "../users.js";
import * as check from "../validation.js";
import { notRoomMember, requireRoomManager, requireRoomOwner, viewRoom } from "./access.js";
import { destroy } from "./lifecycle.js";
import { LIMITS } from "./policy.js";
import {
  admit,
  changeRoom,
  type RoomWrite,
  release,
  requireRoomMembers,
  roomMembersAmong,
  updateMembers,
} from "./roster.js";

// Joining and leaving rooms, roles, mutes and the allow list, the block list, and the grace period
// after which a member whose devices are all gone is removed.

export async function joinRoom(ctx: Context, id: string): Promise<Room> {
  const { user } = requireUser(ctx);
  const { room, member } = await viewRoom(ctx, id);
  if (member) throw new AppError("CONFLICT", "You are already a member of this room");
  const online = (await ctx.services.presence.onlineDevices([user.id])).has(user.id);
  return changeRoom(ctx, room.id, async (write) => {
    if ((await roomMembersAmong(write, [user.id])).size > 0) {
      throw new AppError("CONFLICT", "You are already a member of this room");
    }
    return admit(write, user.id, online, ctx.services.config.rooms.maxJoined);
  });
}

export async function leaveRoom(ctx: Context, id: string): Promise<boolean> {
  const { user } = requireUser(ctx);
  const { room, member } = await viewRoom(ctx, id);
  if (!member) throw notRoomMember();
  if (member.role === "OWNER") {
    throw forbidden("The owner cannot leave: transfer the ownership first (transferRoomOwnership)");
  }
  await changeRoom(ctx, room.id, async (write) => {
    if ((await roomMembersAmong(write, [user.id])).size === 0) throw notRoomMember();
    await release(write, [user.id], user.id, "MEMBER_LEFT");
  });
  return true;
}

async function namedUsers(ctx: Context, usernames: readonly string[]): Promise<User[]> {
  check.list(usernames, "usernames", LIMITS.batch);
  if (usernames.length === 0) throw badInput("usernames must name at least one user", "usernames");
  return requireUsersNamed(ctx, usernames);
}

/**
 * The members named that the caller may act on, read under the lock: each must be of lower rank
 * (admins act on members only; the owner and the app server on everyone but the owner).
 */
async function subordinates(
  ctx: Context,
  write: RoomWrite,
  users: User[],
  { membersOnly = true } = {},
): Promise<Map<string, RoomMember>> {
  const self = actorId(ctx);
  if (users.some((user) => user.id === self)) throw badInput("You cannot do this to yourself", "usernames");
  const members = membersOnly
    ? await requireRoomMembers(write, users)
    : await roomMembersAmong(
        write,
        users.map((user) => user.id),
      );
  const actor = self ? (await roomMembersAmong(write, [self])).get(self) : null;
  requireOutranks(actor, self === null, [...members.values()], "room");
  return members;
}

/** The owner or an admin (or the app server) acts on the users named, under the room's lock. */
async function actOnUsers(
  ctx: Context,
  id: string,
  usernames: readonly string[],
  work: (write: RoomWrite, users: User[]) => Promise<void>,
): Promise<boolean> {
  const { room } = await requireRoomManager(ctx, id);
  const users = await namedUsers(ctx, usernames);
  await changeRoom(ctx, room.id, (write) => work(write, users));
  return true;
}

export const removeRoomMembers = (ctx: Context, id: string, usernames: readonly string[]) =>
  actOnUsers(ctx, id, usernames, async (write, users) => {
    await subordinates(ctx, write, users);
    await release(
      write,
      users.map((user) => user.id),
      actorId(ctx),
      "MEMBER_REMOVED",
    );
  });

/** Removes them if they are members, and bars them from joining until unblocked. */
export const blockRoomMembers = (ctx: Context, id: string, usernames: readonly string[]) =>
  actOnUsers(ctx, id, usernames, async (write, users) => {
    await subordinates(ctx, write, users, { membersOnly: false });
    const ids = users.map((user) => user.id);
    await write.tx.roomBlock.createMany({
      data: ids.map((userId) => ({ roomId: write.room.id, userId })),
      skipDuplicates: true,
    });
    await release(write, ids, actorId(ctx), "MEMBERS_BLOCKED");
  });

export const unblockRoomMembers = (ctx: Context, id: string, usernames: readonly string[]) =>
  actOnUsers(ctx, id, usernames, async (write, users) => {
    const ids = users.map((user) => user.id);
    const unbarred = await write.tx.roomBlock.deleteMany({
      where: { roomId: write.room.id, userId: { in: ids } },
    });
    if (unbarred.count > 0) write.notes.event("MEMBERS_UNBLOCKED", actorId(ctx), ids);
  });

export function muteRoomMembers(
  ctx: Context,
  id: string,
  usernames: readonly string[],
  durationSeconds: number,
) {
  const mutedUntil = muteEnd(durationSeconds);
  return actOnUsers(ctx, id, usernames, async (write, users) => {
    const members = await subordinates(ctx, write, users);
    await updateMembers(write, [...members.keys()], { mutedUntil }, "MEMBERS_MUTED", actorId(ctx));
  });
}

export const unmuteRoomMembers = (ctx: Context, id: string, usernames: readonly string[]) =>
  actOnUsers(ctx, id, usernames, async (write, users) => {
    const members = await subordinates(ctx, write, users);
    await updateMembers(write, [...members.keys()], { mutedUntil: null }, "MEMBERS_UNMUTED", actorId(ctx));
  });

/** While all are muted only the owner, admins and the allow list speak. */
export async function muteAllRoomMembers(ctx: Context, id: string, muted: boolean): Promise<Room> {
  const { room } = await requireRoomManager(ctx, id);
  return changeRoom(ctx, room.id, async (write) => {
    if (write.room.allMuted === muted) return write.room;
    const updated = await write.tx.room.update({ where: { id: room.id }, data: { allMuted: muted } });
    write.notes.event(muted ? "ALL_MUTED" : "ALL_UNMUTED", actorId(ctx));
    return updated;
  });
}

/** The allow list speaks while all are muted, and stays in the room while its devices are gone. */
const setAllowListed = (ctx: Context, id: string, usernames: readonly string[], allowListed: boolean) =>
  actOnUsers(ctx, id, usernames, async (write, users) => {
    const members = await requireRoomMembers(write, users);
    await updateMembers(
      write,
      [...members.keys()],
      { allowListed },
      allowListed ? "ALLOW_LIST_ADDED" : "ALLOW_LIST_REMOVED",
      actorId(ctx),
    );
  });

export const addToRoomAllowList = (ctx: Context, id: string, usernames: readonly string[]) =>
  setAllowListed(ctx, id, usernames, true);
export const removeFromRoomAllowList = (ctx: Context, id: string, usernames: readonly string[]) =>
  setAllowListed(ctx, id, usernames, false);

export async function transferRoomOwnership(ctx: Context, id: string, username: string): Promise<Room> {
  const { room } = await requireRoomOwner(ctx, id);
  const [heir] = await requireUsersNamed(ctx, [username], "username");
  return changeRoom(ctx, room.id, async (write) => {
    await requireRoomMembers(write, [heir!]);
    if (heir!.id === write.room.ownerId) return write.room;
    if (write.room.ownerId) {
      await write.tx.roomMember.updateMany({
        where: { roomId: room.id, userId: write.room.ownerId },
        data: { role: "MEMBER" },
      });
    }
    await write.tx.roomMember.update({
      where: { roomId_userId: { roomId: room.id, userId: heir!.id } },
      data: { role: "OWNER", mutedUntil: null },
    });
    const updated = await write.tx.room.update({ where: { id: room.id }, data: { ownerId: heir!.id } });
    write.notes.event("OWNER_CHANGED", actorId(ctx), [
      heir!.id,
      ...(write.room.ownerId ? [write.room.ownerId] : []),
    ]);
    return updated;
  });
}

async function setAdmin(ctx: Context, id: string, username: string, admin: boolean): Promise<boolean> {
  const { room } = await requireRoomOwner(ctx, id);
  const [user] = await requireUsersNamed(ctx, [username], "username");
  await changeRoom(ctx, room.id, async (write) => {
    const member = (await requireRoomMembers(write, [user!])).get(user!.id)!;
    if (member.role === "OWNER") throw badInput("The owner is not an admin", "username");
    if ((member.role === "ADMIN") === admin) return;
    if (
      admin &&
      (await write.tx.roomMember.count({ where: { roomId: room.id, role: "ADMIN" } })) >= LIMITS.admins
    ) {
      throw new AppError("LIMIT_EXCEEDED", `A room has at most ${LIMITS.admins} admins`);
    }
    await write.tx.roomMember.update({
      where: { roomId_userId: { roomId: room.id, userId: user!.id } },
      data: { role: admin ? "ADMIN" : "MEMBER" },
    });
    write.notes.event(admin ? "ADMIN_ADDED" : "ADMIN_REMOVED", actorId(ctx), [user!.id]);
  });
  return true;
}

export const addRoomAdmin = (ctx: Context, id: string, username: string) => setAdmin(ctx, id, username, true);
export const removeRoomAdmin = (ctx: Context, id: string, username: string) =>
  setAdmin(ctx, id, username, false);

/** A deleted account leaves its rooms; the rooms it owned are destroyed, as its groups are. */
export async function leaveAllRooms(
  ctx: Pick<Context, "prisma" | "services">,
  userId: string,
): Promise<void> {
  const memberships = await ctx.prisma.roomMember.findMany({ where: { userId } });
  for (const { roomId, role } of memberships) {
    const left =
      role === "OWNER"
        ? destroy(ctx, roomId, null)
        : changeRoom(ctx, roomId, (write) => release(write, [userId], userId, "MEMBER_LEFT"));
    await left.catch((error: unknown) => {
      if (!(error instanceof AppError && error.code === "NOT_FOUND")) throw error;
    });
  }
}

// --- Presence: the grace period -----------------------------------------------------------------

/**
 * A user came online or went offline (once per change, on whichever instance saw it, including the
 * one that reaped a dead instance): their rooms note when their last device went.
 */
export async function notePresence(services: Services, userId: string): Promise<void> {
  const online = (await services.presence.onlineDevices([userId])).has(userId);
  if (online) {
    await services.prisma.roomMember.updateMany({
      where: { userId, disconnectedAt: { not: null } },
      data: { disconnectedAt: null },
    });
  } else {
    await services.prisma.roomMember.updateMany({
      where: { userId, disconnectedAt: null },
      data: { disconnectedAt: new Date() },
    });
  }
}

const RECONCILE_BATCH = 1000;

/**
 * Stamps members the presence store does not see online but who are marked connected: the change
 * notice that should have done it was lost with the presence store itself (an embedded server
 * restarted, Redis restarted). Runs at start and now and then, a batch of users at a time.
 */
export async function reconcilePresence(services: Services): Promise<number> {
  let stamped = 0;
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    const rows = await services.prisma.roomMember.findMany({
      where: { disconnectedAt: null, userId: { gt: after } },
      distinct: ["userId"],
      select: { userId: true },
      orderBy: { userId: "asc" },
      take: RECONCILE_BATCH,
    });
    if (rows.length === 0) return stamped;
    const ids = rows.map((row) => row.userId);
    const online = await services.presence.onlineDevices(ids);
    const gone = ids.filter((id) => !online.has(id));
    if (gone.length > 0) {
      const result = await services.prisma.roomMember.updateMany({
        where: { userId: { in: gone }, disconnectedAt: null },
        data: { disconnectedAt: new Date() },
      });
      stamped += result.count;
    }
    after = ids.at(-1)!;
  }
}

const GRACE_BATCH = 500;

/**
 * Removes the members gone longer than ROOM_LEAVE_GRACE_SECONDS (not the owner or the allow list).
 * Presence is asked again first: a member who came back meanwhile (and whose note was lost) stays.
 */
export async function removeGoneMembers(services: Services): Promise<number> {
  const cutoff = new Date(Date.now() - services.config.rooms.leaveGraceSeconds * 1000);
  const gone = await services.prisma.roomMember.findMany({
    where: { disconnectedAt: { lte: cutoff }, allowListed: false, role: { not: "OWNER" } },
    select: { roomId: true, userId: true },
    take: GRACE_BATCH,
  });
  if (gone.length === 0) return 0;
  const online = await services.presence.onlineDevices([...new Set(gone.map((row) => row.userId))]);
  const back = [...online.keys()];
  if (back.length > 0) {
    await services.prisma.roomMember.updateMany({
      where: { userId: { in: back } },
      data: { disconnectedAt: null },
    });
  }
  const byRoom = new Map<string, string[]>();
  for (const { roomId, userId } of gone) {
    if (online.has(userId)) continue;
    byRoom.set(roomId, [...(byRoom.get(roomId) ?? []), userId]);
  }
  const ctx = { prisma: services.prisma, services };
  let removed = 0;
  for (const [roomId, userIds] of byRoom) {
    await changeRoom(ctx, roomId, async (write) => {
      // Under the lock: still gone, still not allow-listed.
      const still = await write.tx.roomMember.findMany({
        where: { roomId, userId: { in: userIds }, disconnectedAt: { lte: cutoff }, allowListed: false },
        select: { userId: true },
      });
      removed += still.length;
      await release(
        write,
        still.map((row) => row.userId),
        null,
        "MEMBER_LEFT",
      );
    }).catch((error: unknown) => {
      if (!(error instanceof AppError && error.code === "NOT_FOUND")) throw error;
    });
  }
  return removed;
}
