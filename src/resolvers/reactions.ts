import type { Context } from "../context.js";
import { userFromRow } from "../db/rows.js";
import { sql } from "../db/sql.js";
import type { Tx } from "../delivery/user-log.js";
import { AppError, badInput, notFound } from "../errors.js";
import type { Message, User } from "../generated/prisma/client.js";
import { requireUser } from "./access.js";
import { requireMayMessage } from "./contacts.js";
import { changeMessage, type MessageRecord } from "./messages.js";
import { keyCursor, pageSize, parseKeyCursor } from "./paging.js";
import { type ReactionSummary, SUMMARY_USERS } from "./reaction-summaries.js";
import * as check from "./validation.js";
import { isVisibleIn, requireVisibleMessage } from "./visibility.js";

// Reactions on direct, group and thread messages: one row per message, reaction and user. Each write
// checks (the text, a message the caller can see), then does its change in one transaction that
// holds the message's row, so the 20-distinct limit and "one of each per user" hold under races,
// then tells everyone who has the message, after the commit: ReactionEvent through changeMessage,
// the one place that chooses the recipients of a change to a message.

/** Distinct reactions a message may carry. */
const MAX_DISTINCT = 20;
/** Characters in a reaction, counted in code points: an emoji counts once, a ZWJ sequence per part. */
const MAX_LENGTH = 128;
/** MessageReaction.users(first) when first is omitted. */
const DEFAULT_USERS = 3;

export interface ReactionInput {
  messageId: string;
  reaction: string;
}

interface Checked {
  userId: string;
  message: Message;
  reaction: string;
}

/** The reaction's text, and a message the caller can see that takes reactions. */
async function checkReaction(ctx: Context, input: ReactionInput): Promise<Checked> {
  const { user } = requireUser(ctx);
  const reaction = check.text(input.reaction, "reaction", { max: MAX_LENGTH });
  const message = await requireVisibleMessage(ctx, user.id, input.messageId, { includeRecalled: true });
  // Room messages are online-only and have no durable audience to tell.
  if (message.chatType === "ROOM") throw badInput("Room messages take no reactions", "messageId");
  if (message.recalledAt) throw badInput("A recalled message takes no reactions", "messageId");
  if (message.chatType === "DIRECT") {
    // A reaction reaches the other side as a message does: the block list and contact rule apply.
    const peer = await ctx.loaders.users.load(
      message.senderId === user.id ? message.recipientId! : message.senderId,
    );
    if (peer) await requireMayMessage(ctx, user.id, peer);
  }
  return { userId: user.id, message, reaction };
}

/**
 * In the transaction: holds the message's row, so every reaction write to it waits for the one
 * before, and checks again what may have changed since checkReaction.
 */
async function lockMessage(tx: Tx, { message, userId }: Checked): Promise<void> {
  const [row] = await tx.$queryRaw<{ recalledAt: Date | null }[]>`
    SELECT "recalledAt" FROM "Message" WHERE id = ${message.id} FOR UPDATE`;
  if (row?.recalledAt) throw badInput("A recalled message takes no reactions", "messageId");
  // Removed from the group meanwhile: the removal took the chat's lock, which changeMessage holds now.
  const conversation = await tx.conversation.findUnique({
    where: { userId_chatId: { userId, chatId: message.chatId } },
  });
  if (!row || !isVisibleIn(message, conversation)) throw notFound(`No message "${message.id}"`);
}

