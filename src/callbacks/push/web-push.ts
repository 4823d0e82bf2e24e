import { createHash } from "node:crypto";
import webpush from "web-push";
import type { PushConfig } from "../../config.js";
import {
  dead,
  failed,
  type Notification,
  type ProviderAdapter,
  payloadOf,
  type Recipient,
  sent,
} from "./provider.js";

// Web Push (RFC 8030) with VAPID (RFC 8292): the `web-push` package encrypts the payload for the
// subscription (aes128gcm, RFC 8291) and signs the VAPID JWT; we send the request it describes with
// fetch, which keeps one timeout and also reaches an http:// endpoint (a push service on the local
// network, the tests' endpoint). The token is the browser's PushSubscription as JSON.

export interface Subscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** Seconds a push service keeps a push for a browser that is offline. */
const TTL_SECONDS = 24 * 3600;

export function webPushAdapter(config: NonNullable<PushConfig["vapid"]>, timeoutMs: number): ProviderAdapter {
  const vapidDetails = {
    subject: config.subject,
    publicKey: config.publicKey,
    privateKey: config.privateKey,
  };
  return {
    provider: "WEB_PUSH",
    async send(recipient: Recipient, notification: Notification) {
      try {
        const subscription = JSON.parse(recipient.token) as Subscription;
        const request = webpush.generateRequestDetails(
          subscription,
          JSON.stringify(payloadOf(notification)),
          {
            vapidDetails,
            TTL: TTL_SECONDS,
            contentEncoding: "aes128gcm",
            urgency: "high",
            // The push service replaces a waiting push with the same topic: one per conversation.
            topic: topicOf(notification.collapseKey),
          },
        );
        const response = await fetch(request.endpoint, {
          method: request.method,
          headers: request.headers as Record<string, string>,
          body: request.body ? new Uint8Array(request.body) : null,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
        if (response.ok) return sent;
        // 404 and 410: the subscription expired or was unsubscribed (RFC 8030 §7.3).
        if (response.status === 404 || response.status === 410) return dead(`HTTP ${response.status}`);
        return failed(`HTTP ${response.status}`);
      } catch (error) {
        return failed((error as Error).message);
      }
    },
  };
}

/** A Topic header is at most 32 URL-safe base64 characters. */
function topicOf(key: string): string {
  return createHash("sha256").update(key).digest("base64url").slice(0, 32);
}

/** The token as registered: a PushSubscription's JSON with an http(s) endpoint and both keys. */
export function parseSubscription(token: string): Subscription | null {
  let value: unknown;
  try {
    value = JSON.parse(token);
  } catch {
    return null;
  }
  const subscription = value as Partial<Subscription> | null;
  const endpoint = typeof subscription?.endpoint === "string" ? subscription.endpoint : "";
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  const p256dh = Buffer.from(String(subscription?.keys?.p256dh ?? ""), "base64url");
  const auth = Buffer.from(String(subscription?.keys?.auth ?? ""), "base64url");
  // An uncompressed P-256 point and a 16-byte secret (RFC 8291 §3).
  if (p256dh.length !== 65 || p256dh[0] !== 4 || auth.length !== 16) return null;
  return { endpoint, keys: { p256dh: subscription!.keys!.p256dh, auth: subscription!.keys!.auth } };
}
