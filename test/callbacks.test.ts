import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { spawnServer, startApp, type TestServer, testStorage } from "./helpers/app.js";
import { eventually, fails, ok } from "./helpers/client.js";
import { servicesMode } from "./helpers/env.js";
import { signUp } from "./helpers/factories.js";
import { HISTORY, SEND, sendText } from "./helpers/messaging.js";
import { type Received, Receiver } from "./helpers/receiver.js";

const SECRET = "webhook-secret-0123456789";

/** The README's receiver check, written out: HMAC-SHA256 of "<t>.<raw body>", at most 5 minutes old. */
function signedByUs(request: Received): boolean {
  const header = String(request.headers["x-webhook-signature"] ?? "");
  const match = header.match(/^t=(\d+),v1=([0-9a-f]{64})$/);
  if (!match) return false;
  const expected = createHmac("sha256", SECRET).update(`${match[1]}.${request.raw}`).digest("hex");
  return expected === match[2] && Math.abs(Date.now() / 1000 - Number(match[1])) < 300;
}

const createdTexts = (receiver: Receiver) =>
  receiver.received.filter((r) => r.json.event === "message.created").map((r) => r.json.message.body?.text);

describe("post-send webhook", () => {
  let receiver: Receiver;
  let server: TestServer;
  let url: string;
  before(async () => {
    receiver = await new Receiver().up();
    server = await startApp({ POST_SEND_WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET });
    url = server.url;
  });
  after(async () => {
    await server.stop();
    await receiver.down();
  });

  it("gets every stored message, edit and recall, signed, with an id to deduplicate on", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const direct = await sendText(url, alice.token, bob.username, "hello bob");
    const group = (
      await ok(
        url,
        `mutation($m: [String!]) { createGroup(name: "hooks", members: $m) { id } }`,
        { m: [bob.username] },
        alice.token,
      )
    ).createGroup;
    const inGroup = (
      await ok(url, SEND, { to: { group: group.id }, body: { text: { text: "hello group" } } }, bob.token)
    ).sendMessage;
    // A call carries the message as it is when the call is made: wait for the two sends' calls before
    // the edit and the recall change them.
    const createdCall = (id: string) =>
      receiver.received.some((r) => r.json.event === "message.created" && r.json.message.id === id);
    await eventually(
      async () => createdCall(direct.id) && createdCall(inGroup.id),
      10_000,
      "the sends' calls",
    );
    await ok(
      url,
      `mutation($id: ID!) { editMessage(id: $id, body: { text: { text: "hello, bob" } }) { id } }`,
      { id: direct.id },
      alice.token,
    );
    await ok(url, `mutation($id: ID!) { recallMessage(id: $id) { id } }`, { id: inGroup.id }, bob.token);

    const ours = () => receiver.received.filter((r) => [direct.id, inGroup.id].includes(r.json.message.id));
    await eventually(async () => ours().length >= 4, 10_000, "four callbacks");
    const calls = ours();
    assert.ok(calls.every(signedByUs), "every call carries our signature");
    assert.ok(calls.every((call) => call.headers["x-webhook-id"] === call.json.id));
    assert.equal(new Set(calls.map((call) => call.json.id)).size, 4);
    const byEvent = (event: string, id: string) =>
      calls.find((c) => c.json.event === event && c.json.message.id === id)!.json;
    const created = byEvent("message.created", direct.id);
    assert.deepEqual(
      {
        from: created.message.from,
        to: created.message.to,
        type: created.message.type,
        body: created.message.body,
      },
      { from: alice.username, to: { user: bob.username }, type: "TEXT", body: { text: "hello bob" } },
    );
    assert.deepEqual(byEvent("message.created", inGroup.id).message.to, { group: group.id });
    assert.equal(byEvent("message.edited", direct.id).message.body.text, "hello, bob");
    const recalled = byEvent("message.recalled", inGroup.id).message;
    assert.equal(recalled.body, null);
    assert.ok(recalled.recalledAt);
    // A tampered body no longer matches its signature.
    assert.equal(signedByUs({ ...calls[0]!, raw: calls[0]!.raw.replace("hello", "HELLO") }), false);
  });

  it("a receiver that goes away gets everything once it is back, in order within each conversation", async () => {
    const [alice, bob, carol] = [await signUp(url), await signUp(url), await signUp(url)];
    await receiver.down();
    const sent: Record<string, string[]> = { bob: [], carol: [] };
    for (let i = 0; i < 5; i++) {
      await sendText(url, alice.token, bob.username, `to bob ${i}`);
      sent.bob!.push(`to bob ${i}`);
      if (i < 3) {
        await sendText(url, alice.token, carol.username, `to carol ${i}`);
        sent.carol!.push(`to carol ${i}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 700)); // it has tried, and failed, by now
    await receiver.up();
    const all = [...sent.bob!, ...sent.carol!];
    await eventually(
      async () => all.every((text) => createdTexts(receiver).includes(text)),
      20_000,
      "every message",
    );
    for (const texts of Object.values(sent)) {
      const seen = createdTexts(receiver).filter((text) => texts.includes(text));
      assert.deepEqual([...new Set(seen)], texts, "first arrivals in the order they were sent");
    }
  });
});

describe("post-send webhook through an instance killed mid-queue", () => {
  it("loses nothing: a new instance delivers the rest; repeats carry the same id", async () => {
    const receiver = await new Receiver().up();
    receiver.respond = () => ({ status: 200, json: {}, delayMs: 150 });
    const dataDir = mkdtempSync(path.join(tmpdir(), "im-hooks-"));
    const storage = servicesMode
      ? await testStorage()
      : { env: { DATA_DIR: dataDir, DATABASE_URL: "", REDIS_URL: "" }, cleanup: async () => {} };
    const env = { ...storage.env, POST_SEND_WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET };
    const first = await spawnServer(env);
    let second: TestServer | undefined;
    try {
      const [alice, bob] = [await signUp(first.url), await signUp(first.url)];
      const texts = Array.from({ length: 12 }, (_, i) => `queued ${i}`);
      for (const text of texts) await sendText(first.url, alice.token, bob.username, text);
      await eventually(async () => receiver.received.length >= 2, 10_000, "the first deliveries");
      first.process.kill("SIGKILL");
      await new Promise((resolve) => first.process.once("exit", resolve));
      assert.ok(createdTexts(receiver).length < texts.length, "killed with deliveries still queued");

      receiver.respond = () => ({ status: 200, json: {} });
      second = await spawnServer(env);
      await eventually(
        async () => texts.every((text) => createdTexts(receiver).includes(text)),
        60_000,
        "every message",
      );
      const idsByText = new Map<string, Set<string>>();
      for (const call of receiver.received) {
        const text = call.json.message.body.text;
        idsByText.set(text, new Set([...(idsByText.get(text) ?? []), call.json.id]));
      }
      assert.ok(
        [...idsByText.values()].every((ids) => ids.size === 1),
        "a message delivered twice has one id",
      );
      assert.deepEqual([...new Set(createdTexts(receiver))], texts, "in the order sent");
    } finally {
      await second?.stop();
      await first.stop();
      await storage.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
      await receiver.down();
    }
  });
});

describe("pre-send webhook", () => {
  let receiver: Receiver;
  let open: TestServer;
  let closed: TestServer;
  before(async () => {
    receiver = await new Receiver().up();
    receiver.respond = ({ json }) => {
      const text: string = json.message.body.text ?? "";
      if (text.includes("slow")) return { delayMs: 600, json: { action: "pass" } };
      if (text.includes("spam")) return { json: { action: "reject", reason: "no spam, please" } };
      if (text.includes("secret"))
        return {
          json: {
            action: "rewrite",
            body: { text: text.replaceAll("secret", "[redacted]") },
            ext: { checked: true },
          },
        };
      if (text.includes("broken")) return { status: 500 };
      return { json: { action: "pass" } };
    };
    const storage = await testStorage();
    const env = { ...storage.env, PRE_SEND_WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET };
    open = await startApp(env);
    closed = await startApp({
      ...(servicesMode ? (await testStorage()).env : {}),
      PRE_SEND_WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: SECRET,
      PRE_SEND_WEBHOOK_FAILURE: "closed",
    });
  });
  after(async () => {
    await open.stop();
    await closed.stop();
    await receiver.down();
  });

  const texts = async (url: string, token: string, peer: string) =>
    (await ok(url, HISTORY, { with: peer, last: 100 }, token)).messages.edges.map(
      (edge: any) => edge.node.body.text,
    );

  it("passes, rejects with the app's reason, or rewrites the body and ext; the call is signed", async () => {
    const url = open.url;
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const passed = await sendText(url, alice.token, bob.username, "plain words");
    assert.equal(passed.body.text, "plain words");
    const reason = await fails(
      "CONTENT_REJECTED",
      url,
      SEND,
      { to: { user: bob.username }, body: { text: { text: "buy spam" } } },
      alice.token,
    );
    assert.equal(reason, "no spam, please");
    const rewritten = (
      await ok(
        url,
        SEND,
        { to: { user: bob.username }, body: { text: { text: "the secret plan" } }, ext: { n: 1 } },
        alice.token,
      )
    ).sendMessage;
    assert.equal(rewritten.body.text, "the [redacted] plan");
    assert.deepEqual(rewritten.ext, { checked: true });
    assert.deepEqual(await texts(url, bob.token, alice.username), ["plain words", "the [redacted] plan"]);

    const asked = receiver.received.find((r) => r.json.message.body.text === "plain words")!;
    assert.ok(signedByUs(asked));
    assert.deepEqual(
      {
        event: asked.json.event,
        from: asked.json.message.from,
        to: asked.json.message.to,
        type: asked.json.message.type,
      },
      { event: "message.pre_send", from: alice.username, to: { user: bob.username }, type: "TEXT" },
    );
  });

  it("no answer in time or an error: fails open, or closed as configured", async () => {
    for (const text of ["slow reply", "broken hook"]) {
      const [alice, bob] = [await signUp(open.url), await signUp(open.url)];
      assert.equal((await sendText(open.url, alice.token, bob.username, text)).body.text, text);
      const [carol, dave] = [await signUp(closed.url), await signUp(closed.url)];
      await fails(
        "CONTENT_REJECTED",
        closed.url,
        SEND,
        { to: { user: dave.username }, body: { text: { text } } },
        carol.token,
      );
      assert.deepEqual(await texts(closed.url, dave.token, carol.username), []);
    }
  });
});
