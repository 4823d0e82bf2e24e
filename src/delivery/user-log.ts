import type { Context, Services } from "../context.js";
import type { Database } from "../db/client.js";
import { asDate, messageFromRow } from "../db/rows.js";
import { prepared, sql } from "../db/sql.js";
import type { EventKind, Prisma } from "../generated/prisma/client.js";
import type { WireEvent } from "../pubsub/topics.js";
import { appendEntries, type ChatEntry, lockChats, type NewChatEntry } from "./chat-log.js";
import { type MessageRecord, messageToWire } from "./wire.js";

// The durable per-user event log (see ../shared/EVENT-LOG.md). A transaction that writes events
// first locks the stream head of every user it writes to, in user-id order, before it touches
// anything else; positions are therefore handed out and committed in the same order (no hole that
// fills in later), and two such transactions cannot deadlock on each other.

export type Tx = Prisma.TransactionClient;

export interface NewEvent {
  userId: string;
  kind: EventKind;
  chatId?: string | null;
  messageId?: bigint | null;
  data?: Record<string, unknown> | null;
}

export type Emit = (event: NewEvent) => void;

/** An event as committed: its position and time. */
export interface Written extends NewEvent {
  seq: bigint;
  createdAt: Date;
}

/**
 * Runs `work` in a transaction holding the stream heads of `userIds`; the events it emits (to those
 * users only) commit with it, and the streams are woken after the commit, never before.
 */
export function withEvents<T>(
  ctx: Pick<Context, "prisma" | "services">,
  userIds: readonly string[],
  work: (tx: Tx, emit: Emit) => Promise<T>,
): Promise<T> {
  return deliver(ctx, { users: userIds }, (tx, out) => work(tx, out.emit));
}

/** What a transaction run by `deliver` writes besides its own changes. */
export interface Outbox {
  /** A durable event in the stream of one of the locked users. */
  emit: Emit;
  /**
   * An entry in the chat log for one of the locked chats, at the next position. The first takes
   * the log's clock, held to the commit: append last, once the checks are done.
   */
  append(entry: NewChatEntry): Promise<ChatEntry>;
}

/**
 * withEvents for changes that also go into the chat log: locks the users' stream heads, then the
 * chats' rows (the one lock order every writer keeps), runs `work`, and after the commit wakes the
 * streams and every instance's chat-log tailer.
 */
export async function deliver<T>(
  ctx: Pick<Context, "prisma" | "services">,
  scope: { users?: readonly string[]; chats?: readonly string[] },
  work: (tx: Tx, out: Outbox) => Promise<T>,
): Promise<T> {
  let written: Written[] = [];
  let appended: ChatEntry[] = [];
  const result = await ctx.prisma.$transaction(async (tx) => {
    const heads = scope.users?.length ? await lockStreams(tx, scope.users) : new Set<string>();
    const chats = new Set(scope.chats ?? []);
    if (chats.size > 0) await lockChats(tx, [...chats]);
    const pending: NewEvent[] = [];
    const entries: ChatEntry[] = [];
    const value = await work(tx, {
      emit: (event) => {
        if (!heads.has(event.userId)) throw new Error(`Stream of ${event.userId} was not locked first`);
        pending.push(event);
      },
      append: async (entry) => {
        if (!chats.has(entry.chatId)) throw new Error(`Chat ${entry.chatId} was not locked first`);
        const [added] = await appendEntries(tx, [entry]);
        entries.push(added!);
        return added!;
      },
    });
    written = await insertEvents(tx, pending);
    appended = entries;
    return value;
  });
  wakeStreams(ctx.services, written);
  if (appended.length > 0) wakeChatLog(ctx.services, appended.at(-1)!.pos);
  return result;
}

/** After the commit: every instance's tailer reads the chat log on to `pos`. */
export function wakeChatLog(services: Services, pos: bigint): void {
  services.pubsub.publish("chatLogAdvanced", "all", { pos: pos.toString() });
}

/** Locks (creating where missing) the stream heads, in id order; returns the users held. */
async function lockStreams(tx: Tx, userIds: readonly string[]): Promise<Set<string>> {
  const ids = [...new Set(userIds)].sort();
  // INSERT ... SELECT ... ORDER BY takes the row locks in that order.
  await tx.$executeRaw`
    INSERT INTO "UserStream" ("userId")
    SELECT id FROM unnest(${ids}::uuid[]) AS id ORDER BY id
    ON CONFLICT ("userId") DO UPDATE SET "lastSeq" = "UserStream"."lastSeq"`;
  return new Set(ids);
}

