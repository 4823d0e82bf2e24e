import { randomUUID } from "node:crypto";
import type { Context, Services } from "../../context.js";
import type { Tx } from "../../delivery/user-log.js";
import { AppError, notFound } from "../../errors.js";
import type { Room, RoomMember, User } from "../../generated/prisma/client.js";
import type { RoomEventData, RoomPriority, RoomTrafficMessage } from "../../pubsub/topics.js";
import type { RoomChange } from "./policy.js";

// Every change to a room runs here: under the room's row lock, and told to the members online
// after the commit (rooms are live-only: nothing is written per member, nothing is replayed).

/** What a room change tells, in order, once it has committed. */
export class RoomNotes {
  private readonly sends: (() => void)[] = [];

  constructor(
    private readonly services: Pick<Services, "pubsub">,
    readonly roomId: string,
  ) {}

  /** A RoomEvent to the members online. Joins and departures are LOW: a busy room sheds them first. */
  event(
    kind: RoomChange,
    actor: string | null,
    users: readonly string[] = [],
    attributes?: Record<string, string | null>,
  ): RoomEventData {
    const priority: RoomPriority = kind === "MEMBER_JOINED" || kind === "MEMBER_LEFT" ? "LOW" : "HIGH";
    const event = { id: randomUUID(), kind, actor, users: [...users], ...(attributes ? { attributes } : {}) };
    this.traffic({ roomId: this.roomId, priority, createdAt: new Date().toISOString(), event });
    return event;
  }

  traffic(message: RoomTrafficMessage) {
    this.sends.push(() => this.services.pubsub.publish("roomTraffic", this.roomId, message));
  }

  /** The instances holding the users' streams add or drop the room (a joiner's devices get `event` first). */
  membership(userIds: readonly string[], joined: boolean, event?: RoomEventData) {
    const change = { roomId: this.roomId, joined, ...(event ? { event } : {}) };
    for (const userId of userIds) {
      this.sends.push(() => this.services.pubsub.publish("roomMembership", userId, change));
    }
  }

  send() {
    for (const send of this.sends) send();
  }
}

export interface RoomWrite {
  tx: Tx;
  /** The room as it is under the lock. */
  room: Room;
  notes: RoomNotes;
}

/** Runs `work` holding the room's row; destroyed meanwhile is NOT_FOUND. The notes go out after the commit. */
export async function changeRoom<T>(
  ctx: Pick<Context, "prisma" | "services">,
  roomId: string,
  work: (write: RoomWrite) => Promise<T>,
): Promise<T> {
  const notes = new RoomNotes(ctx.services, roomId);
  const result = await ctx.prisma.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT 1 FROM "Room" WHERE id = ${roomId}::uuid FOR UPDATE`;
    const room = await tx.room.findUnique({ where: { id: roomId } });
    if (!room || room.destroyedAt) throw notFound(`No room with id "${roomId}"`);
    return work({ tx, room, notes });
  });
  notes.send();
  return result;
}

/** The members among `userIds`, read under the lock, by user id. */
export async function roomMembersAmong(write: RoomWrite, userIds: readonly string[]) {
  const rows = await write.tx.roomMember.findMany({
    where: { roomId: write.room.id, userId: { in: [...userIds] } },
  });
  return new Map(rows.map((row) => [row.userId, row]));
}

/** The named users' memberships, read under the lock; NOT_MEMBER names anyone not in the room. */
export async function requireRoomMembers(
  write: RoomWrite,
  users: readonly Pick<User, "id" | "username">[],
): Promise<Map<string, RoomMember>> {
  const members = await roomMembersAmong(
    write,
    users.map((user) => user.id),
  );
  const outsiders = users.filter((user) => !members.has(user.id));
  if (outsiders.length > 0) {
    throw new AppError(
      "NOT_MEMBER",
      `Not in the room: ${outsiders.map((u) => `"${u.username}"`).join(", ")}`,
    );
  }
  return members;
}

/**
 * Makes a user a member. The seat check and the per-user cap run under the room's lock; barred
 * users are BLOCKED. `online` says whether a device of theirs is connected: if not, the grace
 * period before they are removed starts now.
 */
export async function admit(
  write: RoomWrite,
  userId: string,
  online: boolean,
  maxJoined: number,
): Promise<Room> {
  const { tx, room } = write;
  if (await tx.roomBlock.findUnique({ where: { roomId_userId: { roomId: room.id, userId } } })) {
    throw new AppError("BLOCKED", "You are blocked from this room by its admins");
  }
  if (room.memberCount >= room.maxMembers) {
    throw new AppError("LIMIT_EXCEEDED", `The room is full: it takes at most ${room.maxMembers} members`);
  }
  // Joins of one user to different rooms hold different room locks: this one orders them.
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`room-joins:${userId}`}))`;
  const joined = await tx.roomMember.count({ where: { userId, room: { destroyedAt: null } } });
  if (joined >= maxJoined) {
    throw new AppError("LIMIT_EXCEEDED", `You are in ${joined} rooms: leave one first (ROOM_MAX_JOINED)`);
  }
  const role = userId === room.ownerId ? "OWNER" : "MEMBER";
  await tx.roomMember.create({
    data: { roomId: room.id, userId, role, disconnectedAt: online ? null : new Date() },
  });
  const updated = await tx.room.update({
    where: { id: room.id },
    data: { memberCount: { increment: 1 }, emptySince: null },
  });
  write.room = updated;
  // The room hears of the join first; the joiner's own copy comes with its membership.
  const joinedEvent = write.notes.event("MEMBER_JOINED", userId, [userId]);
  write.notes.membership([userId], true, joinedEvent);
  return updated;
}

/**
 * Ends users' membership: they hear of it, then their streams drop the room. Their autoDelete
 * attributes go with them.
 */
export async function release(
  write: RoomWrite,
  userIds: readonly string[],
  actor: string | null,
  kind: RoomChange,
): Promise<void> {
  const { tx, room } = write;
  const ids = [...new Set(userIds)];
  const removed = await tx.roomMember.deleteMany({ where: { roomId: room.id, userId: { in: ids } } });
  if (removed.count === 0) return;
  const memberCount = room.memberCount - removed.count;
  write.room = await tx.room.update({
    where: { id: room.id },
    data: { memberCount, ...(memberCount === 0 ? { emptySince: new Date() } : {}) },
  });
  write.notes.event(kind, actor, ids);
  const dropped = await tx.roomAttribute.findMany({
    where: { roomId: room.id, ownerId: { in: ids }, autoDelete: true },
    select: { key: true },
  });
  if (dropped.length > 0) {
    await tx.roomAttribute.deleteMany({
      where: { roomId: room.id, key: { in: dropped.map((row) => row.key) } },
    });
    write.notes.event(
      "ATTRIBUTES_CHANGED",
      null,
      ids,
      Object.fromEntries(dropped.map((row) => [row.key, null])),
    );
  }
  write.notes.membership(ids, false);
}

/** Changes the members' rows and tells the room, as one RoomEvent about them. */
export async function updateMembers(
  write: RoomWrite,
  userIds: readonly string[],
  data: { mutedUntil?: Date | null; allowListed?: boolean },
  kind: RoomChange,
  actor: string | null,
): Promise<void> {
  await write.tx.roomMember.updateMany({
    where: { roomId: write.room.id, userId: { in: [...userIds] } },
    data,
  });
  write.notes.event(kind, actor, userIds);
}
