import { Gauge } from "prom-client";
import type { Database } from "../db/client.js";
import { sql } from "../db/sql.js";
import type { Logger } from "../logger.js";
import { registry } from "./registry.js";

// Queue depths, read from the database when scraped. The queues live in the shared database, so
// every worker reports the same figure: several workers' reports are combined by their maximum.
// Each count stops at COUNT_CAP rows, so a scrape costs an index range scan however deep a backlog
// is, and a scrape that cannot read them in time shows the last figures read.

const COUNT_CAP = 100_000;
const TIMEOUT_MS = 1000;
/** Both gauges are collected in one scrape: one read serves them. */
const FRESH_MS = 500;

interface Depths {
  outbox: { consumer: string; pending: number }[];
  pushJobs: number;
}

let source: { db: Database; log: Logger } | undefined;
let last: { at: number; depths: Promise<Depths | undefined> } | undefined;

async function read(db: Database): Promise<Depths> {
  const [outbox, [push]] = await Promise.all([
    db.query<{ consumer: string; pending: number }>(sql`
      SELECT c.name AS consumer,
        (SELECT count(*) FROM (SELECT 1 FROM "OutboxEntry" e WHERE e.consumer = c.name LIMIT ${COUNT_CAP}) x)::int AS pending
      FROM "OutboxConsumer" c ORDER BY c.name`),
    db.query<{ pending: number }>(sql`
      SELECT count(*)::int AS pending FROM (SELECT 1 FROM "PushJob" LIMIT ${COUNT_CAP}) x`),
  ]);
  return { outbox, pushJobs: push?.pending ?? 0 };
}

function depths(): Promise<Depths | undefined> {
  if (!source) return Promise.resolve(undefined);
  if (last && Date.now() - last.at < FRESH_MS) return last.depths;
  const { db, log } = source;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  const depths = Promise.race([read(db), timedOut])
    .catch((error: Error) => {
      log.warn("Reading queue depths for /metrics failed", { error: error.message });
      return undefined;
    })
    .finally(() => clearTimeout(timer));
  last = { at: Date.now(), depths };
  return depths;
}

new Gauge({
  name: "im_outbox_entries_pending",
  help: `Message events waiting in the outbox for a consumer (post-send webhook, push), counted up to ${COUNT_CAP}.`,
  labelNames: ["consumer"],
  aggregator: "max",
  registers: [registry],
  async collect() {
    const read = await depths();
    if (!read) return;
    this.reset();
    for (const { consumer, pending } of read.outbox) this.set({ consumer }, pending);
  },
});

new Gauge({
  name: "im_push_jobs_pending",
  help: `Push notifications waiting to be sent or retried, counted up to ${COUNT_CAP}.`,
  aggregator: "max",
  registers: [registry],
  async collect() {
    const read = await depths();
    if (read) this.set(read.pushJobs);
  },
});

/** Scrapes read the queues from `db` until the returned function is called. */
export function watchQueues(db: Database, log: Logger): () => void {
  const watched = { db, log };
  source = watched;
  last = undefined;
  return () => {
    if (source === watched) source = undefined;
  };
}
