import type { RoomMember } from "../generated/prisma/client.js";
import * as attributes from "../resolvers/rooms/attributes.js";
import * as lifecycle from "../resolvers/rooms/lifecycle.js";
import * as membership from "../resolvers/rooms/membership.js";
import { adminBroadcastToRooms } from "../resolvers/rooms/messages.js";
import * as queries from "../resolvers/rooms/queries.js";
import { UserRef } from "./accounts.js";
import { builder, perViewer, present, sameForEveryViewer } from "./builder.js";
import { MessageBodyInputRef, MessagePriorityRef } from "./messages.js";
import { byTime, connectionType } from "./pagination.js";
import { RoomRef } from "./refs.js";

const RoomRoleRef = builder.enumType("RoomRole", { values: ["OWNER", "ADMIN", "MEMBER"] as const });

RoomRef.implement({
  ...sameForEveryViewer,
  description:
    "A chat room: large and live-only. Messages reach the members online, are never offline messages or unread, and the last ROOM_HISTORY_LIMIT are kept.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    description: t.exposeString("description"),
    announcement: t.exposeString("announcement"),
    maxMembers: t.exposeInt("maxMembers"),
    memberCount: t.exposeInt("memberCount"),
    allMuted: t.exposeBoolean("allMuted", { description: "Only the owner, admins and the allow list speak" }),
    ext: t.field({ type: "JSON", resolve: (room) => room.ext }),
    owner: t.field({
      type: UserRef,
      nullable: true,
      description: "Null for a room the app server runs alone",
      resolve: (room, _args, ctx) => (room.ownerId ? ctx.loaders.users.load(room.ownerId) : null),
    }),
    destroyed: t.boolean({ resolve: (room) => room.destroyedAt !== null }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    myRole: t.field({
      ...perViewer,
      type: RoomRoleRef,
      nullable: true,
      description: "Your role; null if you are not a member.",
      resolve: async (room, _args, ctx) => (await ctx.loaders.roomMemberships.load(room.id))?.role ?? null,
    }),
  }),
});

const RoomMemberRef = builder.objectRef<RoomMember>("RoomMember");
RoomMemberRef.implement({
  fields: (t) => ({
    user: t.field({
      type: UserRef,
      nullable: true,
      resolve: (member, _args, ctx) => ctx.loaders.users.load(member.userId),
    }),
    role: t.field({ type: RoomRoleRef, resolve: (member) => member.role }),
    joinedAt: t.expose("joinedAt", { type: "DateTime" }),
    mutedUntil: t.field({
      type: "DateTime",
      nullable: true,
      description: "Set while muted; a mute lapses by itself",
      resolve: (member) => (member.mutedUntil && member.mutedUntil > new Date() ? member.mutedUntil : null),
    }),
    allowListed: t.exposeBoolean("allowListed", {
      description: "Speaks while all are muted, and stays while their devices are gone",
    }),
    online: t.boolean({
      description: "Whether a device of theirs is connected",
      resolve: (member) => member.disconnectedAt === null,
    }),
  }),
});

const RoomConnectionRef = connectionType("Room", RoomRef);
const RoomMemberConnectionRef = connectionType("RoomMember", RoomMemberRef);

