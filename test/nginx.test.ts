import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { ROOT, spawnServer, type TestServer, testStorage } from "./helpers/app.js";
import { eventually, gql, wsUrl } from "./helpers/client.js";
import { servicesMode } from "./helpers/env.js";
import { signUp } from "./helpers/factories.js";
import { cursorOf, SEND } from "./helpers/messaging.js";
import { nginxBinary, type RunningNginx, startNginx } from "./helpers/nginx.js";

// deploy/nginx.conf in front of two instances, as docker-compose.yml runs them: round robin with no
// sticky sessions, WebSocket upgrades passed through, and a client whose instance goes away carries
// on through nginx on the other one, resuming its stream from its last cursor.

const TEXT_STREAM = `subscription($since: String) {
  events(since: $since) { cursor event { __typename ... on MessageEvent { message { body { ... on TextBody { text } } } } } }
}`;

const binary = nginxBinary();
const skip = !servicesMode
  ? "needs DATABASE_URL and REDIS_URL: two instances share PostgreSQL and Redis"
  : // CI installs nginx (.ci/run), so there a missing binary fails instead of skipping.
    binary === undefined && !process.env.CI
    ? "nginx is not installed (apt-get install nginx-light; .ci/run does)"
    : false;

const portOf = (url: string) => new URL(url).port;

describe("nginx in front of two instances (deploy/nginx.conf)", { skip }, () => {
  let storage: Awaited<ReturnType<typeof testStorage>>;
  let a: TestServer;
  let b: TestServer;
  let proxy: RunningNginx;
  before(async () => {
    assert.ok(binary, "nginx is not installed");
    storage = await testStorage();
    // One after the other: two start-ups at once (and migrations) on a loaded CI machine can take a minute.
    a = await spawnServer(storage.env);
    b = await spawnServer(storage.env);
    proxy = await startNginx(
      binary,
      [a.url, b.url].map((url) => `127.0.0.1:${portOf(url)}`),
    );
  });
  after(async () => {
    await proxy?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    await storage?.cleanup();
  });

  it("balances without stickiness and passes X-Request-Id both ways", async () => {
    const shipped = readFileSync(join(ROOT, "deploy/nginx.conf"), "utf8");
    const upstream = readFileSync(join(ROOT, "deploy/imserver-upstream.conf"), "utf8");
    for (const sticky of ["ip_hash", "hash ", "sticky"]) {
      assert.ok(!`${shipped}${upstream}`.includes(`\n  ${sticky}`), `no ${sticky} in the shipped config`);
    }
    const health = new URL("/healthz", proxy.url);
    for (let i = 0; i < 10; i++) assert.equal((await fetch(health)).status, 200);
    // The access log names the instance of each request: one client's requests reached both.
    await eventually(
      async () => [a, b].every((server) => proxy.accessLog().includes(`127.0.0.1:${portOf(server.url)} `)),
      5000,
      "requests on both instances in nginx's access log",
    );

    const given = await fetch(health, { headers: { "x-request-id": "deploy-check-42" } });
    assert.equal(given.headers.get("x-request-id"), "deploy-check-42");
    // Without one, nginx's own id (32 hex digits; the server's would be a UUID) reaches the server.
    const made = await fetch(health);
    assert.match(made.headers.get("x-request-id") ?? "", /^[0-9a-f]{32}$/);
  });

  it("keeps a client's stream when the instance behind its socket stops: it resumes through nginx, missing and repeating nothing", async () => {
    const alice = await signUp(proxy.url);
    const bob = await signUp(proxy.url);
    // A real client: graphql-ws reconnects on its own, and its subscription asks from the last cursor.
    const request = { query: TEXT_STREAM, variables: { since: await cursorOf(proxy.url, bob.token) } };
    let connections = 0;
    const received: string[] = [];
    let streamError: unknown;
    const client = createClient({
      url: wsUrl(proxy.url),
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 200,
      retryWait: () => new Promise((resolve) => setTimeout(resolve, 250)),
      shouldRetry: () => true,
      connectionParams: { authorization: `Bearer ${bob.token}` },
      onNonLazyError: () => {},
      on: { connected: () => connections++ },
    });
    after(() => client.dispose());
    client.subscribe<any>(request, {
      next: (result) => {
        const { cursor, event } = result.data.events;
        request.variables.since = cursor;
        if (event.__typename === "MessageEvent") received.push(event.message.body.text);
      },
      error: (error) => {
        streamError = error;
      },
      complete: () => {},
    });

    const sent: string[] = [];
    // Sends through nginx; a 502 while every instance it knows is marked down is retried, as a client would.
    const send = async (text: string) => {
      await eventually(
        async () => {
          const result = await gql(
            proxy.url,
            SEND,
            { to: { user: bob.username }, body: { text: { text } } },
            alice.token,
          ).catch(() => undefined);
          if (result?.errors) assert.fail(JSON.stringify(result.errors));
          return result !== undefined;
        },
        30_000,
        `sending ${text} through nginx`,
      );
      sent.push(text);
    };
    const arrived = (what: string) =>
      eventually(async () => received.length >= sent.length, 30_000, `${what}: ${sent.length} messages`);

    for (let i = 0; i < 3; i++) await send(`both up ${i}`);
    await arrived("with both instances up");
    assert.equal(connections, 1);

    await a.stop();
    for (let i = 0; i < 3; i++) await send(`A stopped ${i}`);
    await arrived("with A stopped");
    // Delivered on a new connection only if A held the socket (A is gone); otherwise B holds it:
    // bring A back on its port and stop B instead.
    if (connections === 1) {
      a = await spawnServer({ ...storage.env, PORT: portOf(a.url) });
      await b.stop();
      for (let i = 0; i < 3; i++) await send(`B stopped ${i}`);
      await arrived("with B stopped");
    }
    assert.equal(connections, 2, "the client reconnected once, through nginx");
    assert.equal(streamError, undefined);
    assert.deepEqual(received, sent);
  });
});

describe("deploy/nginx.conf and docker-compose.yml", () => {
  it("agree on the upload cap: nginx lets through every file the server takes, so the server's own error answers", () => {
    const shipped = readFileSync(join(ROOT, "deploy/nginx.conf"), "utf8");
    const compose = readFileSync(join(ROOT, "docker-compose.yml"), "utf8");
    const [, megabytes] = shipped.match(/client_max_body_size (\d+)m;/) ?? [];
    const [, maxUpload] = compose.match(/MAX_UPLOAD_BYTES: "(\d+)"/) ?? [];
    assert.ok(megabytes && maxUpload, "both set the cap");
    assert.ok(Number(megabytes) * 1024 * 1024 > Number(maxUpload), `${megabytes}m <= ${maxUpload} bytes`);
  });
});
