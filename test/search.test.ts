import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer } from "./helpers/app.js";
import { fails, ok } from "./helpers/client.js";
import { adminToken, signUp } from "./helpers/factories.js";
import { SEND, sendText } from "./helpers/messaging.js";

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

const SEARCH = `query($q: String!, $in: ChatTarget, $from: String, $types: [MessageType!], $first: Int, $after: String) {
  searchMessages(query: $q, conversation: $in, from: $from, types: $types, first: $first, after: $after) {
    edges { node { id from { username } body { ... on TextBody { text } ... on LocationBody { address } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const texts = (data: any) =>
  data.searchMessages.edges.map((e: any) => e.node.body.text ?? e.node.body.address);
const CREATE_GROUP = `mutation($name: String!, $members: [String!]) {
  createGroup(name: $name, members: $members, isPublic: true, joinPolicy: OPEN) { id }
}`;
const SAY = `mutation($to: ChatTarget!, $text: String!, $targets: [String!]) {
  sendMessage(to: $to, body: { text: { text: $text } }, targets: $targets) { id }
}`;

// Searching is two steps (resolvers/search.ts): the newest SEARCH_RECENT_WINDOW message ids read in
// order, then the index for what is older. Every case runs with the default window, where these few
// messages are all in step 1, and with a window of 2 ids, where nearly all come from the index and
// pages cross from one step to the other.
for (const [steps, env] of [
  ["the newest messages, read in order", {}],
  ["the index", { SEARCH_RECENT_WINDOW: "2" }],
] as const) {
  describe(`searchMessages, through ${steps}`, () => {
    let app: TestServer;
    let at: string;
    before(async () => {
      app = await startApp(env);
      at = app.url;
    });
    after(() => app.stop());
    const find = async (token: string, q: string, variables: Record<string, unknown> = {}) =>
      texts(await ok(at, SEARCH, { q, ...variables }, token));

    it("finds Chinese of any length and English in the caller's own history, newest first", async () => {
      const alice = await signUp(at);
      const bob = await signUp(at);
      const carol = await signUp(at);
      await sendText(at, alice.token, bob.username, "我们明天去北京吧");
      await sendText(at, bob.token, alice.username, "Beijing sounds GREAT");
      await sendText(at, alice.token, bob.username, "100% sure");
      await sendText(at, bob.token, alice.username, "今天天气很好");
      await sendText(at, alice.token, bob.username, "ＡＢＣ全角 and snake_case");
      await sendText(at, carol.token, alice.username, "北京 with Carol");
      // One, two and more Chinese characters, inside words: Chinese has no spaces.
      assert.deepEqual(await find(alice.token, "京"), ["北京 with Carol", "我们明天去北京吧"]);
      assert.deepEqual(await find(alice.token, "北京"), ["北京 with Carol", "我们明天去北京吧"]);
      assert.deepEqual(await find(alice.token, "去北京"), ["我们明天去北京吧"]);
      assert.deepEqual(await find(alice.token, "明天去北京吧"), ["我们明天去北京吧"]);
      assert.deepEqual(await find(alice.token, "天气"), ["今天天气很好"]);
      assert.deepEqual(await find(alice.token, "好"), ["今天天气很好"]);
      assert.deepEqual(await find(alice.token, "北京上海"), []);
      // English by word or any part of one, whatever the case; text with spaces in it too.
      assert.deepEqual(await find(alice.token, "beijing"), ["Beijing sounds GREAT"]);
      assert.deepEqual(await find(alice.token, "Great"), ["Beijing sounds GREAT"]);
      assert.deepEqual(await find(alice.token, "EIJ"), ["Beijing sounds GREAT"]);
      assert.deepEqual(await find(alice.token, "sounds great"), ["Beijing sounds GREAT"]);
      assert.deepEqual(await find(alice.token, "with carol"), ["北京 with Carol"]);
      assert.deepEqual(await find(alice.token, "s"), [
        "ＡＢＣ全角 and snake_case",
        "100% sure",
        "Beijing sounds GREAT",
      ]);
      // Full-width and half-width forms are one.
      assert.deepEqual(await find(alice.token, "abc"), ["ＡＢＣ全角 and snake_case"]);
      assert.deepEqual(await find(alice.token, "ａｂｃ全"), ["ＡＢＣ全角 and snake_case"]);
      assert.deepEqual(await find(alice.token, "ＧＲＥＡＴ"), ["Beijing sounds GREAT"]);
      // LIKE's metacharacters are plain characters, full-width ones too.
      assert.deepEqual(await find(alice.token, "100%"), ["100% sure"]);
      assert.deepEqual(await find(bob.token, "0%"), ["100% sure"]);
      assert.deepEqual(await find(bob.token, "%"), ["100% sure"]);
      assert.deepEqual(await find(bob.token, "０％"), ["100% sure"]);
      assert.deepEqual(await find(bob.token, "_"), ["ＡＢＣ全角 and snake_case"]);
      assert.deepEqual(await find(bob.token, "e_c"), ["ＡＢＣ全角 and snake_case"]);
      assert.deepEqual(await find(bob.token, "e\\c"), []);
      // Filters: one conversation, one sender.
      assert.deepEqual(await find(alice.token, "北京", { in: { user: bob.username } }), ["我们明天去北京吧"]);
      assert.deepEqual(await find(alice.token, "北京", { from: carol.username }), ["北京 with Carol"]);
      assert.deepEqual(
        await find(alice.token, "北京", { in: { user: bob.username }, from: carol.username }),
        [],
      );
      // Bob does not find Carol's message to Alice, nor anyone who was never in a conversation.
      assert.deepEqual(await find(bob.token, "北京"), ["我们明天去北京吧"]);
      const dave = await signUp(at);
      assert.deepEqual(await find(dave.token, "北京"), []);
      assert.deepEqual(await find(dave.token, "北京", { in: { user: alice.username } }), []);
      await fails("BAD_USER_INPUT", at, SEARCH, { q: "" }, alice.token);
      await fails("BAD_USER_INPUT", at, SEARCH, { q: "   " }, alice.token);
      await fails("BAD_USER_INPUT", at, SEARCH, { q: "x".repeat(101) }, alice.token);
      await fails("BAD_USER_INPUT", at, SEARCH, { q: "x", after: "nope" }, alice.token);
    });

    it("finds the text of other kinds of message, and filters by type", async () => {
      const alice = await signUp(at);
      const bob = await signUp(at);
      await ok(
        at,
        SEND,
        {
          to: { user: bob.username },
          body: { location: { latitude: 39.9, longitude: 116.4, address: "北京市东城区" } },
        },
        alice.token,
      );
      await sendText(at, alice.token, bob.username, "see you in 东城");
      assert.deepEqual(await find(bob.token, "东城"), ["see you in 东城", "北京市东城区"]);
      assert.deepEqual(await find(bob.token, "东城", { types: ["LOCATION"] }), ["北京市东城区"]);
      assert.deepEqual(await find(bob.token, "东城", { types: ["TEXT", "IMAGE"] }), ["see you in 东城"]);
    });

    it("leaves out what the caller deleted, cleared or saw recalled, and pages", async () => {
      const alice = await signUp(at);
      const bob = await signUp(at);
      const ids = [];
      for (let i = 0; i < 7; i++)
        ids.push((await sendText(at, bob.token, alice.username, `needle 针 ${i}`)).id);
      await sendText(at, bob.token, alice.username, "haystack");
      await ok(at, `mutation($id: ID!) { recallMessage(id: $id) { id } }`, { id: ids[6] }, bob.token);
      await ok(
        at,
        `mutation($u: String!, $ids: [ID!]!) { deleteMessages(conversation: { user: $u }, messageIds: $ids) }`,
        { u: bob.username, ids: [ids[3]] },
        alice.token,
      );
      for (const q of ["needle", "针"]) {
        const pages: string[][] = [];
        let cursor: string | undefined;
        for (;;) {
          const page = (await ok(at, SEARCH, { q, first: 2, after: cursor }, alice.token)).searchMessages;
          pages.push(texts({ searchMessages: page }));
          if (!page.pageInfo.hasNextPage) break;
          cursor = page.pageInfo.endCursor;
        }
        assert.deepEqual(pages, [
          ["needle 针 5", "needle 针 4"],
          ["needle 针 2", "needle 针 1"],
          ["needle 针 0"],
        ]);
      }
      // Bob deleted nothing; nobody finds a recalled message.
      assert.equal((await find(bob.token, "needle")).length, 6);
      await ok(
        at,
        `mutation($u: String!) { clearConversationHistory(conversation: { user: $u }) }`,
        { u: bob.username },
        alice.token,
      );
      assert.deepEqual(await find(alice.token, "needle"), []);
      assert.deepEqual(await find(alice.token, "针"), []);
      await sendText(at, bob.token, alice.username, "needle after the clear");
      assert.deepEqual(await find(alice.token, "needle"), ["needle after the clear"]);
      assert.equal((await find(bob.token, "needle")).length, 7);
    });

    it("finds group messages from a member's join to their leaving, targeted ones only if meant for them", async () => {
      const [owner, m1, m2, late] = await Promise.all([signUp(at), signUp(at), signUp(at), signUp(at)]);
      const group = (
        await ok(at, CREATE_GROUP, { name: "search", members: [m1.username, m2.username] }, owner.token)
      ).createGroup;
      const to = { group: group.id };
      await ok(at, SAY, { to, text: "周五聚餐 before the join" }, owner.token);
      await ok(at, SAY, { to, text: "周五聚餐 for m1 only", targets: [m1.username] }, owner.token);
      await ok(at, `mutation($id: ID!) { joinGroup(id: $id) { id } }`, { id: group.id }, late.token);
      await ok(at, SAY, { to, text: "周五聚餐 after the join" }, m2.token);
      const all = ["周五聚餐 after the join", "周五聚餐 for m1 only", "周五聚餐 before the join"];
      assert.deepEqual(await find(owner.token, "聚餐"), all);
      assert.deepEqual(await find(m1.token, "聚餐"), all);
      assert.deepEqual(await find(m2.token, "聚餐"), ["周五聚餐 after the join", "周五聚餐 before the join"]);
      assert.deepEqual(await find(m2.token, "m1 only"), []);
      assert.deepEqual(await find(late.token, "聚餐"), ["周五聚餐 after the join"]);
      assert.deepEqual(await find(late.token, "聚", { in: to }), ["周五聚餐 after the join"]);
      assert.deepEqual(await find(m1.token, "聚餐", { in: to, from: m2.username }), [
        "周五聚餐 after the join",
      ]);
      // Leaving the group ends its history for them.
      await ok(at, `mutation($id: ID!) { leaveGroup(id: $id) }`, { id: group.id }, late.token);
      assert.deepEqual(await find(late.token, "聚餐"), []);
      assert.deepEqual(await find(late.token, "聚餐", { in: to }), []);
    });
  });
}

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
