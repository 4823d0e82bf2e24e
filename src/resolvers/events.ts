import { type Context, clearLoaders } from "../context.js";
import { type ChatEntry, readEntries } from "../delivery/chat-log.js";
import { type Cursor, formatCursor } from "../delivery/cursor.js";
import {
  checkChatPosition,
  currentCursor,
  followDevice,
  type LogItem,
  requireCursor,
  resume,
  withCursors,
} from "../delivery/device-stream.js";
import type { RoomDelivery } from "../delivery/room-hub.js";
import { readEvents, type StoredEvent, streamHead } from "../delivery/user-log.js";
import { messageFromWire } from "../delivery/wire.js";
import { badInput } from "../errors.js";
import type {
  EphemeralMessage,
  PresencePayload,
  RoomEventData,
  SessionEndKind,
  TypingPayload,
} from "../pubsub/topics.js";
import { requireUser } from "./access.js";
import type { ContactChange } from "./contacts.js";
import type { ConversationChange } from "./conversations.js";
import type { GroupChange } from "./groups/policy.js";
import type { MessageRecord } from "./message-bodies.js";
import type { ThreadChange } from "./threads/policy.js";

// The events domain: what each durable or live event looks like in GraphQL (EventPayload), how a
// page of them is rendered, `sync` for clients that pull, and the `events` subscription, which is a
// device stream (delivery/device-stream.ts) presented as envelopes.

export type EventPayload =
  | { __typename: "SessionEvent"; kind: SessionEndKind }
  | { __typename: "MessageEvent"; messageId: bigint; message?: MessageRecord }
  | { __typename: "MessageEditedEvent"; messageId: bigint }
  | {
      __typename: "MessageRecalledEvent";
      messageId: bigint;
      chatId: string;
      by: string | null;
      /** A room's: rooms keep no conversations, so the event's is made up. */
      inRoom?: boolean;
    }
  | { __typename: "MessageDeletedEvent"; messageIds: string[]; chatId: string }
  | {
      __typename: "ReceiptEvent";
      kind: "DELIVERED" | "READ";
      by: string;
      chatId: string;
      messageIds: string[];
      upTo: string | null;
    }
  | { __typename: "ReactionEvent"; messageId: bigint; reaction: string; userId: string; added: boolean }
  | { __typename: "ConversationEvent"; kind: ConversationChange; chatId: string }
  | { __typename: "ContactEvent"; kind: ContactChange; userId: string; message: string | null }
  | { __typename: "GroupEvent"; kind: GroupChange; groupId: string; actor: string | null; users: string[] }
  | { __typename: "ThreadEvent"; kind: ThreadChange; threadId: string; actor: string | null; users: string[] }
  | ({ __typename: "RoomEvent"; roomId: string } & RoomEventData)
  | ({ __typename: "PresenceEvent" } & PresencePayload)
  | ({ __typename: "TypingEvent" } & TypingPayload);

export interface EventEnvelope {
  /** Position in the user's durable stream; null for ephemeral events, which are never replayed. */
  cursor: string | null;
  createdAt: Date;
  event: EventPayload;
}

function envelope(item: LogItem, cursor: string): EventEnvelope {
  return item.log === "user"
    ? { cursor, createdAt: item.event.createdAt, event: toPayload(item.event) }
    : { cursor, createdAt: item.entry.createdAt, event: entryPayload(item.entry) };
}

function groupPayload(groupId: string, data: Record<string, unknown>): EventPayload {
  return {
    __typename: "GroupEvent",
    kind: data.kind as GroupChange,
    groupId,
    actor: (data.actor as string | null) ?? null,
    users: (data.users as string[] | undefined) ?? [],
  };
}

function threadPayload(data: Record<string, unknown>): EventPayload {
  return {
    __typename: "ThreadEvent",
    kind: data.kind as ThreadChange,
    threadId: data.thread as string,
    actor: (data.actor as string | null) ?? null,
    users: (data.users as string[] | undefined) ?? [],
  };
}

/** A REACTION event or entry: its data is what resolvers/reactions.ts wrote. */
function reactionPayload(messageId: bigint, data: Record<string, unknown>): EventPayload {
  return {
    __typename: "ReactionEvent",
    messageId,
    reaction: data.reaction as string,
    userId: data.userId as string,
    added: data.added as boolean,
  };
}

/**
 * One payload object per chat-log entry: the tailer hands the same entry to every local reader, and
 * the shared rendering (delivery/shared-render.ts) renders a payload once for all of them.
 */
const entryPayloads = new WeakMap<ChatEntry, EventPayload>();

function entryPayload(entry: ChatEntry): EventPayload {
  let payload = entryPayloads.get(entry);
  if (!payload) {
    payload = newEntryPayload(entry);
    entryPayloads.set(entry, payload);
  }
  return payload;
}

