import { type Context, clearLoaders } from "../context.js";
import {
  type ChatEntry,
  chatLogHead,
  chatLogKeptAfter,
  type EntryRow,
  entryVisible,
  readEntries,
  type Span,
  spansAfter,
} from "../delivery/chat-log.js";
import { type Cursor, formatCursor, parseCursor as parseCursorText } from "../delivery/cursor.js";
import { handoff } from "../delivery/handoff.js";
import type { TailReader } from "../delivery/tailer.js";
import { eventsFromWire, readEvents, type StoredEvent, streamHead } from "../delivery/user-log.js";
import { messageFromWire } from "../delivery/wire.js";
import { AppError, badInput } from "../errors.js";
import type {
  ChatEphemeralMessage,
  EphemeralMessage,
  PresencePayload,
  SessionEndKind,
  StreamAdvancedMessage,
  TypingPayload,
} from "../pubsub/topics.js";
import { requireUser } from "./access.js";
import type { ContactChange } from "./contacts.js";
import type { ConversationChange } from "./conversations.js";
import type { GroupChange } from "./groups/policy.js";
import type { MessageRecord } from "./message-bodies.js";

// Delivery: each device's `events` stream replays the user's durable log from a cursor, then follows
// it live. The pubsub only says "the log grew"; the events themselves are always read from the
// database, in position order, so a lost or late wake-up costs latency, never an event.

export type EventPayload =
  | { __typename: "SessionEvent"; kind: SessionEndKind }
  | { __typename: "MessageEvent"; messageId: bigint; message?: MessageRecord }
  | { __typename: "MessageEditedEvent"; messageId: bigint }
  | { __typename: "MessageRecalledEvent"; messageId: bigint; chatId: string; by: string | null }
  | { __typename: "MessageDeletedEvent"; messageIds: string[]; chatId: string }
  | {
      __typename: "ReceiptEvent";
      kind: "DELIVERED" | "READ";
      by: string;
      chatId: string;
      messageIds: string[];
      upTo: string | null;
    }
  | { __typename: "ConversationEvent"; kind: ConversationChange; chatId: string }
  | { __typename: "ContactEvent"; kind: ContactChange; userId: string; message: string | null }
  | { __typename: "GroupEvent"; kind: GroupChange; groupId: string; actor: string | null; users: string[] }
  | ({ __typename: "PresenceEvent" } & PresencePayload)
  | ({ __typename: "TypingEvent" } & TypingPayload);

export interface EventEnvelope {
  /** Position in the user's durable stream; null for ephemeral events, which are never replayed. */
  cursor: string | null;
  createdAt: Date;
  event: EventPayload;
}

const PAGE = 200;
/** Live-only events waiting for a slow reader; beyond this the oldest are dropped. */
const EPHEMERAL_BACKLOG = 256;
/** Events a wake-up carried, kept for a stream that is behind; beyond this it reads the database. */
const INBOX_LIMIT = 256;
function parseCursor(raw: string): Cursor {
  const cursor = parseCursorText(raw);
  if (!cursor) throw badInput("since must be a cursor from an earlier event or sync page", "since");
  return cursor;
}

/** Where a user's streams stand now: the start for a client that has nothing to resume. */
async function currentCursor(ctx: Context, userId: string): Promise<Cursor> {
  const [user, chat] = await Promise.all([streamHead(ctx, userId), chatLogHead(ctx.services.db)]);
  return { user, chat };
}

function cursorExpired() {
  return new AppError(
    "BAD_USER_INPUT",
    "This cursor is older than the server keeps events (OFFLINE_RETENTION_DAYS): fetch conversations and messages afresh, then resume from eventCursor",
    { field: "since", reason: "CURSOR_EXPIRED" },
  );
}

function futureCursor() {
  return badInput("since is ahead of your event stream: it is not a cursor this server gave you", "since");
}

/** The first page of the user's own stream after a client's cursor, refusing future and expired cursors. */
async function resume(ctx: Context, userId: string, since: bigint, limit: number): Promise<StoredEvent[]> {
  const head = await streamHead(ctx, userId);
  if (since > head) throw futureCursor();
  if (since === head) return [];
  const page = await readEvents(ctx, userId, since, limit);
  // Positions have no holes, so a missing next position means retention removed it.
  if (page[0]?.seq !== since + 1n) throw cursorExpired();
  return page;
}

/** Refuses a chat-log position from the future, or one retention has passed. */
async function checkChatPosition(ctx: Context, since: bigint): Promise<void> {
  if (since > (await chatLogHead(ctx.services.db))) throw futureCursor();
  if (!(await chatLogKeptAfter(ctx.services.db, since))) throw cursorExpired();
}

