import type { Context } from "../context.js";
import { badInput, notFound } from "../errors.js";
import type { Chat, Conversation, User } from "../generated/prisma/client.js";
import { requireUser } from "./access.js";
import { isUniqueViolation } from "./accounts.js";
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
  peer: User;
  /** The sorted pair of user ids: the direct chat's unique key. */
  directKey: string;
}

export type Target = DirectTarget;

/** Resolves a ChatTarget for the calling user; NOT_FOUND for anything they cannot address. */
export async function resolveTarget(ctx: Context, target: ChatTargetInput): Promise<Target> {
  const { user } = requireUser(ctx);
  if (target.user != null) {
    const name = check.maybeUsername(target.user);
    const peer = name ? await ctx.prisma.user.findUnique({ where: { username: name } }) : null;
    if (!peer || peer.deletedAt) throw notFound(`No user named "${target.user}"`);
    if (peer.id === user.id) throw badInput("A direct chat needs another user, not yourself", "user");
    return { type: "DIRECT", peer, directKey: [user.id, peer.id].sort().join(":") };
  }
  // Groups, rooms and threads come with their own domains; until then no such id exists.
  const [kind, id] =
    target.group != null
      ? ["group", target.group]
      : target.room != null
        ? ["room", target.room]
        : ["thread", target.thread];
  throw notFound(`No ${kind} with id "${id}"`);
}

// Direct chats never change once made, so their ids are cached per process.
const directChatIds = new Map<string, string>();
const DIRECT_CHAT_CACHE = 50_000;

export async function findChat(ctx: Context, target: Target): Promise<string | null> {
  const cached = directChatIds.get(target.directKey);
  if (cached) return cached;
  const chat = await ctx.prisma.chat.findUnique({ where: { directKey: target.directKey } });
  if (chat) remember(target.directKey, chat);
  return chat?.id ?? null;
}

/** The direct chat of the pair, made on first use (concurrent first messages agree on one). */
export async function ensureChat(ctx: Context, target: Target): Promise<string> {
  const existing = await findChat(ctx, target);
  if (existing) return existing;
  try {
    const chat = await ctx.prisma.chat.create({ data: { type: "DIRECT", directKey: target.directKey } });
    remember(target.directKey, chat);
    return chat.id;
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return (await findChat(ctx, target))!;
  }
}

function remember(directKey: string, chat: Chat) {
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
  if (!conversation) throw notFound(`You have no conversation with ${describe(target)} yet`);
  return { target, conversation };
}

export function describe(target: Target): string {
  return `"${target.peer.username}"`;
}

/** The users who take part in a chat, from one of them and their conversation. */
export function participants(conversation: Pick<Conversation, "userId" | "peerId">): string[] {
  return conversation.peerId ? [conversation.userId, conversation.peerId] : [conversation.userId];
}