function newEntryPayload(entry: ChatEntry): EventPayload {
  switch (entry.kind) {
    case "MESSAGE_EDITED":
      return { __typename: "MessageEditedEvent", messageId: entry.messageId! };
    case "MESSAGE_RECALLED":
      return {
        __typename: "MessageRecalledEvent",
        messageId: entry.messageId!,
        chatId: entry.chatId,
        by: (entry.data?.by as string | null) ?? null,
      };
    case "REACTION":
      return reactionPayload(entry.messageId!, entry.data ?? {});
    case "GROUP":
      return groupPayload(entry.chatId, entry.data ?? {});
    case "THREAD":
      return threadPayload(entry.data ?? {});
    default:
      return { __typename: "MessageEvent", messageId: entry.messageId! };
  }
}

function toPayload(event: StoredEvent): EventPayload {
  const data = event.data ?? {};
  switch (event.kind) {
    case "MESSAGE":
      return { __typename: "MessageEvent", messageId: event.messageId! };
    case "MESSAGE_EDITED":
      return { __typename: "MessageEditedEvent", messageId: event.messageId! };
    case "MESSAGE_RECALLED":
      return {
        __typename: "MessageRecalledEvent",
        messageId: event.messageId!,
        chatId: event.chatId!,
        by: (data.by as string | null) ?? null,
      };
    case "MESSAGE_DELETED":
      return {
        __typename: "MessageDeletedEvent",
        messageIds: data.messageIds as string[],
        chatId: event.chatId!,
      };
    case "RECEIPT":
      return {
        __typename: "ReceiptEvent",
        kind: data.kind as "DELIVERED" | "READ",
        by: data.by as string,
        chatId: event.chatId!,
        messageIds: data.messageIds as string[],
        upTo: (data.upTo as string | null) ?? null,
      };
    case "REACTION":
      return reactionPayload(event.messageId!, data);
    case "CONVERSATION":
      return {
        __typename: "ConversationEvent",
        kind: data.kind as ConversationChange,
        chatId: event.chatId!,
      };
    case "CONTACT":
      return {
        __typename: "ContactEvent",
        kind: data.kind as ContactChange,
        userId: data.userId as string,
        message: (data.message as string | null) ?? null,
      };
    case "GROUP":
      return groupPayload(event.chatId!, data);
    case "THREAD":
      return threadPayload(data);
  }
}

/**
 * Renders items with emptied loaders (a stream lives long and must show what is current). Messages
 * that came with the items (a page read with its messages, wake-ups, the tailer) are primed, others
 * loaded in one query; replayed pages also warm the loaders with their conversations.
 */
async function render(
  ctx: Context,
  positioned: { item: LogItem; cursor: string }[],
  carried: ReadonlyMap<string, MessageRecord>,
  replayed: boolean,
): Promise<EventEnvelope[]> {
  clearLoaders(ctx.loaders);
  for (const [id, message] of carried) ctx.loaders.messages.prime(BigInt(id), message as never);
  const messageIds: bigint[] = [];
  const chatIds = new Set<string>();
  for (const { item } of positioned) {
    const { kind, messageId, chatId } = item.log === "user" ? item.event : item.entry;
    if (
      (kind === "MESSAGE" || kind === "MESSAGE_EDITED" || kind === "REACTION") &&
      messageId !== null &&
      !carried.has(String(messageId))
    ) {
      messageIds.push(messageId);
    }
    if (chatId) chatIds.add(chatId);
  }
  // Replayed pages are what is worth warming; live events resolve conversations only if selected.
  const warm = replayed && positioned.length > 1;
  await Promise.all([
    ctx.loaders.messages.loadMany(messageIds),
    ctx.loaders.conversations.loadMany(warm ? [...chatIds] : []),
  ]);
  return positioned.map(({ item, cursor }) => envelope(item, cursor));
}

export interface SyncPage {
  events: EventEnvelope[];
  nextCursor: string;
  hasMore: boolean;
}

const SYNC_DEFAULT = 100;
const SYNC_MAX = 1000;

/**
 * The durable events after `since` (from the oldest kept when omitted), for clients that pull: the
 * user's own stream and their groups' entries, merged by time; each log's order is kept.
 */
export async function sync(
  ctx: Context,
  since: string | null | undefined,
  first: number | null | undefined,
): Promise<SyncPage> {
  const { user } = requireUser(ctx);
  const limit = first ?? SYNC_DEFAULT;
  if (!Number.isInteger(limit) || limit < 1 || limit > SYNC_MAX) {
    throw badInput(`first must be from 1 to ${SYNC_MAX}`, "first");
  }
  const after = since == null ? null : requireCursor(since);
  if (after) await checkChatPosition(ctx.services, after.chat);
  const [{ events, messages }, chat] = await Promise.all([
    after === null
      ? readEvents(ctx.services.db, user.id, 0n, limit + 1)
      : resume(ctx.services, user.id, after.user, limit + 1),
    readEntries(ctx.services.db, user.id, after?.chat ?? 0n, limit + 1),
  ]);
  const merged = mergeByTime(
    events.map((event): LogItem => ({ log: "user", event })),
    chat.entries.map((entry): LogItem => ({ log: "chat", entry })),
  );
  const page = merged.slice(0, limit);
  const at: Cursor = after ?? { user: events.length === 0 ? await streamHead(ctx, user.id) : 0n, chat: 0n };
  const rendered = await render(ctx, withCursors(page, at), messages, true);
  const hasMore = merged.length > limit;
  // The chat log was read to its head (same snapshot): skip past the entries this user does not see.
  if (!hasMore && chat.head > at.chat) at.chat = chat.head;
  return { events: rendered, nextCursor: formatCursor(at), hasMore };
}

