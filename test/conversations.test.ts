import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { App } from "../src/server.js";
import { fewestStatements, startApp, type TestServer } from "./helpers/app.js";
import { fails, ok } from "./helpers/client.js";
import { signIn, signUp } from "./helpers/factories.js";
import { CONVERSATION_FIELDS, follow, HISTORY, sendText } from "./helpers/messaging.js";

let server: TestServer & { app: App };
let url: string;
before(async () => {
  server = await startApp();
  url = server.url;
});
after(() => server.stop());

const LIST = `query List($first: Int, $after: String, $filter: ConversationFilter) {
  conversations(first: $first, after: $after, filter: $filter) {
    edges { cursor node { ${CONVERSATION_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
  totalUnread
}`;

const READ = `mutation Read($with: String!, $upTo: ID) {
  markConversationRead(conversation: { user: $with }, upTo: $upTo) { ${CONVERSATION_FIELDS} }
}`;

const peers = (data: any) => data.conversations.edges.map((edge: any) => edge.node.peer.username);

describe("conversations", () => {
  it("lists pinned first, then by last activity, with unread counts and the last message", async () => {
    const me = await signUp(url);
    const [a, b, c] = [await signUp(url), await signUp(url), await signUp(url)];
    await sendText(url, a.token, me.username, "from a");
    await sendText(url, b.token, me.username, "from b 1");
    await sendText(url, b.token, me.username, "from b 2");
    await sendText(url, me.token, c.username, "to c");
    let list = await ok(url, LIST, {}, me.token);
    assert.deepEqual(peers(list), [c.username, b.username, a.username]);
    assert.deepEqual(
      list.conversations.edges.map((e: any) => e.node.unreadCount),
      [0, 2, 1],
    );
    assert.equal(list.totalUnread, 3);
    assert.equal(list.conversations.edges[1].node.lastMessage.body.text, "from b 2");

    const pinned = await ok(
      url,
      `mutation($u: String!) { pinConversation(conversation: { user: $u }, pinned: true) { pinned pinnedAt } }`,
      { u: a.username },
      me.token,
    );
    assert.equal(pinned.pinConversation.pinned, true);
    list = await ok(url, LIST, {}, me.token);
    assert.deepEqual(peers(list), [a.username, c.username, b.username]);
    const onlyPinned = await ok(url, LIST, { filter: { pinned: true } }, me.token);
    assert.deepEqual(peers(onlyPinned), [a.username]);

    // Paging walks the same order without repeats.
    const first = await ok(url, LIST, { first: 2 }, me.token);
    assert.equal(first.conversations.pageInfo.hasNextPage, true);
    const rest = await ok(url, LIST, { first: 2, after: first.conversations.pageInfo.endCursor }, me.token);
    assert.deepEqual([...peers(first), ...peers(rest)], [a.username, c.username, b.username]);
    assert.equal(rest.conversations.pageInfo.hasNextPage, false);
    await fails("BAD_USER_INPUT", url, LIST, { after: "bogus" }, me.token);
    await fails("BAD_USER_INPUT", url, LIST, { first: 101 }, me.token);
  });

  it("marks, mutes, filters by mark, and caps marks", async () => {
    const me = await signUp(url);
    const peer = await signUp(url);
    await sendText(url, peer.token, me.username, "hi");
    const MARK = `mutation($u: String!, $add: [String!], $remove: [String!]) {
      markConversation(conversation: { user: $u }, add: $add, remove: $remove) { marks }
    }`;
    const marked = await ok(url, MARK, { u: peer.username, add: ["work", "star"] }, me.token);
    assert.deepEqual(marked.markConversation.marks.sort(), ["star", "work"]);
    const unmarked = await ok(url, MARK, { u: peer.username, remove: ["work"] }, me.token);
    assert.deepEqual(unmarked.markConversation.marks, ["star"]);
    assert.deepEqual(peers(await ok(url, LIST, { filter: { mark: "star" } }, me.token)), [peer.username]);
    assert.deepEqual(peers(await ok(url, LIST, { filter: { mark: "work" } }, me.token)), []);
    const many = Array.from({ length: 20 }, (_, i) => `m${i}`);
    await fails("LIMIT_EXCEEDED", url, MARK, { u: peer.username, add: many }, me.token);
    const muted = await ok(
      url,
      `mutation($u: String!) { muteConversation(conversation: { user: $u }, muted: true) { muted } }`,
      { u: peer.username },
      me.token,
    );
    assert.equal(muted.muteConversation.muted, true);
    const stranger = await signUp(url);
    await fails(
      "NOT_FOUND",
      url,
      `mutation($u: String!) { muteConversation(conversation: { user: $u }, muted: true) { muted } }`,
      { u: stranger.username },
      me.token,
    );
  });

  it("answers NOT_FOUND for conversations the caller does not have, and leaves nothing behind", async () => {
    const me = await signUp(url);
    const stranger = await signUp(url);
    const target = { u: stranger.username };
    for (const mutation of [
      `mutation($u: String!) { pinConversation(conversation: { user: $u }, pinned: true) { id } }`,
      `mutation($u: String!) { markConversation(conversation: { user: $u }, add: ["x"]) { id } }`,
      `mutation($u: String!) { deleteConversation(conversation: { user: $u }) }`,
      `mutation($u: String!) { clearConversationHistory(conversation: { user: $u }) }`,
      `mutation($u: String!) { markConversationRead(conversation: { user: $u }) { id } }`,
      `mutation($u: String!) { deleteMessages(conversation: { user: $u }, messageIds: ["1"]) }`,
    ]) {
      await fails("NOT_FOUND", url, mutation, target, me.token);
    }
    await fails(
      "NOT_FOUND",
      url,
      `mutation { pinConversation(conversation: { group: "g1" }, pinned: true) { id } }`,
      {},
      me.token,
    );
    await fails(
      "BAD_USER_INPUT",
      url,
      `mutation { pinConversation(conversation: { user: "a", group: "g1" }, pinned: true) { id } }`,
      {},
      me.token,
    );
    const list = await ok(url, LIST, {}, me.token);
    assert.deepEqual(peers(list), []);
    assert.equal((await ok(url, "{ sync { events { cursor } } }", {}, me.token)).sync.events.length, 0);
  });

  it("caps pinned conversations at 50", async () => {
    const me = await signUp(url);
    const others = await Promise.all(Array.from({ length: 51 }, () => signUp(url)));
    for (const other of others) await sendText(url, other.token, me.username, "hi");
    const PIN = `mutation($u: String!) { pinConversation(conversation: { user: $u }, pinned: true) { pinned } }`;
    for (const other of others.slice(0, 50)) await ok(url, PIN, { u: other.username }, me.token);
    await fails("LIMIT_EXCEEDED", url, PIN, { u: others[50]!.username }, me.token);
  });

  it("deletes a conversation from the list until the next message, optionally with its history", async () => {
    const me = await signUp(url);
    const peer = await signUp(url);
    await sendText(url, peer.token, me.username, "one");
    const DELETE = `mutation($u: String!, $h: Boolean) { deleteConversation(conversation: { user: $u }, deleteHistory: $h) }`;
    await ok(url, DELETE, { u: peer.username }, me.token);
    let list = await ok(url, LIST, {}, me.token);
    assert.deepEqual(peers(list), []);
    assert.equal(list.totalUnread, 0);
    // Without deleteHistory the messages stay.
    assert.equal((await ok(url, HISTORY, { with: peer.username }, me.token)).messages.edges.length, 1);
    await sendText(url, peer.token, me.username, "two");
    list = await ok(url, LIST, {}, me.token);
    assert.deepEqual(peers(list), [peer.username]);
    assert.equal(list.conversations.edges[0].node.unreadCount, 1);
    await ok(url, DELETE, { u: peer.username, h: true }, me.token);
    assert.equal((await ok(url, HISTORY, { with: peer.username }, me.token)).messages.edges.length, 0);
    // The other side keeps everything.
    assert.equal((await ok(url, HISTORY, { with: me.username }, peer.token)).messages.edges.length, 2);
  });

  it("lists 100 conversations with peers and last messages in a bounded number of SQL statements", async () => {
    const me = await signUp(url);
    const others = await Promise.all(Array.from({ length: 100 }, () => signUp(url)));
    await Promise.all(others.map((other, i) => sendText(url, other.token, me.username, `hello ${i}`)));
    const query = `{ conversations(first: 100) { edges { node {
      id unreadCount pinned marks peer { username nickname avatarUrl }
      lastMessage { id createdAt status from { username } to { ... on User { username } } body { ... on TextBody { text } } }
    } } } totalUnread }`;
    await ok(url, query, {}, me.token); // warm-up: lastSeenAt and connection pool
    const statements = await fewestStatements(server.app, async () => {
      const data = await ok(url, query, {}, me.token);
      assert.equal(data.conversations.edges.length, 100);
      assert.equal(data.totalUnread, 100);
      assert.ok(data.conversations.edges.every((e: any) => e.node.lastMessage.body.text.startsWith("hello")));
    });
    assert.ok(statements <= 8, `expected at most 8 SQL statements, saw ${statements}`);
  });
});

