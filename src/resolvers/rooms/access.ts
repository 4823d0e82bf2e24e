import type { Context } from "../../context.js";
import { AppError, forbidden, notFound } from "../../errors.js";
import type { Room, RoomMember } from "../../generated/prisma/client.js";
import { manages } from "../groups/policy.js";
import * as check from "../validation.js";

// Finding a room and the caller's place in it. Rooms are public: any signed-in user (and the app
// server) sees one; taking part needs membership. The app server acts with the owner's powers, and
// a room it created without an owner is run by it and its admins alone.

export interface RoomAccess {
  room: Room;
  /** The caller's membership; null for outsiders and the app server. */
  member: RoomMember | null;
  isAdmin: boolean;
}

/** The live room with this id, or NOT_FOUND. */
export async function findRoom(ctx: Pick<Context, "prisma">, id: string): Promise<Room> {
  const room = check.isId(id) ? await ctx.prisma.room.findUnique({ where: { id } }) : null;
  if (!room || room.destroyedAt) throw notFound(`No room with id "${id}"`);
  return room;
}

export async function viewRoom(ctx: Context, id: string): Promise<RoomAccess> {
  const room = await findRoom(ctx, id);
  if (ctx.viewer.kind === "admin") return { room, member: null, isAdmin: true };
  if (ctx.viewer.kind !== "user") throw notFound(`No room with id "${id}"`);
  const member = await ctx.prisma.roomMember.findUnique({
    where: { roomId_userId: { roomId: room.id, userId: ctx.viewer.user.id } },
  });
  return { room, member, isAdmin: false };
}

export function notRoomMember() {
  return new AppError("NOT_MEMBER", "You are not a member of this room: joinRoom first");
}

/** As viewRoom, and the caller must be a member (the app server passes). */
export async function requireRoomMember(ctx: Context, id: string): Promise<RoomAccess> {
  const access = await viewRoom(ctx, id);
  if (!access.isAdmin && !access.member) throw notRoomMember();
  return access;
}

/** As viewRoom, and the caller must be the owner or an admin (or the app server). */
export async function requireRoomManager(ctx: Context, id: string): Promise<RoomAccess> {
  const access = await requireRoomMember(ctx, id);
  if (!access.isAdmin && !manages(access.member))
    throw forbidden("Only the room's owner and admins can do this");
  return access;
}

/** As viewRoom, and the caller must be the owner (or the app server). */
export async function requireRoomOwner(ctx: Context, id: string): Promise<RoomAccess> {
  const access = await requireRoomMember(ctx, id);
  if (!access.isAdmin && access.member?.role !== "OWNER")
    throw forbidden("Only the room's owner can do this");
  return access;
}
