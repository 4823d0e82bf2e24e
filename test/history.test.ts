import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer } from "./helpers/app.js";
import { fails, ok } from "./helpers/client.js";
import { adminToken, signIn, signUp } from "./helpers/factories.js";
import { follow, HISTORY, historyTexts, MESSAGE_FIELDS, SEND, sendText } from "./helpers/messaging.js";

let server: TestServer;
let url: string;
before(async () => {
  server = await startApp();
  url = server.url;
});
after(() => server.stop());

const RECALL = `mutation($id: ID!) { recallMessage(id: $id) { id recalled recalledAt body { __typename } } }`;
const EDIT = `mutation($id: ID!, $body: MessageBodyInput!) { editMessage(id: $id, body: $body) { ${MESSAGE_FIELDS} } }`;
const MESSAGE = `query($id: ID!) { message(id: $id) { ${MESSAGE_FIELDS} } }`;
const DELETE = `mutation($u: String!, $ids: [ID!]!) { deleteMessages(conversation: { user: $u }, messageIds: $ids) }`;
const CLEAR = `mutation($u: String!, $before: DateTime) { clearConversationHistory(conversation: { user: $u }, before: $before) }`;
const UNREAD = `query { conversations { edges { node { peer { username } unreadCount lastMessage { id } } } } totalUnread }`;

describe("history", () => {
  it("pages newest first with stable cursors, oldest to newest inside a page", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    for (let i = 1; i <= 7; i++) {
      await sendText(url, i % 2 ? alice.token : bob.token, i % 2 ? bob.username : alice.username, `m${i}`);
    }
    const page1 = (await ok(url, HISTORY, { with: bob.username, last: 3 }, alice.token)).messages;
    assert.deepEqual(
      page1.edges.map((e: any) => e.node.body.text),
      ["m5", "m6", "m7"],
    );
    assert.equal(page1.pageInfo.hasPreviousPage, true);
    // A message arriving between pages does not shift the older pages.
    await sendText(url, bob.token, alice.username, "m8");
    const page2 = (
      await ok(url, HISTORY, { with: bob.username, last: 3, before: page1.pageInfo.startCursor }, alice.token)
    ).messages;
    assert.deepEqual(
      page2.edges.map((e: any) => e.node.body.text),
      ["m2", "m3", "m4"],
    );
    const page3 = (
      await ok(url, HISTORY, { with: bob.username, last: 3, before: page2.pageInfo.startCursor }, alice.token)
    ).messages;
    assert.deepEqual(
      page3.edges.map((e: any) => e.node.body.text),
      ["m1"],
    );
    assert.equal(page3.pageInfo.hasPreviousPage, false);
    const fromBob = (await ok(url, HISTORY, { with: bob.username, from: bob.username }, alice.token))
      .messages;
    assert.deepEqual(
      fromBob.edges.map((e: any) => e.node.body.text),
      ["m2", "m4", "m6", "m8"],
    );
    const customOnly = (await ok(url, HISTORY, { with: bob.username, types: ["CUSTOM"] }, alice.token))
      .messages;
    assert.equal(customOnly.edges.length, 0);
    await fails("BAD_USER_INPUT", url, HISTORY, { with: bob.username, before: "nope" }, alice.token);
    await fails("BAD_USER_INPUT", url, HISTORY, { with: bob.username, last: 0 }, alice.token);
    await fails("NOT_FOUND", url, HISTORY, { with: "no-such-user-x" }, alice.token);
  });

  it("shows a message only to its two participants", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const eve = await signUp(url);
    const sent = await sendText(url, alice.token, bob.username, "secret");
    assert.equal((await ok(url, MESSAGE, { id: sent.id }, bob.token)).message.body.text, "secret");
    await fails("NOT_FOUND", url, MESSAGE, { id: sent.id }, eve.token);
    await fails("NOT_FOUND", url, MESSAGE, { id: "not-an-id" }, eve.token);
    await fails("NOT_FOUND", url, RECALL, { id: sent.id }, eve.token);
    await fails("NOT_FOUND", url, EDIT, { id: sent.id, body: { text: { text: "x" } } }, eve.token);
    await fails("NOT_FOUND", url, DELETE, { u: alice.username, ids: [sent.id] }, eve.token);
    // Eve's history with Alice is empty rather than Bob's.
    assert.deepEqual(await historyTexts(url, eve.token, alice.username), []);
  });
});

describe("recall", () => {
  it("recalls for everyone who had it, drops the body and the unread count", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const { socket: bobSocket, events: bobEvents } = await follow(url, bob);
    const sent = await sendText(url, alice.token, bob.username, "oops");
    await bobEvents.next();
    assert.equal((await ok(url, UNREAD, {}, bob.token)).totalUnread, 1);
    await fails("FORBIDDEN", url, RECALL, { id: sent.id }, bob.token);
    const recalled = (await ok(url, RECALL, { id: sent.id }, alice.token)).recallMessage;
    assert.equal(recalled.recalled, true);
    assert.equal(recalled.body, null);
    const event = (await bobEvents.next()).data?.events.event;
    assert.equal(event.__typename, "MessageRecalledEvent");
    assert.equal(event.messageId, sent.id);
    assert.equal(event.by.username, alice.username);
    assert.equal(event.conversation.unreadCount, 0);
    assert.equal((await ok(url, UNREAD, {}, bob.token)).totalUnread, 0);
    const inHistory = (await ok(url, MESSAGE, { id: sent.id }, bob.token)).message;
    assert.equal(inHistory.recalled, true);
    assert.equal(inHistory.body, null);
    // Recalling again changes nothing and tells no one.
    assert.equal((await ok(url, RECALL, { id: sent.id }, alice.token)).recallMessage.recalled, true);
    await bobSocket.dispose();
  });

  it("lets the admin recall any message at any time", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const sent = await sendText(url, alice.token, bob.username, "reported");
    const admin = await adminToken(url);
    assert.equal((await ok(url, RECALL, { id: sent.id }, admin)).recallMessage.recalled, true);
    await fails("NOT_FOUND", url, RECALL, { id: "123456789012" }, admin);
  });

  it("refuses the sender after RECALL_WINDOW_SECONDS", async () => {
    const strict = await startApp({ RECALL_WINDOW_SECONDS: "1" });
    try {
      const alice = await signUp(strict.url);
      const bob = await signUp(strict.url);
      const sent = await sendText(strict.url, alice.token, bob.username, "too late");
      await new Promise((resolve) => setTimeout(resolve, 1200));
      await fails("RECALL_WINDOW_EXPIRED", strict.url, RECALL, { id: sent.id }, alice.token);
    } finally {
      await strict.stop();
    }
  });
});

