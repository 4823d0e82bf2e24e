import type { Context, Services } from "../context.js";
import { messageFromRow } from "../db/rows.js";
import { fragment, prepared, type SqlStatement, sql } from "../db/sql.js";
import { groupCommit } from "../delivery/group-commit.js";
import {
  positioned,
  streamEventsSql,
  streamHeadsSql,
  type Written,
  wakeStreams,
} from "../delivery/user-log.js";
import type { Message, MessageType } from "../generated/prisma/client.js";
import { countStored } from "../metrics/registry.js";
import { blockedSql, contactsSql } from "./contacts.js";

// The hot path. Storing direct messages is one SQL statement, so it is one round trip with no
// interactive transaction, and sends that arrive while one is running go together in the next
// (group commit): under load a batch costs about what one message does. The statement keeps
// withEvents' rules (delivery/user-log.ts): the stream heads of everyone involved are locked first, in id
// order, and only then are message ids taken, so ids in a chat commit in order; messages,
// conversations, events and heads commit together.

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
  /** Refuse (store nothing) if the recipient blocked the sender; false for the app server's sends. */
  screened: boolean;
  /** Refuse unless the two are contacts (REQUIRE_CONTACT_FOR_DIRECT). */
  contactsOnly: boolean;
}

const enqueue = groupCommit(storeBatch);

/**
 * Stores the message, or writes nothing and says why: the sender already sent this clientMessageId,
 * the recipient is no longer the live user of that username, blocked the sender, or (contactsOnly) is
 * not their contact.
 */
export function storeDirectMessage(ctx: Context, input: NewDirectMessage): Promise<DirectSendResult> {
  return enqueue(ctx.services, input);
}

type StoredRow = {
  /** Whole, as jsonb: a prepared statement's columns may not change when a migration adds one. */
  message: Record<string, unknown> | null;
  positions: { userId: string; seq: string }[];
  verdicts: (DirectSendRefusal | null)[];
};

/** Why a direct send stored nothing. */
export type DirectSendRefusal = "DUPLICATE" | "RECIPIENT_GONE" | "BLOCKED" | "NOT_CONTACT";

export type DirectSendResult = { message: Message } | { refusal: DirectSendRefusal };

async function storeBatch(services: Services, inputs: NewDirectMessage[]): Promise<DirectSendResult[]> {
  const stored = await storeDirectMessagesWith((statement) => services.db.query(statement), inputs);
  stored.wake(services);
  return stored.results;
}

type Query = <Row>(statement: SqlStatement) => Promise<Row[]>;

/**
 * The batch statement on `query`: the pool, or a transaction that commits more with the messages
 * (a broadcast's progress). Call `wake` once they are committed.
 */
