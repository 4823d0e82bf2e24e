import DataLoader from "dataloader";
import type { Config } from "./config.js";
import type { Database, PrismaClient } from "./db/client.js";
import { conversationFromRow, deviceFromRow, messageFromRow, userFromRow } from "./db/rows.js";
import { sql } from "./db/sql.js";
import type { RoomHub } from "./delivery/room-hub.js";
import type { ChatLogTailer } from "./delivery/tailer.js";
import type {
  Attachment,
  Contact,
  Conversation,
  Device,
  Group,
  GroupMember,
  Message,
  Room,
  RoomMember,
  Thread,
  ThreadMember,
  User,
} from "./generated/prisma/client.js";
import type { Logger } from "./logger.js";
import type { PubSub } from "./pubsub/index.js";
import type { PresenceStore } from "./pubsub/presence.js";
import type { RateLimiter } from "./pubsub/rate-limit.js";
import type { LiveConnection } from "./realtime/connections.js";
import {
  type GroupConversationStats,
  groupConversationStats,
  groupReadCounts,
} from "./resolvers/conversation-stats.js";
import { type PresenceView, presenceOf } from "./resolvers/presence-view.js";
import { type ReactionSummary, reactionSummaries } from "./resolvers/reaction-summaries.js";
import { type ThreadStats, threadStats } from "./resolvers/threads/stats.js";
import type { AbuseLimits } from "./security/abuse-limits.js";
import { hashToken, tokenKind } from "./security/tokens.js";

/** What lives as long as the server: built once in server.ts, shared by every request. */
export interface Services {
  config: Config;
  log: Logger;
  db: Database;
  prisma: PrismaClient;
  pubsub: PubSub;
  /** This instance's reader of the chat log, which hands group entries to local streams. */
  chatLog: ChatLogTailer;
  /** This instance's index of its streams' rooms, which hands room traffic to them. */
  rooms: RoomHub;
  presence: PresenceStore;
  rateLimiter: RateLimiter;
  /** Per-user, per-address and per-admin-token budgets (security/abuse-limits.ts). */
  abuseLimits: AbuseLimits;
  /** Random per process; tells instances apart in shared Redis state. */
  instanceId: string;
  /** Signs attachment download URLs; the same on every instance. */
  urlSigningKey: Buffer;
  caches: Caches;
}

/** Per-process look-up caches of things that (almost) never change; see resolvers/chats.ts. */
export interface Caches {
  /** username → user id, with an expiry. */
  userIds: Map<string, { id: string; until: number }>;
  /** Direct chat key (the sorted user-id pair) → chat id. */
  directChatIds: Map<string, string>;
}

export function createCaches(): Caches {
  return { userIds: new Map(), directChatIds: new Map() };
}

export type Viewer =
  | { kind: "anonymous"; rejectedToken: boolean }
  | { kind: "user"; user: User; device: Device }
  | { kind: "admin"; tokenId: string };

/** Per operation (one HTTP request, or one graphql-ws subscribe). */
export interface Context {
  services: Services;
  prisma: PrismaClient;
  viewer: Viewer;
  loaders: Loaders;
  /** Set when the operation arrived over graphql-ws. */
  connection?: LiveConnection;
  /** The graphql-ws operation's id, with `connection`. */
  operationId?: string;
  /**
   * Set by the shared rendering (delivery/shared-render.ts) on an `events` subscription whose
   * selection reads the same for everyone: an envelope's payload as JSON, rendered once per event
   * and selection on this instance, or null when it must take the ordinary path.
   */
  renderJson?: (envelope: { cursor: string | null; event: object }) => Promise<string | null>;
  clientAddress?: string;
  /** The HTTP request's X-Request-Id, or the graphql-ws connection's: the one its log line carries. */
  requestId?: string;
}

/**
 * Per-operation batching and caching. A subscription lives long, so the event stream swaps in a
 * fresh set for every page of events it delivers (see resolvers/events.ts).
 */
export interface Loaders {
  /** userId → ids of the user's devices that hold a connection now. */
  onlineDevices: DataLoader<string, Set<string>>;
  users: DataLoader<string, User | null>;
  messages: DataLoader<bigint, Message | null, string>;
  /** chatId → the viewer's conversation in it. */
  conversations: DataLoader<string, Conversation | null>;
  attachments: DataLoader<string, Attachment | null>;
  /** userId → that user's presence as the viewer may see it. */
  presence: DataLoader<string, PresenceView>;
  /** userId → the viewer's contact entry for them. */
  contacts: DataLoader<string, Contact | null>;
  groups: DataLoader<string, Group | null>;
  /** Group message id → how many members read it (requestReadReceipts). */
  readCounts: DataLoader<bigint, number, string>;
  /** Message id → its reactions, with whether the viewer made each one. */
  reactions: DataLoader<bigint, ReactionSummary[], string>;
  /** chatId → the counts of the viewer's group conversation in it. */
  groupStats: DataLoader<string, GroupConversationStats | null>;
  /** groupId → the viewer's membership of it. */
  memberships: DataLoader<string, GroupMember | null>;
  threads: DataLoader<string, Thread | null>;
  /** Message id → the live thread started from it. */
  threadsByParent: DataLoader<bigint, Thread | null, string>;
  threadStats: DataLoader<string, ThreadStats | null>;
  /** threadId → the viewer's membership of it. */
  threadMemberships: DataLoader<string, ThreadMember | null>;
  rooms: DataLoader<string, Room | null>;
  /** roomId → the viewer's membership of it. */
  roomMemberships: DataLoader<string, RoomMember | null>;
}

