import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { ConfigError, loadConfig } from "../src/config.js";
import { spawnServer, startApp, testStorage } from "./helpers/app.js";
import { fails, gql, ok, subscribe } from "./helpers/client.js";
import { servicesMode } from "./helpers/env.js";
import { signUp } from "./helpers/factories.js";
import { cursorOf, follow, nextEvent, SEND, sendText, streamEvents } from "./helpers/messaging.js";
import { connect, url, useTestServer } from "./helpers/test-server.js";

// GET /metrics as Prometheus scrapes it: the text format, parsed, and the series that should have
// moved after what the test did. Figures are compared with a scrape taken before, so other tests'
// traffic on this file's server cannot make one pass or fail.

const TOKEN = "metrics-token-0123456789";
// The post-send webhook points at a port nothing listens on: its calls fail and wait in the outbox.
useTestServer({
  METRICS_TOKEN: TOKEN,
  POST_SEND_WEBHOOK_URL: "http://127.0.0.1:9/unreachable",
  WEBHOOK_SECRET: "webhook-secret-0123456789",
});

type Series = { name: string; labels: Record<string, string>; value: number }[];

/** Prometheus's text exposition format (0.0.4), samples only. */
function parse(text: string): Series {
  const series: Series = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of match[2]?.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g) ?? []) {
      labels[key!] = value!;
    }
    series.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return series;
}

