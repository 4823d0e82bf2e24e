import type { Context } from "../context.js";
import { messageFromRow } from "../db/rows.js";
import { sql } from "../db/sql.js";
import { AppError, badInput } from "../errors.js";
import type { Message } from "../generated/prisma/client.js";
import { requireAdmin } from "./access.js";
import type { ChatTargetInput } from "./chats.js";
import { directKey, ensureDirectChats } from "./direct-chats.js";
import { type BodyInput, checkMessageSize, type PreparedBody, prepareBody } from "./message-bodies.js";
import * as check from "./validation.js";

// adminImportMessages: history from another system, stored as it was and delivered to nobody.
// Delivery only ever reads what a send writes besides the message (the users' stream events, the
// group's chat-log entry), and an import writes neither: no live event, no offline event. Unread
// counts leave imported messages out (importedAt), and direct ones are stored as delivered and read
// at their sentAt, so no receipt is ever sent for them. The importId is stored as the message's
// clientMessageId: the same (sender, importId) is stored once, so running an import again adds nothing.

export const MAX_IMPORT = 1000;
/** How far ahead of this server's clock a sentAt may be (clock skew between systems). */
const FUTURE_SKEW_MS = 60_000;

export interface ImportMessageInput {
  from: string;
  to: ChatTargetInput;
  body: BodyInput;
  sentAt: Date;
  importId: string;
  ext?: unknown;
}

export interface MessageImport {
  /** In the order given: the stored message, or the one an earlier import stored. */
  messages: Message[];
  importedCount: number;
  existingCount: number;
}

interface Checked {
  k: number;
  chatType: "DIRECT" | "GROUP";
  senderId: string;
  recipientId: string | null;
  groupId: string | null;
  importId: string;
  sentAt: Date;
  prepared: PreparedBody;
  ext: Record<string, unknown>;
}

/** An error about the message at `index`, saying which one. */
function at(index: number, error: unknown): unknown {
  if (!(error instanceof AppError)) return error;
  const { code: _code, ...extensions } = error.extensions as Record<string, unknown>;
  return new AppError(error.code, `messages[${index}]: ${error.message}`, { ...extensions, index });
}

export async function adminImportMessages(
  ctx: Context,
  inputs: readonly ImportMessageInput[],
): Promise<MessageImport> {
  requireAdmin(ctx);
  check.list(inputs, "messages", MAX_IMPORT);
  if (inputs.length === 0) throw badInput("messages must hold at least one message", "messages");
  const checked = await checkImport(ctx, inputs);

  const stored = await ctx.services.db.transaction(async (query) => {
    // The post-send webhook's trigger passes over this transaction's messages: history is not news.
    await query(sql`SELECT set_config('imserver.skip_callbacks', 'on', true)`);
    const pairs = checked.flatMap((m) => (m.recipientId ? [[m.senderId, m.recipientId] as const] : []));
    const chats = await ensureDirectChats(query, pairs);
    // The locks a send takes (stream heads, then group chats, each in id order): a send into the
    // same chats waits for the import, so neither overwrites the other's last message.
    const users = [...new Set(pairs.flat())].sort();
    await query(sql`
      INSERT INTO "UserStream" ("userId") SELECT id FROM unnest(${users}::uuid[]) AS id ORDER BY id
      ON CONFLICT ("userId") DO UPDATE SET "lastSeq" = "UserStream"."lastSeq"`);
    const groups = [...new Set(checked.flatMap((m) => (m.groupId ? [m.groupId] : [])))].sort();
    await query(sql`SELECT id FROM "Chat" WHERE id = ANY(${groups}::uuid[]) ORDER BY id FOR UPDATE`);
    const rows = checked.map((m) => ({
      k: m.k,
      chatId: m.groupId ?? chats.get(directKey([m.senderId, m.recipientId!]))!,
      chatType: m.chatType,
      senderId: m.senderId,
      recipientId: m.recipientId,
      importId: m.importId,
      type: m.prepared.type,
      body: m.prepared.body,
      ext: m.ext,
      attachmentIds: m.prepared.attachmentIds,
      searchText: m.prepared.searchText,
      sentAt: m.sentAt.toISOString(),
    }));
    return query<{ message: Record<string, unknown> }>(sql`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS i(k int, "chatId" uuid, "chatType" text,
          "senderId" uuid, "recipientId" uuid, "importId" text, type text, body jsonb, ext jsonb,
          "attachmentIds" jsonb, "searchText" text, "sentAt" timestamptz)
      ), inserted AS (
        -- Ids are taken in this order: by sentAt, then as given.
        INSERT INTO "Message" ("chatId", "chatType", "senderId", "recipientId", "clientMessageId", type, body, ext,
          "attachmentIds", "searchText", "createdAt", "importedAt", "deliveredAt", "readAt")
        SELECT i."chatId", i."chatType"::"ChatType", i."senderId", i."recipientId", i."importId",
          i.type::"MessageType", i.body, i.ext, ARRAY(SELECT jsonb_array_elements_text(i."attachmentIds"))::uuid[],
          i."searchText", i."sentAt" AT TIME ZONE 'utc', now() AT TIME ZONE 'utc',
          CASE WHEN i."chatType" = 'DIRECT' THEN i."sentAt" AT TIME ZONE 'utc' END,
          CASE WHEN i."chatType" = 'DIRECT' THEN i."sentAt" AT TIME ZONE 'utc' END
        FROM input i
        ORDER BY i."sentAt", i.k
        ON CONFLICT ("senderId", "clientMessageId") DO NOTHING
        RETURNING *
      ), sides AS (
        SELECT id, "chatId", "createdAt", "senderId" AS "userId", "recipientId" AS "peerId" FROM inserted
        WHERE "chatType" = 'DIRECT'
        UNION ALL
        SELECT id, "chatId", "createdAt", "recipientId", "senderId" FROM inserted WHERE "chatType" = 'DIRECT'
      ), conversations AS (
        -- Listed by the time of their last message; never unread.
        INSERT INTO "Conversation" ("userId", "chatId", "chatType", "peerId", "lastMessageId", "activityAt", "updatedAt")
        SELECT "userId", "chatId", 'DIRECT', "peerId", max(id), max("createdAt"), now() AT TIME ZONE 'utc'
        FROM sides GROUP BY "userId", "chatId", "peerId"
        ON CONFLICT ("userId", "chatId") DO UPDATE SET
          "lastMessageId" = greatest("Conversation"."lastMessageId", EXCLUDED."lastMessageId"),
          "activityAt" = greatest("Conversation"."activityAt", EXCLUDED."activityAt"),
          "deletedAt" = NULL,
          "updatedAt" = EXCLUDED."updatedAt"
      ), activity AS (
        -- A group's members' lists order by its last message (conversation-stats.ts).
        UPDATE "Chat" c SET "lastMessageAt" = greatest(c."lastMessageAt", x.at)
        FROM (SELECT "chatId", max("createdAt") AS at FROM inserted WHERE "chatType" = 'GROUP' GROUP BY "chatId") x
        WHERE c.id = x."chatId"
      )
      SELECT to_jsonb(m) AS message FROM inserted m ORDER BY m.id`);
  });

  const messages = stored.map((row) => messageFromRow(row.message));
  const key = (senderId: string, importId: string) => `${senderId}\n${importId}`;
  const byKey = new Map(
    messages.map((message) => [key(message.senderId, message.clientMessageId!), message]),
  );
  const missing = checked.filter((m) => !byKey.has(key(m.senderId, m.importId)));
  if (missing.length > 0) {
    const earlier = await ctx.prisma.message.findMany({
      where: { OR: missing.map((m) => ({ senderId: m.senderId, clientMessageId: m.importId })) },
    });
    for (const message of earlier) byKey.set(key(message.senderId, message.clientMessageId!), message);
  }
  return {
    messages: checked.map((m) => byKey.get(key(m.senderId, m.importId))!),
    importedCount: messages.length,
    existingCount: checked.length - messages.length,
  };
}

