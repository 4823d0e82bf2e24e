import type { PushProvider } from "../../generated/prisma/client.js";

// What every provider adapter is given and answers. A notification is one or more of a user's
// pending messages in one conversation, collapsed; its id is stable across re-sends (see sender.ts).

export interface Notification {
  /** The batch's id: the same when a batch is sent again after a crash. */
  id: string;
  /** One per conversation: providers that collapse replace an older notification with this key. */
  collapseKey: string;
  title: string;
  body: string;
  /** What the app needs to open the conversation; every value is a string (FCM's data rule). */
  data: Record<string, string>;
}

export interface Recipient {
  userId: string;
  username: string;
  deviceId: string;
  token: string;
}

/** sent: the provider took it; dead: the token is gone for good (it is unregistered); otherwise why it failed. */
export type Outcome =
  | { kind: "sent" }
  | { kind: "dead"; reason: string }
  | { kind: "failed"; reason: string };

export interface ProviderAdapter {
  provider: PushProvider;
  send(recipient: Recipient, notification: Notification): Promise<Outcome>;
  close?(): void;
}

export const sent: Outcome = { kind: "sent" };
export const dead = (reason: string): Outcome => ({ kind: "dead", reason });
export const failed = (reason: string): Outcome => ({ kind: "failed", reason });

/** The JSON a Web Push or webhook receiver gets: the notification with its data beside it. */
export function payloadOf(notification: Notification): Record<string, unknown> {
  return {
    id: notification.id,
    title: notification.title,
    body: notification.body,
    ...notification.data,
  };
}
