import { Repeater } from "@repeaterjs/repeater";
import { type Context, createLoaders } from "../context.js";
import { AppError, badInput } from "../errors.js";
import type {
  EphemeralMessage,
  PresencePayload,
  SessionEndKind,
  StreamAdvancedMessage,
  TypingPayload,
} from "../pubsub/topics.js";
import { requireUser } from "./access.js";
import type { ContactChange } from "./contacts.js";
import type { ConversationChange } from "./conversations.js";
import { eventsFromWire, readEvents, type StoredEvent, streamHead } from "./event-log.js";
import { messageFromWire } from "./message-wire.js";
import type { MessageRecord } from "./messages.js";

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
  | ({ __typename: "PresenceEvent" } & PresencePayload)
  | ({ __typename: "TypingEvent" } & TypingPayload);

export interface EventEnvelope {
  /** Position in the user's durable stream; null for ephemeral events, which are never replayed. */
  cursor: string | null;
  createdAt: Date;
  event: EventPayload;
}

const PAGE = 200;
/** A stream re-reads the log this often even without a wake-up, in case one was lost. */
const POLL_MS = 30_000;
/** Live-only events waiting for a slow reader; beyond this the oldest are dropped. */
const EPHEMERAL_BACKLOG = 256;
/** Events a wake-up carried, kept for a stream that is behind; beyond this it reads the database. */
const INBOX_LIMIT = 256;
const CURSOR = /^(0|[1-9][0-9]{0,18})$/;

function parseCursor(raw: string): bigint {
  if (!CURSOR.test(raw)) throw badInput("since must be a cursor from an earlier event or sync page", "since");
  return BigInt(raw);
}

function cursorExpired() {
  return new AppError(
    "BAD_USER_INPUT",
    "This cursor is older than the server keeps events (OFFLINE_RETENTION_DAYS): fetch conversations and messages afresh, then resume from eventCursor",
    { field: "since", reason: "CURSOR_EXPIRED" },
  );
}

/** The first page after a client's cursor, refusing cursors from the future and cursors retention passed. */
async function resume(ctx: Context, userId: string, since: bigint, limit: number): Promise<StoredEvent[]> {
  const head = await streamHead(ctx, userId);
  if (since > head) {
    throw badInput("since is ahead of your event stream: it is not a cursor this server gave you", "since");
  }
  if (since === head) return [];
  const page = await readEvents(ctx, userId, since, limit);
  // Positions have no holes, so a missing next position means retention removed it.
  if (page[0]?.seq !== since + 1n) throw cursorExpired();
  return page;
}

function toEnvelope(event: StoredEvent): EventEnvelope {
  return { cursor: event.seq.toString(), createdAt: event.createdAt, event: toPayload(event) };
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
  }
}

/**
 * Renders a page with fresh loaders (a stream lives long and must show what is current). A page
 * from the database warms them with its messages and conversations, one query each; the messages a
 * wake-up carried are primed instead.
 */
async function render(
  ctx: Context,
  events: StoredEvent[],
  carried: ReadonlyMap<string, MessageRecord> = new Map(),
): Promise<EventEnvelope[]> {
  ctx.loaders = createLoaders(ctx.services, ctx.viewer);
  for (const [id, message] of carried) ctx.loaders.messages.prime(BigInt(id), message as never);
  const messageIds = events
    .filter((e) => (e.kind === "MESSAGE" || e.kind === "MESSAGE_EDITED") && !carried.has(String(e.messageId)))
    .map((e) => e.messageId!);
  // Replayed pages are what is worth warming; live events resolve conversations only if selected.
  const replay = events.length > 1 && carried.size === 0;
  const chatIds = replay ? [...new Set(events.map((e) => e.chatId).filter((id) => id !== null))] : [];
  await Promise.all([ctx.loaders.messages.loadMany(messageIds), ctx.loaders.conversations.loadMany(chatIds)]);
  return events.map(toEnvelope);
}

