import type { Services } from "../../context.js";
import { sql } from "../../db/sql.js";
import type { PushProvider } from "../../generated/prisma/client.js";
import type { Notification, Outcome, ProviderAdapter } from "./provider.js";

// Sends the queued push jobs. A round claims due jobs (a lease, so instances share the queue and a
// dead instance's claims run out), gives each (token, conversation) group that has no batch yet the
// newest job's id as its batch, sends one notification per batch and deletes its jobs once the
// provider took it. A batch keeps its id for good: sent again after a crash (between the provider's
// answer and the delete) it is the same notification with the same id, apns-id, FCM data.id, Web
// Push payload id and the conversation's collapse key. Jobs of a user who came online, of messages
// recalled or read since, are dropped unsent.

const CLAIM_LIMIT = 128;
const PARALLEL = 32;
const MAX_BACKOFF_SECONDS = 600;
const POLL_MS = 500;
const PREVIEW_CHARACTERS = 200;
/** Jobs past PUSH_RETRY_HOURS are looked for this often, not every round. */
const EXPIRY_EVERY_MS = 60_000;

interface Batch {
  batch: string;
  tokenId: string;
  provider: PushProvider;
  token: string;
  deviceId: string;
  userId: string;
  username: string;
  chatId: string;
  chatType: "DIRECT" | "GROUP" | "THREAD";
  /** Unread, unrecalled messages of the batch; 0 when none is left to tell of. */
  count: number;
  mentioned: boolean;
  attempts: number;
  displayStyle: "SUMMARY" | "CONTENT";
  messageId: string | null;
  messageType: string | null;
  text: string | null;
  senderName: string | null;
  senderUsername: string | null;
  chatName: string | null;
}

export interface PushSender {
  wake(): void;
  stop(): Promise<void>;
}

