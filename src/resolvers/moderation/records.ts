import type { Context } from "../../context.js";
import { sql } from "../../db/sql.js";
import { badInput } from "../../errors.js";
import type {
  ModerationAction,
  ModerationRecord,
  ModerationRule,
  ModerationScope,
  Prisma,
} from "../../generated/prisma/client.js";
import { requireAdmin } from "../access.js";
import { type NodePage, nodePage, pageSize } from "../paging.js";
import * as check from "../validation.js";
import { parseMessageId } from "../visibility.js";

// What the rules caught, for the app server's review.

export interface RecordFilter {
  rule?: string | null;
  action?: ModerationAction | null;
  scope?: ModerationScope | null;
  user?: string | null;
  from?: Date | null;
  to?: Date | null;
  first?: number | null;
  after?: string | null;
}

export type RecordRow = ModerationRecord & { user: { username: string } | null; rule: ModerationRule | null };

/** Newest first. */
export async function adminModerationRecords(
  ctx: Context,
  filter: RecordFilter,
): Promise<NodePage<RecordRow>> {
  requireAdmin(ctx);
  const first = pageSize(filter.first, "first");
  const after = filter.after == null ? null : parseMessageId(filter.after);
  if (filter.after != null && after === null)
    throw badInput("after must be a cursor from an earlier page", "after");
  const where: Prisma.ModerationRecordWhereInput = {
    ...(filter.action ? { action: filter.action } : {}),
    ...(filter.scope ? { scope: filter.scope } : {}),
    ...(after === null ? {} : { id: { lt: after } }),
    createdAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) },
  };
  if (filter.rule != null) {
    if (!check.isId(filter.rule)) return { nodes: [], hasNextPage: false };
    where.ruleId = filter.rule;
  }
  if (filter.user != null) {
    const name = check.maybeUsername(filter.user);
    const user = name ? await ctx.prisma.user.findUnique({ where: { username: name } }) : null;
    if (!user) return { nodes: [], hasNextPage: false };
    where.userId = user.id;
  }
  const rows = await ctx.prisma.moderationRecord.findMany({
    where,
    include: { user: { select: { username: true } }, rule: true },
    orderBy: { id: "desc" },
    take: first + 1,
  });
  return nodePage(rows, first);
}

export interface ModerationStat {
  day: string;
  action: ModerationAction;
  count: number;
}

/** Records per UTC day and action, the days of `from` through `to`. */
export async function adminModerationStats(
  ctx: Context,
  range: { from: Date; to: Date },
): Promise<ModerationStat[]> {
  requireAdmin(ctx);
  const { from, to } = check.dayRange(range);
  return ctx.services.db.query<ModerationStat>(sql`
    SELECT "createdAt"::date::text AS day, action::text AS action, count(*)::int AS count
    FROM "ModerationRecord"
    WHERE "createdAt" >= ${from}::date AND "createdAt" < ${to}::date + 1
    GROUP BY 1, 2 ORDER BY 1, 2`);
}
