import type { Database } from "../db/client.js";
import { messageFromRow } from "../db/rows.js";
import { sql } from "../db/sql.js";
import type { EventKind, Message, Prisma } from "../generated/prisma/client.js";

// The chat log: one shared, ordered log for every group (EVENT-LOG.md, "Groups, threads and rooms").
// A group message, edit, recall or membership change is one entry, written once whatever the
// group's size. Positions come from one clock row that a writer takes last (after its chats' rows)
// and holds to its commit, so positions commit in order and without holes: a reader that has seen
// position N can never see a lower one appear. Who reads an entry is decided when it is read, from
// the reader's membership spans, by `ENTRY_VISIBLE` (SQL) and `entryVisible` (TypeScript): the same
// rule, kept side by side here.

export type Tx = Prisma.TransactionClient;

export interface NewChatEntry {
  chatId: string;
  kind: EventKind;
  messageId?: bigint | null;
  /** Only these users read it; empty or omitted: every member. */
  audience?: readonly string[];
  data?: Record<string, unknown> | null;
}

export interface ChatEntry {
  pos: bigint;
  chatId: string;
  kind: EventKind;
  messageId: bigint | null;
  audience: string[];
  data: Record<string, unknown> | null;
  createdAt: Date;
}

/** A stretch of membership: the member reads entries from fromPos to untilPos, both included. */
export interface Span {
  chatId: string;
  fromPos: bigint;
  untilPos: bigint | null;
  receivesMessages: boolean;
  /** Entries about messages up to this id are not the member's (sent before they joined). */
  afterMessageId: bigint;
}

/** Entry kinds a member who blocked the group's messages does not get: messages and what changes them. */
const MESSAGE_KINDS: readonly EventKind[] = ["MESSAGE", "MESSAGE_EDITED", "MESSAGE_RECALLED", "REACTION"];

/** Whether `userId`, with these spans, reads the entry. The twin of ENTRY_VISIBLE. */
export function entryVisible(entry: ChatEntry, spans: readonly Span[], userId: string): boolean {
  const covered = spans.some(
    (span) =>
      span.chatId === entry.chatId &&
      entry.pos >= span.fromPos &&
      (span.untilPos === null || entry.pos <= span.untilPos) &&
      (span.receivesMessages || !MESSAGE_KINDS.includes(entry.kind)) &&
      (entry.messageId === null || entry.messageId > span.afterMessageId),
  );
  return covered && (entry.audience.length === 0 || entry.audience.includes(userId));
}

/** An entry that ends a chat (a group, or a thread in it) for every member: they read it and nothing after it. */
export function closesChat(entry: ChatEntry): boolean {
  return (
    (entry.kind === "GROUP" && entry.data?.kind === "GROUP_DESTROYED") ||
    (entry.kind === "THREAD" && entry.data?.kind === "THREAD_DESTROYED")
  );
}

/** Whether the entry is about this user (a join, a removal, a change of what they receive). */
export function namesUser(entry: Pick<ChatEntry, "data">, userId: string): boolean {
  return ((entry.data?.users as string[] | undefined) ?? []).includes(userId);
}

/** The twin of entryVisible, joining a user's spans `s` to entries `e`. */
const ENTRY_VISIBLE = `e."chatId" = s."chatId" AND e.pos >= s."fromPos"
  AND (s."untilPos" IS NULL OR e.pos <= s."untilPos")
  AND (s."receivesMessages" OR e.kind::text <> ALL ('{${MESSAGE_KINDS.join(",")}}'::text[]))
  AND (e."messageId" IS NULL OR e."messageId" > s."afterMessageId")
  AND (cardinality(e.audience) = 0 OR s."userId" = ANY(e.audience))`;

const ENTRY_JSON = `json_build_object('pos', e.pos::text, 'chatId', e."chatId", 'kind', e.kind,
  'messageId', e."messageId"::text, 'audience', e.audience, 'data', e.data, 'createdAt', e."createdAt")`;

/** Locks the chats' rows, in id order: a chat-log writer holds its chats before the clock. */
export async function lockChats(tx: Tx, chatIds: readonly string[]): Promise<void> {
  const ids = [...new Set(chatIds)].sort();
  await tx.$queryRaw`SELECT id FROM "Chat" WHERE id = ANY(${ids}::uuid[]) ORDER BY id FOR UPDATE`;
}

/**
 * The chat log's numbering, the one place it is written, as two CTEs for a statement over `rows` (a
 * CTE of "chatId", kind, "messageId", audience, data, "createdAt" and `ord`, which orders them):
 * `clock` takes as many positions as there are rows, `appended` writes them at consecutive
 * positions in `ord` order and returns pos and "messageId". The statement's transaction must hold
 * the rows' chats (lockChats) first; the clock is then held to its commit, so keep what follows short.
 */
