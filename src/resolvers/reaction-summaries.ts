import type { Context } from "../context.js";
import { sql } from "../db/sql.js";

// Kept apart from the reactions domain: the per-request loaders (context.ts) use it too.

/** The most users a summary names per reaction: the cap of MessageReaction.users(first). */
export const SUMMARY_USERS = 20;

/** One reaction on a message, as a viewer sees it. */
export interface ReactionSummary {
  reaction: string;
  count: number;
  reactedByMe: boolean;
  /** The first SUMMARY_USERS to react, oldest first. */
  userIds: string[];
}

/**
 * The reactions of many messages in one statement, by message id, each message's in order of first
 * use (see Reaction.ordinal): for a page of history, whatever its length.
 */
export async function reactionSummaries(
  ctx: Pick<Context, "services">,
  viewerId: string | null,
  messageIds: readonly bigint[],
): Promise<Map<string, ReactionSummary[]>> {
  const rows = await ctx.services.db.query<{
    id: string;
    reaction: string;
    count: number;
    mine: boolean;
    users: string[];
  }>(sql`
    SELECT "messageId"::text AS id, reaction, count(*)::int AS count,
      coalesce(bool_or("userId" = ${viewerId}::uuid), false) AS mine,
      (array_agg("userId"::text ORDER BY seq))[1:${SUMMARY_USERS}] AS users
    FROM "Reaction" WHERE "messageId" = ANY(${messageIds.map(String)}::text[]::bigint[])
    GROUP BY "messageId", reaction
    ORDER BY "messageId", min(ordinal)`);
  const summaries = new Map<string, ReactionSummary[]>();
  for (const row of rows) {
    const summary = { reaction: row.reaction, count: row.count, reactedByMe: row.mine, userIds: row.users };
    const list = summaries.get(row.id);
    if (list) list.push(summary);
    else summaries.set(row.id, [summary]);
  }
  return summaries;
}
