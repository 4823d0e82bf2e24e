import { postSigned } from "../signing.js";
import {
  dead,
  failed,
  type Notification,
  type ProviderAdapter,
  payloadOf,
  type Recipient,
  sent,
} from "./provider.js";

// WEBHOOK tokens are the app's own (its own push service, a vendor we have no adapter for): each
// push is a signed POST to PUSH_WEBHOOK_URL carrying the token, never a call to a URL a client chose.
// An answer of 410 Gone says the token is dead.

export function webhookAdapter(url: string, secret: string, timeoutMs: number): ProviderAdapter {
  return {
    provider: "WEBHOOK",
    async send(recipient: Recipient, notification: Notification) {
      const payload = {
        event: "push",
        user: recipient.username,
        deviceId: recipient.deviceId,
        token: recipient.token,
        notification: payloadOf(notification),
      };
      try {
        const response = await postSigned(url, secret, payload, timeoutMs, {
          "x-webhook-id": notification.id,
        });
        await response.body?.cancel();
        if (response.ok) return sent;
        if (response.status === 410) return dead("HTTP 410");
        return failed(`HTTP ${response.status}`);
      } catch (error) {
        return failed((error as Error).message);
      }
    },
  };
}
