import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { spawnServer, type TestServer, testStorage } from "./helpers/app.js";
import { connect, eventually, ok } from "./helpers/client.js";
import { servicesMode } from "./helpers/env.js";
import { signUp } from "./helpers/factories.js";
import { follow } from "./helpers/messaging.js";

const TIMEOUT_SECONDS = 3;
const PRESENCE = "query($u: [String!]!) { presence(usernames: $u) { online devices { id online } } }";

// Presence shared through Redis by two server processes, one of which dies without a goodbye.
describe("presence across instances", {
  skip: servicesMode ? false : "needs DATABASE_URL and REDIS_URL",
}, () => {
  let storage: Awaited<ReturnType<typeof testStorage>>;
  let a: TestServer;
  let b: TestServer & { process: import("node:child_process").ChildProcess };
  before(async () => {
    storage = await testStorage();
    const env = { ...storage.env, PRESENCE_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS) };
    a = await spawnServer(env);
    b = await spawnServer(env);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await storage?.cleanup();
  });

  it("shows a killed instance's devices offline within PRESENCE_TIMEOUT_SECONDS", async () => {
    const watcher = await signUp(a.url);
    const bob = await signUp(a.url);
    const watching = await follow(a.url, watcher);
    await ok(
      a.url,
      "mutation($u: [String!]!) { subscribePresence(usernames: $u) { online } }",
      { u: [bob.username] },
      watcher.token,
    );

    const socket = connect(b.url, bob.token); // bob's only connection is on B
    await socket.connected;
    const online = await watching.events.next();
    assert.deepEqual(
      [online.data!.events.event.__typename, online.data!.events.event.online],
      ["PresenceEvent", true],
      "a connection on B is announced to a subscriber on A",
    );
    const seen = await ok(a.url, PRESENCE, { u: [bob.username] }, bob.token);
    assert.deepEqual(seen.presence[0], { online: true, devices: [{ id: bob.deviceId, online: true }] });

    const killedAt = Date.now();
    b.process.kill("SIGKILL");
    const offline = await watching.events.next(TIMEOUT_SECONDS * 1000 + 1000);
    const elapsed = Date.now() - killedAt;
    assert.deepEqual(
      [offline.data!.events.event.__typename, offline.data!.events.event.online],
      ["PresenceEvent", false],
    );
    assert.ok(elapsed <= TIMEOUT_SECONDS * 1000, `announced offline after ${elapsed} ms`);
    const after = await ok(a.url, PRESENCE, { u: [bob.username] }, bob.token);
    assert.deepEqual(after.presence[0], { online: false, devices: [{ id: bob.deviceId, online: false }] });

    // Back on the surviving instance: online again, announced once.
    const again = connect(a.url, bob.token);
    await again.connected;
    const back = await watching.events.next();
    assert.equal(back.data!.events.event.online, true);
    await again.dispose();
    const gone = await watching.events.next();
    assert.equal(gone.data!.events.event.online, false);
    await socket.dispose().catch(() => {});
    await watching.socket.dispose();
  });

  it("comes back after Redis loses the presence keys", async () => {
    const carol = await signUp(a.url);
    const socket = connect(a.url, carol.token);
    await socket.connected;
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      const keys = await redis.keys(`${storage.env.REDIS_PREFIX}presence:*`);
      assert.ok(keys.length > 0);
      await redis.del(...keys);
      const lost = await ok(a.url, PRESENCE, { u: [carol.username] }, carol.token);
      assert.equal(lost.presence[0].online, false, "the keys are really gone");
      // The next heartbeat finds the instance missing and registers its connections again.
      await eventually(
        async () => (await ok(a.url, PRESENCE, { u: [carol.username] }, carol.token)).presence[0].online,
        TIMEOUT_SECONDS * 1000,
        "carol online again",
      );
    } finally {
      redis.disconnect();
      await socket.dispose();
    }
  });
});