describe("receipts", () => {
  it("moves the sender's status SENT → DELIVERED → READ and tells the sender's devices", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const { socket: aliceSocket, events: aliceEvents } = await follow(url, alice);
    const first = await sendText(url, alice.token, bob.username, "one");
    const second = await sendText(url, alice.token, bob.username, "two");
    await aliceEvents.next();
    await aliceEvents.next();
    await ok(
      url,
      "mutation($ids: [ID!]!) { markDelivered(messageIds: $ids) }",
      { ids: [first.id] },
      bob.token,
    );
    const delivered = (await aliceEvents.next()).data?.events.event;
    assert.equal(delivered.__typename, "ReceiptEvent");
    assert.equal(delivered.kind, "DELIVERED");
    assert.equal(delivered.by.username, bob.username);
    assert.deepEqual(delivered.messageIds, [first.id]);
    assert.equal(delivered.conversation.peer.username, bob.username);
    const STATUS = `query($id: ID!) { message(id: $id) { status deliveredAt readAt } }`;
    assert.equal((await ok(url, STATUS, { id: first.id }, alice.token)).message.status, "DELIVERED");
    assert.equal((await ok(url, STATUS, { id: second.id }, alice.token)).message.status, "SENT");

    const read = await ok(url, READ, { with: alice.username }, bob.token);
    assert.equal(read.markConversationRead.unreadCount, 0);
    assert.equal(read.markConversationRead.readUpTo, second.id);
    const receipt = (await aliceEvents.next()).data?.events.event;
    assert.equal(receipt.kind, "READ");
    assert.deepEqual(receipt.messageIds, [first.id, second.id]);
    assert.equal(receipt.upTo, second.id);
    assert.equal((await ok(url, STATUS, { id: first.id }, alice.token)).message.status, "READ");
    await aliceSocket.dispose();
  });

  it("reads up to a given message, syncs the unread count to the reader's other devices", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const bobTablet = await signIn(url, bob.username, "ipad");
    const { socket: tablet, events: tabletEvents } = await follow(url, bobTablet);
    const sent = [];
    for (const text of ["a", "b", "c"]) sent.push(await sendText(url, alice.token, bob.username, text));
    for (let i = 0; i < 3; i++) await tabletEvents.next();
    const read = await ok(url, READ, { with: alice.username, upTo: sent[1]!.id }, bob.token);
    assert.equal(read.markConversationRead.unreadCount, 1);
    const change = (await tabletEvents.next()).data?.events.event;
    assert.equal(change.__typename, "ConversationEvent");
    assert.equal(change.kind, "READ");
    assert.equal(change.conversation.unreadCount, 1);
    await fails("NOT_FOUND", url, READ, { with: alice.username, upTo: "999999999" }, bob.token);
    await fails("BAD_USER_INPUT", url, READ, { with: alice.username, upTo: "x" }, bob.token);
    await tablet.dispose();
  });

  it("refuses receipts for messages the caller cannot see", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const eve = await signUp(url);
    const sent = await sendText(url, alice.token, bob.username, "private");
    await fails(
      "NOT_FOUND",
      url,
      "mutation($ids: [ID!]!) { markDelivered(messageIds: $ids) }",
      { ids: [sent.id] },
      eve.token,
    );
    await fails("NOT_FOUND", url, READ, { with: alice.username }, eve.token);
    const tooMany = Array.from({ length: 101 }, (_, i) => String(i + 1));
    await fails(
      "LIMIT_EXCEEDED",
      url,
      "mutation($ids: [ID!]!) { markDelivered(messageIds: $ids) }",
      { ids: tooMany },
      bob.token,
    );
  });
});
