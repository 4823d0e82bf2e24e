import type { Services } from "../../context.js";
import type { PushProvider } from "../../generated/prisma/client.js";
import { dropOutboxConsumer, type OutboxPump, startOutbox } from "../outbox.js";
import { apnsAdapter } from "./apns.js";
import { fcmAdapter } from "./fcm.js";
import type { ProviderAdapter } from "./provider.js";
import { queuePushes } from "./queue.js";
import { startPushSender } from "./sender.js";
import { webPushAdapter } from "./web-push.js";
import { webhookAdapter } from "./webhook.js";

// Offline push (README.md, "Offline push"): the outbox's `push` consumer turns new messages into
// push jobs (queue.ts), and every instance's sender works through the jobs (sender.ts).

export const PUSH_CONSUMER = "push";

function adaptersOf(services: Services): Map<PushProvider, ProviderAdapter> {
  const { push, callbacks } = services.config;
  const adapters: ProviderAdapter[] = [];
  if (push.fcmServiceAccountFile)
    adapters.push(fcmAdapter(push.fcmServiceAccountFile, push.fcmUrl, push.timeoutMs));
  if (push.apns) adapters.push(apnsAdapter(push.apns, push.timeoutMs));
  if (push.vapid) adapters.push(webPushAdapter(push.vapid, push.timeoutMs));
  if (push.webhookUrl && callbacks.secret) {
    adapters.push(webhookAdapter(push.webhookUrl, callbacks.secret, push.timeoutMs));
  }
  return new Map(adapters.map((adapter) => [adapter.provider, adapter]));
}

/** Starts queuing and sending pushes when any provider is configured; stops queuing when none is. */
export async function startPush(services: Services): Promise<OutboxPump | null> {
  const adapters = adaptersOf(services);
  if (adapters.size === 0) {
    await dropOutboxConsumer(services, PUSH_CONSUMER);
    return null;
  }
  const sender = startPushSender(services, adapters);
  const pump = await startOutbox(services, {
    name: PUSH_CONSUMER,
    // Rooms are live only: their members are online by definition, so they never push.
    chatTypes: ["DIRECT", "GROUP", "THREAD"],
    events: ["CREATED"],
    maxAgeHours: services.config.push.retryHours,
    handle: (entries) => queuePushes(services, entries, () => sender.wake()),
  });
  return {
    async stop() {
      await pump.stop();
      await sender.stop();
      for (const adapter of adapters.values()) adapter.close?.();
    },
  };
}
