import { randomUUID } from "node:crypto";
import type { Context, Services } from "../context.js";
import { fragment, sql } from "../db/sql.js";
import { badInput, notFound } from "../errors.js";
import type { Broadcast, User } from "../generated/prisma/client.js";
import { requireAdmin } from "./access.js";
import { directKey, ensureDirectChats } from "./direct-chats.js";
import { type BodyInput, checkMessageSize, prepareBody } from "./message-bodies.js";
import { type NewDirectMessage, storeDirectMessagesWith } from "./message-store.js";
import { afterTimeCursor, type NodePage, nodePage, pageSize } from "./paging.js";
import { repeatWithoutOverlap } from "./periodic.js";
import * as check from "./validation.js";

// adminBroadcast: one direct message from the system account to every user. The mutation only
// records the broadcast; every instance runs a worker that takes the oldest running broadcast's row
// when its next batch is due (FOR UPDATE SKIP LOCKED, so two instances never hold it at once), stores the next batch of users' messages
// with the direct send's own statement, and moves the cursor, all in one transaction: a crash
// rolls back both, so nobody is skipped and nobody gets it twice. The row also says when the next
// batch is due, and broadcasts go one after another, so the pace (BROADCAST_USERS_PER_SECOND) holds
// however many instances and broadcasts there are, and live sends get the database between batches.

/** Users per batch: at most a second's worth, so a slow pace still sends small, even batches. */
const MAX_BATCH = 100;
/** How often an idle instance looks for due broadcasts. */
const POLL_MS = 1000;

/** Who a broadcast is for, in SQL over "User" u and "Broadcast" b. */
const RECIPIENT = `u."deletedAt" IS NULL AND u."bannedAt" IS NULL AND u.id <> b."senderId"
  AND u."createdAt" <= b."createdAt"`;

export async function adminBroadcast(
  ctx: Context,
  input: { body: BodyInput; ext?: unknown },
): Promise<Broadcast> {
  requireAdmin(ctx);
  const sender = await broadcastSender(ctx.services);
  const prepared = await prepareBody(ctx, sender.id, input.body);
  if (prepared.type === "COMMAND") {
    throw badInput("A broadcast is stored and delivered offline too; commands are live-only", "body");
  }
  const ext =
    input.ext == null ? {} : check.jsonObject(input.ext, "ext", ctx.services.config.maxMessageBytes);
  checkMessageSize(ctx, prepared.body, ext);
  // Stored as jsonb, which cannot hold NUL or unpaired surrogates.
  check.storableJson(prepared.body, "body");
  const id = randomUUID();
  // Made and counted in one statement: totalCount is exactly the users it is for.
  await ctx.services.db.query(sql`
    INSERT INTO "Broadcast" (id, "senderId", type, body, ext, "attachmentIds", "searchText", "totalCount",
      "createdAt", "nextBatchAt")
    SELECT b.id, b."senderId", b.type, b.body, b.ext, b."attachmentIds", b."searchText",
      (SELECT count(*) FROM "User" u WHERE ${fragment(RECIPIENT)}), b."createdAt", b."createdAt"
    FROM (SELECT ${id}::uuid AS id, ${sender.id}::uuid AS "senderId", ${prepared.type}::"MessageType" AS type,
      ${JSON.stringify(prepared.body)}::jsonb AS body, ${JSON.stringify(ext)}::jsonb AS ext,
      ${prepared.attachmentIds}::uuid[] AS "attachmentIds", ${prepared.searchText}::text AS "searchText",
      (now() AT TIME ZONE 'utc')::timestamp(3) AS "createdAt") AS b`);
  kick(ctx.services);
  return ctx.prisma.broadcast.findUniqueOrThrow({ where: { id } });
}

/**
 * The account broadcasts come from (BROADCAST_SENDER): the user of that name, or one made now with
 * no usable password (nobody can sign in as it; register refuses the name).
 */
export async function broadcastSender(services: Pick<Services, "prisma" | "config">): Promise<User> {
  const username = services.config.broadcast.sender;
  await services.prisma.user.createMany({
    data: [{ username, nickname: username, passwordHash: "!" }],
    skipDuplicates: true,
  });
  return services.prisma.user.findUniqueOrThrow({ where: { username } });
}

export async function adminCancelBroadcast(ctx: Context, id: string): Promise<Broadcast> {
  requireAdmin(ctx);
  const found = await findBroadcast(ctx, id);
  // Waits for a batch in progress: what it sent stays sent, and nothing is sent after.
  await ctx.prisma.broadcast.updateMany({
    where: { id: found.id, status: "RUNNING" },
    data: { status: "CANCELLED", finishedAt: new Date() },
  });
  return ctx.prisma.broadcast.findUniqueOrThrow({ where: { id: found.id } });
}

export async function findBroadcast(ctx: Context, id: string): Promise<Broadcast> {
  requireAdmin(ctx);
  const broadcast = check.isId(id) ? await ctx.prisma.broadcast.findUnique({ where: { id } }) : null;
  if (!broadcast) throw notFound(`No broadcast "${id}"`);
  return broadcast;
}

