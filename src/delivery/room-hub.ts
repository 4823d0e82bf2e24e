import type { Services } from "../context.js";
import { sql } from "../db/sql.js";
import type {
  RoomEventData,
  RoomMembershipMessage,
  RoomMessageChange,
  RoomPriority,
  RoomTrafficMessage,
} from "../pubsub/topics.js";
import { type MessageRecord, messageFromWire } from "./wire.js";

// Room delivery on one instance (EVENT-LOG.md, rooms; Mattermost's web hub): rooms are live-only,
// so nothing is written per member and nothing is replayed. The instance indexes the rooms of the
// users whose streams it holds, subscribes to the traffic of those rooms only, and hands each
// message, decoded once, to the local streams of the room's members: one publish per message, one
// delivery object per instance, rendered once per selection.

/** One room message or RoomEvent as every local reader gets it: the same object for all of them. */
export interface RoomDelivery {
  roomId: string;
  priority: RoomPriority;
  createdAt: Date;
  message?: MessageRecord;
  change?: RoomMessageChange;
  event?: RoomEventData;
}

/** A device stream's side of its user's rooms. */
export interface RoomReader {
  readonly userId: string;
  /** Live traffic for this device; the reader decides whether it can take it. */
  offer(delivery: RoomDelivery): void;
}

type RoomHubServices = Pick<Services, "db" | "pubsub" | "log"> & {
  config: { rooms: { joinHistory: number } };
};

interface LocalUser {
  readers: Set<RoomReader>;
  rooms: Set<string>;
  /** Settles once the user's rooms are loaded and their membership feed is live. */
  ready: Promise<void>;
  stop?: () => void;
  /** Rooms the user just joined, whose recent history is being read: traffic waits here meanwhile. */
  catchingUp: Map<string, RoomDelivery[]>;
  /** What a join's catch-up gave, by room: a copy arriving later is not given again. */
  caughtUp: Map<string, { ids: Set<string>; until: number }>;
}

/** How long a catch-up's deliveries are remembered, against late copies from the pubsub. */
const CAUGHT_UP_MS = 60_000;

/** What tells copies of a delivery apart: a message's id (unchanged), or an event's. */
function deliveryKey(delivery: RoomDelivery): string | null {
  if (delivery.message && !delivery.change) return `m${delivery.message.id}`;
  return delivery.event ? `e${delivery.event.id}` : null;
}

interface LocalRoom {
  members: Set<string>;
  stop: Promise<() => void>;
}

const DESTROYED = "ROOM_DESTROYED";

export class RoomHub {
  private readonly users = new Map<string, LocalUser>();
  private readonly rooms = new Map<string, LocalRoom>();

  constructor(private readonly services: RoomHubServices) {}

  /** Starts delivering the user's rooms to `reader`; resolves once it is live. */
  async add(reader: RoomReader): Promise<void> {
    let user = this.users.get(reader.userId);
    if (!user) {
      const created: LocalUser = {
        readers: new Set(),
        rooms: new Set(),
        catchingUp: new Map(),
        caughtUp: new Map(),
        ready: Promise.resolve(),
      };
      created.ready = this.follow(reader.userId, created);
      this.users.set(reader.userId, created);
      user = created;
    }
    user.readers.add(reader);
    await user.ready;
  }

  remove(reader: RoomReader): void {
    const user = this.users.get(reader.userId);
    if (!user?.readers.delete(reader) || user.readers.size > 0) return;
    this.users.delete(reader.userId);
    user.stop?.();
    for (const roomId of user.rooms) this.leaveLocally(roomId, reader.userId);
  }

  /** Local members of a room (for tests and the benchmark's memory figures). */
  localMembers(roomId: string): number {
    return this.rooms.get(roomId)?.members.size ?? 0;
  }

  /**
   * Subscribes to the user's membership changes first and reads their rooms second: a change
   * committed in between arrives while reading, and is applied after the rooms read (it is newer).
   */
  private async follow(userId: string, user: LocalUser): Promise<void> {
    const early: RoomMembershipMessage[] = [];
    let loaded = false;
    const stop = await this.services.pubsub.subscribe("roomMembership", userId, (change) => {
      if (loaded) this.changed(userId, change);
      else early.push(change);
    });
    if (this.users.get(userId) !== user) {
      stop(); // its last reader left while it subscribed
      return;
    }
    user.stop = stop;
    try {
      const rows = await this.services.db.query<{ roomId: string }>(
        sql`SELECT "roomId" FROM "RoomMember" WHERE "userId" = ${userId}::uuid`,
      );
      if (this.users.get(userId) !== user) return;
      for (const { roomId } of rows) this.joinLocally(roomId, userId);
    } finally {
      loaded = true;
      for (const change of early) this.changed(userId, change);
    }
  }

