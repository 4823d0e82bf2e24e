import type { Services } from "../context.js";
import { AppError, badInput } from "../errors.js";
import { countDelivered, observeReplay, streamClosed, streamOpened } from "../metrics/registry.js";
import type {
  ChatEphemeralMessage,
  EphemeralMessage,
  SessionEndKind,
  StreamAdvancedMessage,
} from "../pubsub/topics.js";
import { CloseCode, type LiveConnection } from "../realtime/connections.js";
import {
  type ChatEntry,
  chatLogHead,
  chatLogKeptAfter,
  closesChat,
  type EntryRow,
  entryVisible,
  namesUser,
  readEntries,
  type Span,
  spansAfter,
} from "./chat-log.js";
import { type Cursor, formatCursor, parseCursor } from "./cursor.js";
import { handoff } from "./handoff.js";
import type { RoomDelivery, RoomReader } from "./room-hub.js";
import type { TailReader } from "./tailer.js";
import {
  type EventPage,
  emptyPage,
  eventsFromWire,
  readEvents,
  type StoredEvent,
  streamHead,
} from "./user-log.js";
import { type MessageRecord, messageFromWire } from "./wire.js";

// A device's stream: it replays its user's own log and the chat log of the user's groups from a
// cursor, then follows them live. The pubsub only says "a log grew"; events are always read from
// the database (or taken from what a wake-up or the tailer carried), in position order, so a lost
// or late wake-up costs latency, never an event. What each item becomes (the GraphQL payload) is
// the caller's: this module knows positions, not domains.

export type StreamServices = Pick<Services, "db" | "prisma" | "pubsub" | "chatLog" | "rooms"> & {
  config: Pick<Services["config"], "rooms">;
};

/** An event from either log. */
export type LogItem = { log: "user"; event: StoredEvent } | { log: "chat"; entry: ChatEntry };

/** What a stream yields, made by its caller. */
export interface Presenter<T> {
  /**
   * Durable items, oldest first, each with the cursor just after it; `carried` has their messages,
   * when known. `replayed` items were read from the database (a backlog), not handed over live.
   */
  durable(
    items: { item: LogItem; cursor: string }[],
    carried: ReadonlyMap<string, MessageRecord>,
    replayed: boolean,
  ): Promise<T[]>;
  /**
   * When the client's selection allows it, writes a durable item's value straight to its connection,
   * bypassing the stream (and waiting while the socket is backed up), unless `wanted` says the
   * stream has ended meanwhile; resolves false when this value cannot go that way.
   */
  sendDirectly?: (value: T, wanted: () => boolean) => Promise<boolean>;
  /** A live-only event (typing, presence, a command). */
  ephemeral(message: EphemeralMessage): T;
  /** A room's live traffic: the same delivery object for every reader on this instance. */
  room(delivery: RoomDelivery): T;
  /**
   * When the client's selection allows it, writes room traffic straight to its connection (rendered
   * once per selection), bypassing the stream; resolves false when this delivery cannot go that way.
   */
  sendRoomDirectly?: (delivery: RoomDelivery) => Promise<boolean>;
  /** The device's session ended: the stream's last value. */
  ended(kind: SessionEndKind): T;
}

const PAGE = 200;
/** Live-only events waiting for a slow reader; beyond this the oldest are dropped. */
const EPHEMERAL_BACKLOG = 256;
/** Events a wake-up carried, kept for a stream that is behind; beyond this it reads the database. */
const INBOX_LIMIT = 256;

/** A client's `since`, or BAD_USER_INPUT. */
export function requireCursor(raw: string): Cursor {
  const cursor = parseCursor(raw);
  if (!cursor) throw badInput("since must be a cursor from an earlier event or sync page", "since");
  return cursor;
}