describe("edit", () => {
  it("edits text by the sender at most 10 times and tells both sides", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const { socket: bobSocket, events: bobEvents } = await follow(url, bob);
    const sent = await sendText(url, alice.token, bob.username, "draft");
    await bobEvents.next();
    const edited = (await ok(url, EDIT, { id: sent.id, body: { text: { text: "final" } } }, alice.token))
      .editMessage;
    assert.equal(edited.body.text, "final");
    assert.equal(edited.editCount, 1);
    assert.ok(edited.editedAt);
    const event = (await bobEvents.next()).data?.events.event;
    assert.equal(event.__typename, "MessageEditedEvent");
    assert.equal(event.message.body.text, "final");
    await fails("FORBIDDEN", url, EDIT, { id: sent.id, body: { text: { text: "mine" } } }, bob.token);
    await fails(
      "BAD_USER_INPUT",
      url,
      EDIT,
      { id: sent.id, body: { custom: { event: "gift" } } },
      alice.token,
    );
    for (let i = 2; i <= 10; i++)
      await ok(url, EDIT, { id: sent.id, body: { text: { text: `v${i}` } } }, alice.token);
    await fails("LIMIT_EXCEEDED", url, EDIT, { id: sent.id, body: { text: { text: "v11" } } }, alice.token);
    await ok(url, RECALL, { id: sent.id }, alice.token);
    await fails("BAD_USER_INPUT", url, EDIT, { id: sent.id, body: { text: { text: "after" } } }, alice.token);
    await bobSocket.dispose();
  });

  it("edits custom messages but not locations", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const custom = (
      await ok(
        url,
        SEND,
        { to: { user: bob.username }, body: { custom: { event: "gift", fields: { item: "rose" } } } },
        alice.token,
      )
    ).sendMessage;
    const edited = (
      await ok(
        url,
        EDIT,
        { id: custom.id, body: { custom: { event: "gift", fields: { item: "tulip" } } } },
        alice.token,
      )
    ).editMessage;
    assert.deepEqual(edited.body.fields, { item: "tulip" });
    const place = (
      await ok(
        url,
        SEND,
        { to: { user: bob.username }, body: { location: { latitude: 1, longitude: 2 } } },
        alice.token,
      )
    ).sendMessage;
    await fails(
      "BAD_USER_INPUT",
      url,
      EDIT,
      { id: place.id, body: { location: { latitude: 3, longitude: 4 } } },
      alice.token,
    );
  });
});

describe("one-sided deletion", () => {
  it("deletes messages from the caller's history on all their devices only", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const bobTablet = await signIn(url, bob.username, "ipad");
    const { socket: tablet, events: tabletEvents } = await follow(url, bobTablet);
    const one = await sendText(url, alice.token, bob.username, "one");
    const two = await sendText(url, alice.token, bob.username, "two");
    await tabletEvents.next();
    await tabletEvents.next();
    await ok(url, DELETE, { u: alice.username, ids: [two.id] }, bob.token);
    const event = (await tabletEvents.next()).data?.events.event;
    assert.equal(event.__typename, "MessageDeletedEvent");
    assert.deepEqual(event.messageIds, [two.id]);
    assert.equal(event.conversation.lastMessage.id, one.id);
    assert.equal(event.conversation.unreadCount, 1);
    assert.deepEqual(await historyTexts(url, bob.token, alice.username), ["one"]);
    assert.deepEqual(await historyTexts(url, alice.token, bob.username), ["one", "two"]);
    await fails("NOT_FOUND", url, MESSAGE, { id: two.id }, bob.token);
    await fails("NOT_FOUND", url, DELETE, { u: alice.username, ids: [two.id] }, bob.token);
    await fails(
      "LIMIT_EXCEEDED",
      url,
      DELETE,
      { u: alice.username, ids: Array.from({ length: 101 }, (_, i) => String(i + 1)) },
      bob.token,
    );
    await tablet.dispose();
  });

  it("clears history up to a time, or all of it", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    await sendText(url, alice.token, bob.username, "old");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const cut = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await sendText(url, alice.token, bob.username, "new");
    await ok(url, CLEAR, { u: alice.username, before: cut }, bob.token);
    assert.deepEqual(await historyTexts(url, bob.token, alice.username), ["new"]);
    await ok(url, CLEAR, { u: alice.username }, bob.token);
    assert.deepEqual(await historyTexts(url, bob.token, alice.username), []);
    assert.deepEqual(await historyTexts(url, alice.token, bob.username), ["old", "new"]);
    const list = await ok(url, UNREAD, {}, bob.token);
    assert.equal(list.totalUnread, 0);
    assert.equal(list.conversations.edges[0].node.lastMessage, null);
  });
});