/**
 * The user log's numbering, the one place it is written, as CTEs. `heads` advances the stream head
 * of each user in `counts` (a CTE of "userId" and n, how many events they get) by n, locking the
 * heads in user-id order; a statement that takes message ids draws from it first, so ids commit in
 * order. `events` then writes `rows` (a CTE of "userId", kind, "chatId", "messageId", data,
 * "createdAt" and `ord`) at the positions taken, each user's in `ord` order, returning "userId" and seq.
 */
export function streamHeadsSql(counts: string): string {
  return `heads AS (
      INSERT INTO "UserStream" AS s ("userId", "lastSeq")
      SELECT "userId", n FROM ${counts} ORDER BY "userId"
      ON CONFLICT ("userId") DO UPDATE SET "lastSeq" = s."lastSeq" + EXCLUDED."lastSeq"
      RETURNING "userId", "lastSeq"
    )`;
}

/** See streamHeadsSql. */
export function streamEventsSql(rows: string, counts: string): string {
  return `events AS (
      INSERT INTO "UserEvent" ("userId", seq, kind, "chatId", "messageId", data, "createdAt")
      SELECT r."userId", h."lastSeq" - c.n + row_number() OVER (PARTITION BY r."userId" ORDER BY r.ord),
        r.kind::"EventKind", r."chatId", r."messageId", r.data, r."createdAt"
      FROM ${rows} r JOIN heads h USING ("userId") JOIN ${counts} c USING ("userId")
      RETURNING "userId", seq
    )`;
}

/** Each user's positions as the statement returned them, handed to that user's events in order. */
export function positioned<E extends { userId: string }>(
  events: readonly E[],
  returned: readonly { userId: string; seq: bigint | string | number }[],
): (E & { seq: bigint })[] {
  const byUser = new Map<string, bigint[]>();
  for (const row of returned) {
    const seqs = byUser.get(row.userId);
    if (seqs) seqs.push(BigInt(row.seq));
    else byUser.set(row.userId, [BigInt(row.seq)]);
  }
  for (const seqs of byUser.values()) seqs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return events.map((event) => ({ ...event, seq: byUser.get(event.userId)!.shift()! }));
}

/** Writes the events at the next positions of their users' streams, whose heads the transaction holds. */
async function insertEvents(tx: Tx, events: NewEvent[]): Promise<Written[]> {
  if (events.length === 0) return [];
  const createdAt = new Date();
  const returned = await tx.$queryRawUnsafe<{ userId: string; seq: bigint }[]>(
    `WITH rows AS (
        SELECT u AS "userId", k AS kind, c AS "chatId", m::bigint AS "messageId", d::jsonb AS data,
          $6::timestamp(3) AS "createdAt", ord
        FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[]) WITH ORDINALITY AS x(u, k, c, m, d, ord)
      ), counts AS (
        SELECT "userId", count(*) AS n FROM rows GROUP BY "userId"
      ), ${streamHeadsSql("counts")}, ${streamEventsSql("rows", "counts")}
      SELECT "userId", seq FROM events`,
    events.map((event) => event.userId),
    events.map((event) => event.kind),
    events.map((event) => event.chatId ?? null),
    events.map((event) => event.messageId?.toString() ?? null),
    events.map((event) => (event.data ? JSON.stringify(event.data) : null)),
    createdAt.toISOString(),
  );
  return positioned(events, returned).map((event) => ({ ...event, createdAt }));
}

/** After the commit: tells each user's streams, with the events (and their messages) for those one step behind. */
export function wakeStreams(services: Services, written: Written[], messages: MessageRecord[] = []): void {
  const byUser = new Map<string, Written[]>();
  for (const event of written) byUser.set(event.userId, [...(byUser.get(event.userId) ?? []), event]);
  const wire = new Map(messages.map((message) => [message.id, messageToWire(message)]));
  for (const [userId, events] of byUser) {
    const carried = events.flatMap((event) => {
      const message =
        event.messageId === undefined || event.messageId === null ? undefined : wire.get(event.messageId);
      return message ? [message] : [];
    });
    services.pubsub.publish("streamAdvanced", userId, {
      seq: events.at(-1)!.seq.toString(),
      events: events.map((event) => ({
        seq: event.seq.toString(),
        kind: event.kind,
        chatId: event.chatId ?? null,
        messageId: event.messageId?.toString() ?? null,
        data: event.data ?? null,
        createdAt: event.createdAt.toISOString(),
      })),
      ...(carried.length > 0 ? { messages: carried } : {}),
    });
  }
}