builder.queryFields((t) => {
  const paging = {
    first: t.arg.int({ description: "Page size, default 20, at most 100" }),
    after: t.arg.string(),
  };
  const who = { user: true, admin: true };
  return {
    room: t.field({
      type: RoomRef,
      authScopes: who,
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, args, ctx) => queries.room(ctx, String(args.id)),
    }),
    rooms: t.field({
      type: RoomConnectionRef,
      authScopes: who,
      description: "Rooms, newest first; search matches names.",
      args: { ...paging, search: t.arg.string() },
      resolve: async (_root, args, ctx) =>
        byTime(await queries.rooms(ctx, args), args.after, (room) => [room.createdAt, room.id]),
    }),
    myRooms: t.field({
      type: RoomConnectionRef,
      authScopes: { user: true },
      description: "Your rooms, the most recently joined first.",
      args: paging,
      resolve: async (_root, args, ctx) =>
        byTime(
          await queries.myRooms(ctx, args),
          args.after,
          (member) => [member.joinedAt, member.roomId],
          (member) => member.room,
        ),
    }),
    roomMembers: t.field({
      type: RoomMemberConnectionRef,
      authScopes: who,
      description: "Members in the order they joined; role picks the owner, the admins or the rest.",
      args: { id: t.arg.id({ required: true }), role: t.arg({ type: RoomRoleRef }), ...paging },
      resolve: async (_root, args, ctx) =>
        byTime(await queries.roomMembers(ctx, { ...args, id: String(args.id) }), args.after, (member) => [
          member.joinedAt,
          member.userId,
        ]),
    }),
    roomBlockList: t.field({
      type: [UserRef],
      authScopes: who,
      description: "Users barred from the room, for the owner and admins.",
      args: { id: t.arg.id({ required: true }) },
      resolve: async (_root, args, ctx) =>
        present(await ctx.loaders.users.loadMany(await queries.roomBlockList(ctx, String(args.id)))),
    }),
    roomAttributes: t.field({
      type: "JSON",
      authScopes: who,
      description: "The room's attributes (only keys, when given), as an object of strings.",
      args: { id: t.arg.id({ required: true }), keys: t.arg.stringList() },
      resolve: (_root, args, ctx) => attributes.roomAttributes(ctx, String(args.id), args.keys),
    }),
  };
});