export async function storeDirectMessagesWith(
  query: Query,
  inputs: NewDirectMessage[],
): Promise<{ results: DirectSendResult[]; wake(services: Services): void }> {
  // One jsonb parameter rather than an array per column: an array's length is read at planning time,
  // which made PostgreSQL plan the statement anew on every run; this way its one plan is kept.
  const batch = inputs.map((input, k) => ({ ...input, k }));
  const rows = await query<StoredRow>(
    prepared(
      "store-direct-messages",
      sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) AS i("chatId" uuid, "senderId" uuid,
        "recipientId" uuid, "recipientUsername" text, "clientMessageId" text, type text, body jsonb, ext jsonb,
        mentions jsonb, "mentionAll" bool, "requestReadReceipts" bool, "attachmentIds" jsonb, "searchText" text,
        screened bool, "contactsOnly" bool, k int)
    ), judged AS (
      -- The statement decides, and says why: the caller puts a refusal into words, nothing more.
      SELECT i.*, CASE
          WHEN i."clientMessageId" IS NOT NULL AND EXISTS (SELECT 1 FROM "Message" m
            WHERE m."senderId" = i."senderId" AND m."clientMessageId" = i."clientMessageId") THEN 'DUPLICATE'
          WHEN NOT EXISTS (SELECT 1 FROM "User" u WHERE u.id = i."recipientId"
            AND u.username = i."recipientUsername" AND u."deletedAt" IS NULL) THEN 'RECIPIENT_GONE'
          WHEN i.screened AND ${fragment(blockedSql('i."recipientId"', 'i."senderId"'))} THEN 'BLOCKED'
          WHEN i."contactsOnly" AND NOT ${fragment(contactsSql('i."senderId"', 'i."recipientId"'))} THEN 'NOT_CONTACT'
        END AS verdict
      FROM input i
    ), valid AS (
      SELECT * FROM judged WHERE verdict IS NULL
    ), counts AS (
      SELECT "userId", count(*) AS n
      FROM (SELECT "senderId" AS "userId" FROM valid UNION ALL SELECT "recipientId" FROM valid) AS involved
      GROUP BY "userId"
    ), ${fragment(streamHeadsSql("counts"))}, message AS (
      -- Drawing from the aggregate makes the heads above lock before the ids below are taken.
      INSERT INTO "Message" ("chatId", "chatType", "senderId", "recipientId", "clientMessageId", type, body, ext,
        mentions, "mentionAll", "requestReadReceipts", "attachmentIds", "searchText", "createdAt")
      SELECT v."chatId", 'DIRECT', v."senderId", v."recipientId", v."clientMessageId", v.type::"MessageType",
        v.body, v.ext, ARRAY(SELECT jsonb_array_elements_text(v.mentions))::uuid[],
        v."mentionAll", v."requestReadReceipts",
        ARRAY(SELECT jsonb_array_elements_text(v."attachmentIds"))::uuid[], v."searchText", now()
      FROM valid v, (SELECT count(*) AS locked FROM heads) AS h
      ORDER BY v.k
      RETURNING *
    ), sides AS (
      SELECT id, "chatId", "createdAt", "senderId" AS "userId", "recipientId" AS "peerId", 0 AS unread FROM message
      UNION ALL
      SELECT id, "chatId", "createdAt", "recipientId", "senderId", 1 FROM message
    ), event AS (
      SELECT "userId", 'MESSAGE' AS kind, "chatId", id AS "messageId", NULL::jsonb AS data, "createdAt", id AS ord
      FROM sides
    ), ${fragment(streamEventsSql("event", "counts"))}, conversations AS (
      INSERT INTO "Conversation" ("userId", "chatId", "chatType", "peerId", "unreadCount", "lastMessageId",
        "activityAt", "updatedAt")
      SELECT "userId", "chatId", 'DIRECT', "peerId", sum(unread)::int, max(id), max("createdAt"), max("createdAt")
      FROM sides GROUP BY "userId", "chatId", "peerId"
      ON CONFLICT ("userId", "chatId") DO UPDATE SET
        "unreadCount" = "Conversation"."unreadCount" + EXCLUDED."unreadCount",
        "lastMessageId" = EXCLUDED."lastMessageId",
        "activityAt" = EXCLUDED."activityAt",
        "deletedAt" = NULL,
        "updatedAt" = EXCLUDED."updatedAt"
    )
    SELECT to_jsonb(m) AS message,
      (SELECT json_agg(json_build_object('userId', e."userId", 'seq', e.seq::text)) FROM events e) AS positions,
      (SELECT json_agg(verdict ORDER BY k) FROM judged) AS verdicts
    FROM (SELECT 1) AS one LEFT JOIN message m ON true ORDER BY m.id`,
    ),
  );
  // One row even when nothing was stored; ids were taken in input order, so the i-th message by id
  // is the i-th accepted input.
  const messages = rows.flatMap((row) => (row.message ? [messageFromRow(row.message)] : []));
  let next = 0;
  return {
    results: rows[0]!.verdicts.map((verdict) =>
      verdict ? { refusal: verdict } : { message: messages[next++]! },
    ),
    wake: (services) => {
      countStored("direct", messages.length);
      if (messages.length > 0) wakeStreams(services, written(messages, rows[0]!.positions), messages);
    },
  };
}

/** Each user's events of the batch, at the positions the statement gave them (in message order). */
function written(messages: Message[], positions: StoredRow["positions"]): Written[] {
  const events = messages.flatMap((message) =>
    [message.senderId, message.recipientId!].map((userId) => ({
      userId,
      kind: "MESSAGE" as const,
      chatId: message.chatId,
      messageId: message.id,
      createdAt: message.createdAt,
    })),
  );
  return positioned(events, positions);
}
