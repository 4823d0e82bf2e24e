import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer } from "./helpers/app.js";
import { connect, EVENTS, fails, gql, ok, subscribe } from "./helpers/client.js";
import { uniqueName } from "./helpers/env.js";
import { PASSWORD, type SignedIn, signIn, signUp } from "./helpers/factories.js";

let server: TestServer;
let url: string;
before(async () => {
  server = await startApp({ MAX_DEVICES_PER_PLATFORM: "2", LOGIN_MAX_FAILURES: "3" });
  url = server.url;
});
after(() => server.stop());

const REGISTER = `mutation($u: String!, $p: String!, $n: String) {
  register(username: $u, password: $p, nickname: $n) { token user { id username nickname ext avatarUrl } device { id platform } }
}`;
const LOGIN = `mutation($u: String!, $p: String!, $platform: String) {
  login(username: $u, password: $p, platform: $platform) { token user { username } device { id platform name } }
}`;
const ME = "{ me { id username nickname avatarUrl ext } }";

describe("register", () => {
  it("stores the username lower-case, defaults the nickname and signs the first device in", async () => {
    const name = uniqueName("Mixed.Case_");
    const data = await ok(url, REGISTER, { u: name, p: PASSWORD });
    assert.equal(data.register.user.username, name.toLowerCase());
    assert.equal(data.register.user.nickname, name.toLowerCase());
    assert.deepEqual(data.register.user.ext, {});
    assert.equal(data.register.device.platform, "unknown");
    const me = await ok(url, ME, {}, data.register.token);
    assert.equal(me.me.id, data.register.user.id);
  });

  it("refuses a taken username, whatever its case, with CONFLICT", async () => {
    const name = uniqueName();
    await ok(url, REGISTER, { u: name, p: PASSWORD });
    const message = await fails("CONFLICT", url, REGISTER, { u: name.toUpperCase(), p: PASSWORD });
    assert.match(message, /taken/);
  });

  it("enforces the username and password rules with BAD_USER_INPUT", async () => {
    for (const bad of ["", "a b", "ünïcode", "x".repeat(65), "semi;colon"]) {
      const message = await fails("BAD_USER_INPUT", url, REGISTER, { u: bad, p: PASSWORD });
      assert.match(message, /username must be 1-64 characters/);
    }
    assert.match(
      await fails("BAD_USER_INPUT", url, REGISTER, { u: uniqueName(), p: "12345" }),
      /password must be 6-64/,
    );
    await fails("BAD_USER_INPUT", url, REGISTER, { u: uniqueName(), p: "p".repeat(65) });
    await fails("BAD_USER_INPUT", url, REGISTER, { u: uniqueName(), p: PASSWORD, n: "n".repeat(65) });
    await fails("BAD_USER_INPUT", url, REGISTER, { u: uniqueName(), p: PASSWORD, n: "   " });
    // Exactly at the limits is fine.
    await ok(url, REGISTER, {
      u: `a${uniqueName().padEnd(63, "z")}`.slice(0, 64),
      p: "p".repeat(64),
      n: "n".repeat(64),
    });
  });

  it("answers malformed requests with BAD_USER_INPUT and writes nothing", async () => {
    const name = uniqueName();
    const missing = await gql(url, "mutation($u: String!) { register(username: $u) { token } }", { u: name });
    assert.equal(missing.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    const wrongType = await gql(url, REGISTER, { u: 42, p: PASSWORD });
    assert.equal(wrongType.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    const syntax = await gql(url, "mutation { register(");
    assert.equal(syntax.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    await fails("UNAUTHENTICATED", url, LOGIN, { u: name, p: PASSWORD });
  });
});

describe("login", () => {
  it("creates one device per login, listed by myDevices with the current one marked", async () => {
    const alice = await signUp(url);
    const phone = await ok(url, LOGIN, { u: alice.username.toUpperCase(), p: PASSWORD, platform: "iOS" });
    assert.equal(phone.login.device.platform, "ios");
    const devices = await ok(url, "{ myDevices { id platform current online } }", {}, phone.login.token);
    assert.deepEqual(
      devices.myDevices.map((d: { id: string; current: boolean }) => [d.id, d.current]),
      [
        [alice.deviceId, false],
        [phone.login.device.id, true],
      ],
    );
  });

  it("refuses a wrong password and an unknown user alike with UNAUTHENTICATED", async () => {
    const alice = await signUp(url);
    const wrong = await fails("UNAUTHENTICATED", url, LOGIN, { u: alice.username, p: "not-the-password" });
    const unknown = await fails("UNAUTHENTICATED", url, LOGIN, { u: uniqueName(), p: PASSWORD });
    assert.equal(wrong, unknown);
  });

  it("rate-limits repeated failures per username with RATE_LIMITED, even for the right password", async () => {
    const alice = await signUp(url);
    for (let i = 0; i < 3; i++)
      await fails("UNAUTHENTICATED", url, LOGIN, { u: alice.username, p: "wrong-password" });
    const message = await fails("RATE_LIMITED", url, LOGIN, { u: alice.username, p: PASSWORD });
    assert.match(message, /try again in \d+ seconds/);
    // Other usernames are not affected.
    const bob = await signUp(url);
    await ok(url, LOGIN, { u: bob.username, p: PASSWORD });
  });

  it("keeps at most MAX_DEVICES_PER_PLATFORM sessions per platform, ending the oldest with KICKED", async () => {
    const alice = await signUp(url, { platform: "android" });
    const socket = connect(url, alice.token);
    await socket.connected;
    const events = subscribe(socket, EVENTS);
    const second = await signIn(url, alice.username, "android");
    const web = await signIn(url, alice.username, "web"); // other platforms never push each other out
    await ok(url, ME, {}, alice.token);
    await signIn(url, alice.username, "android"); // third android session: the first one goes
    const event = await events.next();
    assert.deepEqual(event.data?.events.event, { __typename: "SessionEvent", kind: "KICKED" });
    assert.equal((await socket.closed).code, 4403);
    await fails("UNAUTHENTICATED", url, ME, {}, alice.token);
    await ok(url, ME, {}, second.token);
    await ok(url, ME, {}, web.token);
    const devices = await ok(url, "{ myDevices { platform } }", {}, web.token);
    assert.deepEqual(devices.myDevices.map((d: { platform: string }) => d.platform).sort(), [
      "android",
      "android",
      "web",
    ]);
  });

  it("counts concurrent logins on one platform correctly", async () => {
    const alice = await signUp(url, { platform: "desktop" });
    const logins = await Promise.all(Array.from({ length: 5 }, () => signIn(url, alice.username, "desktop")));
    const alive = await Promise.all(
      [alice, ...logins].map(async (s) => (await gql(url, ME, {}, s.token)).errors === undefined),
    );
    assert.equal(alive.filter(Boolean).length, 2);
  });
});

describe("profile", () => {
  let alice: SignedIn;
  before(async () => {
    alice = await signUp(url);
  });
  const UPDATE = `mutation($n: String, $a: String, $e: JSON) {
    updateProfile(nickname: $n, avatarUrl: $a, ext: $e) { nickname avatarUrl ext }
  }`;

  it("updates nickname, avatar and custom attributes; omitted ones stay, null clears the avatar", async () => {
    const ext = { city: "Hangzhou", tags: ["a", "b"], level: 3 };
    let data = await ok(
      url,
      UPDATE,
      { n: "  Alice 🐇 ", a: "https://cdn.example.com/a.png", e: ext },
      alice.token,
    );
    assert.deepEqual(data.updateProfile, {
      nickname: "Alice 🐇",
      avatarUrl: "https://cdn.example.com/a.png",
      ext,
    });
    data = await ok(
      url,
      "mutation { updateProfile(avatarUrl: null) { nickname avatarUrl ext } }",
      {},
      alice.token,
    );
    assert.deepEqual(data.updateProfile, { nickname: "Alice 🐇", avatarUrl: null, ext });
    const seen = await ok(
      url,
      "query($u: String!) { user(username: $u) { nickname ext } }",
      { u: alice.username },
      alice.token,
    );
    assert.deepEqual(seen.user, { nickname: "Alice 🐇", ext });
  });

  it("caps ext at 2 KB with LIMIT_EXCEEDED and rejects non-objects and bad URLs", async () => {
    await fails("LIMIT_EXCEEDED", url, UPDATE, { e: { blob: "x".repeat(2100) } }, alice.token);
    await fails("BAD_USER_INPUT", url, UPDATE, { e: [1, 2] }, alice.token);
    await fails("BAD_USER_INPUT", url, UPDATE, { e: "text" }, alice.token);
    await fails("BAD_USER_INPUT", url, UPDATE, { a: "javascript:alert(1)" }, alice.token);
    await fails("BAD_USER_INPUT", url, UPDATE, { n: "x".repeat(65) }, alice.token);
    await fails(
      "BAD_USER_INPUT",
      url,
      "mutation { updateProfile(nickname: null) { nickname } }",
      {},
      alice.token,
    );
    // Nothing of the refused updates was written.
    const me = await ok(url, ME, {}, alice.token);
    assert.notEqual(me.me.nickname.length, 65);
  });

  it("needs a signed-in user", async () => {
    await fails("UNAUTHENTICATED", url, UPDATE, { n: "x" });
    await fails("UNAUTHENTICATED", url, ME, {}, "imu_forged-token");
    await fails("UNAUTHENTICATED", url, ME, {}, "not even a token");
  });

  it("looks users up case-insensitively, in the order asked, leaving unknown names out", async () => {
    const bob = await signUp(url);
    const data = await ok(
      url,
      "query($names: [String!]!) { users(usernames: $names) { username } }",
      { names: [bob.username.toUpperCase(), "nobody-here", alice.username, bob.username, "bad name!"] },
      alice.token,
    );
    assert.deepEqual(
      data.users.map((u: { username: string }) => u.username),
      [bob.username, alice.username],
    );
    const none = await ok(url, '{ user(username: "nobody-at-all") { id } }', {}, alice.token);
    assert.equal(none.user, null);
    await fails(
      "LIMIT_EXCEEDED",
      url,
      "query($n: [String!]!) { users(usernames: $n) { id } }",
      {
        n: Array.from({ length: 101 }, (_, i) => `u${i}`),
      },
      alice.token,
    );
  });
});

describe("sessions", () => {
  it("logout ends only the calling device", async () => {
    const alice = await signUp(url);
    const other = await signIn(url, alice.username);
    assert.equal((await ok(url, "mutation { logout }", {}, alice.token)).logout, true);
    const message = await fails("UNAUTHENTICATED", url, ME, {}, alice.token);
    assert.match(message, /session has ended/);
    await ok(url, ME, {}, other.token);
  });

  it("logoutDevice ends one of your own devices and cannot touch anyone else's", async () => {
    const alice = await signUp(url);
    const phone = await signIn(url, alice.username, "ios");
    const mallory = await signUp(url);
    await fails(
      "NOT_FOUND",
      url,
      "mutation($id: ID!) { logoutDevice(deviceId: $id) }",
      { id: alice.deviceId },
      mallory.token,
    );
    await fails(
      "NOT_FOUND",
      url,
      "mutation($id: ID!) { logoutDevice(deviceId: $id) }",
      { id: "not-an-id" },
      mallory.token,
    );
    await ok(url, ME, {}, alice.token);
    await ok(url, "mutation($id: ID!) { logoutDevice(deviceId: $id) }", { id: phone.deviceId }, alice.token);
    await fails("UNAUTHENTICATED", url, ME, {}, phone.token);
    await fails(
      "NOT_FOUND",
      url,
      "mutation($id: ID!) { logoutDevice(deviceId: $id) }",
      { id: phone.deviceId },
      alice.token,
    );
  });

  it("changePassword checks the old one, ends the other sessions and keeps this one", async () => {
    const alice = await signUp(url);
    const other = await signIn(url, alice.username);
    const CHANGE = "mutation($old: String!, $new: String!) { changePassword(old: $old, new: $new) }";
    await fails("UNAUTHENTICATED", url, CHANGE, { old: "wrong-password", new: "new-password" }, alice.token);
    await fails("BAD_USER_INPUT", url, CHANGE, { old: PASSWORD, new: "short" }, alice.token);
    await ok(url, ME, {}, other.token); // failed attempts ended nothing

    const socket = connect(url, other.token);
    await socket.connected;
    const events = subscribe(socket, EVENTS);
    await ok(url, CHANGE, { old: PASSWORD, new: "new-password" }, alice.token);
    assert.equal((await events.next()).data?.events.event.kind, "PASSWORD_CHANGED");
    assert.equal((await socket.closed).code, 4403);
    await fails("UNAUTHENTICATED", url, ME, {}, other.token);
    await ok(url, ME, {}, alice.token);
    await fails("UNAUTHENTICATED", url, LOGIN, { u: alice.username, p: PASSWORD });
    await ok(url, LOGIN, { u: alice.username, p: "new-password" });
  });
});
