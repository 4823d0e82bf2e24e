// Every pubsub topic and its payload. Payloads are plain JSON: they cross Redis between instances.

export type SessionEndKind = "LOGGED_OUT" | "KICKED" | "BANNED" | "PASSWORD_CHANGED" | "USER_DELETED";

export interface SessionEndedMessage {
  deviceId: string;
  kind: SessionEndKind;
}

/** Topic name → [routing id, payload]. */
export type Topics = {
  /** A device's session ended; whichever instance holds its connections tells them and closes them. */
  sessionEnded: [deviceId: string, message: SessionEndedMessage];
};