/** Merges two logs by time, keeping each one's own order. */
function mergeByTime(a: LogItem[], b: LogItem[]): LogItem[] {
  const merged: LogItem[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && createdAt(a[i]!) <= createdAt(b[j]!))) merged.push(a[i++]!);
    else merged.push(b[j++]!);
  }
  return merged;
}

function createdAt(item: LogItem): number {
  return (item.log === "user" ? item.event.createdAt : item.entry.createdAt).getTime();
}

export async function eventCursor(ctx: Context): Promise<string> {
  const { user } = requireUser(ctx);
  return formatCursor(await currentCursor(ctx.services, user.id));
}

function ephemeralPayload(message: EphemeralMessage): EventPayload {
  switch (message.kind) {
    case "COMMAND":
      return { __typename: "MessageEvent", messageId: 0n, message: messageFromWire(message.payload) };
    case "TYPING":
      return { __typename: "TypingEvent", ...message.payload };
    case "PRESENCE":
      return { __typename: "PresenceEvent", ...message.payload };
  }
}

function roomPayload({ message, change, event, roomId }: RoomDelivery): EventPayload {
  if (!message) return { __typename: "RoomEvent", roomId, ...event! };
  switch (change?.kind) {
    case "EDITED":
      return { __typename: "MessageEditedEvent", messageId: message.id };
    case "RECALLED":
      return {
        __typename: "MessageRecalledEvent",
        messageId: message.id,
        chatId: roomId,
        by: change.by,
        inRoom: true,
      };
    default:
      return { __typename: "MessageEvent", messageId: message.id, message };
  }
}

/** One payload per room delivery: the hub hands the same one to every local reader, rendered once. */
const roomPayloads = new WeakMap<RoomDelivery, EventPayload>();

function roomEnvelope(delivery: RoomDelivery): EventEnvelope {
  let event = roomPayloads.get(delivery);
  if (!event) {
    event = roomPayload(delivery);
    roomPayloads.set(delivery, event);
  }
  return { cursor: null, createdAt: delivery.createdAt, event };
}

/**
 * Envelopes straight to a graphql-ws connection whose selection is rendered once for every reader:
 * the same JSON for all of them but the cursor, framed per connection (realtime/connections.ts),
 * past graphql-ws's per-message promise chain and serialization. Resolves false for an envelope that
 * must take the ordinary path, and waits while the socket is backed up.
 */
function directFrames(
  ctx: Context,
): ((envelope: EventEnvelope, wanted?: () => boolean) => Promise<boolean>) | undefined {
  const { connection, operationId, renderJson } = ctx;
  if (!connection || !operationId || !renderJson) return undefined;
  return async (envelope, wanted) => {
    const json = await renderJson(envelope);
    if (json === null) return false;
    if (wanted && !wanted()) return true;
    await connection.sendNext(operationId, json);
    return true;
  };
}

/**
 * The calling device's one stream (delivery/device-stream.ts), as GraphQL envelopes: durable events
 * with their cursors, live-only ones without, and a SessionEvent last when its session ends.
 */
export async function deviceEvents(
  ctx: Context,
  since: string | null | undefined,
): Promise<AsyncIterable<EventEnvelope>> {
  const { user, device } = requireUser(ctx);
  const requested = since == null ? null : requireCursor(since);
  const send = directFrames(ctx);
  return followDevice(
    ctx.services,
    { userId: user.id, deviceId: device.id, connection: ctx.connection },
    requested,
    {
      durable: (items, carried, replayed) => render(ctx, items, carried, replayed),
      ephemeral: (message) => ({
        cursor: null,
        createdAt: new Date(message.createdAt),
        event: ephemeralPayload(message),
      }),
      room: (delivery) => {
        clearLoaders(ctx.loaders);
        return roomEnvelope(delivery);
      },
      sendDirectly: send,
      sendRoomDirectly:
        send &&
        ((delivery) => {
          // A stream lives long: what the room's traffic shows is read afresh (the room as it is now).
          clearLoaders(ctx.loaders);
          return send(roomEnvelope(delivery));
        }),
      ended: (kind) => ({ cursor: null, createdAt: new Date(), event: { __typename: "SessionEvent", kind } }),
    },
  );
}
