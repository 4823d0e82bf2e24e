import type { Config } from "../../config.js";
import type { PushProvider } from "../../generated/prisma/client.js";

/** The providers this deployment is configured for: tokens of others are refused. */
export function configuredProviders(config: Config): PushProvider[] {
  const { push, callbacks } = config;
  return [
    push.fcmServiceAccountFile ? "FCM" : null,
    push.apns ? "APNS" : null,
    push.vapid ? "WEB_PUSH" : null,
    push.webhookUrl && callbacks.secret ? "WEBHOOK" : null,
  ].filter((provider): provider is PushProvider => provider !== null);
}