/** Adds the caller's reaction; returns the message, whose reactions then include it. */
export async function addReaction(ctx: Context, input: ReactionInput): Promise<Message> {
  const checked = await checkReaction(ctx, input);
  const { message, reaction, userId } = checked;
  await changeMessage(ctx, message, "REACTION", { reaction, userId, added: true }, async (tx) => {
    await lockMessage(tx, checked);
    const [state] = await tx.$queryRaw<
      { mine: boolean; ordinal: number | null; kinds: number; next: number }[]
    >`
      SELECT coalesce(bool_or("userId" = ${userId}::uuid) FILTER (WHERE reaction = ${reaction}), false) AS mine,
        min(ordinal) FILTER (WHERE reaction = ${reaction}) AS ordinal,
        count(DISTINCT reaction)::int AS kinds, coalesce(max(ordinal), 0) + 1 AS next
      FROM "Reaction" WHERE "messageId" = ${message.id}`;
    if (state!.mine) throw new AppError("CONFLICT", `You already reacted with "${reaction}" to this message`);
    if (state!.ordinal === null && state!.kinds >= MAX_DISTINCT) {
      throw new AppError("LIMIT_EXCEEDED", `A message takes at most ${MAX_DISTINCT} different reactions`);
    }
    // A reaction others already made keeps its place; a new one goes last.
    const ordinal = state!.ordinal ?? state!.next;
    await tx.reaction.create({ data: { messageId: message.id, reaction, userId, ordinal } });
    return true;
  });
  // As it is now (an edit may have come in between), with this reaction among its reactions.
  return (await ctx.loaders.messages.load(message.id))!;
}

/** Removes the caller's reaction; NOT_FOUND if they had not made it. */
export async function removeReaction(ctx: Context, input: ReactionInput): Promise<boolean> {
  const checked = await checkReaction(ctx, input);
  const { message, reaction, userId } = checked;
  await changeMessage(ctx, message, "REACTION", { reaction, userId, added: false }, async (tx) => {
    await lockMessage(tx, checked);
    const removed = await tx.reaction.deleteMany({ where: { messageId: message.id, reaction, userId } });
    if (removed.count === 0) throw notFound(`You have not reacted with "${reaction}" to this message`);
    return true;
  });
  return true;
}

// --- Reading -------------------------------------------------------------------------------------

/**
 * Message.reactions, in order of first use. A recalled message shows none (its rows are kept), and
 * a command, never stored, has none.
 */
export async function reactionsOf(
  ctx: Context,
  message: Pick<MessageRecord, "id" | "type" | "recalledAt">,
): Promise<ReactionSummary[]> {
  return message.recalledAt || message.type === "COMMAND" ? [] : ctx.loaders.reactions.load(message.id);
}

/** MessageReaction.users: the ids of the first `first` to react, oldest first. */
export function firstUsers(summary: ReactionSummary, first: number | null | undefined): string[] {
  const take = first ?? DEFAULT_USERS;
  if (!Number.isInteger(take) || take < 0 || take > SUMMARY_USERS) {
    throw badInput(`first must be from 0 to ${SUMMARY_USERS}; page with reactionUsers for more`, "first");
  }
  return summary.userIds.slice(0, take);
}

export interface ReactionUsersInput extends ReactionInput {
  first?: number | null;
  after?: string | null;
}

const SEQ_KEY = (key: unknown[]) => key.length === 1 && /^[0-9]{1,19}$/.test(String(key[0]));

/** Who made a reaction, oldest first; a reaction nobody made is an empty page, and so is a recalled message. */
export async function reactionUsers(
  ctx: Context,
  input: ReactionUsersInput,
): Promise<{ nodes: User[]; cursorOf: (user: User) => string; hasNextPage: boolean }> {
  const { user } = requireUser(ctx);
  const reaction = check.text(input.reaction, "reaction", { max: MAX_LENGTH });
  const first = pageSize(input.first, "first");
  const after = input.after == null ? "0" : parseKeyCursor<[string]>(input.after, SEQ_KEY)[0];
  const message = await requireVisibleMessage(ctx, user.id, input.messageId, { includeRecalled: true });
  const rows = message.recalledAt
    ? []
    : await ctx.services.db.query<{ user: Record<string, unknown>; seq: string }>(sql`
        SELECT to_jsonb(u) AS "user", r.seq::text AS seq
        FROM "Reaction" r JOIN "User" u ON u.id = r."userId"
        WHERE r."messageId" = ${message.id.toString()}::bigint AND r.reaction = ${reaction}
          AND r.seq > ${after}::bigint
        ORDER BY r.seq LIMIT ${first + 1}`);
  const page = rows.slice(0, first);
  const seqOf = new Map(page.map((row) => [row.user.id as string, row.seq]));
  return {
    nodes: page.map((row) => userFromRow(row.user)),
    cursorOf: (node) => keyCursor([seqOf.get(node.id)!]),
    hasNextPage: rows.length > first,
  };
}