/** Newest first. */
export async function adminBroadcasts(
  ctx: Context,
  args: { first?: number | null; after?: string | null },
): Promise<NodePage<Broadcast>> {
  requireAdmin(ctx);
  const first = pageSize(args.first, "first");
  const rows = await ctx.prisma.broadcast.findMany({
    where: afterTimeCursor(args.after, "createdAt", "id", "lt"),
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

type BroadcastRow = Pick<Broadcast, "id" | "senderId" | "type" | "attachmentIds" | "searchText"> & {
  body: Record<string, unknown>;
  ext: Record<string, unknown>;
  cursor: string | null;
};

/**
 * Sends the next batch of the oldest running broadcast, if it is due and no other instance holds it:
 * one broadcast at a time, in the order they were made, so the pace is the whole system's. Returns the
 * milliseconds until that broadcast's next batch is due, or null when there was nothing to do.
 */
export async function sendBroadcastBatch(services: Services): Promise<number | null> {
  const batch = Math.min(MAX_BATCH, services.config.broadcast.usersPerSecond);
  const paceMs = Math.ceil((batch / services.config.broadcast.usersPerSecond) * 1000);
  // Idle instances ask one cheap question a second, without a transaction.
  const [due] = await services.db.query(sql`
    SELECT 1 FROM "Broadcast" WHERE status = 'RUNNING' AND "nextBatchAt" <= now() AT TIME ZONE 'utc' LIMIT 1`);
  if (!due) return null;
  let wake: ((services: Services) => void) | undefined;
  const sent = await services.db.transaction(async (query) => {
    const [broadcast] = await query<BroadcastRow>(sql`
      SELECT id, "senderId", type::text AS type, body, ext, to_jsonb("attachmentIds") AS "attachmentIds",
        "searchText", cursor
      FROM "Broadcast"
      WHERE id = (SELECT id FROM "Broadcast" WHERE status = 'RUNNING' ORDER BY "createdAt", id LIMIT 1)
        AND "nextBatchAt" <= now() AT TIME ZONE 'utc'
      FOR UPDATE SKIP LOCKED`);
    if (!broadcast) return false;
    const recipients = await query<{ id: string; username: string }>(sql`
      SELECT u.id, u.username FROM "User" u, "Broadcast" b
      WHERE b.id = ${broadcast.id}::uuid AND ${fragment(RECIPIENT)}
        AND (${broadcast.cursor}::uuid IS NULL OR u.id > ${broadcast.cursor}::uuid)
      ORDER BY u.id LIMIT ${batch}`);
    let stored = 0;
    if (recipients.length > 0) {
      const pairs = recipients.map((user) => [broadcast.senderId, user.id] as const);
      const chats = await ensureDirectChats(query, pairs);
      const inputs = recipients.map(
        (user, i): NewDirectMessage => ({
          chatId: chats.get(directKey(pairs[i]!))!,
          senderId: broadcast.senderId,
          recipientId: user.id,
          recipientUsername: user.username,
          clientMessageId: null,
          type: broadcast.type,
          body: broadcast.body,
          ext: broadcast.ext,
          mentions: [],
          mentionAll: false,
          requestReadReceipts: false,
          attachmentIds: broadcast.attachmentIds,
          searchText: broadcast.searchText,
          screened: false,
          contactsOnly: false,
        }),
      );
      const result = await storeDirectMessagesWith(query, inputs);
      // A user deleted since the list was read is passed over, as one deleted before it was.
      stored = result.results.filter((outcome) => "message" in outcome).length;
      wake = result.wake;
    }
    const done = recipients.length < batch;
    await query(sql`
      UPDATE "Broadcast" SET cursor = coalesce(${recipients.at(-1)?.id ?? null}::uuid, cursor),
        "sentCount" = "sentCount" + ${stored},
        "nextBatchAt" = now() AT TIME ZONE 'utc' + ${paceMs} * interval '1 millisecond',
        status = CASE WHEN ${done} THEN 'DONE'::"BroadcastStatus" ELSE status END,
        "finishedAt" = CASE WHEN ${done} THEN now() AT TIME ZONE 'utc' ELSE NULL END
      WHERE id = ${broadcast.id}::uuid`);
    return true;
  });
  wake?.(services);
  return sent ? paceMs : null;
}

const kickers = new WeakMap<Services, () => void>();

/** Starts this instance's worker on a new broadcast now rather than at its next look. */
function kick(services: Services): void {
  kickers.get(services)?.();
}

/**
 * This instance's broadcast worker: looks for due broadcasts every POLL_MS and sends batch after
 * batch, at the pace, while it has one. Returns the function that stops it.
 */
export function scheduleBroadcasts(services: Services): () => void {
  let stopped = false;
  let running = false;
  const work = async () => {
    if (running) return;
    running = true;
    try {
      for (;;) {
        if (stopped) return;
        const wait = await sendBroadcastBatch(services);
        if (wait === null || stopped) return;
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
      }
    } catch (error) {
      services.log.warn("Broadcast batch failed", { error: (error as Error).message });
    } finally {
      running = false;
    }
  };
  kickers.set(services, () => void work());
  const stop = repeatWithoutOverlap(services, "Broadcast batch failed", POLL_MS, work);
  return () => {
    stopped = true;
    kickers.delete(services);
    stop();
  };
}
