import type { Context, Services } from "../context.js";
import { sql } from "../db/sql.js";
import type { MessageType } from "../generated/prisma/client.js";
import { requireAdmin } from "./access.js";
import { repeatWithoutOverlap } from "./periodic.js";
import { dayRange } from "./validation.js";

// adminMessageStats reads daily counts that every instance rolls up from Message, plus a live count
// of the few messages not rolled up yet: never a scan of every message, and never a write on the
// send path. Messages are counted once they have settled (a send's id is taken and committed
// within one short transaction, so none with a lower id can still appear; imported history, whose
// createdAt is its past sentAt, settles from its importedAt), and room history is
// trimmed only below the watermark (rooms/messages.ts), so every stored message is counted.

const SETTLED_AFTER_MS = 60_000;
const ROLL_UP_EVERY_MS = 30_000;
/** Messages per transaction, so a first roll-up over a large history does not hold one for long. */
const BATCH = 50_000;

export interface MessageStat {
  day: string;
  type: MessageType;
  count: number;
}

/** Counts by UTC day and type, for the days from `from`'s through `to`'s, both included. */
export async function adminMessageStats(
  ctx: Context,
  range: { from: Date; to: Date },
): Promise<MessageStat[]> {
  requireAdmin(ctx);
  const { from, to } = dayRange(range);
  // One statement, one snapshot: the roll-up moves counts and the watermark together.
  return ctx.services.db.query<MessageStat>(sql`
    SELECT day::text AS day, type::text AS type, sum(n)::int AS count FROM (
      SELECT day, type, count AS n FROM "MessageDailyCount" WHERE day BETWEEN ${from}::date AND ${to}::date
      UNION ALL
      SELECT "createdAt"::date, type, count(*) FROM "Message"
      WHERE id > (SELECT "rolledUpTo" FROM "MessageStatsWatermark" WHERE id = 1)
        AND "createdAt" >= ${from}::date AND "createdAt" < ${to}::date + 1
      GROUP BY 1, 2
    ) counted
    GROUP BY day, type ORDER BY day, type`);
}

/**
 * Moves the settled messages past the watermark into the daily counts, a batch per transaction,
 * and returns how many it counted. Instances running it at once take turns on the watermark's row.
 */
export async function rollUpMessageStats(
  services: Pick<Services, "db">,
  settledAfterMs = SETTLED_AFTER_MS,
): Promise<number> {
  let total = 0;
  for (;;) {
    const counted = await services.db.transaction(async (query) => {
      const [mark] = await query<{ rolledUpTo: string }>(
        sql`SELECT "rolledUpTo"::text AS "rolledUpTo" FROM "MessageStatsWatermark" WHERE id = 1 FOR UPDATE`,
      );
      const from = BigInt(mark!.rolledUpTo);
      const [row] = await query<{ upTo: string | null; n: string }>(sql`
        SELECT max(id)::text AS "upTo", count(*)::text AS n FROM (
          SELECT id FROM "Message" WHERE id > ${from.toString()}::bigint
            AND coalesce("importedAt", "createdAt") < now() at time zone 'utc' - ${settledAfterMs / 1000} * interval '1 second'
          ORDER BY id LIMIT ${BATCH}
        ) settled`);
      if (!row?.upTo) return 0;
      // By id range, not the settled rows alone: a lower id can carry a later createdAt.
      await query(sql`
        INSERT INTO "MessageDailyCount" (day, type, count)
        SELECT "createdAt"::date, type, count(*) FROM "Message"
        WHERE id > ${from.toString()}::bigint AND id <= ${row.upTo}::bigint
        GROUP BY 1, 2
        ON CONFLICT (day, type) DO UPDATE SET count = "MessageDailyCount".count + EXCLUDED.count`);
      await query(sql`UPDATE "MessageStatsWatermark" SET "rolledUpTo" = ${row.upTo}::bigint WHERE id = 1`);
      return Number(row.n);
    });
    if (counted === 0) return total;
    total += counted;
  }
}

/** Rolls up every ROLL_UP_EVERY_MS; returns the function that stops it. */
export function scheduleMessageStats(services: Services): () => void {
  return repeatWithoutOverlap(services, "Message stats roll-up failed", ROLL_UP_EVERY_MS, () =>
    rollUpMessageStats(services),
  );
}