/** The sum of the samples named `name` whose labels include `labels`; undefined when there is none. */
function sample(series: Series, name: string, labels: Record<string, string> = {}): number | undefined {
  const matching = series.filter(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

const metricsUrl = (at: string) => new URL("/metrics", at).toString();

async function scrape(at = url, token = TOKEN): Promise<Series> {
  const response = await fetch(metricsUrl(at), { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200, await response.clone().text());
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parse(await response.text());
}

/** Scrapes until `check` holds for the difference from `before` (what one figure moved by). */
async function eventuallyMoved(
  before: Series,
  check: (moved: (name: string, labels?: Record<string, string>) => number, now: Series) => boolean,
  what: string,
): Promise<Series> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const now = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) =>
      (sample(now, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    if (check(moved, now)) return now;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("GET /metrics", () => {
  it("counts operations by name, type and outcome, over HTTP and graphql-ws, with their durations", async () => {
    const alice = await signUp(url);
    const before = await scrape();
    await ok(url, "query MetricsPing { __typename }");
    await ok(url, "query MetricsPing { __typename }");
    await fails("UNAUTHENTICATED", url, "query MetricsMe { me { id } }");
    await fails(
      "NOT_FOUND",
      url,
      SEND.replace("mutation Send(", "mutation MetricsSend("),
      {
        to: { user: "nobody-by-this-name" },
        body: { text: { text: "hello?" } },
      },
      alice.token,
    );
    await fails("BAD_USER_INPUT", url, "query MetricsInvalid { noSuchField }");
    await fails("BAD_USER_INPUT", url, "query MetricsUnparsable {");
    const socket = connect(alice.token);
    await socket.connected;
    const overSocket = subscribe(socket, "query MetricsOverSocket { me { username } }");
    assert.equal((await overSocket.next()).data?.me.username, alice.username);

    await eventuallyMoved(
      before,
      (moved) => {
        const count = (operation: string, type: string, outcome: string) =>
          moved("im_graphql_operations_total", { operation, type, outcome });
        return (
          count("MetricsPing", "query", "ok") === 2 &&
          count("MetricsMe", "query", "UNAUTHENTICATED") === 1 &&
          count("MetricsSend", "mutation", "NOT_FOUND") === 1 &&
          count("MetricsInvalid", "query", "BAD_USER_INPUT") === 1 &&
          // A document that does not parse has no name or type to tell.
          count("anonymous", "unknown", "BAD_USER_INPUT") === 1 &&
          count("MetricsOverSocket", "query", "ok") === 1 &&
          moved("im_graphql_operation_duration_seconds_count", { operation: "MetricsPing" }) === 2 &&
          moved("im_graphql_operation_duration_seconds_count", { operation: "MetricsSend" }) === 1
        );
      },
      "the operations' counts",
    );
  });

  it("counts messages stored and delivered to a connected subscriber, their latency, sockets and subscriptions", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const idle = await scrape();
    const bobDevice = await follow(url, bob);
    await eventuallyMoved(
      idle,
      (moved) => moved("im_websockets_open") === 1 && moved("im_subscriptions_active") === 1,
      "bob's socket and stream",
    );

    const before = await scrape();
    for (let i = 0; i < 3; i++) await sendText(url, alice.token, bob.username, `hello ${i}`);
    for (let i = 0; i < 3; i++) await nextEvent(bobDevice.events, "MessageEvent");
    const group = await ok(
      url,
      "mutation($name: String!, $members: [String!]) { createGroup(name: $name, members: $members) { id } }",
      { name: "metrics", members: [bob.username] },
      alice.token,
    );
    await ok(
      url,
      SEND,
      { to: { group: group.createGroup.id }, body: { text: { text: "all" } } },
      alice.token,
    );

    await eventuallyMoved(
      before,
      (moved) =>
        moved("im_messages_stored_total", { chat: "direct" }) === 3 &&
        moved("im_messages_stored_total", { chat: "group" }) === 1 &&
        // Bob's one device: three direct messages and the group's message (and its creation).
        moved("im_events_delivered_total", { stream: "durable" }) >= 4 &&
        moved("im_delivery_latency_seconds_count") >= 4 &&
        moved("im_stream_replay_events_count") === 0,
      "the messages stored and delivered",
    );

    await bobDevice.socket.dispose();
    await eventuallyMoved(
      idle,
      (moved) => moved("im_websockets_open") === 0 && moved("im_subscriptions_active") === 0,
      "bob's socket to close",
    );
  });

  it("observes how many events a resumed stream replays", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const since = await cursorOf(url, bob.token);
    for (let i = 0; i < 4; i++) await sendText(url, alice.token, bob.username, `while away ${i}`);
    const before = await scrape();
    const socket = connect(bob.token);
    await socket.connected;
    const events = streamEvents(socket, since);
    for (let i = 0; i < 4; i++) await nextEvent(events, "MessageEvent");

    await eventuallyMoved(
      before,
      (moved) =>
        moved("im_stream_replay_events_count") === 1 &&
        moved("im_stream_replay_events_sum") === 4 &&
        moved("im_events_delivered_total", { stream: "durable" }) === 4 &&
        // Replayed events are not live deliveries: their age is not a delivery latency.
        moved("im_delivery_latency_seconds_count") === 0,
      "the replay's size",
    );
  });

  it("shows queue depths: outbox entries waiting for an unreachable webhook, and push jobs", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    await sendText(url, alice.token, bob.username, "for the webhook");
    await eventuallyMoved(
      [],
      (_, now) =>
        (sample(now, "im_outbox_entries_pending", { consumer: "post-send" }) ?? 0) >= 1 &&
        sample(now, "im_push_jobs_pending") !== undefined,
      "the outbox's depth",
    );
  });

  it("reports the process: CPU, memory, event loop", async () => {
    const now = await scrape();
    for (const name of [
      "process_cpu_user_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_seconds",
    ]) {
      assert.ok(sample(now, name) !== undefined, `${name} is missing`);
    }
    assert.ok(sample(now, "im_database_errors_total", { kind: "query" }) !== undefined);
    assert.ok(sample(now, "im_redis_errors_total", { role: "command" }) !== undefined);
  });

  it("wants METRICS_TOKEN as a bearer token", async () => {
    const missing = await fetch(metricsUrl(url));
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer/);
    const wrong = await fetch(metricsUrl(url), { headers: { authorization: "Bearer not-the-token-at-all" } });
    assert.equal(wrong.status, 401);
    assert.doesNotMatch(await wrong.text(), /im_/);
    const right = await fetch(metricsUrl(url), { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(right.status, 200);
    assert.ok(right.headers.get("x-request-id"));
  });

  it("refuses a METRICS_TOKEN that could be guessed, and a METRICS that is not a boolean", () => {
    assert.throws(() => loadConfig({ METRICS_TOKEN: "short" }), ConfigError);
    assert.throws(() => loadConfig({ METRICS: "sometimes" }), /METRICS must be true or false/);
  });
});

describe("METRICS=false", () => {
  let off: Awaited<ReturnType<typeof startApp>>;
  before(async () => {
    off = await startApp({ METRICS: "false" });
  });
  after(() => off.stop());

  it("has no /metrics, and serves GraphQL as before", async () => {
    const response = await fetch(metricsUrl(off.url));
    assert.equal(response.status, 404);
    assert.equal((await gql(off.url, "{ __typename }")).data?.__typename, "Query");
  });
});

/** One request on its own connection, so the cluster's round robin can hand it to any worker. */
function freshConnectionPost(at: string, query: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(at, {
      method: "POST",
      agent: false,
      headers: { "content-type": "application/json" },
    });
    req.on("response", (response) => {
      response.resume();
      response.on("end", resolve);
    });
    req.on("error", reject);
    req.end(JSON.stringify({ query }));
  });
}

describe("several workers", { skip: servicesMode ? false : "needs DATABASE_URL and REDIS_URL" }, () => {
  it("shows the whole server in one scrape, whichever worker answers it", async () => {
    const storage = await testStorage();
    after(() => storage.cleanup());
    const running = await spawnServer({ ...storage.env, WORKERS: "2" });
    after(() => running.stop());
    for (let i = 0; i < 8; i++) await freshConnectionPost(running.url, "query MetricsSpread { __typename }");
    // Each scrape reaches one worker or the other; each must show all eight.
    for (let i = 0; i < 4; i++) {
      const response = await fetch(metricsUrl(running.url), { headers: { connection: "close" } });
      assert.equal(response.status, 200, running.stderr());
      const series = parse(await response.text());
      assert.equal(
        sample(series, "im_graphql_operations_total", { operation: "MetricsSpread", outcome: "ok" }),
        8,
      );
    }
  });
});
