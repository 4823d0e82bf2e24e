import type { Context } from "../context.js";
import { badInput } from "../errors.js";
import { type Message, type MessageType, Prisma } from "../generated/prisma/client.js";
import { requireUser } from "./access.js";
import { type ChatTargetInput, findChat, resolveTarget } from "./chats.js";
import { pageSize } from "./paging.js";
import * as check from "./validation.js";
import { parseMessageId } from "./visibility.js";

// Full-text search over the caller's own history: what they can still see, in every conversation
// or one. A substring match on each message's searchText (see message-bodies.ts), so Chinese,
// which has no spaces between words, is found as readily as English, and case does not matter.

export interface SearchInput {
  query: string;
  conversation?: ChatTargetInput | null;
  from?: string | null;
  types?: readonly MessageType[] | null;
  first?: number | null;
  after?: string | null;
}

export async function searchMessages(
  ctx: Context,
  input: SearchInput,
): Promise<{ messages: Message[]; hasNextPage: boolean }> {
  const { user } = requireUser(ctx);
  const text = check.text(input.query, "query", { max: 100 });
  const first = pageSize(input.first, "first");
  const after = input.after == null ? null : parseMessageId(input.after);
  if (input.after != null && after === null)
    throw badInput("after must be a cursor from an earlier page", "after");
  const none = { messages: [], hasNextPage: false };

  const filters: Prisma.Sql[] = [];
  if (input.conversation) {
    const chatId = await findChat(ctx, await resolveTarget(ctx, input.conversation));
    if (!chatId) return none;
    filters.push(Prisma.sql`AND m."chatId" = ${chatId}::uuid`);
  }
  if (input.from != null) {
    const name = check.maybeUsername(input.from);
    const sender = name ? await ctx.prisma.user.findUnique({ where: { username: name } }) : null;
    if (!sender) return none;
    filters.push(Prisma.sql`AND m."senderId" = ${sender.id}::uuid`);
  }
  if (input.types?.length) filters.push(Prisma.sql`AND m.type::text = ANY(${[...input.types]}::text[])`);
  if (after !== null) filters.push(Prisma.sql`AND m.id < ${after}`);

  const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = await ctx.prisma.$queryRaw<Message[]>`
    SELECT m.* FROM "Message" m
    JOIN "Conversation" c ON c."chatId" = m."chatId" AND c."userId" = ${user.id}::uuid
    WHERE m."searchText" ILIKE ${pattern} AND m.id > c."clearedUpToId" AND m."recalledAt" IS NULL
      AND NOT EXISTS (SELECT 1 FROM "HiddenMessage" h WHERE h."userId" = ${user.id}::uuid AND h."messageId" = m.id)
      ${filters.length > 0 ? Prisma.join(filters, " ") : Prisma.empty}
    ORDER BY m.id DESC
    LIMIT ${first + 1}`;
  return { messages: rows.slice(0, first), hasNextPage: rows.length > first };
}