/** A wake-up's events in the form readEvents returns. */
export function eventsFromWire(events: WireEvent[]): StoredEvent[] {
  return events.map((event) => ({
    seq: BigInt(event.seq),
    kind: event.kind as EventKind,
    chatId: event.chatId,
    messageId: event.messageId === null ? null : BigInt(event.messageId),
    data: event.data,
    createdAt: new Date(event.createdAt),
  }));
}

export interface StoredEvent {
  seq: bigint;
  kind: EventKind;
  chatId: string | null;
  messageId: bigint | null;
  data: Record<string, unknown> | null;
  createdAt: Date;
}

/** A page of a user's events, oldest first, with the messages they name as those are now, by id. */
export interface EventPage {
  events: StoredEvent[];
  messages: Map<string, MessageRecord>;
}

export const emptyPage = (): EventPage => ({ events: [], messages: new Map() });

/**
 * The user's events after `after`, with their messages in the same statement: a replaying stream
 * reads a page per round trip (on the driver, past Prisma's per-row cost).
 */
export async function readEvents(
  db: Database,
  userId: string,
  after: bigint,
  limit: number,
): Promise<EventPage> {
  const rows = await db.query<
    Omit<StoredEvent, "seq" | "messageId" | "createdAt"> & {
      seq: string;
      messageId: string | null;
      createdAt: Date | string;
      message: Record<string, unknown> | null;
    }
  >(
    // The page is cut before the join, so only its own messages are read and turned into JSON.
    prepared(
      "read-user-events",
      sql`SELECT e.seq::text AS seq, e.kind, e."chatId", e."messageId"::text AS "messageId", e.data, e."createdAt",
        to_jsonb(m) AS message
      FROM (SELECT * FROM "UserEvent" WHERE "userId" = ${userId}::uuid AND seq > ${after.toString()}::bigint
        ORDER BY seq LIMIT ${limit}) e
      LEFT JOIN "Message" m ON m.id = e."messageId"
      ORDER BY e.seq`,
    ),
  );
  const messages = new Map<string, MessageRecord>();
  const events = rows.map(({ message, ...row }) => {
    if (message) messages.set(row.messageId!, messageFromRow(message));
    return {
      ...row,
      seq: BigInt(row.seq),
      messageId: row.messageId === null ? null : BigInt(row.messageId),
      createdAt: asDate(row.createdAt),
    };
  });
  return { events, messages };
}

/** The last positions of these users' streams; users with no event yet are left out. */
export async function streamHeads(db: Database, userIds: readonly string[]): Promise<Map<string, bigint>> {
  const rows = await db.query<{ userId: string; lastSeq: string }>(
    sql`SELECT "userId", "lastSeq"::text AS "lastSeq" FROM "UserStream" WHERE "userId" = ANY(${userIds}::uuid[])`,
  );
  return new Map(rows.map((row) => [row.userId, BigInt(row.lastSeq)]));
}

/** The user's last position; 0 before the first event. */
export async function streamHead(ctx: Pick<Context, "prisma">, userId: string): Promise<bigint> {
  const head = await ctx.prisma.userStream.findUnique({ where: { userId } });
  return head?.lastSeq ?? 0n;
}

const PRUNE_BATCH = 5000;

/**
 * Retention: drops events older than OFFLINE_RETENTION_DAYS. Positions have no holes, so a reader
 * who finds one knows retention passed its cursor.
 */
export async function pruneEvents(services: Services, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - services.config.offlineRetentionDays * 86_400_000);
  let total = 0;
  for (;;) {
    const removed = await services.prisma.$executeRaw`
      DELETE FROM "UserEvent" WHERE ("userId", seq) IN (
        SELECT "userId", seq FROM "UserEvent" WHERE "createdAt" < ${cutoff} LIMIT ${PRUNE_BATCH})`;
    total += removed;
    if (removed < PRUNE_BATCH) return total;
  }
}
