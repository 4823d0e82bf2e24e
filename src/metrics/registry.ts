import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

// The server's Prometheus metrics (README.md, "Metrics"). This module imports nothing of the
// server's, so any layer may record here. The hot paths (a send, an event written to a socket) add
// to plain numbers or observe a label-less histogram; labelled counters are filled in from those
// numbers when scraped, so no label set is built per event.

export const registry = new Registry();

/** Off until a server with METRICS on starts in this process: then recording costs nothing when off. */
const state = { on: false };

export function startRecording(): void {
  if (state.on) return;
  state.on = true;
  collectDefaultMetrics({ register: registry });
}

export type ChatKind = "direct" | "group" | "room" | "thread";
export type StreamKind = "durable" | "room" | "live";
export type DatabaseErrorKind = "connection" | "query";

/** Counts kept as numbers and handed to a labelled counter when scraped: one series per value, 0 included. */
function tally<L extends string>(name: string, help: string, label: string, values: readonly L[]) {
  const counts = Object.fromEntries(values.map((value) => [value, 0])) as Record<L, number>;
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const value of values) this.inc({ [label]: value }, counts[value]);
    },
  });
  return counts;
}

const stored = tally("im_messages_stored_total", "Messages stored, by chat kind.", "chat", [
  "direct",
  "group",
  "room",
  "thread",
] as const);

const delivered = tally(
  "im_events_delivered_total",
  "Events written to clients' streams: durable (user and group logs), room traffic, live-only (typing, presence, commands).",
  "stream",
  ["durable", "room", "live"] as const,
);

const databaseErrors = tally(
  "im_database_errors_total",
  "Database failures: connections lost, and statements that failed other than on a unique key.",
  "kind",
  ["connection", "query"] as const,
);

const redisErrors = tally("im_redis_errors_total", "Redis connection errors, by client.", "role", [
  "command",
  "subscriber",
] as const);

const deliveryLatency = new Histogram({
  name: "im_delivery_latency_seconds",
  help: "From an event's commit to its write to a live stream's socket (replayed backlogs left out).",
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

const replaySizes = new Histogram({
  name: "im_stream_replay_events",
  help: "Events a stream resumed with `since` replayed before it went live.",
  buckets: [0, 1, 10, 50, 100, 500, 1000, 5000, 10_000, 50_000],
  registers: [registry],
});

const open = { streams: 0 };
new Gauge({
  name: "im_subscriptions_active",
  help: "Open `events` subscriptions (graphql-ws and SSE).",
  registers: [registry],
  collect() {
    this.set(open.streams);
  },
});

/** What each server in this process reports when scraped (one, but for tests). */
const sockets = new Set<() => number>();
new Gauge({
  name: "im_websockets_open",
  help: "Open WebSocket connections.",
  registers: [registry],
  collect() {
    let count = 0;
    for (const size of sockets) count += size();
    this.set(count);
  },
});

/** Counts `size()` into im_websockets_open while registered; returns the unregistration. */
export function countSockets(size: () => number): () => void {
  sockets.add(size);
  return () => sockets.delete(size);
}

export function countStored(chat: ChatKind, messages = 1): void {
  stored[chat] += messages;
}

/** An event written to a stream; with `committedAt`, a live one whose latency is observed. */
export function countDelivered(stream: StreamKind, committedAt?: Date): void {
  delivered[stream]++;
  if (committedAt && state.on) {
    deliveryLatency.observe(Math.max(0, Date.now() - committedAt.getTime()) / 1000);
  }
}

export function observeReplay(events: number): void {
  if (state.on) replaySizes.observe(events);
}

export function streamOpened(): void {
  open.streams++;
}

export function streamClosed(): void {
  open.streams--;
}

export function countDatabaseError(kind: DatabaseErrorKind): void {
  databaseErrors[kind]++;
}

export function countRedisError(role: string): void {
  if (role === "command" || role === "subscriber") redisErrors[role]++;
}