/** Where a user's streams stand now: the start for a client that has nothing to resume. */
export async function currentCursor(
  services: Pick<Services, "db" | "prisma">,
  userId: string,
): Promise<Cursor> {
  const [user, chat] = await Promise.all([streamHead(services, userId), chatLogHead(services.db)]);
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

/** The first page of the user's own log after a client's cursor, refusing future and expired cursors. */
export async function resume(
  services: Pick<Services, "prisma" | "db">,
  userId: string,
  since: bigint,
  limit: number,
): Promise<EventPage> {
  const head = await streamHead(services, userId);
  if (since > head) throw futureCursor();
  if (since === head) return emptyPage();
  const page = await readEvents(services.db, userId, since, limit);
  // Positions have no holes, so a missing next position means retention removed it.
  if (page.events[0]?.seq !== since + 1n) throw cursorExpired();
  return page;
}

/** Refuses a chat-log position from the future, or one retention has passed. */
export async function checkChatPosition(services: Pick<Services, "db">, since: bigint): Promise<void> {
  if (since > (await chatLogHead(services.db))) throw futureCursor();
  if (!(await chatLogKeptAfter(services.db, since))) throw cursorExpired();
}

/** Each item with the cursor just after it; `at` moves along to the last. */
export function withCursors(items: LogItem[], at: Cursor): { item: LogItem; cursor: string }[] {
  return items.map((item) => {
    if (item.log === "user") at.user = item.event.seq;
    else at.chat = item.entry.pos;
    return { item, cursor: formatCursor(at) };
  });
}

/** What a stream has been told since it last looked. */
class Signals {
  /** The highest position a wake-up announced. */
  announced = 0n;
  /** Events wake-ups carried, by position, and the messages they came with, by the position of their event. */
  readonly inbox = new Map<bigint, StoredEvent>();
  readonly carried = new Map<bigint, MessageRecord>();
  ephemeral: EphemeralMessage[] = [];
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
      const messages = new Map((message.messages ?? []).map((wire) => [String(wire.id), wire]));
      for (const event of eventsFromWire(message.events)) {
        this.inbox.set(event.seq, event);
        const wire = messages.get(String(event.messageId));
        if (wire) this.carried.set(event.seq, messageFromWire(wire));
      }
    }
    this.notify();
  }

  /** The carried events that continue the stream right after `position`, if any. */
  takeFrom(position: bigint): { events: StoredEvent[]; messages: Map<string, MessageRecord> } {
    const events: StoredEvent[] = [];
    for (let next = position + 1n; this.inbox.has(next); next++) events.push(this.inbox.get(next)!);
    // A message as its own event's wake-up carried it. One whose later event came without it (an
    // edit, a reaction) is read fresh instead: the copy an earlier event carried may be stale.
    const messages = new Map<string, MessageRecord>();
    for (const event of events) {
      const message = this.carried.get(event.seq);
      if (message) messages.set(String(event.messageId), message);
      else messages.delete(String(event.messageId));
    }
    this.inbox.clear();
    this.carried.clear();
    return { events, messages };
  }

  addEphemeral(message: EphemeralMessage) {
    if (this.ephemeral.length >= EPHEMERAL_BACKLOG) this.ephemeral.shift();
    this.ephemeral.push(message);
    this.notify();
  }
}

/** Room traffic waiting for a slow reader: past half of it LOW traffic is shed, past all of it everything. */
const ROOM_BACKLOG = 256;
/** Bytes a socket may hold unsent before its room traffic is shed. */
const ROOM_SOCKET_BYTES = 1024 * 1024;

/**
 * A stream's side of its user's rooms. Rooms are live-only, so a reader that cannot keep up (its
 * queue, or its socket's unsent bytes, is full) loses room traffic rather than growing memory, LOW
 * first; one that stays behind for ROOM_SLOW_CONSUMER_SECONDS is disconnected with a code that
 * tells the client to reconnect and resume (its durable events wait for it in the logs).
 */
class RoomFollower implements RoomReader {
  queue: RoomDelivery[] = [];
  /** Since when this reader has had to shed traffic, without a break. */
  private behindSince: number | null = null;
  /** Deliveries on their way straight to the connection, in order. */
  private sending = Promise.resolve();
  private inFlight = 0;

  constructor(
    readonly userId: string,
    private readonly signals: Signals,
    private readonly connection: LiveConnection | undefined,
    private readonly slowConsumerMs: number,
    private readonly direct: ((delivery: RoomDelivery) => Promise<boolean>) | undefined,
  ) {}

  offer(delivery: RoomDelivery): void {
    const socketFull = (this.connection?.bufferedBytes ?? 0) > ROOM_SOCKET_BYTES;
    const room = ROOM_BACKLOG - this.queue.length - this.inFlight;
    const full = socketFull || room <= 0 || (delivery.priority === "LOW" && room <= ROOM_BACKLOG / 2);
    if (!full) {
      this.behindSince = null;
      if (this.direct) this.sendDirectly(this.direct, delivery);
      else this.enqueue(delivery);
      return;
    }
    const now = Date.now();
    this.behindSince ??= now;
    if (now - this.behindSince >= this.slowConsumerMs) {
      this.connection?.close(
        CloseCode.TryAgainLater,
        "Too far behind the room's traffic: reconnect and resume with events(since)",
      );
    }
  }

