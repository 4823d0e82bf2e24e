import type { Services } from "../context.js";
import { pruneEntries } from "../delivery/chat-log.js";
import { pruneEvents } from "../delivery/user-log.js";
import { pruneSubscriptions } from "./presence.js";

// Housekeeping that every instance may run: deleting the same rows twice is harmless.

const RETENTION_INTERVAL_MS = 3_600_000;

const jobs: [what: string, run: (services: Services) => Promise<number>][] = [
  ["events older than OFFLINE_RETENTION_DAYS", pruneEvents],
  [
    "chat-log entries older than OFFLINE_RETENTION_DAYS",
    (services) =>
      pruneEntries(services.db, new Date(Date.now() - services.config.offlineRetentionDays * 86_400_000)),
  ],
  ["expired presence subscriptions", pruneSubscriptions],
];

/** Runs the jobs soon after start and then hourly; returns the function that stops them. */
export function scheduleRetention(services: Services): () => void {
  const run = async () => {
    for (const [what, job] of jobs) {
      await job(services)
        .then((removed) => removed > 0 && services.log.info("Retention removed rows", { what, removed }))
        .catch((error: Error) => services.log.warn("Retention failed", { what, error: error.message }));
    }
  };
  const first = setTimeout(run, 10_000);
  const hourly = setInterval(run, RETENTION_INTERVAL_MS);
  first.unref();
  hourly.unref();
  return () => {
    clearTimeout(first);
    clearInterval(hourly);
  };
}