export function appendSql(rows: string): string {
  return `clock AS (
      UPDATE "ChatLogClock" SET pos = pos + (SELECT count(*) FROM ${rows})
      WHERE id = 1 AND EXISTS (SELECT 1 FROM ${rows})
      RETURNING pos - (SELECT count(*) FROM ${rows}) AS base
    ), appended AS (
      INSERT INTO "ChatLogEntry" (pos, "chatId", kind, "messageId", audience, data, "createdAt")
      SELECT clock.base + row_number() OVER (ORDER BY r.ord), r."chatId", r.kind::"EventKind", r."messageId",
        r.audience, r.data, r."createdAt"
      FROM ${rows} r, clock
      RETURNING pos, "messageId"
    )`;
}

/** Appends entries at the next positions (appendSql), in the caller's transaction. */
export async function appendEntries(tx: Tx, entries: readonly NewChatEntry[]): Promise<ChatEntry[]> {
  if (entries.length === 0) return [];
  const createdAt = new Date();
  const written = entries.map(
    (entry): ChatEntry => ({
      pos: 0n,
      chatId: entry.chatId,
      kind: entry.kind,
      messageId: entry.messageId ?? null,
      audience: [...(entry.audience ?? [])],
      data: entry.data ?? null,
      createdAt,
    }),
  );
  // Positions follow `ord`, so the i-th position is the i-th entry's.
  const positions = await tx.$queryRawUnsafe<{ pos: bigint }[]>(
    `WITH rows AS (
        SELECT c AS "chatId", k AS kind, m::bigint AS "messageId",
          ARRAY(SELECT jsonb_array_elements_text(a::jsonb))::uuid[] AS audience, d::jsonb AS data,
          $6::timestamp(3) AS "createdAt", ord
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS x(c, k, m, a, d, ord)
      ), ${appendSql("rows")}
      SELECT pos FROM appended ORDER BY pos`,
    written.map((w) => w.chatId),
    written.map((w) => w.kind),
    written.map((w) => w.messageId?.toString() ?? null),
    written.map((w) => JSON.stringify(w.audience)),
    written.map((w) => (w.data ? JSON.stringify(w.data) : null)),
    createdAt.toISOString(),
  );
  for (const [i, entry] of written.entries()) entry.pos = BigInt(positions[i]!.pos);
  return written;
}

/**
 * Opens a membership span at `pos` (a join, or a change of what the member receives); entries about
 * messages up to `afterMessageId` (from before their join) stay out of it.
 */
