import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer } from "./helpers/app.js";
import { fails, ok } from "./helpers/client.js";
import { adminToken, signUp } from "./helpers/factories.js";
import { sendText } from "./helpers/messaging.js";

// A stand-in for a LibreTranslate server: the provider is outside this product, its protocol is not.
let provider: Server;
const requests: any[] = [];
let server: TestServer;
let url: string;
before(async () => {
  provider = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const input = JSON.parse(body);
      requests.push(input);
      if (input.q === "fail me")
        return res.writeHead(500).end(JSON.stringify({ error: "model unavailable" }));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ translatedText: `[${input.target}] ${input.q}` }));
    });
  });
  await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
  const { port } = provider.address() as AddressInfo;
  server = await startApp({ TRANSLATE_URL: `http://127.0.0.1:${port}/translate`, TRANSLATE_API_KEY: "k" });
  url = server.url;
});
after(async () => {
  await server.stop();
  provider.close();
});

const SEARCH = `query($q: String!, $in: ChatTarget, $from: String, $first: Int, $after: String) {
  searchMessages(query: $q, conversation: $in, from: $from, first: $first, after: $after) {
    edges { node { id from { username } body { ... on TextBody { text } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const SEARCH_ALL = `query($q: String!) { searchMessages(query: $q) { edges { node { body { ... on TextBody { text } } } } } }`;
const texts = (data: any) => data.searchMessages.edges.map((e: any) => e.node.body.text);

describe("searchMessages", () => {
  it("finds Chinese and English text in the caller's own history, newest first", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const carol = await signUp(url);
    await sendText(url, alice.token, bob.username, "我们明天去北京吧");
    await sendText(url, bob.token, alice.username, "Beijing sounds GREAT");
    await sendText(url, alice.token, bob.username, "100% sure");
    await sendText(url, carol.token, alice.username, "北京 with Carol");
    assert.deepEqual(texts(await ok(url, SEARCH_ALL, { q: "北京" }, alice.token)), [
      "北京 with Carol",
      "我们明天去北京吧",
    ]);
    assert.deepEqual(texts(await ok(url, SEARCH_ALL, { q: "beijing" }, alice.token)), [
      "Beijing sounds GREAT",
    ]);
    assert.deepEqual(texts(await ok(url, SEARCH_ALL, { q: "100%" }, alice.token)), ["100% sure"]);
    assert.deepEqual(texts(await ok(url, SEARCH_ALL, { q: "0%" }, bob.token)), ["100% sure"]);
    assert.deepEqual(texts(await ok(url, SEARCH, { q: "北京", in: { user: bob.username } }, alice.token)), [
      "我们明天去北京吧",
    ]);
    assert.deepEqual(texts(await ok(url, SEARCH, { q: "北京", from: carol.username }, alice.token)), [
      "北京 with Carol",
    ]);
    // Bob does not find Carol's message to Alice.
    assert.deepEqual(texts(await ok(url, SEARCH_ALL, { q: "北京" }, bob.token)), ["我们明天去北京吧"]);
    await fails("BAD_USER_INPUT", url, SEARCH_ALL, { q: "" }, alice.token);
    await fails("BAD_USER_INPUT", url, SEARCH_ALL, { q: "x".repeat(101) }, alice.token);
  });

  it("leaves out what the caller deleted, cleared or saw recalled, and pages", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await sendText(url, bob.token, alice.username, `needle ${i}`)).id);
    await ok(url, `mutation($id: ID!) { recallMessage(id: $id) { id } }`, { id: ids[4] }, bob.token);
    await ok(
      url,
      `mutation($u: String!, $ids: [ID!]!) { deleteMessages(conversation: { user: $u }, messageIds: $ids) }`,
      { u: bob.username, ids: [ids[3]] },
      alice.token,
    );
    const page1 = (await ok(url, SEARCH, { q: "needle", first: 2 }, alice.token)).searchMessages;
    assert.deepEqual(
      page1.edges.map((e: any) => e.node.body.text),
      ["needle 2", "needle 1"],
    );
    assert.equal(page1.pageInfo.hasNextPage, true);
    const page2 = (
      await ok(url, SEARCH, { q: "needle", first: 2, after: page1.pageInfo.endCursor }, alice.token)
    ).searchMessages;
    assert.deepEqual(
      page2.edges.map((e: any) => e.node.body.text),
      ["needle 0"],
    );
    await ok(
      url,
      `mutation($u: String!) { clearConversationHistory(conversation: { user: $u }) }`,
      { u: bob.username },
      alice.token,
    );
    assert.deepEqual(texts(await ok(url, SEARCH_ALL, { q: "needle" }, alice.token)), []);
    assert.equal(texts(await ok(url, SEARCH_ALL, { q: "needle" }, bob.token)).length, 4);
  });
});

describe("translateMessage", () => {
  const TRANSLATE = `query($id: ID!, $lang: String!) { translateMessage(id: $id, language: $lang) { messageId language text } }`;

  it("translates a message the caller can see through the configured provider", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const eve = await signUp(url);
    const sent = await sendText(url, alice.token, bob.username, "你好");
    const translated = (await ok(url, TRANSLATE, { id: sent.id, lang: "en" }, bob.token)).translateMessage;
    assert.deepEqual(translated, { messageId: sent.id, language: "en", text: "[en] 你好" });
    assert.deepEqual(requests.at(-1), {
      q: "你好",
      source: "auto",
      target: "en",
      format: "text",
      api_key: "k",
    });
    await fails("NOT_FOUND", url, TRANSLATE, { id: sent.id, lang: "en" }, eve.token);
    await fails("BAD_USER_INPUT", url, TRANSLATE, { id: sent.id, lang: "english please" }, bob.token);
    const broken = await sendText(url, alice.token, bob.username, "fail me");
    const message = await fails("INTERNAL", url, TRANSLATE, { id: broken.id, lang: "en" }, bob.token);
    assert.match(message, /model unavailable/);
  });

  it("says clearly when no provider is configured", async () => {
    const plain = await startApp();
    try {
      const alice = await signUp(plain.url);
      const bob = await signUp(plain.url);
      const sent = await sendText(plain.url, alice.token, bob.username, "hello");
      const message = await fails("FORBIDDEN", plain.url, TRANSLATE, { id: sent.id, lang: "zh" }, bob.token);
      assert.match(message, /TRANSLATE_URL/);
    } finally {
      await plain.stop();
    }
  });
});

describe("adminSendMessage", () => {
  const ADMIN_SEND = `mutation($from: String!, $to: String!, $text: String!) {
    adminSendMessage(from: $from, to: { user: $to }, body: { text: { text: $text } }) { id from { username } to { ... on User { username } } }
  }`;

  it("sends as a user for the app server, and refuses banned senders and users", async () => {
    const admin = await adminToken(url);
    const alice = await signUp(url);
    const bob = await signUp(url);
    const sent = (
      await ok(url, ADMIN_SEND, { from: alice.username, to: bob.username, text: "system notice" }, admin)
    ).adminSendMessage;
    assert.equal(sent.from.username, alice.username);
    assert.equal(sent.to.username, bob.username);
    const history = await ok(
      url,
      `query($u: String!) { messages(conversation: { user: $u }) { edges { node { id } } } }`,
      { u: alice.username },
      bob.token,
    );
    assert.deepEqual(
      history.messages.edges.map((e: any) => e.node.id),
      [sent.id],
    );
    await fails(
      "FORBIDDEN",
      url,
      ADMIN_SEND,
      { from: alice.username, to: bob.username, text: "x" },
      bob.token,
    );
    await fails("NOT_FOUND", url, ADMIN_SEND, { from: "nobody-at-all", to: bob.username, text: "x" }, admin);
    await ok(url, `mutation($u: String!) { adminBanUser(username: $u) }`, { u: alice.username }, admin);
    await fails("USER_BANNED", url, ADMIN_SEND, { from: alice.username, to: bob.username, text: "x" }, admin);
  });
});
