import type { Database } from "../db/client.js";
import type { Logger } from "../logger.js";
import type { PubSub } from "../pubsub/index.js";
import type { ChatEphemeralMessage } from "../pubsub/topics.js";
import { chatLogHead, type EntryRow, readAllEntries } from "./chat-log.js";
import { streamHeads } from "./user-log.js";

// Each instance follows the whole chat log with one reader, and hands each entry to the streams it
// holds for the entry's chat (Mattermost's per-instance hub): a group message costs one publish and
// one read per instance, not one per member. Streams decide for themselves, from their membership
// spans, whether they may see an entry; the index here only narrows who is asked.
//
// Wake-ups can be lost (Redis pubsub drops them while a subscriber reconnects), so the tailer also
// looks every DELIVERY_POLL_SECONDS, once for the whole instance: it reads the chat log on, and the
// stream heads of the users it holds streams for, and tells each stream where its user's log stands.

/** A stream's side of the tailer. */
export interface TailReader {
  readonly userId: string;
  /** Entries of the reader's chats, or naming its user, in position order. */
  entries(rows: EntryRow[]): void;
  /** Its user's own log has positions up to `head` (the periodic look, in case a wake-up was lost). */
  userLogAt(head: bigint): void;
  ephemeral(message: ChatEphemeralMessage): void;
}

const PAGE = 500;
/** Users whose stream heads one statement reads. */
const HEADS_BATCH = 5000;

export class ChatLogTailer {
  private pos = 0n;
  private started: Promise<void> | undefined;
  private readonly byUser = new Map<string, Set<TailReader>>();
  private readonly byChat = new Map<string, Set<TailReader>>();
  private readonly chatsOf = new Map<TailReader, Set<string>>();
  private reading = false;
  private again = false;
  private stopped = false;
  private unsubscribes: (() => void)[] = [];
  private poller: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly pubsub: PubSub,
    private readonly log: Logger,
    /** The logs are looked at this often even without a wake-up, in case one was lost. */
    private readonly pollMs: number,
  ) {}

  /**
   * Adds a reader for `chats`. Once it resolves, every entry past the tailer's position reaches the
   * reader, so a reader that reads the database after this misses nothing in between.
   */
  async add(reader: TailReader, chats: Iterable<string>): Promise<void> {
    await this.start();
    const mine = this.byUser.get(reader.userId) ?? new Set();
    this.byUser.set(reader.userId, mine);
    mine.add(reader);
    this.chatsOf.set(reader, new Set());
    this.watch(reader, chats);
  }

  /** Widens the chats a reader hears about (it never narrows while the reader lives; readers filter). */
  watch(reader: TailReader, chats: Iterable<string>): void {
    const watched = this.chatsOf.get(reader);
    if (!watched) return;
    for (const chatId of chats) {
      if (watched.has(chatId)) continue;
      watched.add(chatId);
      const readers = this.byChat.get(chatId) ?? new Set();
      this.byChat.set(chatId, readers);
      readers.add(reader);
    }
  }

  remove(reader: TailReader): void {
    for (const chatId of this.chatsOf.get(reader) ?? []) {
      const readers = this.byChat.get(chatId);
      readers?.delete(reader);
      if (readers?.size === 0) this.byChat.delete(chatId);
    }
    this.chatsOf.delete(reader);
    const mine = this.byUser.get(reader.userId);
    mine?.delete(reader);
    if (mine?.size === 0) this.byUser.delete(reader.userId);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.poller);
    for (const unsubscribe of this.unsubscribes) unsubscribe();
  }

  /** Subscribes to wake-ups and reads the log's head; at server start, so the first stream waits for nothing. */
  start(): Promise<void> {
    this.started ??= (async () => {
      this.unsubscribes = await Promise.all([
        this.pubsub.subscribe("chatLogAdvanced", "all", () => this.poke()),
        this.pubsub.subscribe("chatEphemeral", "all", (message) => this.ephemeral(message)),
      ]);
      this.pos = await chatLogHead(this.db);
      this.poller = setInterval(() => {
        this.poke();
        void this.lookAtUserLogs();
      }, this.pollMs);
      this.poller.unref();
    })();
    return this.started;
  }

  private poke(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    void this.read();
  }

  private async read(): Promise<void> {
    this.reading = true;
    try {
      do {
        this.again = false;
        for (;;) {
          const rows = await readAllEntries(this.db, this.pos, PAGE);
          if (rows.length === 0) break;
          this.pos = rows.at(-1)!.pos;
          this.dispatch(rows);
          if (rows.length < PAGE) break;
        }
      } while (this.again && !this.stopped);
    } catch (error) {
      // The next wake-up or poll reads on from the same position.
      if (!this.stopped) this.log.warn("Reading the chat log failed", { error: (error as Error).message });
    } finally {
      this.reading = false;
    }
  }

  private async lookAtUserLogs(): Promise<void> {
    const users = [...this.byUser.keys()];
    try {
      for (let start = 0; start < users.length && !this.stopped; start += HEADS_BATCH) {
        const heads = await streamHeads(this.db, users.slice(start, start + HEADS_BATCH));
        for (const [userId, head] of heads) {
          for (const reader of this.byUser.get(userId) ?? []) reader.userLogAt(head);
        }
      }
    } catch (error) {
      if (!this.stopped) this.log.warn("Reading stream heads failed", { error: (error as Error).message });
    }
  }

  private dispatch(rows: EntryRow[]): void {
    const batches = new Map<TailReader, EntryRow[]>();
    const add = (reader: TailReader, row: EntryRow) => {
      const batch = batches.get(reader);
      if (!batch) batches.set(reader, [row]);
      else if (batch.at(-1) !== row) batch.push(row);
    };
    for (const row of rows) {
      for (const reader of this.byChat.get(row.chatId) ?? []) add(reader, row);
      for (const userId of (row.data?.users as string[] | undefined) ?? []) {
        for (const reader of this.byUser.get(userId) ?? []) add(reader, row);
      }
    }
    for (const [reader, batch] of batches) {
      try {
        reader.entries(batch);
      } catch (error) {
        this.log.error("A chat-log reader failed", { error: (error as Error).message });
      }
    }
  }

  private ephemeral(message: ChatEphemeralMessage): void {
    for (const reader of this.byChat.get(message.chatId) ?? []) reader.ephemeral(message);
  }
}
