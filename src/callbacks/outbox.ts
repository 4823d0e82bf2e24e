import type { Services } from "../context.js";
import { sql } from "../db/sql.js";
import type { ChatType, OutboxEvent } from "../generated/prisma/client.js";

// The outbox: message events waiting to be handed to a consumer (the post-send webhook, offline
// push). Entries are written by a trigger on Message in the storing transaction (migration
// `outbox`), so an entry exists exactly when its message committed. One instance at a time pumps
// a consumer (a lease on its OutboxConsumer row), which keeps each chat's entries in order without
// coordinating instances per entry; an instance that dies loses the lease and another takes over.
// An entry is deleted after it was handed over, so a crash in between hands it over again: at least
// once, and the entry's id is what a receiver deduplicates on.

export interface OutboxEntry {
  id: string;
  chatId: string;
  messageId: string;
  event: OutboxEvent;
  attempts: number;
  createdAt: Date;
}

/** What became of a round's entries; entries in neither list were not tried and stay as they are. */
export interface Handover {
  delivered: string[];
  /** Entry id → why; tried again after a back-off. */
  failed: Map<string, string>;
}

export interface OutboxConsumerSpec {
  name: string;
  chatTypes: ChatType[];
  events: OutboxEvent[];
  /**
   * Hands over entries, oldest first. A chat's entries must be handed over in order, and none after
   * one that failed; `deadline` (ms since the epoch) is when to stop starting new ones.
   */
  handle(entries: OutboxEntry[], deadline: number): Promise<Handover>;
  /** Older entries that still fail are dropped (and logged). */
  maxAgeHours: number;
}

const BATCH = 200;
const LEASE_SECONDS = 30;
const ROUND_MS = 10_000;
const MAX_BACKOFF_SECONDS = 300;

export interface OutboxPump {
  stop(): Promise<void>;
}

/** Starts pumping `spec`'s entries on this instance (it works whenever it holds the lease). */
export async function startOutbox(
  services: Services,
  spec: OutboxConsumerSpec,
  pollMs = 250,
): Promise<OutboxPump> {
  await services.db.query(sql`
    INSERT INTO "OutboxConsumer" (name, "chatTypes", events)
    VALUES (${spec.name}, ${spec.chatTypes}::text[]::"ChatType"[], ${spec.events}::text[]::"OutboxEvent"[])
    ON CONFLICT (name) DO UPDATE SET "chatTypes" = EXCLUDED."chatTypes", events = EXCLUDED.events`);
  let running = true;
  let wake = () => {};
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const loop = (async () => {
    while (running) {
      const wait = await pumpOnce(services, spec).catch((error: Error) => {
        services.log.warn("Outbox round failed", { consumer: spec.name, error: error.message });
        return 1000;
      });
      if (running) await pause(wait ?? pollMs);
    }
  })();
  return {
    async stop() {
      running = false;
      wake();
      await loop;
      // Let another instance take over at once rather than when the lease runs out.
      await services.db
        .query(sql`
          UPDATE "OutboxConsumer" SET "pumpedBy" = NULL, "pumpedUntil" = NULL
          WHERE name = ${spec.name} AND "pumpedBy" = ${services.instanceId}`)
        .catch(() => {});
    },
  };
}

/** Stops queuing entries for a consumer that is switched off (entries already queued stay). */
export async function dropOutboxConsumer(services: Services, name: string): Promise<void> {
  await services.db.query(sql`DELETE FROM "OutboxConsumer" WHERE name = ${name}`);
}

/** One round; returns how long to wait before the next, or undefined for the usual poll. */
async function pumpOnce(services: Services, spec: OutboxConsumerSpec): Promise<number | undefined> {
  const leased = await services.db.query(sql`
    UPDATE "OutboxConsumer" SET "pumpedBy" = ${services.instanceId},
      "pumpedUntil" = now() + make_interval(secs => ${LEASE_SECONDS})
    WHERE name = ${spec.name}
      AND ("pumpedBy" = ${services.instanceId} OR "pumpedUntil" IS NULL OR "pumpedUntil" < now())
    RETURNING name`);
  if (leased.length === 0) return (LEASE_SECONDS * 1000) / 6;
  await services.db.query(sql`
    DELETE FROM "OutboxEntry" WHERE consumer = ${spec.name}
      AND "createdAt" < now() - make_interval(hours => ${spec.maxAgeHours}) AND attempts > 0`);
  // Due entries whose chat has no earlier entry waiting out a back-off: a chat stays in order.
  const entries = await services.db.query<OutboxEntry>(sql`
    SELECT o.id::text, o."chatId", o."messageId"::text, o.event, o.attempts, o."createdAt"
    FROM "OutboxEntry" o
    WHERE o.consumer = ${spec.name} AND o."nextAttemptAt" <= now()
      AND NOT EXISTS (SELECT 1 FROM "OutboxEntry" e WHERE e.consumer = o.consumer
        AND e."chatId" = o."chatId" AND e.id < o.id AND e."nextAttemptAt" > now())
    ORDER BY o.id LIMIT ${BATCH}`);
  if (entries.length === 0) return undefined;
  const { delivered, failed } = await spec.handle(entries, Date.now() + ROUND_MS);
  await services.db.transaction(async (query) => {
    if (delivered.length > 0) {
      await query(sql`DELETE FROM "OutboxEntry" WHERE id = ANY(${delivered}::bigint[])`);
    }
    for (const [id, error] of failed) {
      const attempts = entries.find((entry) => entry.id === id)!.attempts + 1;
      const backoff = Math.min(2 ** attempts, MAX_BACKOFF_SECONDS) * (0.75 + Math.random() / 2);
      await query(sql`
        UPDATE "OutboxEntry" SET attempts = ${attempts}, "lastError" = ${error.slice(0, 500)},
          "nextAttemptAt" = now() + make_interval(secs => ${backoff})
        WHERE id = ${id}::bigint`);
    }
  });
  if (failed.size > 0) {
    services.log.warn("Outbox handover failed", {
      consumer: spec.name,
      failed: failed.size,
      delivered: delivered.length,
      error: [...failed.values()][0],
    });
  }
  // A full batch means more may be waiting; a round where nothing got through means the receiver is
  // down, so wait rather than scan the backlog again at once.
  if (delivered.length === 0 && failed.size > 0) return 1000;
  return entries.length === BATCH ? 0 : undefined;
}