export function startPushSender(
  services: Services,
  adapters: Map<PushProvider, ProviderAdapter>,
): PushSender {
  let running = true;
  let wake = () => {};
  let woken = false;
  const expiry = { last: 0 };
  const loop = (async () => {
    while (running) {
      woken = false;
      const busy = await sendRound(services, adapters, expiry).catch((error: Error) => {
        services.log.warn("Push round failed", { error: error.message });
        return false;
      });
      if (!running || busy || woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    wake() {
      woken = true;
      wake();
    },
    async stop() {
      running = false;
      wake();
      await loop;
      // Let another instance send this one's claimed jobs at once rather than when the lease runs out.
      await services.db
        .query(sql`UPDATE "PushJob" SET "claimedBy" = NULL, "claimedUntil" = NULL
          WHERE "claimedBy" = ${services.instanceId}`)
        .catch(() => {});
    },
  };
}

/** How soon another instance sends a dead one's claimed jobs; renewed while a round runs. */
const CLAIM_SECONDS = 10;

/** One round; true when it found work (so the next starts at once). */
async function sendRound(
  services: Services,
  adapters: Map<PushProvider, ProviderAdapter>,
  expiry: { last: number },
): Promise<boolean> {
  if (Date.now() - expiry.last > EXPIRY_EVERY_MS) {
    expiry.last = Date.now();
    await services.db.query(sql`
      DELETE FROM "PushJob" WHERE attempts > 0
        AND "createdAt" < now() - make_interval(hours => ${services.config.push.retryHours})`);
  }
  const batches = await claim(services);
  if (batches.length === 0) return false;
  // A round can outlast the claim (every send running into the timeout): it is renewed meanwhile,
  // so it lapses only when this instance is gone.
  const renewing = setInterval(
    () =>
      void services.db
        .query(sql`UPDATE "PushJob" SET "claimedUntil" = now() + make_interval(secs => ${CLAIM_SECONDS})
          WHERE "claimedBy" = ${services.instanceId}`)
        .catch(() => {}),
    (CLAIM_SECONDS * 1000) / 3,
  );
  try {
    await sendClaimed(services, adapters, batches);
  } finally {
    clearInterval(renewing);
  }
  return true;
}

async function sendClaimed(
  services: Services,
  adapters: Map<PushProvider, ProviderAdapter>,
  batches: Batch[],
): Promise<void> {
  const online = await services.presence.onlineDevices([...new Set(batches.map((batch) => batch.userId))]);
  const outcomes = new Map<Batch, Outcome | "skip">();
  const queue = [...batches];
  const workers = Array.from({ length: Math.min(PARALLEL, queue.length) }, async () => {
    for (let batch = queue.shift(); batch; batch = queue.shift()) {
      const adapter = adapters.get(batch.provider);
      if (!adapter || batch.count === 0 || online.has(batch.userId)) {
        outcomes.set(batch, "skip");
        continue;
      }
      outcomes.set(
        batch,
        await adapter.send(
          { userId: batch.userId, username: batch.username, deviceId: batch.deviceId, token: batch.token },
          notificationOf(batch),
        ),
      );
    }
  });
  await Promise.all(workers);
  await record(services, outcomes);
}

/** Claims due jobs and returns them as batches, with what each batch's notification says. */
async function claim(services: Services): Promise<Batch[]> {
  return services.db.transaction(async (query) => {
    const jobs = await query<{ id: string; key: string; batch: string | null }>(sql`
      SELECT id::text, "tokenId"::text || '/' || "chatId"::text AS key, batch::text FROM "PushJob"
      WHERE "nextAttemptAt" <= now() AND ("claimedUntil" IS NULL OR "claimedUntil" < now())
      ORDER BY id LIMIT ${CLAIM_LIMIT} FOR UPDATE SKIP LOCKED`);
    if (jobs.length === 0) return [];
    const newest = new Map<string, string>();
    for (const job of jobs) if (job.batch === null) newest.set(job.key, job.id);
    const batchOf = jobs.map((job) => job.batch ?? newest.get(job.key)!);
    await query(sql`
      UPDATE "PushJob" j SET batch = v.batch, "claimedBy" = ${services.instanceId},
        "claimedUntil" = now() + make_interval(secs => ${CLAIM_SECONDS})
      FROM unnest(${jobs.map((job) => job.id)}::bigint[], ${batchOf}::bigint[]) AS v(id, batch)
      WHERE j.id = v.id`);
    return query<Batch>(sql`
      WITH b AS (
        SELECT j.batch, j."tokenId", j."userId", j."chatId", max(j.attempts) AS attempts,
          bool_or(j.mentioned) AS mentioned,
          array_agg(j."messageId") AS messages
        FROM "PushJob" j WHERE j.id = ANY(${jobs.map((job) => job.id)}::bigint[])
        GROUP BY j.batch, j."tokenId", j."userId", j."chatId"
      ), live AS (
        SELECT b.batch, m.id, m.type, m.body, m."senderId", m."chatType",
          row_number() OVER (PARTITION BY b.batch ORDER BY m.id DESC) AS newest,
          count(*) OVER (PARTITION BY b.batch) AS count
        FROM b JOIN "Message" m ON m.id = ANY(b.messages)
        LEFT JOIN "Conversation" c ON c."userId" = b."userId" AND c."chatId" = b."chatId"
        WHERE m."recalledAt" IS NULL AND m.id > coalesce(c."readUpToId", 0)
      )
      SELECT b.batch::text, b."tokenId", t.provider, t.token, t."deviceId", b."userId", u.username,
        b."chatId", ch.type AS "chatType", coalesce(l.count, 0)::int AS count, b.mentioned, b.attempts,
        coalesce(s."displayStyle", 'SUMMARY') AS "displayStyle",
        l.id::text AS "messageId", l.type AS "messageType",
        CASE WHEN l.type = 'TEXT' THEN left(l.body->>'text', ${PREVIEW_CHARACTERS}) END AS text,
        coalesce(ss."pushName", su.nickname) AS "senderName", su.username AS "senderUsername",
        coalesce(g.name, th.name) AS "chatName"
      FROM b
      JOIN "PushToken" t ON t.id = b."tokenId"
      JOIN "User" u ON u.id = b."userId"
      JOIN "Chat" ch ON ch.id = b."chatId"
      LEFT JOIN "PushSettings" s ON s."userId" = b."userId"
      LEFT JOIN live l ON l.batch = b.batch AND l.newest = 1
      LEFT JOIN "User" su ON su.id = l."senderId"
      LEFT JOIN "PushSettings" ss ON ss."userId" = l."senderId"
      LEFT JOIN "Group" g ON g.id = b."chatId"
      LEFT JOIN "Thread" th ON th.id = b."chatId"`);
  });
}

/** What the user sees: SUMMARY tells only that something came; CONTENT who wrote what. */
export function notificationOf(batch: Batch): Notification {
  const data: Record<string, string> = {
    chatType: batch.chatType,
    conversation: batch.chatType === "DIRECT" ? (batch.senderUsername ?? "") : batch.chatId,
    messageId: batch.messageId ?? "",
    count: String(batch.count),
    mentioned: String(batch.mentioned),
  };
  const collapseKey = batch.chatId;
  if (batch.displayStyle === "SUMMARY") {
    return {
      id: batch.batch,
      collapseKey,
      title: batch.count === 1 ? "New message" : `${batch.count} new messages`,
      body: batch.mentioned ? "You were mentioned" : "",
      data,
    };
  }
  const preview = batch.text ?? `[${(batch.messageType ?? "message").toLowerCase()}]`;
  const more = batch.count > 1 ? ` (${batch.count} new messages)` : "";
  const sender = batch.senderName ?? "";
  return {
    id: batch.batch,
    collapseKey,
    title: batch.chatType === "DIRECT" ? sender : (batch.chatName ?? sender),
    body: `${batch.chatType === "DIRECT" ? "" : `${sender}: `}${preview}${more}`,
    data: { ...data, sender: batch.senderUsername ?? "" },
  };
}

async function record(services: Services, outcomes: Map<Batch, Outcome | "skip">): Promise<void> {
  const done: string[] = [];
  const deadTokens: string[] = [];
  const retry: { batch: string; attempts: number; reason: string }[] = [];
  for (const [batch, outcome] of outcomes) {
    if (outcome === "skip" || outcome.kind === "sent") done.push(batch.batch);
    else if (outcome.kind === "dead") deadTokens.push(batch.tokenId);
    else
      retry.push({ batch: batch.batch, attempts: batch.attempts + 1, reason: outcome.reason.slice(0, 500) });
  }
  await services.db.transaction(async (query) => {
    if (done.length > 0) await query(sql`DELETE FROM "PushJob" WHERE batch = ANY(${done}::bigint[])`);
    // The provider says the token will never work again: unregister it (its jobs go with it).
    if (deadTokens.length > 0)
      await query(sql`DELETE FROM "PushToken" WHERE id = ANY(${deadTokens}::uuid[])`);
    if (retry.length > 0) {
      const backoff = retry.map(
        (job) => Math.min(2 ** job.attempts, MAX_BACKOFF_SECONDS) * (0.75 + Math.random() / 2),
      );
      await query(sql`
        UPDATE "PushJob" j SET attempts = v.attempts, "lastError" = v.reason, "claimedBy" = NULL,
          "claimedUntil" = NULL, "nextAttemptAt" = now() + make_interval(secs => v.backoff)
        FROM unnest(${retry.map((job) => job.batch)}::bigint[], ${retry.map((job) => job.attempts)}::int[],
          ${retry.map((job) => job.reason)}::text[], ${backoff}::float8[]) AS v(batch, attempts, reason, backoff)
        WHERE j.batch = v.batch`);
    }
  });
  if (deadTokens.length > 0) services.log.info("Push tokens unregistered", { count: deadTokens.length });
  if (retry.length > 0) {
    services.log.warn("Pushes failed", { failed: retry.length, sent: done.length, error: retry[0]!.reason });
  }
}