/** Every message checked and resolved before anything is written; an error names its index. */
async function checkImport(ctx: Context, inputs: readonly ImportMessageInput[]): Promise<Checked[]> {
  const names = new Set<string>();
  const groupIds = new Set<string>();
  for (const input of inputs) {
    const from = check.maybeUsername(input.from);
    if (from) names.add(from);
    const to = input.to.user != null ? check.maybeUsername(input.to.user) : undefined;
    if (to) names.add(to);
    if (input.to.group != null && check.isId(input.to.group)) groupIds.add(input.to.group);
  }
  const [users, groups] = await Promise.all([
    ctx.prisma.user.findMany({
      where: { username: { in: [...names] }, deletedAt: null },
      select: { id: true, username: true },
    }),
    ctx.prisma.group.findMany({
      where: { id: { in: [...groupIds] }, destroyedAt: null },
      select: { id: true },
    }),
  ]);
  const userIds = new Map(users.map((user) => [user.username, user.id]));
  const liveGroups = new Set(groups.map((group) => group.id));
  const userNamed = (raw: string, field: string) => {
    const id = userIds.get(check.maybeUsername(raw) ?? "");
    if (!id) throw new AppError("NOT_FOUND", `${field}: no user named "${raw}"`, { field });
    return id;
  };
  const seen = new Map<string, number>();
  const now = Date.now();
  const checked: Checked[] = [];
  for (const [k, input] of inputs.entries()) {
    try {
      const senderId = userNamed(input.from, "from");
      let recipientId: string | null = null;
      let groupId: string | null = null;
      if (input.to.user != null) {
        recipientId = userNamed(input.to.user, "to.user");
        if (recipientId === senderId) throw badInput("A direct chat needs two different users", "to");
      } else if (input.to.group != null) {
        if (!liveGroups.has(input.to.group)) {
          throw new AppError("NOT_FOUND", `to.group: no group with id "${input.to.group}"`, {
            field: "to.group",
          });
        }
        groupId = input.to.group;
      } else {
        throw badInput("History is imported into direct chats and groups: to takes user or group", "to");
      }
      if (input.sentAt.getTime() > now + FUTURE_SKEW_MS) throw badInput("sentAt is in the future", "sentAt");
      const importId = check.text(input.importId, "importId", { max: 128 });
      const earlier = seen.get(`${senderId}\n${importId}`);
      if (earlier !== undefined) {
        throw badInput(`importId repeats messages[${earlier}]'s, from the same sender`, "importId");
      }
      seen.set(`${senderId}\n${importId}`, k);
      const prepared = await prepareBody(ctx, senderId, input.body);
      if (prepared.type === "COMMAND") {
        throw badInput("Commands are live-only and never stored; they cannot be imported", "body");
      }
      const ext =
        input.ext == null ? {} : check.jsonObject(input.ext, "ext", ctx.services.config.maxMessageBytes);
      checkMessageSize(ctx, prepared.body, ext);
      checked.push({
        k,
        chatType: groupId ? "GROUP" : "DIRECT",
        senderId,
        recipientId,
        groupId,
        importId,
        sentAt: input.sentAt,
        prepared,
        ext,
      });
    } catch (error) {
      throw at(k, error);
    }
  }
  return checked;
}
