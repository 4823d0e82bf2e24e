import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer } from "./helpers/app.js";
import { connect, EVENTS, eventually, fails, ok, subscribe } from "./helpers/client.js";
import { ADMIN, uniqueName } from "./helpers/env.js";
import { adminToken, PASSWORD, signIn, signUp } from "./helpers/factories.js";

let server: TestServer;
let url: string;
let admin: string;
before(async () => {
  server = await startApp();
  url = server.url;
  admin = await adminToken(url);
});
after(() => server.stop());

const ME = "{ me { id username } }";
const LOGIN = `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }`;
const CREATE = `mutation($users: [AdminUserInput!]!) { adminCreateUsers(users: $users) { id username nickname } }`;

describe("admin token", () => {
  it("is exchanged for the configured credential pair and expires", async () => {
    const data = await ok(
      url,
      "mutation($i: String!, $s: String!) { adminToken(clientId: $i, clientSecret: $s) { token expiresAt } }",
      {
        i: ADMIN.clientId,
        s: ADMIN.clientSecret,
      },
    );
    const expiresIn = new Date(data.adminToken.expiresAt).getTime() - Date.now();
    assert.ok(expiresIn > 86_000_000 && expiresIn <= 86_400_000, `expires in ${expiresIn} ms`);
  });

  it("refuses a wrong secret or client id with UNAUTHENTICATED", async () => {
    const EXCHANGE =
      "mutation($i: String!, $s: String!) { adminToken(clientId: $i, clientSecret: $s) { token } }";
    await fails("UNAUTHENTICATED", url, EXCHANGE, { i: ADMIN.clientId, s: "wrong-secret-0123456789" });
    await fails("UNAUTHENTICATED", url, EXCHANGE, { i: "someone-else", s: ADMIN.clientSecret });
  });

  it("guards every admin operation: FORBIDDEN for users, UNAUTHENTICATED without a token", async () => {
    const alice = await signUp(url);
    const calls = [
      [CREATE, { users: [{ username: uniqueName(), password: PASSWORD }] }],
      ["mutation($u: String!) { adminIssueUserToken(username: $u) { token } }", { u: alice.username }],
      ["mutation($u: String!) { adminDeleteUser(username: $u) }", { u: alice.username }],
      ["mutation($u: String!) { adminBanUser(username: $u) }", { u: alice.username }],
      ["mutation($u: String!) { adminUnbanUser(username: $u) }", { u: alice.username }],
      ["mutation($u: String!) { adminForceLogout(username: $u) }", { u: alice.username }],
      ["query($u: [String!]!) { adminOnlineStatus(usernames: $u) { online } }", { u: [alice.username] }],
    ] as const;
    for (const [query, variables] of calls) {
      await fails("FORBIDDEN", url, query, variables, alice.token);
      await fails("UNAUTHENTICATED", url, query, variables);
    }
    await ok(url, ME, {}, alice.token); // none of them did anything
    // And the admin token is not a user: user operations are FORBIDDEN to it.
    await fails("FORBIDDEN", url, ME, {}, admin);
  });
});

describe("adminCreateUsers", () => {
  it("creates users in bulk who can then sign in", async () => {
    const users = Array.from({ length: 3 }, (_, i) => ({
      username: uniqueName(),
      password: PASSWORD,
      nickname: `N${i}`,
    }));
    const data = await ok(url, CREATE, { users }, admin);
    assert.deepEqual(
      data.adminCreateUsers.map((u: { username: string; nickname: string }) => [u.username, u.nickname]),
      users.map((u) => [u.username, u.nickname]),
    );
    await ok(url, LOGIN, { u: users[2]!.username, p: PASSWORD });
  });

  it("is all or nothing: one taken, repeated or invalid name fails the batch", async () => {
    const taken = (await signUp(url)).username;
    const fresh = uniqueName();
    await fails(
      "CONFLICT",
      url,
      CREATE,
      {
        users: [
          { username: fresh, password: PASSWORD },
          { username: taken, password: PASSWORD },
        ],
      },
      admin,
    );
    await fails(
      "CONFLICT",
      url,
      CREATE,
      {
        users: [
          { username: fresh, password: PASSWORD },
          { username: fresh.toUpperCase(), password: PASSWORD },
        ],
      },
      admin,
    );
    const message = await fails(
      "BAD_USER_INPUT",
      url,
      CREATE,
      {
        users: [
          { username: fresh, password: PASSWORD },
          { username: "bad name", password: PASSWORD },
        ],
      },
      admin,
    );
    assert.match(message, /users\[1\]\.username/);
    await fails("UNAUTHENTICATED", url, LOGIN, { u: fresh, p: PASSWORD }); // the fresh one was not created
  });

  it("takes at most 60 users", async () => {
    const users = Array.from({ length: 61 }, () => ({ username: uniqueName(), password: PASSWORD }));
    await fails("LIMIT_EXCEEDED", url, CREATE, { users }, admin);
  });
});

