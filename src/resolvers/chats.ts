import type { Context, Services } from "../context.js";
import { isUniqueViolation } from "../db/errors.js";
import { sql } from "../db/sql.js";
import { badInput, notFound } from "../errors.js";
import type { Chat, Conversation, Group, Room, Thread } from "../generated/prisma/client.js";
import { requireUser } from "./access.js";
import { findGroup, notMember } from "./groups/access.js";
import { findRoom } from "./rooms/access.js";
import { findThread, notThreadMember } from "./threads/access.js";
import * as check from "./validation.js";

// Chat targets: how a ChatTarget argument names a chat, and who may see it. A Chat is the shared
// log of one conversation; each participant has a Conversation row (their view of it), and having
// that row is what lets a user see the chat's messages.

/** The ChatTarget one-of input: exactly one of these is set. */
export interface ChatTargetInput {
  user?: string | null;
  group?: string | null;
  room?: string | null;
  thread?: string | null;
}

export interface DirectTarget {
  type: "DIRECT";
  peer: PeerRef;
  /** The sorted pair of user ids: the direct chat's unique key. */
  directKey: string;
}

export interface GroupTarget {
  type: "GROUP";
  /** A group's chat has the group's id. */
  chatId: string;
  group: Group;
}

export interface ThreadTarget {
  type: "THREAD";
  /** A thread's chat has the thread's id. */
  chatId: string;
  thread: Thread;
  group: Group;
}

export interface RoomTarget {
  type: "ROOM";
  /** A room's chat has the room's id. */
  chatId: string;
  room: Room;
}

/** What a ChatTarget names: each chat kind its own shape. */
export type Target = DirectTarget | GroupTarget | ThreadTarget | RoomTarget;

/**
 * Resolves a ChatTarget for the calling user (or for `asUserId`, when the app server acts for
 * someone); NOT_FOUND for anything they cannot address.
 */
export async function resolveTarget(
  ctx: Context,
  target: ChatTargetInput,
  asUserId: string = requireUser(ctx).user.id,
): Promise<Target> {
  if (target.user != null) {
    const name = check.maybeUsername(target.user);
    const peer = name ? await userNamed(ctx, name) : null;
    if (!peer) throw notFound(`No user named "${target.user}"`);
    if (peer.id === asUserId) throw badInput("A direct chat needs another user, not yourself", "user");
    return { type: "DIRECT", peer, directKey: [asUserId, peer.id].sort().join(":") };
  }
  if (target.group != null) {
    const group = await findGroup(ctx, target.group);
    return { type: "GROUP", chatId: group.id, group };
  }
  if (target.thread != null) {
    const thread = await findThread(ctx, target.thread);
    const group = await findGroup(ctx, thread.groupId);
    return { type: "THREAD", chatId: thread.id, thread, group };
  }
  const room = await findRoom(ctx, target.room ?? "");
  return { type: "ROOM", chatId: room.id, room };
}

/** A user a target names: enough to address them. */
export interface PeerRef {
  id: string;
  username: string;
}

// Username → user id, cached because every send starts with it. A username changes hands only when
// its user is deleted; storeDirectMessage re-checks the pair in the same statement and the caller
// drops a stale entry, and other readers see one for at most a minute.
const USERNAME_CACHE = 50_000;
const USERNAME_TTL_MS = 60_000;

async function userNamed(ctx: Context, username: string): Promise<PeerRef | null> {
  const { userIds } = ctx.services.caches;
  const cached = userIds.get(username);
  if (cached && cached.until > Date.now()) return { id: cached.id, username };
  const [row] = await ctx.services.db.query<{ id: string; deletedAt: unknown }>(
    sql`SELECT id, "deletedAt" FROM "User" WHERE username = ${username}`,
  );
  if (!row || row.deletedAt) return null;
  if (userIds.size >= USERNAME_CACHE) userIds.clear();
  userIds.set(username, { id: row.id, until: Date.now() + USERNAME_TTL_MS });
  return { id: row.id, username };
}

export function forgetUsername(services: Services, username: string): void {
  services.caches.userIds.delete(username);
}

// Direct chats never change once made, so their ids are cached per process.
const DIRECT_CHAT_CACHE = 50_000;

export async function findChat(ctx: Context, target: Target): Promise<string | null> {
  if (target.type !== "DIRECT") return target.chatId;
  const cached = ctx.services.caches.directChatIds.get(target.directKey);
  if (cached) return cached;
  const chat = await ctx.prisma.chat.findUnique({ where: { directKey: target.directKey } });
  if (chat) remember(ctx, target.directKey, chat);
  return chat?.id ?? null;
}

/** The direct chat of the pair, made on first use (concurrent first messages agree on one). */
export async function ensureChat(ctx: Context, target: DirectTarget): Promise<string> {
  const existing = await findChat(ctx, target);
  if (existing) return existing;
  try {
    const chat = await ctx.prisma.chat.create({ data: { type: "DIRECT", directKey: target.directKey } });
    remember(ctx, target.directKey, chat);
    return chat.id;
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return (await findChat(ctx, target))!;
  }
}

function remember(ctx: Context, directKey: string, chat: Chat) {
  const { directChatIds } = ctx.services.caches;
  if (directChatIds.size >= DIRECT_CHAT_CACHE) directChatIds.clear();
  directChatIds.set(directKey, chat.id);
}

/** The caller's conversation with the target, or NOT_FOUND when there has been none. */
export async function requireConversation(
  ctx: Context,
  targetInput: ChatTargetInput,
): Promise<{ target: Target; conversation: Conversation }> {
  const { user } = requireUser(ctx);
  const target = await resolveTarget(ctx, targetInput);
  const chatId = await findChat(ctx, target);
  const conversation = chatId
    ? await ctx.prisma.conversation.findUnique({ where: { userId_chatId: { userId: user.id, chatId } } })
    : null;
  if (!conversation) {
    if (target.type === "GROUP") {
      // Only members have a group's conversation; a private group does not exist for anyone else.
      if (!target.group.isPublic) throw notFound(`No group with id "${target.chatId}"`);
      throw notMember(target.group);
    }
    if (target.type === "THREAD") {
      // A thread answers as its group does to outsiders; the group's members must join it first.
      const inGroup = await ctx.prisma.groupMember.findUnique({
        where: { groupId_userId: { groupId: target.group.id, userId: user.id } },
      });
      if (!inGroup && !target.group.isPublic) throw notFound(`No thread with id "${target.chatId}"`);
      throw inGroup ? notThreadMember() : notMember(target.group);
    }
    throw notFound(`You have no conversation with ${describe(target)} yet`);
  }
  return { target, conversation };
}

export function describe(target: Target): string {
  switch (target.type) {
    case "GROUP":
      return `the group "${target.group.name}"`;
    case "THREAD":
      return `the thread "${target.thread.name}"`;
    case "ROOM":
      return `the room "${target.room.name}"`;
    case "DIRECT":
      return `"${target.peer.username}"`;
  }
}