/** An event from either log, in the form the stream delivers. */
type Item = { log: "user"; event: StoredEvent } | { log: "chat"; entry: ChatEntry };

function envelope(item: Item, at: Cursor): EventEnvelope {
  return item.log === "user"
    ? { cursor: formatCursor(at), createdAt: item.event.createdAt, event: toPayload(item.event) }
    : { cursor: formatCursor(at), createdAt: item.entry.createdAt, event: entryPayload(item.entry) };
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
    case "GROUP":
      return groupPayload(entry.chatId, entry.data ?? {});
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
  }
}

/**
 * Renders items with emptied loaders (a stream lives long and must show what is current), each with
 * the cursor after it, advancing `at`. Replayed pages warm the loaders with their messages and conversations, one
 * query each; messages that came with the items (wake-ups, the tailer) are primed instead.
 */
async function render(
  ctx: Context,
  items: Item[],
  at: Cursor,
  carried: ReadonlyMap<string, MessageRecord> = new Map(),
): Promise<EventEnvelope[]> {
  clearLoaders(ctx.loaders);
  for (const [id, message] of carried) ctx.loaders.messages.prime(BigInt(id), message as never);
  const messageIds: bigint[] = [];
  const chatIds = new Set<string>();
  for (const item of items) {
    const { kind, messageId, chatId } = item.log === "user" ? item.event : item.entry;
    if (
      (kind === "MESSAGE" || kind === "MESSAGE_EDITED") &&
      messageId !== null &&
      !carried.has(String(messageId))
    ) {
      messageIds.push(messageId);
    }
    if (chatId) chatIds.add(chatId);
  }
  // Replayed pages are what is worth warming; live events resolve conversations only if selected.
  const replay = items.length > 1 && carried.size === 0;
  await Promise.all([
    ctx.loaders.messages.loadMany(messageIds),
    ctx.loaders.conversations.loadMany(replay ? [...chatIds] : []),
  ]);
  // Each envelope carries the cursor just after it; `at` moves along to the last.
  return items.map((item) => {
    if (item.log === "user") at.user = item.event.seq;
    else at.chat = item.entry.pos;
    return envelope(item, at);
  });
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
  const after = since == null ? null : parseCursor(since);
  if (after) await checkChatPosition(ctx, after.chat);
  const [events, chat] = await Promise.all([
    after === null ? readEvents(ctx, user.id, 0n, limit + 1) : resume(ctx, user.id, after.user, limit + 1),
    readEntries(ctx.services.db, user.id, after?.chat ?? 0n, limit + 1),
  ]);
  const merged = mergeByTime(
    events.map((event): Item => ({ log: "user", event })),
    chat.entries.map((entry): Item => ({ log: "chat", entry })),
  );
  const page = merged.slice(0, limit);
  const at: Cursor = after ?? { user: events.length === 0 ? await streamHead(ctx, user.id) : 0n, chat: 0n };
  const rendered = await render(ctx, page, at);
  const hasMore = merged.length > limit;
  // The chat log was read to its head (same snapshot): skip past the entries this user does not see.
  if (!hasMore && chat.head > at.chat) at.chat = chat.head;
  return { events: rendered, nextCursor: formatCursor(at), hasMore };
}

/** Merges two logs by time, keeping each one's own order. */
function mergeByTime(a: Item[], b: Item[]): Item[] {
  const merged: Item[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && createdAt(a[i]!) <= createdAt(b[j]!))) merged.push(a[i++]!);
    else merged.push(b[j++]!);
  }
  return merged;
}

function createdAt(item: Item): number {
  return (item.log === "user" ? item.event.createdAt : item.entry.createdAt).getTime();
}

export async function eventCursor(ctx: Context): Promise<string> {
  const { user } = requireUser(ctx);
  return formatCursor(await currentCursor(ctx, user.id));
}

/** What a stream has been told since it last looked. */
class Signals {
  /** The highest position a wake-up announced. */
  announced = 0n;
  /** Events wake-ups carried, by position, and the messages they came with. */
  readonly inbox = new Map<bigint, StoredEvent>();
  readonly carried = new Map<string, MessageRecord>();
  ephemeral: EventEnvelope[] = [];
  ended: SessionEndKind | undefined;
  private version = 0;
  private wake: (() => void) | undefined;

  notify() {
    this.version++;
    this.wake?.();
  }

