import type { Context, Services } from "../../context.js";
import { messageFromRow } from "../../db/rows.js";
import { fragment, sql } from "../../db/sql.js";
import { appendSql } from "../../delivery/chat-log.js";
import { groupCommit } from "../../delivery/group-commit.js";
import { wakeChatLog } from "../../delivery/user-log.js";
import type { Message, MessageType } from "../../generated/prisma/client.js";
import { countStored } from "../../metrics/registry.js";
import { SPEAK_REFUSAL_SQL } from "./policy.js";

// Storing group messages: the message row, one chat-log entry and the chat's row, whatever the
// group's size (EVENT-LOG.md invariant 6). Sends arriving together are stored together. The
// statement judges each send (member, muted, targets) under the chats' locks, taken by the
// statement before it, so it sees every membership change ordered before it and none after.

export interface NewGroupMessage {
  chatId: string;
  senderId: string;
  clientMessageId: string | null;
  type: MessageType;
  body: Record<string, unknown>;
  ext: Record<string, unknown>;
  mentions: string[];
  mentionAll: boolean;
  requestReadReceipts: boolean;
  attachmentIds: string[];
  searchText: string | null;
  /** Only these members get it (and the sender's devices); empty: everyone. */
  targets: string[];
  /** Apply the speaking rules; false for the app server's sends. */
  screened: boolean;
}

/** Why a send was refused: the statement's judgement, for the caller to put in words. */
export type GroupSendRefusal = "GONE" | "NOT_MEMBER" | "MUTED" | "TARGETS_LEFT" | "DUPLICATE";

export type GroupSendResult = { message: Message } | { refusal: GroupSendRefusal };

const enqueue = groupCommit(storeBatch);

export function storeGroupMessage(ctx: Context, input: NewGroupMessage): Promise<GroupSendResult> {
  return enqueue(ctx.services, input);
}

interface Judged {
  k: number;
  refusal: GroupSendRefusal | null;
}

async function storeBatch(services: Services, inputs: NewGroupMessage[]): Promise<GroupSendResult[]> {
  const column = <T>(pick: (input: NewGroupMessage) => T) => inputs.map(pick);
  const chatIds = [...new Set(inputs.map((input) => input.chatId))].sort();
  const [row] = await services.db.transaction(async (query) => {
    // Its own statement, so the judgement below reads with a snapshot taken after the locks.
    await query(sql`SELECT id FROM "Chat" WHERE id = ANY(${chatIds}::uuid[]) ORDER BY id FOR UPDATE`);
    return query<{ judged: Judged[]; messages: Record<string, unknown>[] | null; last: string | null }>(sql`
      WITH input AS (
        SELECT * FROM unnest(
          ${column((i) => i.chatId)}::uuid[], ${column((i) => i.senderId)}::uuid[],
          ${column((i) => i.clientMessageId)}::text[], ${column((i) => i.type)}::text[],
          ${column((i) => JSON.stringify(i.body))}::text[], ${column((i) => JSON.stringify(i.ext))}::text[],
          ${column((i) => JSON.stringify(i.mentions))}::text[], ${column((i) => i.mentionAll)}::bool[],
          ${column((i) => i.requestReadReceipts)}::bool[], ${column((i) => JSON.stringify(i.attachmentIds))}::text[],
          ${column((i) => i.searchText)}::text[], ${column((i) => JSON.stringify(i.targets))}::text[],
          ${column((i) => i.screened)}::bool[]
        ) WITH ORDINALITY AS i("chatId", "senderId", "clientMessageId", type, body, ext, mentions, "mentionAll",
          "requestReadReceipts", "attachmentIds", "searchText", targets, screened, k)
      ), judged AS (
        SELECT i.*, ARRAY(SELECT jsonb_array_elements_text(i.targets::jsonb))::uuid[] AS audience,
          CASE
            WHEN g.id IS NULL OR g."destroyedAt" IS NOT NULL THEN 'GONE'
            WHEN i.screened AND m."userId" IS NULL THEN 'NOT_MEMBER'
            WHEN i.screened THEN ${fragment(SPEAK_REFUSAL_SQL)}
          END AS refusal
        FROM input i
        LEFT JOIN "Group" g ON g.id = i."chatId"
        LEFT JOIN "GroupMember" m ON m."groupId" = i."chatId" AND m."userId" = i."senderId"
      ), checked AS (
        SELECT j.*, coalesce(j.refusal,
          CASE
            WHEN cardinality(j.audience) > 0 AND (SELECT count(*) FROM "GroupMember" t
              WHERE t."groupId" = j."chatId" AND t."userId" = ANY(j.audience)) < cardinality(j.audience)
              THEN 'TARGETS_LEFT'
            WHEN j."clientMessageId" IS NOT NULL AND EXISTS (SELECT 1 FROM "Message" x
              WHERE x."senderId" = j."senderId" AND x."clientMessageId" = j."clientMessageId") THEN 'DUPLICATE'
          END) AS verdict
        FROM judged j
      ), valid AS (
        SELECT * FROM checked WHERE verdict IS NULL
      ), message AS (
        INSERT INTO "Message" ("chatId", "chatType", "senderId", "clientMessageId", type, body, ext, mentions,
          "mentionAll", "requestReadReceipts", "attachmentIds", "searchText", targets, "createdAt")
        SELECT v."chatId", 'GROUP', v."senderId", v."clientMessageId", v.type::"MessageType", v.body::jsonb,
          v.ext::jsonb, ARRAY(SELECT jsonb_array_elements_text(v.mentions::jsonb))::uuid[], v."mentionAll",
          v."requestReadReceipts", ARRAY(SELECT jsonb_array_elements_text(v."attachmentIds"::jsonb))::uuid[],
          v."searchText", v.audience, now()
        FROM valid v
        ORDER BY v.k
        RETURNING *
      ), entry AS (
        -- A targeted message is read by its targets and its sender's devices.
        SELECT "chatId", 'MESSAGE' AS kind, id AS "messageId",
          CASE WHEN cardinality(targets) > 0 THEN array_append(targets, "senderId") ELSE '{}' END AS audience,
          NULL::jsonb AS data, "createdAt", id AS ord
        FROM message
      ), ${fragment(appendSql("entry"))}, activity AS (
        UPDATE "Chat" c SET "lastMessageAt" = x.at
        FROM (SELECT "chatId", max("createdAt") AS at FROM message WHERE cardinality(targets) = 0 GROUP BY "chatId") x
        WHERE c.id = x."chatId"
      )
      SELECT (SELECT json_agg(json_build_object('k', k, 'refusal', verdict) ORDER BY k) FROM checked) AS judged,
        (SELECT json_agg(to_jsonb(m) || jsonb_build_object('id', m.id::text) ORDER BY m.id) FROM message m) AS messages,
        (SELECT max(pos)::text FROM appended) AS last`);
  });
  const messages = (row!.messages ?? []).map(messageFromRow);
  countStored("group", messages.length);
  if (row!.last) wakeChatLog(services, BigInt(row!.last));
  let next = 0;
  return row!.judged.map((judged) =>
    judged.refusal ? { refusal: judged.refusal } : { message: messages[next++]! },
  );
}