  private enqueue(delivery: RoomDelivery) {
    this.queue.push(delivery);
    this.signals.notify();
  }

  /** Straight to the connection, one after another; what cannot go that way takes the stream. */
  private sendDirectly(direct: (delivery: RoomDelivery) => Promise<boolean>, delivery: RoomDelivery) {
    this.inFlight++;
    this.sending = this.sending
      .then(() => direct(delivery))
      .catch(() => false)
      .then((sent) => {
        this.inFlight--;
        if (sent) countDelivered("room", delivery.createdAt);
        else this.enqueue(delivery);
      });
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

  /** Whether the entry changes this user's own spans (a join, a removal, blocking messages, the end). */
  changesSpans(entry: ChatEntry): boolean {
    return closesChat(entry) || namesUser(entry, this.userId);
  }
}

/**
 * A device's one stream: its user's own log and the chat log of its groups, from `requested` (or
 * from now), each durable item with the cursor after it, then live. It subscribes to wake-ups (and
 * registers with the tailer) first and reads the logs second, so an event committed in between is
 * both read and announced, and delivered once (by position). What the stream yields is `present`'s.
 */
export async function followDevice<T>(
  services: StreamServices,
  device: { userId: string; deviceId: string; connection?: LiveConnection },
  requested: Cursor | null,
  present: Presenter<T>,
): Promise<AsyncIterableIterator<T>> {
  const { userId, deviceId, connection } = device;
  // Tracked from the start of set-up, so a session ending meanwhile waits for this stream's SessionEvent.
  const delivered = connection?.trackStream();
  const signals = new Signals();
  const chat = new ChatFollower(userId, signals);
  const rooms = new RoomFollower(
    userId,
    signals,
    connection,
    services.config.rooms.slowConsumerSeconds * 1000,
    present.sendRoomDirectly,
  );
  const unsubscribes = await Promise.all([
    services.pubsub.subscribe("streamAdvanced", userId, (message) => signals.advanced(message)),
    services.pubsub.subscribe("ephemeral", userId, (message) => signals.addEphemeral(message)),
    // Over graphql-ws the connection watches the device; over SSE the stream watches it itself.
    ...(connection
      ? []
      : [
          services.pubsub.subscribe("sessionEnded", deviceId, ({ kind }) => {
            signals.ended = kind;
            signals.notify();
          }),
        ]),
  ]);
  await Promise.all([services.chatLog.add(chat, []), services.rooms.add(rooms)]);
  const unsubscribe = () => {
    for (const stop of unsubscribes) stop();
    services.chatLog.remove(chat);
    services.rooms.remove(rooms);
  };
  connection?.sessionEnded.then((kind) => {
    signals.ended = kind;
    signals.notify();
  });

  const at: Cursor = { user: 0n, chat: 0n };
  let backlog: EventPage;
  try {
    if (requested) await checkChatPosition(services, requested.chat);
    Object.assign(at, requested ?? (await currentCursor(services, userId)));
    backlog = requested === null ? emptyPage() : await resume(services, userId, requested.user, PAGE);
  } catch (error) {
    unsubscribe();
    delivered?.();
    throw error;
  }

  /** The chat log's next entries for this user: from the database when it must, else from the inbox. */
  const nextEntries = async (): Promise<{
    entries: ChatEntry[];
    carried: Map<string, MessageRecord>;
    replayed: boolean;
  }> => {
    const carried = new Map<string, MessageRecord>();
    if (chat.mustRead) {
      if (chat.respan) {
        chat.respan = false;
        chat.spans = await spansAfter(services.db, userId, at.chat);
        services.chatLog.watch(
          chat,
          chat.spans.map((span) => span.chatId),
        );
      }
      const read = await readEntries(services.db, userId, at.chat, PAGE);
      // Spans read before a change to them committed would pass what comes after it in the inbox.
      const respan = read.entries.some((entry) => chat.changesSpans(entry));
      chat.mustRead = respan || read.entries.length === PAGE;
      chat.respan = respan;
      const upTo = chat.mustRead ? read.entries.at(-1)!.pos : read.head;
      chat.inbox = chat.inbox.filter((row) => row.pos > upTo);
      // Entries up to the head that this user does not see are passed over.
      if (!chat.mustRead && read.entries.length === 0 && upTo > at.chat) at.chat = upTo;
      return { entries: read.entries, carried, replayed: true };
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
      if (!entryVisible(row, chat.spans, userId)) {
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
    return { entries, carried, replayed: false };
  };

  return handoff<T>(async (push, consumerLeft) => {
    streamOpened();
    let stopped = false;
    consumerLeft.then(() => {
      stopped = true;
      signals.notify();
    });
    // A client may complete the subscription and start another under the same id: nothing of this one may reach it.
    const wanted = () => !stopped && !signals.ended;
    // A resumed stream replays its backlog until it first waits for news: until then its events
    // count as replayed (im_stream_replay_events), afterwards as live (im_delivery_latency_seconds).
    let live = requested === null;
    let replayedEvents = 0;
    const deliver = async (items: LogItem[], carried: Map<string, MessageRecord>, replayed: boolean) => {
      const values = await present.durable(withCursors(items, at), carried, replayed);
      for (let i = 0; i < values.length; i++) {
        if (stopped || signals.ended) return false;
        const value = values[i]!;
        // A value pushed has been sent once push resolves, so a direct send after it keeps the order.
        if (!(await present.sendDirectly?.(value, wanted))) await push(value);
        if (live) countDelivered("durable", committedAt(items[i]!));
        else {
          countDelivered("durable");
          replayedEvents++;
        }
      }
      return true;
    };
    // A full page means the log may hold more: read on without waiting for a wake-up, and read
    // the next page while this one is delivered, so a replay does not wait on the database.
    let more = backlog.events.length === PAGE;
    let replayed = backlog.events.length > 0;
    let prefetched: { after: bigint; page: Promise<EventPage> } | undefined;
    const readAfter = (after: bigint): Promise<EventPage> => {
      const ahead = prefetched?.after === after ? prefetched.page : undefined;
      prefetched = undefined;
      return ahead ?? readEvents(services.db, userId, after, PAGE);
    };
    const prefetch = (after: bigint) => {
      const page = readEvents(services.db, userId, after, PAGE);
      page.catch(() => {}); // awaited (and its failure thrown) only if the stream gets there
      prefetched = { after, page };
    };
    let userAt = at.user;
    try {
      while (!stopped && !signals.ended) {
        const seen = signals.mark();
        if (backlog.events.length === 0 && signals.inbox.size > 0) {
          backlog = signals.takeFrom(userAt);
          replayed = false;
        }
        if (backlog.events.length === 0 && (more || signals.announced > userAt)) {
          backlog = await readAfter(userAt);
          replayed = true;
          const { events } = backlog;
          more = events.length === PAGE;
          if (more) prefetch(events.at(-1)!.seq);
          if (events.length > 0 && events[0]!.seq !== userAt + 1n) throw cursorExpired();
          // Only a wake-up from another deployment sharing the Redis could announce what is not there.
          if (events.length === 0 && signals.announced > userAt) signals.announced = userAt;
        }
        if (backlog.events.length > 0) {
          const items = backlog.events.map((event): LogItem => ({ log: "user", event }));
          const carried = backlog.messages;
          backlog = emptyPage();
          if (!(await deliver(items, carried, replayed))) break;
          userAt = at.user;
          if (more) continue;
        }
        const next = await nextEntries();
        if (next.entries.length > 0) {
          const items = next.entries.map((entry): LogItem => ({ log: "chat", entry }));
          if (!(await deliver(items, next.carried, next.replayed))) break;
        }
        if (chat.mustRead || chat.inbox.some((row) => row.pos > at.chat)) continue;
        while (signals.ephemeral.length > 0 && !stopped && !signals.ended) {
          await push(present.ephemeral(signals.ephemeral.shift()!));
          countDelivered("live");
        }
        while (rooms.queue.length > 0 && !stopped && !signals.ended) {
          const delivery = rooms.queue.shift()!;
          await push(present.room(delivery));
          countDelivered("room", delivery.createdAt);
        }
        if (signals.announced > userAt) continue;
        if (!live) {
          live = true;
          observeReplay(replayedEvents);
        }
        await signals.waitAfter(seen);
      }
      if (signals.ended && !stopped) {
        // Resolves once the client has taken the event, so closing the socket next cannot drop it.
        await push(present.ended(signals.ended));
      }
    } finally {
      streamClosed();
      unsubscribe();
      delivered?.();
    }
  });
}

function committedAt(item: LogItem): Date {
  return item.log === "user" ? item.event.createdAt : item.entry.createdAt;
}