  /** Resolves at the next notification after `since` (a version from `mark`), or at once if one came. */
  waitAfter(since: number): Promise<void> {
    if (this.version !== since) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  mark(): number {
    return this.version;
  }

  /** The user's log has positions up to `position`. */
  announce(position: bigint) {
    if (position > this.announced) {
      this.announced = position;
      this.notify();
    }
  }

  advanced(message: StreamAdvancedMessage) {
    const position = BigInt(message.seq);
    if (position > this.announced) this.announced = position;
    if (this.inbox.size < INBOX_LIMIT) {
      for (const event of eventsFromWire(message.events)) this.inbox.set(event.seq, event);
      for (const wire of message.messages ?? []) this.carried.set(String(wire.id), messageFromWire(wire));
    }
    this.notify();
  }

  /** The carried events that continue the stream right after `position`, if any. */
  takeFrom(position: bigint): { events: StoredEvent[]; messages: Map<string, MessageRecord> } {
    const events: StoredEvent[] = [];
    for (let next = position + 1n; this.inbox.has(next); next++) events.push(this.inbox.get(next)!);
    const messages = new Map<string, MessageRecord>();
    for (const event of events) {
      const message = this.carried.get(String(event.messageId));
      if (message) messages.set(String(event.messageId), message);
    }
    this.inbox.clear();
    this.carried.clear();
    return { events, messages };
  }

  addEphemeral(message: EphemeralMessage) {
    if (this.ephemeral.length >= EPHEMERAL_BACKLOG) this.ephemeral.shift();
    this.ephemeral.push({
      cursor: null,
      createdAt: new Date(message.createdAt),
      event: ephemeralPayload(message),
    });
    this.notify();
  }
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

/** Chat-log entries the tailer handed over, kept for a stream that is behind; beyond this it reads the database. */
const CHAT_INBOX_LIMIT = 1024;

/**
 * A stream's side of the chat log. The instance's tailer hands it entries of its groups; it checks
 * each against the user's membership spans (the same rule the database applies), and reads the
 * database instead whenever it may have missed something: at the start, after its inbox overflowed,
 * and after an entry that changes its own membership (its spans are read again first).
 */
class ChatFollower implements TailReader {
  spans: Span[] = [];
  inbox: EntryRow[] = [];
  /** Read the database before trusting the inbox; with `respan`, the spans first. */
  mustRead = true;
  respan = true;

  constructor(
    readonly userId: string,
    private readonly signals: Signals,
  ) {}

  entries(rows: EntryRow[]): void {
    if (this.inbox.length + rows.length > CHAT_INBOX_LIMIT) {
      this.inbox = [];
      this.mustRead = true;
    } else this.inbox.push(...rows);
    this.signals.notify();
  }

  userLogAt(head: bigint): void {
    this.signals.announce(head);
  }

  ephemeral(message: ChatEphemeralMessage): void {
    if (message.event.kind === "TYPING" && message.senderId === this.userId) return;
    if (message.audience && !message.audience.includes(this.userId)) return;
    const member = this.spans.some((span) => span.chatId === message.chatId && span.untilPos === null);
    if (member) this.signals.addEphemeral(message.event);
  }

  /** Whether the entry changes this user's own spans (a join, a removal, blocking messages). */
  changesSpans(entry: ChatEntry): boolean {
    if (entry.kind !== "GROUP") return false;
    const data = entry.data ?? {};
    return (
      data.kind === "GROUP_DESTROYED" || ((data.users as string[] | undefined) ?? []).includes(this.userId)
    );
  }
}

/**
 * The calling device's one stream: its user's own log and the chat log of its groups. It subscribes
 * to wake-ups (and registers with the tailer) first and reads the logs second, so an event committed
 * in between is both read and announced, and delivered once (by position).
 */
export async function deviceEvents(
  ctx: Context,
  since: string | null | undefined,
): Promise<AsyncIterable<EventEnvelope>> {
  const { user, device } = requireUser(ctx);
  const { connection, services } = ctx;
  const requested = since == null ? null : parseCursor(since);
  // Tracked from the start of set-up, so a session ending meanwhile waits for this stream's SessionEvent.
  const delivered = connection?.trackStream();
  const signals = new Signals();
  const chat = new ChatFollower(user.id, signals);
  const unsubscribes = await Promise.all([
    services.pubsub.subscribe("streamAdvanced", user.id, (message) => signals.advanced(message)),
    services.pubsub.subscribe("ephemeral", user.id, (message) => signals.addEphemeral(message)),
    // Over graphql-ws the connection watches the device; over SSE the stream watches it itself.
    ...(connection
      ? []
      : [
          services.pubsub.subscribe("sessionEnded", device.id, ({ kind }) => {
            signals.ended = kind;
            signals.notify();
          }),
        ]),
  ]);
  await services.chatLog.add(chat, []);
  const unsubscribe = () => {
    for (const stop of unsubscribes) stop();
    services.chatLog.remove(chat);
  };
  connection?.sessionEnded.then((kind) => {
    signals.ended = kind;
    signals.notify();
  });

  const at: Cursor = { user: 0n, chat: 0n };
  let backlog: StoredEvent[];
  try {
    if (requested) await checkChatPosition(ctx, requested.chat);
    Object.assign(at, requested ?? (await currentCursor(ctx, user.id)));
    backlog = requested === null ? [] : await resume(ctx, user.id, requested.user, PAGE);
  } catch (error) {
    unsubscribe();
    delivered?.();
    throw error;
  }

  /** The chat log's next entries for this user: from the database when it must, else from the inbox. */
  const nextEntries = async (): Promise<{ entries: ChatEntry[]; carried: Map<string, MessageRecord> }> => {
    const carried = new Map<string, MessageRecord>();
    if (chat.mustRead) {
      if (chat.respan) {
        chat.respan = false;
        chat.spans = await spansAfter(services.db, user.id, at.chat);
        services.chatLog.watch(
          chat,
          chat.spans.map((span) => span.chatId),
        );
      }
      const read = await readEntries(services.db, user.id, at.chat, PAGE);
      chat.mustRead = read.entries.length === PAGE;
      const upTo = chat.mustRead ? read.entries.at(-1)!.pos : read.head;
      chat.inbox = chat.inbox.filter((row) => row.pos > upTo);
      // Entries up to the head that this user does not see are passed over.
      if (!chat.mustRead && read.entries.length === 0 && upTo > at.chat) at.chat = upTo;
      return { entries: read.entries, carried };
    }
    const entries: ChatEntry[] = [];
    // Taken from the front, and cut once at the end: a stream that is behind may hold many.
    let taken = 0;
    for (; taken < chat.inbox.length; taken++) {
      const row = chat.inbox[taken]!;
      if (row.pos <= at.chat) continue;
      if (chat.changesSpans(row)) {
        // Its own membership changed here: read the spans and the log again from this point.
        chat.mustRead = true;
        chat.respan = true;
        break;
      }
      if (!entryVisible(row, chat.spans, user.id)) {
        if (entries.length > 0) {
          taken++;
          break;
        }
        at.chat = row.pos;
        continue;
      }
      entries.push(row);
      if (row.message) carried.set(String(row.messageId), row.message);
    }
    chat.inbox = taken === chat.inbox.length ? [] : chat.inbox.slice(taken);
    return { entries, carried };
  };

  return handoff<EventEnvelope>(async (push, consumerLeft) => {
    let stopped = false;
    consumerLeft.then(() => {
      stopped = true;
      signals.notify();
    });
    const deliver = async (items: Item[], carried: Map<string, MessageRecord>) => {
      for (const envelope of await render(ctx, items, at, carried)) {
        if (stopped || signals.ended) return false;
        await push(envelope);
      }
      return true;
    };
    // A full page means the log may hold more: read on without waiting for a wake-up.
    let more = backlog.length === PAGE;
    let userAt = at.user;
    try {
      while (!stopped && !signals.ended) {
        const seen = signals.mark();
        let carried = new Map<string, MessageRecord>();
        if (backlog.length === 0 && signals.inbox.size > 0) {
          ({ events: backlog, messages: carried } = signals.takeFrom(userAt));
        }
        if (backlog.length === 0 && (more || signals.announced > userAt)) {
          backlog = await readEvents(ctx, user.id, userAt, PAGE);
          more = backlog.length === PAGE;
          if (backlog.length > 0 && backlog[0]!.seq !== userAt + 1n) throw cursorExpired();
          // Only a wake-up from another deployment sharing the Redis could announce what is not there.
          if (backlog.length === 0 && signals.announced > userAt) signals.announced = userAt;
        }
        if (backlog.length > 0) {
          const items = backlog.map((event): Item => ({ log: "user", event }));
          backlog = [];
          if (!(await deliver(items, carried))) break;
          userAt = at.user;
          if (more) continue;
        }
        const next = await nextEntries();
        if (next.entries.length > 0) {
          const items = next.entries.map((entry): Item => ({ log: "chat", entry }));
          if (!(await deliver(items, next.carried))) break;
        }
        if (chat.mustRead || chat.inbox.some((row) => row.pos > at.chat)) continue;
        while (signals.ephemeral.length > 0 && !stopped && !signals.ended) {
          await push(signals.ephemeral.shift()!);
        }
        if (signals.announced > userAt) continue;
        await signals.waitAfter(seen);
      }
      if (signals.ended && !stopped) {
        // Resolves once the client has taken the event, so closing the socket next cannot drop it.
        await push({
          cursor: null,
          createdAt: new Date(),
          event: { __typename: "SessionEvent", kind: signals.ended },
        });
      }
    } finally {
      unsubscribe();
      delivered?.();
    }
  });
}