  private changed(userId: string, change: RoomMembershipMessage) {
    const user = this.users.get(userId);
    if (!user) return;
    if (!change.joined) {
      this.leaveLocally(change.roomId, userId);
      return;
    }
    if (user.rooms.has(change.roomId)) return;
    const room = this.joinLocally(change.roomId, userId);
    void this.catchUp(userId, user, change, room.stop);
  }

  /**
   * A joiner's devices get their MEMBER_JOINED, the room's recent messages, then what came
   * meanwhile. The history is read once the room's traffic is live here, so nothing falls between.
   */
  private async catchUp(
    userId: string,
    user: LocalUser,
    { roomId, event }: RoomMembershipMessage,
    live: Promise<unknown>,
  ) {
    const limit = this.services.config.rooms.joinHistory;
    user.catchingUp.set(roomId, []);
    let recent: MessageRecord[] = [];
    try {
      await live;
      const rows = await this.services.db.query<{ message: Record<string, unknown> }>(
        sql`SELECT to_jsonb(m) AS message FROM (
            SELECT * FROM "Message" m WHERE m."chatId" = ${roomId}::uuid AND m."recalledAt" IS NULL
              AND (cardinality(m.targets) = 0 OR m."senderId" = ${userId}::uuid OR ${userId}::uuid = ANY(m.targets))
            ORDER BY m.id DESC LIMIT ${limit}) m ORDER BY m.id`,
      );
      recent = rows.map((row) => messageFromWire(row.message));
    } catch (error) {
      this.services.log.warn("Reading a room's recent messages failed", { error: (error as Error).message });
    }
    const waiting = user.catchingUp.get(roomId) ?? [];
    user.catchingUp.delete(roomId);
    if (!user.rooms.has(roomId)) return;
    const history = recent.map(
      (message): RoomDelivery => ({ roomId, priority: "NORMAL", createdAt: message.createdAt, message }),
    );
    const joined: RoomDelivery[] = event ? [{ roomId, priority: "HIGH", createdAt: new Date(), event }] : [];
    const given = new Set<string>();
    for (const delivery of [...joined, ...history, ...waiting]) {
      const key = deliveryKey(delivery);
      if (key !== null && given.has(key)) continue;
      if (key !== null) given.add(key);
      for (const reader of user.readers) reader.offer(delivery);
    }
    user.caughtUp.set(roomId, { ids: given, until: Date.now() + CAUGHT_UP_MS });
  }

  /** Whether the user's join catch-up already gave this delivery (a late copy from the pubsub). */
  private alreadyGiven(user: LocalUser, delivery: RoomDelivery): boolean {
    const caught = user.caughtUp.get(delivery.roomId);
    if (!caught) return false;
    if (Date.now() > caught.until) {
      user.caughtUp.delete(delivery.roomId);
      return false;
    }
    const key = deliveryKey(delivery);
    return key !== null && caught.ids.has(key);
  }

  private joinLocally(roomId: string, userId: string): LocalRoom {
    this.users.get(userId)?.rooms.add(roomId);
    let room = this.rooms.get(roomId);
    if (!room) {
      const stop = this.services.pubsub.subscribe("roomTraffic", roomId, (traffic) => this.deliver(traffic));
      stop.catch((error: Error) =>
        this.services.log.error("Room subscription failed", { error: error.message }),
      );
      room = { members: new Set(), stop };
      this.rooms.set(roomId, room);
    }
    room.members.add(userId);
    return room;
  }

  private leaveLocally(roomId: string, userId: string) {
    const user = this.users.get(userId);
    user?.rooms.delete(roomId);
    user?.caughtUp.delete(roomId);
    const room = this.rooms.get(roomId);
    if (!room) return;
    room.members.delete(userId);
    if (room.members.size > 0) return;
    this.rooms.delete(roomId);
    void room.stop.then((stop) => stop()).catch(() => {});
  }

  private deliver(traffic: RoomTrafficMessage) {
    const room = this.rooms.get(traffic.roomId);
    if (!room) return;
    const delivery: RoomDelivery = {
      roomId: traffic.roomId,
      priority: traffic.priority,
      createdAt: new Date(traffic.createdAt),
      ...(traffic.message ? { message: messageFromWire(traffic.message) } : {}),
      ...(traffic.change ? { change: traffic.change } : {}),
      ...(traffic.event ? { event: traffic.event } : {}),
    };
    const audience = traffic.audience ? new Set(traffic.audience) : null;
    for (const userId of room.members) {
      if (audience && !audience.has(userId)) continue;
      const user = this.users.get(userId);
      if (!user) continue;
      const waiting = user.catchingUp.get(traffic.roomId);
      if (waiting) waiting.push(delivery);
      else if (!this.alreadyGiven(user, delivery)) for (const reader of user.readers) reader.offer(delivery);
    }
    if (traffic.event?.kind === DESTROYED) {
      for (const userId of [...room.members]) this.leaveLocally(traffic.roomId, userId);
    }
  }
}
