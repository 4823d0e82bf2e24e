import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer } from "./helpers/app.js";
import { fails, ok } from "./helpers/client.js";
import { adminToken, createUsers, type SignedIn, signIn, signUp } from "./helpers/factories.js";
import { follow, nextEvent, SEND, sendText } from "./helpers/messaging.js";

let server: TestServer;
let url: string;
before(async () => {
  server = await startApp();
  url = server.url;
});
after(() => server.stop());

const REQUEST_FIELDS = "id direction status message from { username } to { username } createdAt respondedAt";

const SEND_REQUEST = `mutation($u: String!, $m: String) {
  sendContactRequest(username: $u, message: $m) { ${REQUEST_FIELDS} }
}`;
const ACCEPT = `mutation($u: String!) {
  acceptContactRequest(username: $u) { user { username } remark createdAt presence { online } }
}`;
const DECLINE = `mutation($u: String!) { declineContactRequest(username: $u) { ${REQUEST_FIELDS} } }`;
const REMOVE = "mutation($u: String!) { removeContact(username: $u) }";
const REMARK = `mutation($u: String!, $r: String) { setContactRemark(username: $u, remark: $r) { user { username } remark } }`;
const BLOCK = "mutation($u: String!) { blockUser(username: $u) }";
const UNBLOCK = "mutation($u: String!) { unblockUser(username: $u) }";
const CONTACTS = `query($first: Int, $after: String) {
  contacts(first: $first, after: $after) {
    edges { cursor node { user { username } remark presence { online status } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const REQUESTS = `query($direction: ContactRequestDirection, $status: ContactRequestStatus) {
  contactRequests(direction: $direction, status: $status, first: 50) { edges { node { ${REQUEST_FIELDS} } } }
}`;

async function contactNames(user: SignedIn): Promise<string[]> {
  const data = await ok(url, CONTACTS, { first: 100 }, user.token);
  return data.contacts.edges.map((edge: any) => edge.node.user.username);
}

async function requests(user: SignedIn, variables: Record<string, unknown> = {}) {
  const data = await ok(url, REQUESTS, variables, user.token);
  return data.contactRequests.edges.map((edge: any) => edge.node);
}

async function befriend(a: SignedIn, b: SignedIn) {
  await ok(url, SEND_REQUEST, { u: b.username }, a.token);
  await ok(url, ACCEPT, { u: a.username }, b.token);
}

describe("contact requests", () => {
  it("send, accept: both users' devices hear of it, and both lists show it", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const aliceOther = await follow(url, await signIn(url, alice.username, "ios"));
    const bobPhone = await follow(url, bob);
    const bobLaptop = await follow(url, await signIn(url, bob.username, "desktop"));

    const sent = await ok(url, SEND_REQUEST, { u: bob.username, m: "Hi, it's Alice" }, alice.token);
    assert.equal(sent.sendContactRequest.status, "PENDING");
    assert.equal(sent.sendContactRequest.direction, "OUTGOING");
    assert.equal(sent.sendContactRequest.message, "Hi, it's Alice");

    for (const device of [bobPhone, bobLaptop]) {
      const event = await nextEvent(device.events, "ContactEvent");
      assert.equal(event.kind, "REQUEST_RECEIVED");
      assert.equal(event.user.username, alice.username);
      assert.equal(event.requestMessage, "Hi, it's Alice");
      assert.ok(event.cursor, "contact events are durable");
    }
    const echo = await nextEvent(aliceOther.events, "ContactEvent");
    assert.equal(echo.kind, "REQUEST_SENT");
    assert.equal(echo.user.username, bob.username);

    const [incoming] = await requests(bob);
    assert.equal(incoming.direction, "INCOMING");
    assert.equal(incoming.status, "PENDING");
    assert.equal(incoming.from.username, alice.username);
    assert.deepEqual(await requests(bob, { direction: "OUTGOING" }), []);
    const [outgoing] = await requests(alice, { direction: "OUTGOING" });
    assert.equal(outgoing.to.username, bob.username);

    const accepted = await ok(url, ACCEPT, { u: alice.username }, bob.token);
    assert.equal(accepted.acceptContactRequest.user.username, alice.username);
    for (const [device, other] of [
      [bobPhone, alice],
      [bobLaptop, alice],
      [aliceOther, bob],
    ] as const) {
      const event = await nextEvent(device.events, "ContactEvent");
      assert.equal(event.kind, "REQUEST_ACCEPTED");
      assert.equal(event.user.username, other.username);
      assert.deepEqual(event.contact, { remark: null });
    }
    assert.deepEqual(await contactNames(alice), [bob.username]);
    assert.deepEqual(await contactNames(bob), [alice.username]);
    const [answered] = await requests(alice);
    assert.equal(answered.status, "ACCEPTED");
    assert.ok(answered.respondedAt);
    for (const device of [aliceOther, bobPhone, bobLaptop]) await device.socket.dispose();
  });

  it("refuses requests to yourself, to unknown users, twice, and to existing contacts", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    await fails("BAD_USER_INPUT", url, SEND_REQUEST, { u: alice.username }, alice.token);
    await fails("NOT_FOUND", url, SEND_REQUEST, { u: "nobody-by-that-name" }, alice.token);
    await fails("BAD_USER_INPUT", url, SEND_REQUEST, { u: bob.username, m: "x".repeat(501) }, alice.token);
    await ok(url, SEND_REQUEST, { u: bob.username }, alice.token);
    const twice = await fails("CONFLICT", url, SEND_REQUEST, { u: bob.username }, alice.token);
    assert.match(twice, /already asked/);
    await ok(url, ACCEPT, { u: alice.username }, bob.token);
    await fails("CONFLICT", url, SEND_REQUEST, { u: bob.username }, alice.token);
    await fails("CONFLICT", url, SEND_REQUEST, { u: alice.username }, bob.token);
    await fails("NOT_FOUND", url, ACCEPT, { u: alice.username }, bob.token);
    await fails("UNAUTHENTICATED", url, SEND_REQUEST, { u: bob.username });
  });

  it("a declined request is reported to both and can be sent again", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const aliceDevice = await follow(url, alice);
    const bobOther = await follow(url, await signIn(url, bob.username, "ios"));
    await ok(url, SEND_REQUEST, { u: bob.username, m: "first try" }, alice.token);
    await nextEvent(aliceDevice.events, "ContactEvent"); // REQUEST_SENT
    await nextEvent(bobOther.events, "ContactEvent"); // REQUEST_RECEIVED
    const declined = await ok(url, DECLINE, { u: alice.username }, bob.token);
    const own = await nextEvent(bobOther.events, "ContactEvent");
    assert.deepEqual([own.kind, own.user.username], ["REQUEST_DECLINED", alice.username]);
    await bobOther.socket.dispose();
    assert.equal(declined.declineContactRequest.status, "DECLINED");
    assert.equal(declined.declineContactRequest.direction, "INCOMING");
    const event = await nextEvent(aliceDevice.events, "ContactEvent");
    assert.equal(event.kind, "REQUEST_DECLINED");
    assert.equal(event.user.username, bob.username);
    await fails("NOT_FOUND", url, DECLINE, { u: alice.username }, bob.token);
    assert.deepEqual(await contactNames(alice), []);
    assert.equal((await requests(alice))[0].status, "DECLINED");

    const again = await ok(url, SEND_REQUEST, { u: bob.username, m: "second try" }, alice.token);
    assert.equal(again.sendContactRequest.status, "PENDING");
    const [incoming] = await requests(bob, { status: "PENDING" });
    assert.equal(incoming.message, "second try");
    await aliceDevice.socket.dispose();
  });

  it("two users asking each other become contacts at once", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    await ok(url, SEND_REQUEST, { u: bob.username }, alice.token);
    const crossed = await ok(url, SEND_REQUEST, { u: alice.username }, bob.token);
    assert.equal(crossed.sendContactRequest.status, "ACCEPTED");
    assert.deepEqual(await contactNames(alice), [bob.username]);
    assert.deepEqual(await contactNames(bob), [alice.username]);
    assert.deepEqual(await requests(bob, { status: "PENDING" }), []);
  });

  it("removeContact ends it on both sides; the pair may ask again", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    await befriend(alice, bob);
    const bobDevice = await follow(url, bob);
    assert.equal((await ok(url, REMOVE, { u: bob.username }, alice.token)).removeContact, true);
    const event = await nextEvent(bobDevice.events, "ContactEvent");
    assert.equal(event.kind, "REMOVED");
    assert.equal(event.user.username, alice.username);
    assert.equal(event.contact, null);
    assert.deepEqual(await contactNames(alice), []);
    assert.deepEqual(await contactNames(bob), []);
    await fails("NOT_FOUND", url, REMOVE, { u: bob.username }, alice.token);
    await fails("NOT_FOUND", url, REMOVE, { u: alice.username }, bob.token);
    await ok(url, SEND_REQUEST, { u: alice.username }, bob.token);
    await bobDevice.socket.dispose();
  });

  it("remarks are private, at most 100 characters, and sync to your other devices", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const stranger = await signUp(url);
    await befriend(alice, bob);
    const aliceOther = await follow(url, await signIn(url, alice.username, "ios"));
    const set = await ok(url, REMARK, { u: bob.username, r: "Bob from work" }, alice.token);
    assert.deepEqual(set.setContactRemark, { user: { username: bob.username }, remark: "Bob from work" });
    const event = await nextEvent(aliceOther.events, "ContactEvent");
    assert.equal(event.kind, "REMARK_CHANGED");
    assert.deepEqual(event.contact, { remark: "Bob from work" });
    const mine = await ok(url, CONTACTS, {}, alice.token);
    assert.equal(mine.contacts.edges[0].node.remark, "Bob from work");
    const theirs = await ok(url, CONTACTS, {}, bob.token);
    assert.equal(theirs.contacts.edges[0].node.remark, null);

    await ok(url, REMARK, { u: bob.username, r: "é".repeat(100) }, alice.token);
    await fails("BAD_USER_INPUT", url, REMARK, { u: bob.username, r: "x".repeat(101) }, alice.token);
    await fails("NOT_FOUND", url, REMARK, { u: stranger.username, r: "who?" }, alice.token);
    const cleared = await ok(url, REMARK, { u: bob.username, r: null }, alice.token);
    assert.equal(cleared.setContactRemark.remark, null);
    await aliceOther.socket.dispose();
  });

  it("pages through contacts by username", async () => {
    const me = await signUp(url);
    const friends = [await signUp(url), await signUp(url), await signUp(url)];
    for (const friend of friends) await befriend(friend, me);
    const expected = friends.map((friend) => friend.username).sort();
    const first = await ok(url, CONTACTS, { first: 2 }, me.token);
    assert.deepEqual(
      first.contacts.edges.map((edge: any) => edge.node.user.username),
      expected.slice(0, 2),
    );
    assert.equal(first.contacts.pageInfo.hasNextPage, true);
    const rest = await ok(url, CONTACTS, { first: 2, after: first.contacts.pageInfo.endCursor }, me.token);
    assert.deepEqual(
      rest.contacts.edges.map((edge: any) => edge.node.user.username),
      expected.slice(2),
    );
    assert.equal(rest.contacts.pageInfo.hasNextPage, false);
    await fails("BAD_USER_INPUT", url, CONTACTS, { after: "not a cursor!" }, me.token);
  });

  it("a deleted user disappears from contact lists and requests", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const carol = await signUp(url);
    await befriend(alice, bob);
    await ok(url, SEND_REQUEST, { u: alice.username }, carol.token);
    const admin = await adminToken(url);
    for (const gone of [bob, carol]) {
      await ok(url, "mutation($u: String!) { adminDeleteUser(username: $u) }", { u: gone.username }, admin);
    }
    assert.deepEqual(await contactNames(alice), []);
    assert.deepEqual(await requests(alice), []);
  });
});

describe("contact limit", () => {
  let limited: TestServer;
  before(async () => {
    limited = await startApp({ MAX_CONTACTS: "2" });
  });
  after(() => limited.stop());

  it("refuses a request or an acceptance beyond MAX_CONTACTS, writing nothing", async () => {
    const lurl = limited.url;
    const [me, a, b, c, d] = await Promise.all([
      signUp(lurl),
      signUp(lurl),
      signUp(lurl),
      signUp(lurl),
      signUp(lurl),
    ]);
    const connect = async (x: SignedIn, y: SignedIn) => {
      await ok(lurl, SEND_REQUEST, { u: y.username }, x.token);
      await ok(lurl, ACCEPT, { u: x.username }, y.token);
    };
    // c asks me while I still have room; then I fill up.
    await ok(lurl, SEND_REQUEST, { u: me.username }, c.token);
    await connect(me, a);
    await connect(b, me);
    const full = await fails("LIMIT_EXCEEDED", lurl, SEND_REQUEST, { u: d.username }, me.token);
    assert.match(full, /MAX_CONTACTS/);
    await fails("LIMIT_EXCEEDED", lurl, ACCEPT, { u: c.username }, me.token);
    const pending = await ok(lurl, REQUESTS, { status: "PENDING" }, me.token);
    assert.equal(pending.contactRequests.edges.length, 1, "the request is still waiting");
    const mine = await ok(lurl, CONTACTS, {}, me.token);
    assert.equal(mine.contacts.edges.length, 2);

    // Accepting someone who filled up since they asked is refused too, and names them.
    const [x, y, z, w] = await Promise.all([signUp(lurl), signUp(lurl), signUp(lurl), signUp(lurl)]);
    await ok(lurl, SEND_REQUEST, { u: y.username }, x.token);
    await connect(x, z);
    await connect(w, x);
    const theirs = await fails("LIMIT_EXCEEDED", lurl, ACCEPT, { u: x.username }, y.token);
    assert.match(theirs, new RegExp(`"${x.username}" is already at the contact limit`));
    await ok(lurl, REMOVE, { u: w.username }, x.token);
    await ok(lurl, ACCEPT, { u: x.username }, y.token);
    assert.equal((await ok(lurl, CONTACTS, {}, x.token)).contacts.edges.length, 2);
  });
});

describe("block list", () => {
  it("refuses the blocked user's messages and requests, keeps the contact, and tells only the blocker", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    await befriend(alice, bob);
    const aliceDevice = await follow(url, alice);
    const bobDevice = await follow(url, bob);

    assert.equal((await ok(url, BLOCK, { u: bob.username }, alice.token)).blockUser, true);
    const blocked = await nextEvent(aliceDevice.events, "ContactEvent");
    assert.equal(blocked.kind, "BLOCKED");
    assert.equal(blocked.user.username, bob.username);
    const list = await ok(url, "{ blockedUsers { username } }", {}, alice.token);
    assert.deepEqual(list.blockedUsers, [{ username: bob.username }]);

    const refused = await fails(
      "BLOCKED",
      url,
      SEND,
      { to: { user: alice.username }, body: { text: { text: "hello?" } }, cid: "retry-1" },
      bob.token,
    );
    assert.match(refused, new RegExp(alice.username));
    await fails(
      "BLOCKED",
      url,
      SEND,
      { to: { user: alice.username }, body: { command: { action: "ping" } } },
      bob.token,
    );
    await ok(url, REMOVE, { u: alice.username }, bob.token);
    await nextEvent(aliceDevice.events, "ContactEvent"); // REMOVED
    await fails("BLOCKED", url, SEND_REQUEST, { u: alice.username }, bob.token);
    // The blocker may still write to them.
    await sendText(url, alice.token, bob.username, "I can still write");

    // Bob heard nothing of the block: his first events are the removal and Alice's message.
    const removed = await nextEvent(bobDevice.events, "ContactEvent");
    assert.equal(removed.kind, "REMOVED");
    const message = await nextEvent(bobDevice.events, "MessageEvent");
    assert.equal(message.message.body.text, "I can still write");
    await nextEvent(aliceDevice.events, "MessageEvent");

    assert.equal((await ok(url, BLOCK, { u: bob.username }, alice.token)).blockUser, true, "again: a no-op");
    await ok(url, UNBLOCK, { u: bob.username }, alice.token);
    const unblocked = await nextEvent(aliceDevice.events, "ContactEvent");
    assert.equal(unblocked.kind, "UNBLOCKED");
    const delivered = await sendText(url, bob.token, alice.username, "thanks", "retry-1");
    assert.equal(delivered.body.text, "thanks", "the refused clientMessageId was not used up");
    const after = await ok(url, "{ blockedUsers { username } }", {}, alice.token);
    assert.deepEqual(after.blockedUsers, []);
    await aliceDevice.socket.dispose();
    await bobDevice.socket.dispose();
  });

  it("blocking keeps the contact", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    await befriend(alice, bob);
    await ok(url, BLOCK, { u: bob.username }, alice.token);
    assert.deepEqual(await contactNames(alice), [bob.username]);
    assert.deepEqual(await contactNames(bob), [alice.username]);
  });

  it("refuses yourself and unknown users", async () => {
    const alice = await signUp(url);
    await fails("BAD_USER_INPUT", url, BLOCK, { u: alice.username }, alice.token);
    await fails("NOT_FOUND", url, BLOCK, { u: "no-such-user-here" }, alice.token);
    await fails("NOT_FOUND", url, UNBLOCK, { u: "no-such-user-here" }, alice.token);
  });

  it("holds at most 500 users", async () => {
    const me = await signUp(url);
    const names = await createUsers(url, me.username, 501);
    for (const name of names.slice(0, 500)) await ok(url, BLOCK, { u: name }, me.token);
    const message = await fails("LIMIT_EXCEEDED", url, BLOCK, { u: names[500] }, me.token);
    assert.match(message, /500/);
    const list = await ok(url, "{ blockedUsers { username } }", {}, me.token);
    assert.equal(list.blockedUsers.length, 500);
  });
});

describe("REQUIRE_CONTACT_FOR_DIRECT", () => {
  let strict: TestServer;
  before(async () => {
    strict = await startApp({ REQUIRE_CONTACT_FOR_DIRECT: "true" });
  });
  after(() => strict.stop());

  it("allows direct messages only between contacts (the app server is exempt)", async () => {
    const surl = strict.url;
    const alice = await signUp(surl);
    const bob = await signUp(surl);
    const message = await fails(
      "FORBIDDEN",
      surl,
      SEND,
      { to: { user: bob.username }, body: { text: { text: "hi" } } },
      alice.token,
    );
    assert.match(message, /contact/);
    await fails(
      "FORBIDDEN",
      surl,
      "mutation($u: String!) { sendTyping(conversation: { user: $u }) }",
      {
        u: bob.username,
      },
      alice.token,
    );
    const admin = await adminToken(surl);
    await ok(
      surl,
      `mutation($from: String!, $to: String!) {
        adminSendMessage(from: $from, to: { user: $to }, body: { text: { text: "system" } }) { id }
      }`,
      { from: alice.username, to: bob.username },
      admin,
    );
    await ok(surl, SEND_REQUEST, { u: bob.username }, alice.token);
    await ok(surl, ACCEPT, { u: alice.username }, bob.token);
    const sent = await ok(
      surl,
      SEND,
      { to: { user: bob.username }, body: { text: { text: "now ok" } } },
      alice.token,
    );
    assert.equal(sent.sendMessage.body.text, "now ok");
    await ok(surl, REMOVE, { u: bob.username }, alice.token);
    await fails(
      "FORBIDDEN",
      surl,
      SEND,
      { to: { user: alice.username }, body: { text: { text: "x" } } },
      bob.token,
    );
  });
});