export interface SyncPage {
  events: EventEnvelope[];
  nextCursor: string;
  hasMore: boolean;
}

const SYNC_DEFAULT = 100;
const SYNC_MAX = 1000;

/** The durable events after `since` (from the oldest kept when omitted), for clients that pull. */
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
  const events =
    after === null
      ? await readEvents(ctx, user.id, 0n, limit + 1)
      : await resume(ctx, user.id, after, limit + 1);
  const page = events.slice(0, limit);
  const nextCursor = page.at(-1)?.seq ?? after ?? (await streamHead(ctx, user.id));
  return {
    events: await render(ctx, page),
    nextCursor: nextCursor.toString(),
    hasMore: events.length > limit,
  };
}

export async function eventCursor(ctx: Context): Promise<string> {
  const { user } = requireUser(ctx);
  return (await streamHead(ctx, user.id)).toString();
}

/** What a stream has been told since it last looked. */
class Signals {
  /** The highest position a wake-up announced. */
  announced = 0n;
  /** Events wake-ups carried, by position, and the messages they came with. */
  readonly inbox = new Map<bigint, StoredEvent>();
  readonly carried = new Map<string, MessageRecord>();
  /** Set by the poll timer: read the log even without an announcement. */
  pollDue = false;
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

/**
 * The calling device's one stream. Subscribes to wake-ups first and reads the log second, so an
 * event committed in between is both read and announced, and delivered once (by position).
 */
export async function deviceEvents(
  ctx: Context,
  since: string | null | undefined,
): Promise<AsyncIterable<EventEnvelope>> {
  const { user, device } = requireUser(ctx);
  const { connection, services } = ctx;
  const requested = since == null ? null : parseCursor(since);
  const signals = new Signals();
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
  const unsubscribe = () => {
    for (const stop of unsubscribes) stop();
  };
  connection?.sessionEnded.then((kind) => {
    signals.ended = kind;
    signals.notify();
  });

  let position: bigint;
  let backlog: StoredEvent[];
  try {
    position = requested ?? (await streamHead(ctx, user.id));
    backlog = requested === null ? [] : await resume(ctx, user.id, requested, PAGE);
  } catch (error) {
    unsubscribe();
    throw error;
  }

  return new Repeater<EventEnvelope>(async (push, stop) => {
    const delivered = connection?.trackStream();
    let stopped = false;
    stop.then(() => {
      stopped = true;
      signals.notify();
    });
    const poller = setInterval(() => {
      signals.pollDue = true;
      signals.notify();
    }, POLL_MS);
    // A full page means the log may hold more: read on without waiting for a wake-up.
    let more = backlog.length === PAGE;
    try {
      while (!stopped && !signals.ended) {
        const seen = signals.mark();
        let carried = new Map<string, MessageRecord>();
        if (backlog.length === 0 && signals.inbox.size > 0) {
          ({ events: backlog, messages: carried } = signals.takeFrom(position));
        }
        if (backlog.length === 0 && (more || signals.announced > position || signals.pollDue)) {
          signals.pollDue = false;
          backlog = await readEvents(ctx, user.id, position, PAGE);
          more = backlog.length === PAGE;
          if (backlog.length > 0 && backlog[0]!.seq !== position + 1n) throw cursorExpired();
          // Only a wake-up from another deployment sharing the Redis could announce what is not there.
          if (backlog.length === 0 && signals.announced > position) signals.announced = position;
        }
        if (backlog.length > 0) {
          for (const envelope of await render(ctx, backlog, carried)) {
            if (stopped || signals.ended) break;
            await push(envelope);
            position = BigInt(envelope.cursor!);
          }
          backlog = [];
          if (more) continue;
        }
        while (signals.ephemeral.length > 0 && !stopped && !signals.ended) {
          await push(signals.ephemeral.shift()!);
        }
        if (signals.announced > position) continue;
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
      clearInterval(poller);
      unsubscribe();
      delivered?.();
      stop();
    }
  });
}