describe("user administration", () => {
  it("issues a user token without the password", async () => {
    const alice = await signUp(url);
    const data = await ok(
      url,
      'mutation($u: String!) { adminIssueUserToken(username: $u, deviceName: "backend") { token user { username } device { name platform } } }',
      { u: alice.username.toUpperCase() },
      admin,
    );
    assert.deepEqual(data.adminIssueUserToken.device, { name: "backend", platform: "api" });
    assert.equal((await ok(url, ME, {}, data.adminIssueUserToken.token)).me.username, alice.username);
    await fails(
      "NOT_FOUND",
      url,
      'mutation { adminIssueUserToken(username: "no-such-user") { token } }',
      {},
      admin,
    );
  });

  it("bans: every device gets SessionEvent BANNED and is disconnected; login says USER_BANNED until unbanned", async () => {
    const alice = await signUp(url);
    const phone = await signIn(url, alice.username, "ios");
    const sockets = [connect(url, alice.token), connect(url, phone.token)];
    await Promise.all(sockets.map((s) => s.connected));
    const streams = sockets.map((s) => subscribe(s, EVENTS));
    await ok(
      url,
      'mutation($u: String!) { adminBanUser(username: $u, reason: "spam") }',
      { u: alice.username },
      admin,
    );
    for (const [i, stream] of streams.entries()) {
      const event = await stream.next();
      assert.deepEqual(event.data?.events.event, { __typename: "SessionEvent", kind: "BANNED" });
      assert.equal(event.data?.events.cursor, null);
      assert.equal((await sockets[i]!.closed).code, 4403);
    }
    await fails("UNAUTHENTICATED", url, ME, {}, phone.token);
    await fails("USER_BANNED", url, LOGIN, { u: alice.username, p: PASSWORD });
    await fails(
      "USER_BANNED",
      url,
      "mutation($u: String!) { adminIssueUserToken(username: $u) { token } }",
      { u: alice.username },
      admin,
    );
    // A reconnect with the old token is refused at the door.
    assert.equal((await connect(url, alice.token).closed).code, 4403);

    await ok(url, "mutation($u: String!) { adminUnbanUser(username: $u) }", { u: alice.username }, admin);
    await ok(url, LOGIN, { u: alice.username, p: PASSWORD });
    await fails("UNAUTHENTICATED", url, ME, {}, alice.token); // unbanning does not revive ended sessions
  });

  it("force-logs-out one device, or all of them", async () => {
    const alice = await signUp(url);
    const phone = await signIn(url, alice.username, "ios");
    const tablet = await signIn(url, alice.username, "ipad");
    const socket = connect(url, phone.token);
    await socket.connected;
    const stream = subscribe(socket, EVENTS);
    const FORCE = "mutation($u: String!, $d: ID) { adminForceLogout(username: $u, deviceId: $d) }";
    await ok(url, FORCE, { u: alice.username, d: phone.deviceId }, admin);
    assert.equal((await stream.next()).data?.events.event.kind, "KICKED");
    assert.equal((await socket.closed).code, 4403);
    await ok(url, ME, {}, alice.token);
    await fails("NOT_FOUND", url, FORCE, { u: alice.username, d: phone.deviceId }, admin);
    const bob = await signUp(url);
    await fails("NOT_FOUND", url, FORCE, { u: alice.username, d: bob.deviceId }, admin); // not alice's
    await ok(url, ME, {}, bob.token);
    await ok(url, FORCE, { u: alice.username }, admin);
    await fails("UNAUTHENTICATED", url, ME, {}, alice.token);
    await fails("UNAUTHENTICATED", url, ME, {}, tablet.token);
  });

  it("deletes a user: sessions end, the name is gone and can be registered again", async () => {
    const alice = await signUp(url);
    const socket = connect(url, alice.token);
    await socket.connected;
    const stream = subscribe(socket, EVENTS);
    await ok(url, "mutation($u: String!) { adminDeleteUser(username: $u) }", { u: alice.username }, admin);
    assert.equal((await stream.next()).data?.events.event.kind, "USER_DELETED");
    assert.equal((await socket.closed).code, 4403);
    await fails("UNAUTHENTICATED", url, ME, {}, alice.token);
    await fails("UNAUTHENTICATED", url, LOGIN, { u: alice.username, p: PASSWORD });
    const bob = await signUp(url);
    const lookup = await ok(
      url,
      "query($u: String!) { user(username: $u) { id } }",
      { u: alice.username },
      bob.token,
    );
    assert.equal(lookup.user, null);
    await fails(
      "NOT_FOUND",
      url,
      "mutation($u: String!) { adminDeleteUser(username: $u) }",
      { u: alice.username },
      admin,
    );
    const again = await signUp(url, { username: alice.username });
    assert.notEqual(again.userId, alice.userId);
  });

  it("reports online status by device connection", async () => {
    const alice = await signUp(url);
    const phone = await signIn(url, alice.username, "ios");
    const STATUS = `query($u: [String!]!) {
      adminOnlineStatus(usernames: $u) { user { username } online lastSeenAt devices { id online } }
    }`;
    const offline = await ok(url, STATUS, { u: [alice.username, "nobody-here"] }, admin);
    assert.equal(offline.adminOnlineStatus.length, 1);
    assert.equal(offline.adminOnlineStatus[0].online, false);
    const socket = connect(url, phone.token);
    await socket.connected;
    const online = await ok(url, STATUS, { u: [alice.username] }, admin);
    assert.equal(online.adminOnlineStatus[0].online, true);
    assert.deepEqual(
      online.adminOnlineStatus[0].devices.map((d: { id: string; online: boolean }) => [d.id, d.online]),
      [
        [alice.deviceId, false],
        [phone.deviceId, true],
      ],
    );
    await socket.dispose();
    await eventually(
      async () => !(await ok(url, STATUS, { u: [alice.username] }, admin)).adminOnlineStatus[0].online,
      5000,
      "alice to go offline",
    );
  });
});