export async function openSpan(
  tx: Tx,
  chatId: string,
  userId: string,
  pos: bigint,
  { receivesMessages = true, afterMessageId = 0n } = {},
): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO "MembershipSpan" ("chatId", "userId", "fromPos", "receivesMessages", "afterMessageId")
    VALUES (${chatId}::uuid, ${userId}::uuid, ${pos}, ${receivesMessages}, ${afterMessageId})`;
}

/**
 * Closes the users' open spans (everyone's, with "all") in the chats at `pos`: they read the entry
 * at `pos` (their removal, or the chat's end) and nothing after.
 */
export async function closeSpans(
  tx: Tx,
  chats: string | readonly string[],
  userIds: readonly string[] | "all",
  pos: bigint,
) {
  const chatIds = typeof chats === "string" ? [chats] : [...chats];
  const everyone = userIds === "all";
  await tx.$executeRaw`
    UPDATE "MembershipSpan" SET "untilPos" = ${pos}
    WHERE "chatId" = ANY(${chatIds}::uuid[]) AND "untilPos" IS NULL
      AND (${everyone} OR "userId" = ANY(${everyone ? [] : [...userIds]}::uuid[]))`;
}

export interface EntryRow extends ChatEntry {
  /** The entry's message as it is now, when it has one. */
  message: Message | null;
}

function entryFromJson(json: Record<string, unknown>, message?: Record<string, unknown> | null): EntryRow {
  const createdAt = json.createdAt as string;
  return {
    pos: BigInt(json.pos as string),
    chatId: json.chatId as string,
    kind: json.kind as EventKind,
    messageId: json.messageId == null ? null : BigInt(json.messageId as string),
    audience: (json.audience as string[] | null) ?? [],
    data: (json.data as Record<string, unknown> | null) ?? null,
    createdAt: new Date(/(Z|[+-]\d\d:?\d\d)$/.test(createdAt) ? createdAt : `${createdAt}Z`),
    message: message ? messageFromRow(message) : null,
  };
}

/**
 * The entries after `after` that `userId` reads, oldest first, and the log's head as of the same
 * snapshot: when fewer than `limit` come back, the reader has everything up to `head`.
 */
export async function readEntries(
  db: Database,
  userId: string,
  after: bigint,
  limit: number,
): Promise<{ entries: ChatEntry[]; head: bigint }> {
  const [row] = await db.query<{ head: string; entries: Record<string, unknown>[] }>({
    text: `WITH page AS (
        SELECT ${ENTRY_JSON} AS entry, e.pos
        FROM "MembershipSpan" s JOIN "ChatLogEntry" e ON ${ENTRY_VISIBLE}
        WHERE s."userId" = $1::uuid AND (s."untilPos" IS NULL OR s."untilPos" > $2::bigint) AND e.pos > $2::bigint
        ORDER BY e.pos LIMIT $3)
      SELECT (SELECT pos::text FROM "ChatLogClock" WHERE id = 1) AS head,
        coalesce((SELECT json_agg(entry ORDER BY pos) FROM page), '[]'::json) AS entries`,
    values: [userId, after.toString(), limit],
  });
  return { entries: row!.entries.map((json) => entryFromJson(json)), head: BigInt(row!.head) };
}

/** Every entry after `after`, with its message: what an instance's tailer reads. */
export async function readAllEntries(db: Database, after: bigint, limit: number): Promise<EntryRow[]> {
  const rows = await db.query<{ entry: Record<string, unknown>; message: Record<string, unknown> | null }>({
    text: `SELECT ${ENTRY_JSON} AS entry, to_jsonb(m) AS message
      FROM "ChatLogEntry" e LEFT JOIN "Message" m ON m.id = e."messageId"
      WHERE e.pos > $1::bigint ORDER BY e.pos LIMIT $2`,
    values: [after.toString(), limit],
  });
  return rows.map((row) => entryFromJson(row.entry, row.message));
}

/** The spans that cover any position after `after`. */
export async function spansAfter(db: Database, userId: string, after: bigint): Promise<Span[]> {
  const rows = await db.query<{
    chatId: string;
    fromPos: string;
    untilPos: string | null;
    receivesMessages: boolean;
    afterMessageId: string;
  }>(
    sql`SELECT "chatId", "fromPos"::text AS "fromPos", "untilPos"::text AS "untilPos", "receivesMessages",
        "afterMessageId"::text AS "afterMessageId"
      FROM "MembershipSpan" WHERE "userId" = ${userId}::uuid
        AND ("untilPos" IS NULL OR "untilPos" > ${after.toString()}::bigint)`,
  );
  return rows.map((row) => ({
    chatId: row.chatId,
    fromPos: BigInt(row.fromPos),
    untilPos: row.untilPos === null ? null : BigInt(row.untilPos),
    receivesMessages: row.receivesMessages,
    afterMessageId: BigInt(row.afterMessageId),
  }));
}

/** The newest position. */
export async function chatLogHead(db: Database): Promise<bigint> {
  const [row] = await db.query<{ pos: string }>(
    sql`SELECT pos::text AS pos FROM "ChatLogClock" WHERE id = 1`,
  );
  return BigInt(row?.pos ?? "0");
}

/**
 * Whether the entries right after `after` are still kept. Positions have no holes, so the oldest
 * kept entry tells: anything older was removed by retention.
 */
export async function chatLogKeptAfter(db: Database, after: bigint): Promise<boolean> {
  const [row] = await db.query<{ oldest: string | null; head: string }>(
    sql`SELECT (SELECT min(pos) FROM "ChatLogEntry")::text AS oldest,
      (SELECT pos FROM "ChatLogClock" WHERE id = 1)::text AS head`,
  );
  const head = BigInt(row!.head);
  if (after >= head) return true;
  return row!.oldest !== null && BigInt(row!.oldest) <= after + 1n;
}

const PRUNE_BATCH = 5000;

/**
 * Retention: drops entries older than `cutoff` (their messages stay in history), and the spans that
 * ended before the oldest entry kept, which no reader can need any more.
 */
export async function pruneEntries(db: Database, cutoff: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const removed = await db.query<{ pos: string }>(
      sql`DELETE FROM "ChatLogEntry" WHERE pos IN (
        SELECT pos FROM "ChatLogEntry" WHERE "createdAt" < ${cutoff} ORDER BY pos LIMIT ${PRUNE_BATCH})
        RETURNING pos::text AS pos`,
    );
    total += removed.length;
    if (removed.length < PRUNE_BATCH) break;
  }
  await db.query(sql`DELETE FROM "MembershipSpan" WHERE "untilPos" < coalesce(
    (SELECT min(pos) FROM "ChatLogEntry"), (SELECT pos FROM "ChatLogClock" WHERE id = 1))`);
  return total;
}
