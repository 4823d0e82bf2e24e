import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createContext } from "../src/context.js";
import {
  type DirectSendResult,
  type NewDirectMessage,
  storeDirectMessage,
} from "../src/resolvers/message-store.js";
import type { App } from "../src/server.js";
import { startApp, type TestServer } from "./helpers/app.js";
import { ok } from "./helpers/client.js";
import { type SignedIn, signUp } from "./helpers/factories.js";
import { sendText, userPosition } from "./helpers/messaging.js";

// The group-commit path of resolvers/message-store.ts: sends that arrive together are stored by one
// statement. These call it directly, in one tick, to be sure the messages share a batch.

let server: TestServer & { app: App };
let url: string;
before(async () => {
  server = await startApp();
  url = server.url;
});
after(() => server.stop());

async function chatBetween(a: SignedIn, b: SignedIn): Promise<string> {
  // A first message makes the chat; its id is what the store needs.
  const first = await sendText(url, a.token, b.username, "hi");
  return first.conversation.id;
}

function input(
  from: SignedIn,
  to: SignedIn,
  chatId: string,
  text: string,
  extra: Partial<NewDirectMessage> = {},
) {
  return {
    chatId,
    senderId: from.userId,
    recipientId: to.userId,
    recipientUsername: to.username,
    clientMessageId: null,
    type: "TEXT" as const,
    body: { text },
    ext: {},
    mentions: [],
    mentionAll: false,
    requestReadReceipts: false,
    attachmentIds: [],
    searchText: text,
    screened: true,
    contactsOnly: false,
    ...extra,
  };
}

async function streamOf(user: SignedIn) {
  const page = await ok(
    url,
    `{ sync(first: 100) { events { cursor event { ... on MessageEvent { message { id body { ... on TextBody { text } } } } } } } }`,
    {},
    user.token,
  );
  return page.sync.events.map((e: any) => ({
    cursor: userPosition(e.cursor),
    id: e.event.message.id,
    text: e.event.message.body.text,
  }));
}

/** The message a store call stored, failing the test if it refused. */
function storedMessage(result: DirectSendResult) {
  assert.ok("message" in result, `refused: ${"refusal" in result ? result.refusal : ""}`);
  return result.message;
}

