// Every pubsub topic and its payload. Payloads are plain JSON: they cross Redis between instances.

export type SessionEndKind = "LOGGED_OUT" | "KICKED" | "BANNED" | "PASSWORD_CHANGED" | "USER_DELETED";

export interface SessionEndedMessage {
  deviceId: string;
  kind: SessionEndKind;
}

/**
 * "The user's stream has events up to `seq`". It carries the new events, and the message they are
 * about, so a stream that is exactly one step behind needs no database read; any other stream
 * reads from the database.
 */
export interface StreamAdvancedMessage {
  seq: string;
  events: WireEvent[];
  /** The messages of its MESSAGE events, as messageToWire makes them. */
  messages?: Record<string, unknown>[];
}

export interface WireEvent {
  seq: string;
  kind: string;
  chatId: string | null;
  messageId: string | null;
  data: Record<string, unknown> | null;
  createdAt: string;
}

/** An event that is delivered live and never stored: commands, typing, presence. */
export type EphemeralMessage =
  | {
      kind: "COMMAND";
      /** The command message, as JSON (see resolvers/commands.ts). */
      payload: Record<string, unknown>;
      createdAt: string;
    }
  | { kind: "TYPING"; payload: TypingPayload; createdAt: string }
  | { kind: "PRESENCE"; payload: PresencePayload; createdAt: string };

export interface TypingPayload {
  /** Who is typing. */
  userId: string;
  /** The chat they are typing in; null for a direct chat with no messages yet. */
  chatId: string | null;
}

export interface PresencePayload {
  userId: string;
  online: boolean;
  status: string | null;
  ext: Record<string, unknown>;
  lastSeenAt: string | null;
}

/** The chat log has entries up to `pos`; every instance's tailer reads on from where it is. */
export interface ChatLogAdvancedMessage {
  pos: string;
}

/** A live-only event for the members of a chat (typing, group commands), sent once for all of them. */
export interface ChatEphemeralMessage {
  chatId: string;
  /** Who caused it: their own devices do not get typing about themselves. */
  senderId: string;
  /** Only these members get it (a targeted command, with its sender); absent: every member. */
  audience?: string[];
  event: EphemeralMessage;
}

export type RoomPriority = "HIGH" | "NORMAL" | "LOW";

/** Live traffic of a room: a message or a RoomEvent, published once for all its members. */
export interface RoomTrafficMessage {
  roomId: string;
  priority: RoomPriority;
  createdAt: string;
  /** Only these members get it (a targeted message, with its sender); absent: every member. */
  audience?: string[];
  /** A message, as messageToWire makes it: new, or as it is after `change`. */
  message?: Record<string, unknown>;
  change?: RoomMessageChange;
  /** A RoomEvent. */
  event?: RoomEventData;
}

/** A room message was edited, or recalled (by `by`; null: the app server). */
export type RoomMessageChange = { kind: "EDITED" } | { kind: "RECALLED"; by: string | null };

export interface RoomEventData {
  /** Tells copies apart: a joiner's own MEMBER_JOINED may reach it twice (see RoomMembershipMessage). */
  id: string;
  kind: string;
  actor: string | null;
  users: string[];
  /** ATTRIBUTES_CHANGED: the keys changed, with their new values (null: removed). */
  attributes?: Record<string, string | null>;
}

/** A user joined or left a room: the instances holding their streams add or drop the room. */
export interface RoomMembershipMessage {
  roomId: string;
  joined: boolean;
  /**
   * A join's MEMBER_JOINED, for the joiner's own devices: the room's traffic carries it too, but an
   * instance that subscribes to the room only now may miss that copy.
   */
  event?: RoomEventData;
}

/** Topic name → [routing id, payload]. */
export type Topics = {
  /** A device's session ended; whichever instance holds its connections tells them and closes them. */
  sessionEnded: [deviceId: string, message: SessionEndedMessage];
  /** A user's durable stream advanced. */
  streamAdvanced: [userId: string, message: StreamAdvancedMessage];
  /** A live-only event for every device of a user. */
  ephemeral: [userId: string, message: EphemeralMessage];
  /** The chat log grew; one channel for all chats, since every instance follows the whole log. */
  chatLogAdvanced: [scope: "all", message: ChatLogAdvancedMessage];
  chatEphemeral: [scope: "all", message: ChatEphemeralMessage];
  /** A room's live traffic; only instances with members of the room online subscribe. */
  roomTraffic: [roomId: string, message: RoomTrafficMessage];
  /** A user's room memberships changed; the instances holding the user's streams subscribe. */
  roomMembership: [userId: string, message: RoomMembershipMessage];
  /** The app server changed the moderation rules: every instance reloads them. */
  moderationRulesChanged: [scope: "all", message: Record<string, never>];
};