/**
 * A loader's cache whose clear() costs nothing when it is empty: V8's Map#clear allocates a new
 * table each time, and a stream clears its loaders for every batch of events it delivers.
 */
class LoaderCache<K, V> extends Map<K, V> {
  override clear(): void {
    if (this.size > 0) super.clear();
  }
}

function loader<K, V, C = K>(
  batch: DataLoader.BatchLoadFn<K, V>,
  options: DataLoader.Options<K, V, C> = {},
): DataLoader<K, V, C> {
  return new DataLoader<K, V, C>(batch, { ...options, cacheMap: new LoaderCache<C, Promise<V>>() });
}

type LoaderFactories = { [Name in keyof Loaders]: () => Loaders[Name] };

/** A set of loaders, each made when first read (a getter per name, defined once on the prototype). */
class LazyLoaders {
  readonly made: Partial<Loaders> = {};
  constructor(readonly factories: LoaderFactories) {}
}

/** Every loader's name: a Record, so the compiler notices one missing. */
const LOADER_NAMES: Record<keyof Loaders, true> = {
  onlineDevices: true,
  users: true,
  messages: true,
  conversations: true,
  attachments: true,
  presence: true,
  contacts: true,
  groups: true,
  readCounts: true,
  reactions: true,
  groupStats: true,
  memberships: true,
  threads: true,
  threadsByParent: true,
  threadStats: true,
  threadMemberships: true,
  rooms: true,
  roomMemberships: true,
};

for (const name of Object.keys(LOADER_NAMES) as (keyof Loaders)[]) {
  Object.defineProperty(LazyLoaders.prototype, name, {
    get(this: LazyLoaders) {
      this.made[name] ??= this.factories[name]() as never;
      return this.made[name];
    },
  });
}

