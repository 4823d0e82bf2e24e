import type { Context } from "../context.js";
import { messageFromRow } from "../db/rows.js";
import { type SqlStatement, sql } from "../db/sql.js";
import { badInput } from "../errors.js";
import type { Message, MessageType } from "../generated/prisma/client.js";
import { consumeLimit } from "../security/abuse-limits.js";
import { requireUser } from "./access.js";
import { type ChatTargetInput, findChat, resolveTarget } from "./chats.js";
import { pageSize } from "./paging.js";
import * as check from "./validation.js";
import { inHistorySql, parseMessageId } from "./visibility.js";

// Full-text search over the caller's own history: what they can still see (their conversations,
// from their clear point or group join on, not deleted, not recalled, targeted group messages only if
// meant for them), in every conversation or one. Rooms are left out: live-only, they give a member
// no history of their own (a room's `messages` are its last few, for whoever is in it now). A match
// is a substring of the message's searchText (see message-bodies.ts), both folded the same way
// (NFKC, so full-width and half-width forms are one, and lower case): Chinese, which has no spaces
// between words, is found as readily as English, one character or more.
//
// Newest first, in two steps (measured in BENCHMARKS.md, "issue 12 search"):
// 1. The newest SEARCH_RECENT_WINDOW messages of the whole store, read in id order: they lie together
//    on disk, so this is cheap, and a common word fills the page here.
// 2. If it did not: the GIN index of the migration message_search (the caller's chats, and the pairs
//    of characters of the query), for everything older. Only then is the query rare enough in the
//    caller's history that fetching each candidate is cheap.
// Left to choose in one statement, the planner misjudged both ways on a million messages: a common
// word fetched through the index (every match in the store, 0.6 s) or chat by chat (1 s), a rarer
// one looked for by reading back through the store.

// The text and the query ($2) folded as the index folds them, the query's LIKE metacharacters escaped.
const MATCHES = String.raw`lower(normalize(m."searchText", NFKC)) LIKE
  '%' || replace(replace(replace(lower(normalize($2::text, NFKC)), '\', '\\'), '%', '\%'), '_', '\_') || '%'`;

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
  await consumeLimit(ctx, "searches", user.id);
  const text = check.text(input.query, "query", { max: 100 });
  const first = pageSize(input.first, "first");
  const after = input.after == null ? null : parseMessageId(input.after);
  if (input.after != null && after === null)
    throw badInput("after must be a cursor from an earlier page", "after");
  const none = { messages: [], hasNextPage: false };

  let chatId: string | null = null;
  if (input.conversation) {
    chatId = await findChat(ctx, await resolveTarget(ctx, input.conversation));
    if (!chatId) return none;
  }
  let senderId: string | null = null;
  if (input.from != null) {
    const name = check.maybeUsername(input.from);
    const sender = name ? await ctx.prisma.user.findUnique({ where: { username: name } }) : null;
    if (!sender) return none;
    senderId = sender.id;
  }
  const types = input.types?.length ? [...input.types] : null;

  const [scope] = await ctx.services.db.query<{ chats: string[] | null; top: string }>(
    sql`SELECT array_agg("chatId") AS chats, (SELECT coalesce(max(id), 0) + 1 FROM "Message")::text AS top
      FROM "Conversation" WHERE "userId" = ${user.id}::uuid AND (${chatId}::uuid IS NULL OR "chatId" = ${chatId}::uuid)`,
  );
  const chats = scope?.chats ?? [];
  if (chats.length === 0) return none;
  const below = after ?? BigInt(scope!.top);
  // Step 1's reach is in message ids: the whole store's, not the caller's.
  const window = BigInt(ctx.services.config.searchRecentWindow);
  const recentFrom = below > window ? below - window : 0n;
  const steps = searchSteps({
    userId: user.id,
    query: text,
    chats,
    senderId,
    types,
    recentFrom,
    below,
    limit: first + 1,
  });
  const page = (statement: SqlStatement) => ctx.services.db.query<Record<string, unknown>>(statement);
  let rows = await page(steps.recent);
  if (rows.length <= first && recentFrom > 0n) rows = [...rows, ...(await page(steps.older))];
  const messages = rows.map(messageFromRow);
  return { messages: messages.slice(0, first), hasNextPage: messages.length > first };
}

export interface SearchScope {
  userId: string;
  query: string;
  /** The chats searched: the caller's conversations, or the one asked for. */
  chats: string[];
  senderId: string | null;
  types: string[] | null;
  /** Step 1 reads ids from recentFrom up to below; step 2 those under recentFrom. */
  recentFrom: bigint;
  below: bigint;
  limit: number;
}

/** The statements of a search's two steps (exported for the bench, which prints their plans). */
export function searchSteps(scope: SearchScope): { recent: SqlStatement; older: SqlStatement } {
  // $1 user, $2 query, $3 chats, $4 sender, $5 types, $6 where step 1 starts, $7 the page size, and
  // for step 1 $8, what it reads below.
  const values = [
    scope.userId,
    scope.query,
    scope.chats,
    scope.senderId,
    scope.types,
    scope.recentFrom.toString(),
    scope.limit,
  ];
  const visible = `c."chatId" = m."chatId" AND c."userId" = $1::uuid AND ${inHistorySql("m", "c")}
    AND m."recalledAt" IS NULL AND ${MATCHES}
    AND ($4::uuid IS NULL OR m."senderId" = $4::uuid) AND ($5::text[] IS NULL OR m.type::text = ANY($5::text[]))`;
  return {
    recent: {
      text: `SELECT m.* FROM "Message" m JOIN "Conversation" c ON ${visible}
        WHERE m."chatId" = ANY($3::uuid[]) AND m.id >= $6::bigint AND m.id < $8::bigint
        ORDER BY m.id DESC LIMIT $7`,
      values: [...values, scope.below.toString()],
    },
    // MATERIALIZED: the index scan first, whatever the planner makes of the rest.
    older: {
      text: `WITH candidates AS MATERIALIZED (
          SELECT * FROM "Message"
          WHERE ARRAY["chatId"] && $3::uuid[] AND message_search_grams("searchText") @> message_search_keys($2::text)
            AND id < $6::bigint)
        SELECT m.* FROM candidates m JOIN "Conversation" c ON ${visible}
        ORDER BY m.id DESC LIMIT $7`,
      values,
    },
  };
}
