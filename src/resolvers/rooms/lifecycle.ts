import { randomUUID } from "node:crypto";
import type { Context, Services } from "../../context.js";
import { AppError, badInput, forbidden } from "../../errors.js";
import type { Prisma, Room } from "../../generated/prisma/client.js";
import { actorId } from "../groups/access.js";
import { moderateField } from "../moderation/check.js";
import { requireUsersNamed } from "../users.js";
import * as check from "../validation.js";
import { requireRoomManager, requireRoomOwner } from "./access.js";
import { LIMITS } from "./policy.js";
import { admit, changeRoom, RoomNotes } from "./roster.js";

// Creating, changing and destroying rooms.

export interface CreateRoomInput {
  name: string;
  description?: string | null;
  maxMembers?: number | null;
  ext?: unknown;
  /** The app server names the owner; a user creating a room owns it. */
  owner?: string | null;
}

function checkMaxMembers(ctx: Context, maxMembers: number): number {
  const ceiling = ctx.services.config.rooms.maxMembers;
  if (!Number.isInteger(maxMembers) || maxMembers < 2)
    throw badInput("maxMembers must be at least 2", "maxMembers");
  if (maxMembers > ceiling) {
    throw new AppError("LIMIT_EXCEEDED", `maxMembers can be at most ${ceiling} (ROOM_MAX_MEMBERS)`, {
      field: "maxMembers",
    });
  }
  return maxMembers;
}

const ext = (raw: unknown) => check.jsonObject(raw, "ext", LIMITS.extBytes) as Prisma.InputJsonObject;
const description = (raw: string) => check.text(raw, "description", { min: 0, max: LIMITS.description });

/**
 * The app server creates rooms (with an owner, or run by itself alone), and so does any user when
 * ROOM_CREATE_BY_USERS is on: they own the room and are its first member.
 */
export async function createRoom(ctx: Context, input: CreateRoomInput): Promise<Room> {
  let ownerId: string | null;
  if (ctx.viewer.kind === "admin") {
    ownerId = input.owner == null ? null : (await requireUsersNamed(ctx, [input.owner], "owner"))[0]!.id;
  } else if (ctx.viewer.kind === "user") {
    if (!ctx.services.config.rooms.createByUsers) {
      throw forbidden("Only the app server creates rooms here (ROOM_CREATE_BY_USERS is off)");
    }
    if (input.owner != null)
      throw badInput("owner is for the app server; you own the rooms you create", "owner");
    ownerId = ctx.viewer.user.id;
  } else {
    throw forbidden("Sign in to create a room");
  }
  const name = await moderateField(ctx, "ROOM_PROFILE", check.text(input.name, "name", { max: LIMITS.name }));
  const roomDescription =
    input.description == null ? "" : await moderateField(ctx, "ROOM_PROFILE", description(input.description));
  const maxMembers = checkMaxMembers(ctx, input.maxMembers ?? ctx.services.config.rooms.maxMembers);
  const id = randomUUID();
  const online = ownerId !== null && (await ctx.services.presence.onlineDevices([ownerId])).has(ownerId);
  const notes = new RoomNotes(ctx.services, id);
  const room = await ctx.prisma.$transaction(async (tx) => {
    await tx.chat.create({ data: { id, type: "ROOM" } });
    const created = await tx.room.create({
      data: {
        id,
        name,
        description: roomDescription,
        maxMembers,
        ownerId,
        ext: input.ext == null ? {} : ext(input.ext),
        emptySince: new Date(),
      },
    });
    // The owner is its first member, through the same checks as any join (their cap on rooms).
    return ownerId
      ? admit({ tx, room: created, notes }, ownerId, online, ctx.services.config.rooms.maxJoined)
      : created;
  });
  notes.send();
  return room;
}

export async function destroyRoom(ctx: Context, id: string): Promise<boolean> {
  const { room } = await requireRoomOwner(ctx, id);
  await destroy(ctx, room.id, actorId(ctx));
  return true;
}

/**
 * Everyone online hears ROOM_DESTROYED; the members, attributes and block list go. With
 * `ifEmpty`, only a room that is (still, under its lock) empty.
 */
export async function destroy(
  ctx: Pick<Context, "prisma" | "services">,
  roomId: string,
  actor: string | null,
  { ifEmpty = false } = {},
): Promise<boolean> {
  return changeRoom(ctx, roomId, async ({ tx, room, notes }) => {
    if (ifEmpty && room.memberCount > 0) return false;
    const members = await tx.roomMember.findMany({ where: { roomId }, select: { userId: true } });
    await tx.roomMember.deleteMany({ where: { roomId } });
    await tx.roomAttribute.deleteMany({ where: { roomId } });
    await tx.roomBlock.deleteMany({ where: { roomId } });
    await tx.room.update({ where: { id: roomId }, data: { destroyedAt: new Date(), memberCount: 0 } });
    notes.event("ROOM_DESTROYED", actor);
    notes.membership(
      members.map((member) => member.userId),
      false,
    );
    return true;
  });
}

export interface UpdateRoomInput {
  name?: string | null;
  description?: string | null;
  ext?: unknown;
  maxMembers?: number | null;
}

export async function updateRoom(ctx: Context, id: string, input: UpdateRoomInput): Promise<Room> {
  const { room } = await requireRoomManager(ctx, id);
  const data: Prisma.RoomUpdateInput = {};
  const moderated = (text: string) => moderateField(ctx, "ROOM_PROFILE", text, room.id);
  if (input.name != null) data.name = await moderated(check.text(input.name, "name", { max: LIMITS.name }));
  if (input.description != null) data.description = await moderated(description(input.description));
  if (input.ext != null) data.ext = ext(input.ext);
  const maxMembers = input.maxMembers == null ? null : checkMaxMembers(ctx, input.maxMembers);
  return changeRoom(ctx, room.id, async (write) => {
    if (maxMembers !== null) {
      if (maxMembers < write.room.memberCount) {
        throw new AppError("LIMIT_EXCEEDED", `The room has ${write.room.memberCount} members already`, {
          field: "maxMembers",
        });
      }
      data.maxMembers = maxMembers;
    }
    if (Object.keys(data).length === 0) return write.room;
    const updated = await write.tx.room.update({ where: { id: room.id }, data });
    write.notes.event("ROOM_UPDATED", actorId(ctx));
    return updated;
  });
}

export async function setRoomAnnouncement(ctx: Context, id: string, text: string): Promise<Room> {
  const { room } = await requireRoomManager(ctx, id);
  const announcement = await moderateField(
    ctx,
    "ROOM_PROFILE",
    check.text(text, "text", { min: 0, max: LIMITS.announcement }),
    room.id,
  );
  return changeRoom(ctx, room.id, async (write) => {
    const updated = await write.tx.room.update({ where: { id: room.id }, data: { announcement } });
    write.notes.event("ANNOUNCEMENT_CHANGED", actorId(ctx));
    return updated;
  });
}

/** ROOM_IDLE_DESTROY_SECONDS: destroys rooms that have been empty that long. */
export async function destroyIdleRooms(services: Services): Promise<number> {
  const idle = services.config.rooms.idleDestroySeconds;
  if (idle === 0) return 0;
  const ctx = { prisma: services.prisma, services };
  const rooms = await services.prisma.room.findMany({
    where: { destroyedAt: null, memberCount: 0, emptySince: { lte: new Date(Date.now() - idle * 1000) } },
    select: { id: true },
    take: 100,
  });
  let destroyed = 0;
  for (const { id } of rooms) if (await destroy(ctx, id, null, { ifEmpty: true })) destroyed++;
  return destroyed;
}
