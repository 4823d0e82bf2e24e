import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer } from "./helpers/app.js";
import { connect, fails, ok } from "./helpers/client.js";
import { adminToken, createUsers, type SignedIn, signIn, signUp } from "./helpers/factories.js";
import { cursorOf, follow, nextEvent, sendText, streamEvents } from "./helpers/messaging.js";

let server: TestServer;
let url: string;
before(async () => {
  server = await startApp({ TYPING_RATE_LIMIT: "3" });
  url = server.url;
});
after(() => server.stop());

const PRESENCE_FIELDS = "user { username } online status ext lastSeenAt devices { id platform online }";
const SUBSCRIBE = `mutation($names: [String!]!, $expiry: Int) {
  subscribePresence(usernames: $names, expirySeconds: $expiry) { ${PRESENCE_FIELDS} }
}`;
const UNSUBSCRIBE = "mutation($names: [String!]!) { unsubscribePresence(usernames: $names) }";
const PUBLISH = `mutation($status: String, $ext: JSON) { publishPresence(status: $status, ext: $ext) { ${PRESENCE_FIELDS} } }`;
const PRESENCE = `query($names: [String!]!) { presence(usernames: $names) { ${PRESENCE_FIELDS} } }`;
const SUBSCRIPTIONS = `query($first: Int, $after: String) {
  presenceSubscriptions(first: $first, after: $after) {
    edges { node { user { username } presence { online } expiresAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const TYPING = "mutation($u: String!) { sendTyping(conversation: { user: $u }) }";

type Stream = ReturnType<typeof streamEvents>;

/**
 * Proves a stream received nothing so far: a message sent now must be the very next event. Any
 * PresenceEvent or TypingEvent that had arrived would come first.
 */
async function assertNothingBefore(stream: Stream, to: SignedIn, from: SignedIn) {
  await new Promise((resolve) => setTimeout(resolve, 300)); // time for a stray event to arrive
  const marker = `marker ${Math.random()}`;
  await sendText(url, from.token, to.username, marker);
  const event = await nextEvent(stream, "MessageEvent");
  assert.equal(event.message.body.text, marker);
}

/** A device that is online (its socket is open) but has no stream of its own. */
async function goOnline(user: SignedIn) {
  const socket = connect(url, user.token);
  await socket.connected;
  return socket;
}

describe("presence", () => {
  it("subscribers hear every change, and nobody else does", async () => {
    const watcher = await signUp(url);
    const bob = await signUp(url);
    const bystander = await signUp(url);
    const postman = await signUp(url);
    const watching = await follow(url, watcher);
    const bystanding = await follow(url, bystander);

    const now = await ok(url, SUBSCRIBE, { names: [bob.username], expiry: 3600 }, watcher.token);
    assert.deepEqual(
      now.subscribePresence.map((p: any) => [p.user.username, p.online, p.devices]),
      [[bob.username, false, null]],
    );

    const phone = await goOnline(bob);
    let event = await nextEvent(watching.events, "PresenceEvent");
    assert.deepEqual([event.user.username, event.online, event.status], [bob.username, true, null]);
    assert.equal(event.cursor, null, "presence is live only");

    // A second device changes nothing a subscriber sees.
    const laptopSession = await signIn(url, bob.username, "desktop");
    const laptop = await goOnline(laptopSession);

    await ok(url, PUBLISH, { status: "In a meeting", ext: { until: "15:00" } }, bob.token);
    event = await nextEvent(watching.events, "PresenceEvent");
    assert.deepEqual([event.online, event.status, event.ext], [true, "In a meeting", { until: "15:00" }]);

    await phone.dispose();
    await assertNothingBefore(watching.events, watcher, postman); // the laptop is still online
    await laptop.dispose();
    event = await nextEvent(watching.events, "PresenceEvent");
    assert.deepEqual([event.online, event.status], [false, "In a meeting"]);
    assert.ok(Date.now() - Date.parse(event.lastSeenAt) < 10_000, "lastSeenAt is about now");

    await assertNothingBefore(bystanding.events, bystander, postman);
    await watching.socket.dispose();
    await bystanding.socket.dispose();
  });

  it("presence(usernames) shows status to all and devices only to the user themself", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const socket = await goOnline(bob);
    await ok(url, PUBLISH, { status: "busy" }, bob.token);
    const theirs = await ok(
      url,
      PRESENCE,
      { names: [bob.username, "nobody-here", alice.username] },
      alice.token,
    );
    assert.deepEqual(
      theirs.presence.map((p: any) => [p.user.username, p.online, p.status, p.devices]),
      [
        [bob.username, true, "busy", null],
        [alice.username, false, null, [{ id: alice.deviceId, platform: "web", online: false }]],
      ],
    );
    const own = await ok(url, PRESENCE, { names: [bob.username] }, bob.token);
    assert.deepEqual(own.presence[0].devices, [{ id: bob.deviceId, platform: "web", online: true }]);
    const admin = await adminToken(url);
    const seen = await ok(
      url,
      "query($u: [String!]!) { adminOnlineStatus(usernames: $u) { online status devices { id online } } }",
      { u: [bob.username] },
      admin,
    );
    assert.deepEqual(seen.adminOnlineStatus, [
      { online: true, status: "busy", devices: [{ id: bob.deviceId, online: true }] },
    ]);

    await ok(url, PUBLISH, { status: "" }, bob.token);
    const cleared = await ok(url, PRESENCE, { names: [bob.username] }, alice.token);
    assert.equal(cleared.presence[0].status, null);
    await fails("BAD_USER_INPUT", url, PUBLISH, { status: "x".repeat(65) }, bob.token);
    await ok(url, PUBLISH, { status: "😀".repeat(64) }, bob.token);
    await fails("LIMIT_EXCEEDED", url, PUBLISH, { ext: { big: "x".repeat(2000) } }, bob.token);
    await socket.dispose();
  });

  it("contacts carry their presence", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    await ok(
      url,
      "mutation($u: String!) { sendContactRequest(username: $u) { id } }",
      { u: bob.username },
      alice.token,
    );
    await ok(
      url,
      "mutation($u: String!) { acceptContactRequest(username: $u) { user { id } } }",
      { u: alice.username },
      bob.token,
    );
    const socket = await goOnline(bob);
    await ok(url, PUBLISH, { status: "around" }, bob.token);
    const list = await ok(
      url,
      "{ contacts { edges { node { user { username } presence { online status } } } } }",
      {},
      alice.token,
    );
    assert.deepEqual(list.contacts.edges[0].node.presence, { online: true, status: "around" });
    await socket.dispose();
  });

  it("checks subscribePresence's arguments and changes nothing on a refusal", async () => {
    const me = await signUp(url);
    const bob = await signUp(url);
    const many = Array.from({ length: 101 }, (_, i) => `user${i}`);
    await fails("LIMIT_EXCEEDED", url, SUBSCRIBE, { names: many }, me.token);
    await fails("BAD_USER_INPUT", url, SUBSCRIBE, { names: [bob.username], expiry: 0 }, me.token);
    await fails(
      "BAD_USER_INPUT",
      url,
      SUBSCRIBE,
      { names: [bob.username], expiry: 30 * 86_400 + 1 },
      me.token,
    );
    const unknown = await fails(
      "NOT_FOUND",
      url,
      SUBSCRIBE,
      { names: [bob.username, "ghost-user"] },
      me.token,
    );
    assert.match(unknown, /ghost-user/);
    const none = await ok(url, SUBSCRIPTIONS, {}, me.token);
    assert.deepEqual(none.presenceSubscriptions.edges, []);
    await ok(url, SUBSCRIBE, { names: [bob.username], expiry: 30 * 86_400 }, me.token);
    const one = await ok(url, SUBSCRIPTIONS, {}, me.token);
    const expiresAt = Date.parse(one.presenceSubscriptions.edges[0].node.expiresAt);
    assert.ok(Math.abs(expiresAt - (Date.now() + 30 * 86_400_000)) < 60_000);
  });

  it("holds at most 3,000 subscriptions per user", async () => {
    const me = await signUp(url);
    const names = await createUsers(url, me.username, 3001);
    for (let start = 0; start < 3000; start += 100) {
      await ok(url, SUBSCRIBE, { names: names.slice(start, start + 100) }, me.token);
    }
    const message = await fails(
      "LIMIT_EXCEEDED",
      url,
      SUBSCRIBE,
      { names: names.slice(2990, 3001) },
      me.token,
    );
    assert.match(message, /3000/);
    // Renewing ones you have is no increase.
    await ok(url, SUBSCRIBE, { names: names.slice(0, 100), expiry: 60 }, me.token);
    await ok(url, UNSUBSCRIBE, { names: names.slice(0, 1) }, me.token);
    await ok(url, SUBSCRIBE, { names: [names[3000]] }, me.token);
  });

  it("ends with unsubscribePresence or expiry, and pages by username", async () => {
    const me = await signUp(url);
    const [x, y, z] = [await signUp(url), await signUp(url), await signUp(url)];
    const stream = await follow(url, me);
    await ok(url, SUBSCRIBE, { names: [x.username, y.username] }, me.token);
    await ok(url, SUBSCRIBE, { names: [z.username], expiry: 1 }, me.token);
    let page = await ok(url, SUBSCRIPTIONS, { first: 2 }, me.token);
    const sorted = [x.username, y.username, z.username].sort();
    assert.deepEqual(
      page.presenceSubscriptions.edges.map((e: any) => e.node.user.username),
      sorted.slice(0, 2),
    );
    page = await ok(
      url,
      SUBSCRIPTIONS,
      { first: 2, after: page.presenceSubscriptions.pageInfo.endCursor },
      me.token,
    );
    assert.deepEqual(
      page.presenceSubscriptions.edges.map((e: any) => e.node.user.username),
      sorted.slice(2),
    );

    await ok(url, UNSUBSCRIBE, { names: [x.username] }, me.token);
    await new Promise((resolve) => setTimeout(resolve, 1200)); // z's subscription expires
    for (const user of [x, z]) await ok(url, PUBLISH, { status: "changed" }, user.token);
    await ok(url, PUBLISH, { status: "still followed" }, y.token);
    const event = await nextEvent(stream.events, "PresenceEvent");
    assert.deepEqual([event.user.username, event.status], [y.username, "still followed"]);
    const left = await ok(url, SUBSCRIPTIONS, {}, me.token);
    assert.deepEqual(
      left.presenceSubscriptions.edges.map((e: any) => e.node.user.username),
      [y.username],
    );
    await stream.socket.dispose();
  });

  it("someone you blocked looks offline and never reaches you", async () => {
    const me = await signUp(url);
    const pest = await signUp(url);
    const postman = await signUp(url);
    const stream = await follow(url, me);
    await ok(url, SUBSCRIBE, { names: [pest.username] }, me.token);
    await ok(url, "mutation($u: String!) { blockUser(username: $u) }", { u: pest.username }, me.token);
    await nextEvent(stream.events, "ContactEvent");
    const socket = await goOnline(pest);
    await ok(url, PUBLISH, { status: "look at me" }, pest.token);
    assert.equal((await ok(url, TYPING, { u: me.username }, pest.token)).sendTyping, true);
    const seen = await ok(url, PRESENCE, { names: [pest.username] }, me.token);
    assert.deepEqual(seen.presence[0], {
      user: { username: pest.username },
      online: false,
      status: null,
      ext: null,
      lastSeenAt: null,
      devices: null,
    });
    await assertNothingBefore(stream.events, me, postman);

    await ok(url, "mutation($u: String!) { unblockUser(username: $u) }", { u: pest.username }, me.token);
    await nextEvent(stream.events, "ContactEvent");
    await ok(url, PUBLISH, { status: "hello again" }, pest.token);
    const event = await nextEvent(stream.events, "PresenceEvent");
    assert.deepEqual([event.online, event.status], [true, "hello again"]);
    await socket.dispose();
    await stream.socket.dispose();
  });
});

describe("typing", () => {
  it("reaches every device of the other side, live only, and not the typist's own", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const postman = await signUp(url);
    const bobPhone = await follow(url, bob);
    const bobLaptop = await follow(url, await signIn(url, bob.username, "desktop"));
    const aliceOther = await follow(url, await signIn(url, alice.username, "ios"));
    const bobCursor = await cursorOf(url, bob.token);

    assert.equal((await ok(url, TYPING, { u: bob.username }, alice.token)).sendTyping, true);
    for (const device of [bobPhone, bobLaptop]) {
      const event = await nextEvent(device.events, "TypingEvent");
      assert.equal(event.user.username, alice.username);
      assert.equal(event.conversation, null, "no conversation before the first message");
      assert.equal(event.cursor, null);
    }
    await sendText(url, alice.token, bob.username, "hi");
    for (const device of [bobPhone, bobLaptop]) await nextEvent(device.events, "MessageEvent");
    await ok(url, TYPING, { u: bob.username }, alice.token);
    const event = await nextEvent(bobPhone.events, "TypingEvent");
    assert.equal(event.conversation.peer.username, alice.username);

    // Never replayed: a stream resuming from before sees the message only.
    const socket = connect(url, bob.token);
    await socket.connected;
    const replay = streamEvents(socket, bobCursor);
    const first = await nextEvent(replay, "MessageEvent");
    assert.equal(first.message.body.text, "hi");
    await assertNothingBefore(replay, bob, postman);

    // The typist's own devices got only their message copy.
    assert.equal((await nextEvent(aliceOther.events, "MessageEvent")).message.body.text, "hi");
    await assertNothingBefore(aliceOther.events, alice, postman);
    for (const device of [bobPhone, bobLaptop, aliceOther]) await device.socket.dispose();
    await socket.dispose();
  });

  it("is rate-limited per sender and checks the conversation", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const carol = await signUp(url);
    await fails("BAD_USER_INPUT", url, TYPING, { u: alice.username }, alice.token);
    await fails("NOT_FOUND", url, TYPING, { u: "no-such-person" }, alice.token);
    await fails("NOT_FOUND", url, 'mutation { sendTyping(conversation: { group: "g1" }) }', {}, alice.token);
    await fails("UNAUTHENTICATED", url, TYPING, { u: bob.username });
    // TYPING_RATE_LIMIT is 3 on this server; the refused calls above did not count.
    for (let i = 0; i < 3; i++)
      await ok(url, TYPING, { u: i % 2 ? bob.username : carol.username }, alice.token);
    const error = await fails("RATE_LIMITED", url, TYPING, { u: bob.username }, alice.token);
    assert.match(error, /retry in/);
    await ok(url, TYPING, { u: alice.username }, bob.token); // another sender has their own budget
  });
});
