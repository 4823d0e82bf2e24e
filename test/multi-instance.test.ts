import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { readMigrations } from "../src/db/migrate.js";
import { spawnServer, type TestServer, testStorage } from "./helpers/app.js";
import { connect, EVENTS, eventually, fails, ok, subscribe } from "./helpers/client.js";
import { servicesMode } from "./helpers/env.js";
import { adminToken, signIn, signUp } from "./helpers/factories.js";
import { cursorOf, sendText } from "./helpers/messaging.js";

const TEXT_STREAM = `subscription($since: String) {
  events(since: $since) { cursor event { __typename ... on MessageEvent { message { id body { ... on TextBody { text } } } } } }
}`;

// Two server processes sharing one PostgreSQL database and one Redis, as behind a load balancer.
describe("several instances", { skip: servicesMode ? false : "needs DATABASE_URL and REDIS_URL" }, () => {
  let storage: Awaited<ReturnType<typeof testStorage>>;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    storage = await testStorage();
    // Started together on an empty database: the migration lock lets only one of them migrate.
    [a, b] = await Promise.all([spawnServer(storage.env), spawnServer(storage.env)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await storage?.cleanup();
  });

  it("applied each migration exactly once", async () => {
    const client = new pg.Client({ connectionString: storage.env.DATABASE_URL });
    await client.connect();
    try {
      const rows = await client.query(
        `SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name`,
      );
      assert.deepEqual(
        rows.rows.map((row) => row.migration_name),
        readMigrations().map((migration) => migration.name),
      );
    } finally {
      await client.end();
    }
  });

  it("delivers a message sent through B to a device connected to A, as fast as within one instance", async () => {
    const alice = await signUp(a.url);
    const bob = await signUp(b.url);
    const socket = connect(a.url, bob.token);
    await socket.connected;
    const events = subscribe(socket, TEXT_STREAM, { since: await cursorOf(a.url, bob.token) });
    const latencies: Record<string, number[]> = { "via A": [], "via B": [] };
    for (let i = 0; i < 20; i++) {
      for (const [label, via] of [
        ["via A", a],
        ["via B", b],
      ] as const) {
        const started = performance.now();
        const sent = await sendText(via.url, alice.token, bob.username, `${label} ${i}`);
        const received = await events.next();
        latencies[label]!.push(performance.now() - started);
        assert.equal(received.data?.events.event.message.id, sent.id);
      }
    }
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
    // Generous: the point is that no cross-instance path waits for a poll.
    assert.ok(median(latencies["via B"]!) < 200, `median via B ${median(latencies["via B"]!)} ms`);
    await socket.dispose();
  });

  it("resumes a device on the other instance from its cursor without loss or repeats", async () => {
    const alice = await signUp(a.url);
    const bob = await signUp(a.url);
    const received: string[] = [];
    let cursor = await cursorOf(a.url, bob.token);
    const sending = (async () => {
      for (let i = 0; i < 120; i++) await sendText(i % 2 ? a.url : b.url, alice.token, bob.username, `n${i}`);
    })();
    for (let round = 0; received.length < 120; round++) {
      const server = round % 2 ? b : a;
      const socket = connect(server.url, bob.token);
      await socket.connected;
      const events = subscribe(socket, TEXT_STREAM, { since: cursor });
      for (let i = 0; i < 17 && received.length < 120; i++) {
        const next = await events.next(10_000);
        received.push(next.data?.events.event.message.body.text);
        cursor = next.data?.events.cursor;
      }
      socket.client.terminate();
    }
    await sending;
    assert.deepEqual(
      received,
      Array.from({ length: 120 }, (_, i) => `n${i}`),
    );
  });

  it("a session ended through instance A closes the device's connection held by instance B", async () => {
    const alice = await signUp(a.url);
    const phone = await signIn(b.url, alice.username, "ios");
    const socket = connect(b.url, phone.token);
    await socket.connected;
    const events = subscribe(socket, EVENTS);
    await ok(
      a.url,
      "mutation($id: ID!) { logoutDevice(deviceId: $id) }",
      { id: phone.deviceId },
      alice.token,
    );
    assert.deepEqual((await events.next()).data?.events.event, {
      __typename: "SessionEvent",
      kind: "LOGGED_OUT",
    });
    assert.equal((await socket.closed).code, 4403);
    await fails("UNAUTHENTICATED", b.url, "{ me { id } }", {}, phone.token);
  });

  it("bans through one instance disconnect devices on both", async () => {
    const alice = await signUp(a.url);
    const phone = await signIn(b.url, alice.username, "ios");
    const sockets = [connect(a.url, alice.token), connect(b.url, phone.token)];
    await Promise.all(sockets.map((socket) => socket.connected));
    const streams = sockets.map((socket) => subscribe(socket, EVENTS));
    await ok(
      b.url,
      "mutation($u: String!) { adminBanUser(username: $u) }",
      { u: alice.username },
      await adminToken(b.url),
    );
    for (const [i, stream] of streams.entries()) {
      assert.equal((await stream.next()).data?.events.event.kind, "BANNED");
      assert.equal((await sockets[i]!.closed).code, 4403);
    }
  });

  it("shows the same presence and the same login limits whichever instance answers", async () => {
    const alice = await signUp(a.url);
    const socket = connect(b.url, alice.token);
    await socket.connected;
    const STATUS = "query($u: [String!]!) { adminOnlineStatus(usernames: $u) { online devices { online } } }";
    const admin = await adminToken(a.url);
    const seen = await ok(a.url, STATUS, { u: [alice.username] }, admin);
    assert.deepEqual(seen.adminOnlineStatus, [{ online: true, devices: [{ online: true }] }]);
    await socket.dispose();
    await eventually(
      async () => !(await ok(a.url, STATUS, { u: [alice.username] }, admin)).adminOnlineStatus[0].online,
      5000,
      "alice offline on instance A",
    );
    // Failed sign-ins counted on A and B together hit the shared limit (default 10).
    const LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }";
    for (let i = 0; i < 10; i++) {
      await fails("UNAUTHENTICATED", i % 2 ? a.url : b.url, LOGIN, {
        u: alice.username,
        p: "wrong-password",
      });
    }
    await fails("RATE_LIMITED", a.url, LOGIN, { u: alice.username, p: "wrong-password" });
    await fails("RATE_LIMITED", b.url, LOGIN, { u: alice.username, p: "wrong-password" });
  });
});
