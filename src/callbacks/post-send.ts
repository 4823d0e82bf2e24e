import type { Services } from "../context.js";
import { sql } from "../db/sql.js";
import type { OutboxEvent } from "../generated/prisma/client.js";
import {
  dropOutboxConsumer,
  type Handover,
  type OutboxEntry,
  type OutboxPump,
  startOutbox,
} from "./outbox.js";
import { postSigned } from "./signing.js";

// The post-send webhook (POST_SEND_WEBHOOK_URL): every stored, edited and recalled message, from
// the outbox, one signed POST per event. A receiver answering 2xx has it; anything else, or no
// answer in time, is tried again with back-off, and the chat's later events wait behind it.

export const POST_SEND_CONSUMER = "post-send";

const EVENT_NAMES: Record<OutboxEvent, string> = {
  CREATED: "message.created",
  EDITED: "message.edited",
  RECALLED: "message.recalled",
};
/** Chats handed over at once; each chat's events go one after another. */
const PARALLEL_CHATS = 16;

/** Starts the webhook's pump when POST_SEND_WEBHOOK_URL is set; stops queuing when it is not. */
export async function startPostSendWebhook(services: Services): Promise<OutboxPump | null> {
  const { postSendUrl, postSendRetryHours } = services.config.callbacks;
  if (!postSendUrl) {
    await dropOutboxConsumer(services, POST_SEND_CONSUMER);
    return null;
  }
  return startOutbox(services, {
    name: POST_SEND_CONSUMER,
    chatTypes: ["DIRECT", "GROUP", "THREAD", "ROOM"],
    events: ["CREATED", "EDITED", "RECALLED"],
    maxAgeHours: postSendRetryHours,
    handle: (entries, deadline) => handOver(services, entries, deadline),
  });
}

async function handOver(services: Services, entries: OutboxEntry[], deadline: number): Promise<Handover> {
  const messages = await messagesOf(services, entries);
  const byChat = new Map<string, OutboxEntry[]>();
  for (const entry of entries) byChat.set(entry.chatId, [...(byChat.get(entry.chatId) ?? []), entry]);
  const result: Handover = { delivered: [], failed: new Map() };
  const chats = [...byChat.values()];
  const sendChat = async (chat: OutboxEntry[]) => {
    for (const entry of chat) {
      if (Date.now() > deadline) return;
      const message = messages.get(entry.messageId);
      // Gone since (its sender's account was deleted, a room's history trimmed): nothing to tell.
      if (!message) {
        result.delivered.push(entry.id);
        continue;
      }
      const error = await post(services, entry, message);
      if (error) {
        result.failed.set(entry.id, error);
        return;
      }
      result.delivered.push(entry.id);
    }
  };
  const workers = Array.from({ length: Math.min(PARALLEL_CHATS, chats.length) }, async () => {
    for (let chat = chats.shift(); chat; chat = chats.shift()) await sendChat(chat);
  });
  await Promise.all(workers);
  return result;
}

async function post(services: Services, entry: OutboxEntry, message: unknown): Promise<string | null> {
  const { postSendUrl, secret, postSendTimeoutMs } = services.config.callbacks;
  const payload = {
    id: entry.id,
    event: EVENT_NAMES[entry.event],
    occurredAt: entry.createdAt.toISOString(),
    message,
  };
  try {
    const response = await postSigned(postSendUrl!, secret!, payload, postSendTimeoutMs, {
      "x-webhook-id": entry.id,
    });
    await response.body?.cancel();
    return response.ok ? null : `HTTP ${response.status}`;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The messages as the app server sees them: users by username, the conversation by target. */
async function messagesOf(services: Services, entries: OutboxEntry[]): Promise<Map<string, unknown>> {
  const ids = [...new Set(entries.map((entry) => entry.messageId))];
  const rows = await services.db.query<{ id: string; message: unknown }>(sql`
    SELECT m.id::text, json_build_object(
      'id', m.id::text,
      'from', s.username,
      'to', CASE m."chatType"
        WHEN 'DIRECT' THEN json_build_object('user', r.username)
        WHEN 'GROUP' THEN json_build_object('group', m."chatId")
        WHEN 'ROOM' THEN json_build_object('room', m."chatId")
        ELSE json_build_object('thread', m."chatId") END,
      'chatType', m."chatType",
      'type', m.type,
      'body', m.body,
      'ext', m.ext,
      'clientMessageId', m."clientMessageId",
      'mentions', (SELECT coalesce(json_agg(u.username), '[]') FROM "User" u WHERE u.id = ANY(m.mentions)),
      'mentionAll', m."mentionAll",
      'targets', (SELECT coalesce(json_agg(u.username), '[]') FROM "User" u WHERE u.id = ANY(m.targets)),
      'createdAt', to_char(m."createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'editedAt', to_char(m."editedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'recalledAt', to_char(m."recalledAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    ) AS message
    FROM "Message" m JOIN "User" s ON s.id = m."senderId" LEFT JOIN "User" r ON r.id = m."recipientId"
    WHERE m.id IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::bigint)`);
  return new Map(rows.map((row) => [row.id, row.message]));
}