builder.mutationFields((t) => {
  const id = t.arg.id({ required: true });
  const usernames = t.arg.stringList({ required: true });
  const username = t.arg.string({ required: true });
  const who = { user: true, admin: true };
  return {
    createRoom: t.field({
      type: RoomRef,
      authScopes: who,
      description:
        "The app server creates rooms (owned by owner, or run by itself alone); users too when ROOM_CREATE_BY_USERS is on, and own them.",
      args: {
        name: t.arg.string({ required: true }),
        description: t.arg.string(),
        maxMembers: t.arg.int({ description: "Default and most: ROOM_MAX_MEMBERS (10,000)" }),
        ext: t.arg({ type: "JSON" }),
        owner: t.arg.string({ description: "The app server only: the username who owns the room" }),
      },
      resolve: (_root, args, ctx) => lifecycle.createRoom(ctx, args),
    }),
    destroyRoom: t.boolean({
      authScopes: who,
      description: "The owner (or the app server). Members online hear ROOM_DESTROYED.",
      args: { id },
      resolve: (_root, args, ctx) => lifecycle.destroyRoom(ctx, String(args.id)),
    }),
    updateRoom: t.field({
      type: RoomRef,
      authScopes: who,
      args: {
        id,
        name: t.arg.string(),
        description: t.arg.string(),
        ext: t.arg({ type: "JSON" }),
        maxMembers: t.arg.int(),
      },
      resolve: (_root, args, ctx) => lifecycle.updateRoom(ctx, String(args.id), args),
    }),
    setRoomAnnouncement: t.field({
      type: RoomRef,
      authScopes: who,
      args: { id, text: t.arg.string({ required: true }) },
      resolve: (_root, args, ctx) => lifecycle.setRoomAnnouncement(ctx, String(args.id), args.text),
    }),
    joinRoom: t.field({
      type: RoomRef,
      authScopes: { user: true },
      description:
        "Your devices online get the room's recent messages (ROOM_JOIN_HISTORY), then its live traffic.",
      args: { id },
      resolve: (_root, args, ctx) => membership.joinRoom(ctx, String(args.id)),
    }),
    leaveRoom: t.boolean({
      authScopes: { user: true },
      args: { id },
      resolve: (_root, args, ctx) => membership.leaveRoom(ctx, String(args.id)),
    }),
    removeRoomMembers: t.boolean({
      authScopes: who,
      args: { id, usernames },
      resolve: (_root, args, ctx) => membership.removeRoomMembers(ctx, String(args.id), args.usernames),
    }),
    blockRoomMembers: t.boolean({
      authScopes: who,
      description: "Removed, and barred from joining until unblocked.",
      args: { id, usernames },
      resolve: (_root, args, ctx) => membership.blockRoomMembers(ctx, String(args.id), args.usernames),
    }),
    unblockRoomMembers: t.boolean({
      authScopes: who,
      args: { id, usernames },
      resolve: (_root, args, ctx) => membership.unblockRoomMembers(ctx, String(args.id), args.usernames),
    }),
    transferRoomOwnership: t.field({
      type: RoomRef,
      authScopes: who,
      args: { id, username },
      resolve: (_root, args, ctx) => membership.transferRoomOwnership(ctx, String(args.id), args.username),
    }),
    addRoomAdmin: t.boolean({
      authScopes: who,
      args: { id, username },
      resolve: (_root, args, ctx) => membership.addRoomAdmin(ctx, String(args.id), args.username),
    }),
    removeRoomAdmin: t.boolean({
      authScopes: who,
      args: { id, username },
      resolve: (_root, args, ctx) => membership.removeRoomAdmin(ctx, String(args.id), args.username),
    }),
    muteRoomMembers: t.boolean({
      authScopes: who,
      args: { id, usernames, durationSeconds: t.arg.int({ required: true }) },
      resolve: (_root, args, ctx) =>
        membership.muteRoomMembers(ctx, String(args.id), args.usernames, args.durationSeconds),
    }),
    unmuteRoomMembers: t.boolean({
      authScopes: who,
      args: { id, usernames },
      resolve: (_root, args, ctx) => membership.unmuteRoomMembers(ctx, String(args.id), args.usernames),
    }),
    muteAllRoomMembers: t.field({
      type: RoomRef,
      authScopes: who,
      args: { id, muted: t.arg.boolean({ required: true }) },
      resolve: (_root, args, ctx) => membership.muteAllRoomMembers(ctx, String(args.id), args.muted),
    }),
    addToRoomAllowList: t.boolean({
      authScopes: who,
      args: { id, usernames },
      resolve: (_root, args, ctx) => membership.addToRoomAllowList(ctx, String(args.id), args.usernames),
    }),
    removeFromRoomAllowList: t.boolean({
      authScopes: who,
      args: { id, usernames },
      resolve: (_root, args, ctx) => membership.removeFromRoomAllowList(ctx, String(args.id), args.usernames),
    }),
    setRoomAttributes: t.field({
      type: "JSON",
      authScopes: who,
      description:
        "Sets keys (strings; at most 20 a call, 100 a room, key 128 bytes, value 4 KB), all or none; returns every attribute. A key belongs to its setter: another's is CONFLICT unless the owner or an admin says overwrite.",
      args: {
        id,
        attributes: t.arg({ type: "JSON", required: true }),
        autoDelete: t.arg.boolean({ description: "Removed when you leave or are removed" }),
        overwrite: t.arg.boolean({ description: "Owner and admins: take keys set by others" }),
      },
      resolve: (_root, args, ctx) => attributes.setRoomAttributes(ctx, String(args.id), args),
    }),
    removeRoomAttributes: t.field({
      type: "JSON",
      authScopes: who,
      description:
        "Removes keys (yours, or others' with overwrite as owner or admin); returns every attribute left.",
      args: { id, keys: t.arg.stringList({ required: true }), overwrite: t.arg.boolean() },
      resolve: (_root, args, ctx) => attributes.removeRoomAttributes(ctx, String(args.id), args),
    }),
    adminBroadcastToRooms: t.int({
      authScopes: { admin: true },
      description:
        "One message to every room (or those listed), from `from` or the system account; at most 10 a minute. Returns how many rooms it went to.",
      args: {
        body: t.arg({ type: MessageBodyInputRef, required: true }),
        rooms: t.arg.idList(),
        priority: t.arg({ type: MessagePriorityRef, description: "Default HIGH" }),
        from: t.arg.string(),
      },
      resolve: (_root, args, ctx) =>
        adminBroadcastToRooms(ctx, { ...args, rooms: args.rooms?.map(String) ?? null }),
    }),
  };
});
