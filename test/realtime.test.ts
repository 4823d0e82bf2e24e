import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer } from "./helpers/app.js";
import { connect, EVENTS, fails, ok, subscribe } from "./helpers/client.js";
import { adminToken, signIn, signUp } from "./helpers/factories.js";

let server: TestServer;
let url: string;
before(async () => {
  server = await startApp();
  url = server.url;
});
after(() => server.stop());

describe("graphql-ws authentication", () => {
  it("accepts a valid token from connectionParams.authorization and runs operations as that user", async () => {
    const alice = await signUp(url);
    const socket = connect(url, alice.token);
    await socket.connected;
    const me = subscribe(socket, "{ me { username } }");
    assert.equal((await me.next()).data?.me.username, alice.username);
    await socket.dispose();
  });

  it("closes with 4403 for a bad, a missing and a revoked token", async () => {
    assert.equal((await connect(url, "imu_not-a-real-token").closed).code, 4403);
    assert.equal((await connect(url, "garbage").closed).code, 4403);
    assert.equal((await connect(url).closed).code, 4403);
    const alice = await signUp(url);
    await ok(url, "mutation { logout }", {}, alice.token);
    assert.equal((await connect(url, alice.token).closed).code, 4403);
  });

  it("refuses the events stream to an admin token, which is no device", async () => {
    const admin = await adminToken(url);
    const socket = connect(url, admin);
    await socket.connected;
    const events = subscribe(socket, EVENTS);
    const result = await events.next();
    assert.equal(result.errors?.[0]?.extensions?.code, "FORBIDDEN");
    await socket.dispose();
  });

  it("answers invalid subscriptions with BAD_USER_INPUT errors, keeping the connection", async () => {
    const alice = await signUp(url);
    const socket = connect(url, alice.token);
    await socket.connected;
    const invalid = subscribe(socket, "subscription { nope }");
    assert.equal((await invalid.next()).errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    const syntax = subscribe(socket, "subscription {");
    assert.equal((await syntax.next()).errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    const me = subscribe(socket, "{ me { username } }");
    assert.equal((await me.next()).data?.me.username, alice.username);
    await socket.dispose();
  });
});

describe("session end on open connections", () => {
  it("sends SessionEvent LOGGED_OUT to every stream of the device, then closes it; other devices stay", async () => {
    const alice = await signUp(url);
    const laptop = await signIn(url, alice.username, "macos");
    const [first, second, other] = [
      connect(url, alice.token),
      connect(url, alice.token),
      connect(url, laptop.token),
    ];
    await Promise.all([first.connected, second.connected, other.connected]);
    const streams = [subscribe(first, EVENTS), subscribe(first, EVENTS), subscribe(second, EVENTS)];
    const otherStream = subscribe(other, EVENTS);
    await ok(url, "mutation($id: ID!) { logoutDevice(deviceId: $id) }", { id: alice.deviceId }, laptop.token);
    for (const stream of streams) {
      const envelope = (await stream.next()).data?.events;
      assert.equal(envelope.event.kind, "LOGGED_OUT");
      assert.ok(Math.abs(Date.parse(envelope.createdAt) - Date.now()) < 10_000);
    }
    const closes = await Promise.all([first.closed, second.closed]);
    assert.deepEqual(
      closes.map((c) => c.code),
      [4403, 4403],
    );
    assert.match(closes[0]!.reason, /LOGGED_OUT/);
    // The laptop's own connection got nothing and is still usable.
    assert.equal(otherStream.received.length, 0);
    const me = subscribe(other, "{ me { username } }");
    assert.equal((await me.next()).data?.me.username, alice.username);
    await other.dispose();
  });

  it("closes a connection with no open stream too", async () => {
    const alice = await signUp(url);
    const socket = connect(url, alice.token);
    await socket.connected;
    await ok(url, "mutation { logout }", {}, alice.token);
    assert.equal((await socket.closed).code, 4403);
  });

  it("lets a device end its own session from the connection it is closing", async () => {
    const alice = await signUp(url);
    const socket = connect(url, alice.token);
    await socket.connected;
    const events = subscribe(socket, EVENTS);
    const logout = subscribe(socket, "mutation { logout }");
    const loggedOut = await logout.next();
    assert.equal(loggedOut.data?.logout, true);
    assert.equal((await events.next()).data?.events.event.kind, "LOGGED_OUT");
    assert.equal((await socket.closed).code, 4403);
    await fails("UNAUTHENTICATED", url, "{ me { id } }", {}, alice.token);
  });
});

describe("server-sent events", () => {
  it("delivers the session end to an events stream over SSE (as GraphiQL subscribes) and ends it", async () => {
    const alice = await signUp(url);
    const response = await fetch(`${url}?query=${encodeURIComponent(EVENTS)}`, {
      headers: { accept: "text/event-stream", authorization: `Bearer ${alice.token}` },
    });
    assert.equal(response.status, 200);
    const body = response.text(); // resolves when the server ends the stream
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the stream start watching
    await ok(url, "mutation { logout }", {}, alice.token);
    const text = await body;
    const data = text
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice(6)));
    assert.equal(data[0]?.data?.events.event.kind, "LOGGED_OUT");
  });
});
