import type { Context } from "../../context.js";
import type { Conversation, GroupRole, Room, RoomMember } from "../../generated/prisma/client.js";
import { requireUser } from "../access.js";
import { afterTimeCursor, type NodePage, nodePage, pageSize } from "../paging.js";
import { searchTerm } from "../validation.js";
import { requireRoomManager, requireRoomMember, viewRoom } from "./access.js";

// Reading rooms: one room, the directory, the caller's, members and the block list.

export async function room(ctx: Context, id: string): Promise<Room> {
  return (await viewRoom(ctx, id)).room;
}

/** Live rooms, newest first; `search` matches names, case-insensitively. */
export async function rooms(
  ctx: Context,
  args: { first?: number | null; after?: string | null; search?: string | null },
): Promise<NodePage<Room>> {
  const first = pageSize(args.first, "first");
  const search = searchTerm(args.search);
  const rows = await ctx.prisma.room.findMany({
    where: {
      destroyedAt: null,
      ...(search ? { name: { contains: search, mode: "insensitive" } } : {}),
      ...afterTimeCursor(args.after, "createdAt", "id", "lt"),
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

/** The caller's rooms, the most recently joined first. */
export async function myRooms(
  ctx: Context,
  args: { first?: number | null; after?: string | null },
): Promise<NodePage<RoomMember & { room: Room }>> {
  const { user } = requireUser(ctx);
  const first = pageSize(args.first, "first");
  const rows = await ctx.prisma.roomMember.findMany({
    where: { userId: user.id, ...afterTimeCursor(args.after, "joinedAt", "roomId", "lt") },
    include: { room: true },
    orderBy: [{ joinedAt: "desc" }, { roomId: "desc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

/** Members in the order they joined, for members and the app server; `role` picks owner, admins or the rest. */
export async function roomMembers(
  ctx: Context,
  args: { id: string; role?: GroupRole | null; first?: number | null; after?: string | null },
): Promise<NodePage<RoomMember>> {
  const { room } = await requireRoomMember(ctx, args.id);
  const first = pageSize(args.first, "first");
  const rows = await ctx.prisma.roomMember.findMany({
    where: {
      roomId: room.id,
      ...(args.role ? { role: args.role } : {}),
      ...afterTimeCursor(args.after, "joinedAt", "userId", "gt"),
    },
    orderBy: [{ joinedAt: "asc" }, { userId: "asc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

/** Users barred from the room, for the owner and admins. */
export async function roomBlockList(ctx: Context, id: string): Promise<string[]> {
  const { room } = await requireRoomManager(ctx, id);
  const rows = await ctx.prisma.roomBlock.findMany({
    where: { roomId: room.id },
    orderBy: { createdAt: "asc" },
  });
  return rows.map((row) => row.userId);
}

/**
 * Rooms keep no conversation per member (nothing is written per member): a room message's
 * conversation is made up for a member who asks, so clients can file it like any other.
 */
export async function roomConversation(ctx: Context, roomId: string): Promise<Conversation | null> {
  if (ctx.viewer.kind !== "user" || !(await ctx.loaders.roomMemberships.load(roomId))) return null;
  const at = new Date(0);
  return {
    userId: ctx.viewer.user.id,
    chatId: roomId,
    chatType: "ROOM",
    peerId: null,
    unreadCount: 0,
    readUpToId: 0n,
    lastMessageId: null,
    activityAt: at,
    pinned: false,
    pinnedAt: null,
    marks: [],
    muted: false,
    clearedUpToId: 0n,
    deletedAt: null,
    updatedAt: at,
  };
}
