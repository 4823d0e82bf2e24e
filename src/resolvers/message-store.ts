import type { Context } from "../context.js";
import { messageFromRow } from "../db/rows.js";
import { sql } from "../db/sql.js";
import type { Message, MessageType } from "../generated/prisma/client.js";
import { wakeStreams } from "./event-log.js";

// The hot path: storing a direct message is one SQL statement, so it is one round trip and needs no
// interactive transaction. It keeps withEvents' rules (event-log.ts): the stream heads of both users
// are locked first, in id order, and only then is the message id taken, so ids in a chat commit in
// order; the message, both conversations, both events and the heads commit together.

export interface NewDirectMessage {
  chatId: string;
  senderId: string;
  recipientId: string;
  /** Re-checked against recipientId: the caller may have had the id from a cache. */
  recipientUsername: string;
  clientMessageId: string | null;
  type: MessageType;
  body: Record<string, unknown>;
  ext: Record<string, unknown>;
  mentions: string[];
  mentionAll: boolean;
  requestReadReceipts: boolean;
  attachmentIds: string[];
  searchText: string | null;
}

type StoredRow = Record<string, unknown> & { heads: { userId: string; seq: string }[] };

/** Null, with nothing written, when the recipient is no longer the live user of that username. */
export async function storeDirectMessage(ctx: Context, input: NewDirectMessage): Promise<Message | null> {
  const users = [input.senderId, input.recipientId].sort();
  const [row] = await ctx.services.db.query<StoredRow>(sql`
    WITH heads AS (
      INSERT INTO "UserStream" AS s ("userId", "lastSeq")
      SELECT id, 1 FROM unnest(${users}::uuid[]) AS id
      WHERE EXISTS (SELECT 1 FROM "User" WHERE id = ${input.recipientId}::uuid
        AND username = ${input.recipientUsername} AND "deletedAt" IS NULL)
      ORDER BY id
      ON CONFLICT ("userId") DO UPDATE SET "lastSeq" = s."lastSeq" + 1
      RETURNING "userId", "lastSeq"
    ), message AS (
      -- Drawing from the aggregate makes the heads above lock before the id below is taken.
      INSERT INTO "Message" ("chatId", "chatType", "senderId", "recipientId", "clientMessageId", type, body, ext,
        mentions, "mentionAll", "requestReadReceipts", "attachmentIds", "searchText", "createdAt")
      SELECT ${input.chatId}::uuid, 'DIRECT', ${input.senderId}::uuid, ${input.recipientId}::uuid,
        ${input.clientMessageId}, ${input.type}::"MessageType", ${JSON.stringify(input.body)}::jsonb,
        ${JSON.stringify(input.ext)}::jsonb, ${input.mentions}::uuid[], ${input.mentionAll},
        ${input.requestReadReceipts}, ${input.attachmentIds}::uuid[], ${input.searchText}, now()
      FROM (SELECT count(*) AS locked FROM heads) AS h WHERE h.locked = 2
      RETURNING *
    ), conversations AS (
      INSERT INTO "Conversation" ("userId", "chatId", "chatType", "peerId", "unreadCount", "lastMessageId", "activityAt", "updatedAt")
      SELECT side."userId", m."chatId", 'DIRECT', side."peerId", side.unread, m.id, m."createdAt", m."createdAt"
      FROM message m, (VALUES (${input.senderId}::uuid, ${input.recipientId}::uuid, 0),
                              (${input.recipientId}::uuid, ${input.senderId}::uuid, 1)) AS side("userId", "peerId", unread)
      ON CONFLICT ("userId", "chatId") DO UPDATE SET
        "unreadCount" = "Conversation"."unreadCount" + EXCLUDED."unreadCount",
        "lastMessageId" = EXCLUDED."lastMessageId",
        "activityAt" = EXCLUDED."activityAt",
        "deletedAt" = NULL,
        "updatedAt" = EXCLUDED."updatedAt"
    ), events AS (
      INSERT INTO "UserEvent" ("userId", seq, kind, "chatId", "messageId", "createdAt")
      SELECT h."userId", h."lastSeq", 'MESSAGE', m."chatId", m.id, m."createdAt" FROM heads h, message m
    )
    SELECT m.*, (SELECT json_agg(json_build_object('userId', "userId", 'seq', "lastSeq"::text)) FROM heads) AS heads
    FROM message m`);
  if (!row) return null;
  const { heads, ...stored } = row;
  const message = messageFromRow(stored);
  const written = heads.map((head) => ({
    userId: head.userId,
    seq: BigInt(head.seq),
    kind: "MESSAGE" as const,
    chatId: message.chatId,
    messageId: message.id,
    createdAt: message.createdAt,
  }));
  wakeStreams(ctx.services, written, message);
  return message;
}
