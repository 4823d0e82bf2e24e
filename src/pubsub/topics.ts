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
};