describe("storing direct messages in batches", () => {
  it("stores a batch in order, numbers each user's events without gaps, and sums unread counts", async () => {
    const [alice, bob, carol] = [await signUp(url), await signUp(url), await signUp(url)];
    const ab = await chatBetween(alice, bob);
    const cb = await chatBetween(carol, bob);
    const ctx = createContext(server.app.services, { kind: "anonymous", rejectedToken: false });
    const stored = (
      await Promise.all([
        storeDirectMessage(ctx, input(alice, bob, ab, "a1")),
        storeDirectMessage(ctx, input(carol, bob, cb, "c1")),
        storeDirectMessage(ctx, input(alice, bob, ab, "a2")),
        storeDirectMessage(ctx, input(bob, alice, ab, "b1")),
      ])
    ).map(storedMessage);
    assert.deepEqual(
      stored.map((m) => (m.body as { text: string }).text),
      ["a1", "c1", "a2", "b1"],
    );
    const ids = stored.map((m) => m.id);
    assert.deepEqual(
      [...ids].sort((x, y) => (x < y ? -1 : 1)),
      ids,
      "ids follow the order of the sends",
    );
    for (const user of [alice, bob, carol]) {
      const events = await streamOf(user);
      assert.deepEqual(
        events.map((event: { cursor: bigint }) => event.cursor),
        events.map((_: unknown, i: number) => BigInt(i + 1)),
      );
    }
    assert.deepEqual(
      (await streamOf(bob)).map((e: { text: string }) => e.text),
      ["hi", "hi", "a1", "c1", "a2", "b1"],
    );
    const list = await ok(
      url,
      `{ conversations { edges { node { peer { username } unreadCount lastMessage { id } } } } }`,
      {},
      bob.token,
    );
    const byPeer = Object.fromEntries(
      list.conversations.edges.map((e: any) => [e.node.peer.username, e.node]),
    );
    assert.equal(byPeer[alice.username].unreadCount, 3);
    assert.equal(byPeer[alice.username].lastMessage.id, String(ids[3]));
    assert.equal(byPeer[carol.username].unreadCount, 2);
  });

  it("leaves out a stale recipient and a repeated clientMessageId without failing the rest", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const ab = await chatBetween(alice, bob);
    const ctx = createContext(server.app.services, { kind: "anonymous", rejectedToken: false });
    const [first] = await Promise.all([
      storeDirectMessage(ctx, input(alice, bob, ab, "once", { clientMessageId: "k1" })),
    ]);
    const results = await Promise.all([
      storeDirectMessage(ctx, input(alice, bob, ab, "again", { clientMessageId: "k1" })),
      storeDirectMessage(
        ctx,
        input(alice, bob, ab, "to a stale name", { recipientUsername: "someone-else" }),
      ),
      storeDirectMessage(ctx, input(alice, bob, ab, "fine")),
    ]);
    storedMessage(first!);
    assert.deepEqual(results[0], { refusal: "DUPLICATE" });
    assert.deepEqual(results[1], { refusal: "RECIPIENT_GONE" });
    assert.equal((storedMessage(results[2]!).body as { text: string }).text, "fine");
    assert.deepEqual(
      (await streamOf(bob)).map((e: { text: string }) => e.text),
      ["hi", "once", "fine"],
    );
  });

  it("falls back to one by one when two sends in a batch race for the same clientMessageId", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const ab = await chatBetween(alice, bob);
    const ctx = createContext(server.app.services, { kind: "anonymous", rejectedToken: false });
    const results = await Promise.allSettled([
      storeDirectMessage(ctx, input(alice, bob, ab, "x", { clientMessageId: "same" })),
      storeDirectMessage(ctx, input(alice, bob, ab, "y", { clientMessageId: "same" })),
      storeDirectMessage(ctx, input(alice, bob, ab, "z")),
    ]);
    assert.equal(results[0]!.status, "fulfilled");
    assert.equal((results[2] as PromiseFulfilledResult<any>).value.message.body.text, "z");
    // The second is reported as already stored (the caller fetches the first), never stored twice.
    assert.deepEqual((results[1] as PromiseFulfilledResult<any>).value, { refusal: "DUPLICATE" });
    const texts = (await streamOf(bob)).map((e: { text: string }) => e.text);
    assert.deepEqual(texts, ["hi", "x", "z"]);
    // Through the API, both callers get the one stored message.
    const racing = await Promise.all(
      ["r", "r", "r"].map(() =>
        ok(
          url,
          `mutation($to: String!) { sendMessage(to: { user: $to }, body: { text: { text: "dup" } }, clientMessageId: "api-race") { id } }`,
          { to: bob.username },
          alice.token,
        ),
      ),
    );
    assert.equal(new Set(racing.map((r) => r.sendMessage.id)).size, 1);
  });

  it("keeps every character a batch carries: quotes, backslashes, dollar quotes, unicode", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const ab = await chatBetween(alice, bob);
    const ctx = createContext(server.app.services, { kind: "anonymous", rejectedToken: false });
    const texts = [
      `it's \\'; DROP TABLE "Message"; --`,
      "$$ $q$ \\x00 \\\\ E'\\n' \n\ttab",
      "\u{1F600} e\u0301 \u4e2d \u2028 \\u0041",
    ];
    const stored = await Promise.all(
      texts.map((text, i) =>
        storeDirectMessage(
          ctx,
          input(alice, bob, ab, text, { clientMessageId: `o'k\\${i}`, ext: { note: text } }),
        ),
      ),
    );
    assert.deepEqual(
      stored.map((result) => storedMessage(result).body),
      texts.map((text) => ({ text })),
    );
    assert.deepEqual(storedMessage(stored[0]!).ext, { note: texts[0] });
    const read = (await streamOf(bob)).map((e: { text: string }) => e.text);
    assert.deepEqual(read, ["hi", ...texts]);
  });
});