export function createLoaders(services: Services, viewer: Viewer): Loaders {
  const { prisma } = services;
  const byKey = <K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K) => {
    const found = new Map(rows.map((row) => [String(keyOf(row)), row]));
    return keys.map((key) => found.get(String(key)) ?? null);
  };
  const viewerId = viewer.kind === "user" ? viewer.user.id : undefined;
  // Made on first use: most operations touch two or three, and a stream holds its set as long as it lives.
  const factories: LoaderFactories = {
    onlineDevices: () =>
      loader(async (userIds) => {
        const online = await services.presence.onlineDevices(userIds);
        return userIds.map((id) => online.get(id) ?? new Set<string>());
      }),
    users: () =>
      loader(async (ids) =>
        byKey(ids, await prisma.user.findMany({ where: { id: { in: [...ids] } } }), (user) => user.id),
      ),
    // Messages and conversations are read on the driver: a replaying stream loads a page of each.
    messages: () =>
      loader(
        async (ids) => {
          const rows = await services.db.query<Record<string, unknown>>(
            sql`SELECT * FROM "Message" WHERE id = ANY(${ids.map(String)}::bigint[])`,
          );
          return byKey(ids, rows.map(messageFromRow), (message) => message.id);
        },
        { cacheKeyFn: String },
      ),
    conversations: () =>
      loader(async (chatIds) => {
        if (!viewerId) return chatIds.map(() => null);
        const rows = await services.db.query<Record<string, unknown>>(
          sql`SELECT * FROM "Conversation" WHERE "userId" = ${viewerId}::uuid AND "chatId" = ANY(${chatIds}::uuid[])`,
        );
        return byKey(chatIds, rows.map(conversationFromRow), (conversation) => conversation.chatId);
      }),
    attachments: () =>
      loader(async (ids) =>
        byKey(ids, await prisma.attachment.findMany({ where: { id: { in: [...ids] } } }), (row) => row.id),
      ),
    presence: () => loader((ids) => presenceOf({ services, prisma, viewer, loaders }, ids)),
    contacts: () =>
      loader(async (ids) =>
        viewerId
          ? byKey(
              ids,
              await prisma.contact.findMany({ where: { ownerId: viewerId, contactId: { in: [...ids] } } }),
              (contact) => contact.contactId,
            )
          : ids.map(() => null),
      ),
    readCounts: () =>
      loader(
        async (ids) => {
          const counts = await groupReadCounts({ services }, ids);
          return ids.map((id) => counts.get(String(id)) ?? 0);
        },
        { cacheKeyFn: String },
      ),
    reactions: () =>
      loader(
        async (ids) => {
          const summaries = await reactionSummaries({ services }, viewerId ?? null, ids);
          return ids.map((id) => summaries.get(String(id)) ?? []);
        },
        { cacheKeyFn: String },
      ),
    groupStats: () =>
      loader(async (chatIds) => {
        if (!viewerId) return chatIds.map(() => null);
        const stats = await groupConversationStats({ services }, viewerId, chatIds);
        return chatIds.map((id) => stats.get(id) ?? null);
      }),
    groups: () =>
      loader(async (ids) =>
        byKey(ids, await prisma.group.findMany({ where: { id: { in: [...ids] } } }), (group) => group.id),
      ),
    memberships: () =>
      loader(async (ids) =>
        viewerId
          ? byKey(
              ids,
              await prisma.groupMember.findMany({ where: { userId: viewerId, groupId: { in: [...ids] } } }),
              (member) => member.groupId,
            )
          : ids.map(() => null),
      ),
    threads: () =>
      loader(async (ids) =>
        byKey(ids, await prisma.thread.findMany({ where: { id: { in: [...ids] } } }), (thread) => thread.id),
      ),
    threadsByParent: () =>
      loader(
        async (ids) =>
          byKey(
            ids,
            await prisma.thread.findMany({ where: { parentMessageId: { in: [...ids] }, destroyedAt: null } }),
            (thread) => thread.parentMessageId,
          ),
        { cacheKeyFn: String },
      ),
    threadStats: () =>
      loader(async (ids) => {
        const stats = await threadStats(services, ids);
        return ids.map((id) => stats.get(id) ?? null);
      }),
    threadMemberships: () =>
      loader(async (ids) =>
        viewerId
          ? byKey(
              ids,
              await prisma.threadMember.findMany({ where: { userId: viewerId, threadId: { in: [...ids] } } }),
              (member) => member.threadId,
            )
          : ids.map(() => null),
      ),
    rooms: () =>
      loader(async (ids) =>
        byKey(ids, await prisma.room.findMany({ where: { id: { in: [...ids] } } }), (room) => room.id),
      ),
    roomMemberships: () =>
      loader(async (ids) =>
        viewerId
          ? byKey(
              ids,
              await prisma.roomMember.findMany({ where: { userId: viewerId, roomId: { in: [...ids] } } }),
              (member) => member.roomId,
            )
          : ids.map(() => null),
      ),
  };
  const loaders = new LazyLoaders(factories) as unknown as Loaders;
  return loaders;
}

/** Empties every loader's cache: a long-lived stream shows what is current without new loaders per event. */
export function clearLoaders(loaders: Loaders): void {
  for (const loader of Object.values((loaders as unknown as LazyLoaders).made)) loader.clearAll();
}

export function createContext(
  services: Services,
  viewer: Viewer,
  extra: {
    connection?: LiveConnection;
    operationId?: string;
    clientAddress?: string;
    requestId?: string;
  } = {},
): Context {
  return { services, prisma: services.prisma, viewer, loaders: createLoaders(services, viewer), ...extra };
}

// lastSeenAt is advisory: writing it once a minute per device keeps authenticated requests read-only.
const LAST_SEEN_RESOLUTION_MS = 60_000;

/** Resolves a bearer token to whoever holds it. Ended sessions, banned users and expired tokens are refused. */
export async function resolveViewer(services: Services, token: string | undefined): Promise<Viewer> {
  if (!token) return { kind: "anonymous", rejectedToken: false };
  const rejected: Viewer = { kind: "anonymous", rejectedToken: true };
  const kind = tokenKind(token);
  if (kind === "admin") {
    const admin = await services.prisma.adminToken.findUnique({ where: { tokenHash: hashToken(token) } });
    return admin && admin.expiresAt > new Date() ? { kind: "admin", tokenId: admin.id } : rejected;
  }
  if (kind !== "user") return rejected;
  // Every authenticated request starts here, so it is one statement on the driver (Database.query).
  const [row] = await services.db.query<Record<string, unknown> & { user: Record<string, unknown> }>(
    sql`SELECT d.*, to_jsonb(u) AS "user" FROM "Device" d JOIN "User" u ON u.id = d."userId"
        WHERE d."tokenHash" = ${hashToken(token)}`,
  );
  if (!row) return rejected;
  const { user: userRow, ...deviceRow } = row;
  const device = deviceFromRow(deviceRow);
  const user = userFromRow(userRow);
  if (device.endedAt || user.bannedAt || user.deletedAt) return rejected;
  if (Date.now() - device.lastSeenAt.getTime() > LAST_SEEN_RESOLUTION_MS) {
    services.prisma.device
      .update({ where: { id: device.id }, data: { lastSeenAt: new Date() } })
      .catch((error: Error) => services.log.warn("Could not record lastSeenAt", { error: error.message }));
  }
  return { kind: "user", user, device };
}
