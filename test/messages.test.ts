import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { App } from "../src/server.js";
import { startApp, type TestServer } from "./helpers/app.js";
import { connect, fails, ok } from "./helpers/client.js";
import { signIn, signUp } from "./helpers/factories.js";
import { cursorOf, HISTORY, SEND, sendText, streamEvents } from "./helpers/messaging.js";

// Away from UTC, so that a timestamp read back as local time would show up as hours off.
process.env.TZ = "Asia/Shanghai";

let server: TestServer & { app: App };
let url: string;
before(async () => {
  server = await startApp();
  url = server.url;
});
after(() => server.stop());

describe("sendMessage", () => {
  it("delivers a text message to the recipient's devices and the sender's other devices", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const alicePhone = await signIn(url, alice.username, "ios");
    const bobSocket = connect(url, bob.token);
    const phoneSocket = connect(url, alicePhone.token);
    await Promise.all([bobSocket.connected, phoneSocket.connected]);
    const bobEvents = streamEvents(bobSocket, await cursorOf(url, bob.token));
    const phoneEvents = streamEvents(phoneSocket, await cursorOf(url, alice.token));
    const sent = await sendText(url, alice.token, bob.username, "hello bob");
    assert.equal(sent.from.username, alice.username);
    assert.equal(sent.to.username, bob.username);
    assert.equal(sent.status, "SENT");
    assert.ok(Math.abs(Date.parse(sent.createdAt) - Date.now()) < 60_000, `createdAt ${sent.createdAt}`);
    assert.equal(sent.body.text, "hello bob");
    const atBob = await bobEvents.next();
    assert.equal(atBob.data?.events.event.__typename, "MessageEvent");
    assert.equal(atBob.data?.events.event.message.id, sent.id);
    assert.equal(atBob.data?.events.event.message.createdAt, sent.createdAt);
    const me = await ok(url, "{ me { createdAt } myDevices { lastSeenAt current } }", {}, bob.token);
    assert.ok(
      Math.abs(Date.parse(me.me.createdAt) - Date.now()) < 60_000,
      `user createdAt ${me.me.createdAt}`,
    );
    for (const device of me.myDevices)
      assert.ok(Math.abs(Date.parse(device.lastSeenAt) - Date.now()) < 120_000);
    assert.equal(atBob.data?.events.event.message.conversation.unreadCount, 1);
    assert.equal(atBob.data?.events.event.message.conversation.peer.username, alice.username);
    assert.ok(atBob.data?.events.cursor);
    const atPhone = await phoneEvents.next();
    assert.equal(atPhone.data?.events.event.message.id, sent.id);
    assert.equal(atPhone.data?.events.event.message.conversation.unreadCount, 0);
    await Promise.all([bobSocket.dispose(), phoneSocket.dispose()]);
  });

  it("is idempotent per clientMessageId", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const first = await sendText(url, alice.token, bob.username, "once", "c-1");
    const again = await sendText(url, alice.token, bob.username, "once", "c-1");
    assert.equal(again.id, first.id);
    const racing = await Promise.all(
      Array.from({ length: 5 }, () => sendText(url, alice.token, bob.username, "race", "c-2")),
    );
    assert.equal(new Set(racing.map((m) => m.id)).size, 1);
    const history = await ok(url, HISTORY, { with: alice.username }, bob.token);
    assert.deepEqual(
      history.messages.edges.map((e: any) => e.node.body.text),
      ["once", "race"],
    );
  });

  it("refuses unknown users, yourself, oversized text and an empty body", async () => {
    const alice = await signUp(url);
    await fails(
      "NOT_FOUND",
      url,
      SEND,
      { to: { user: "nobody-here" }, body: { text: { text: "x" } } },
      alice.token,
    );
    await fails(
      "BAD_USER_INPUT",
      url,
      SEND,
      { to: { user: alice.username }, body: { text: { text: "x" } } },
      alice.token,
    );
    const bob = await signUp(url);
    await fails(
      "LIMIT_EXCEEDED",
      url,
      SEND,
      { to: { user: bob.username }, body: { text: { text: "x".repeat(5001) } } },
      alice.token,
    );
    await fails("BAD_USER_INPUT", url, SEND, { to: { user: bob.username }, body: {} }, alice.token);
    await fails(
      "BAD_USER_INPUT",
      url,
      SEND,
      { to: { user: bob.username }, body: { text: { text: "a" }, custom: { event: "x" } } },
      alice.token,
    );
    await fails("UNAUTHENTICATED", url, SEND, { to: { user: bob.username }, body: { text: { text: "a" } } });
  });

  it("never delivers to a username's former owner, even when another instance deleted them", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    await sendText(url, alice.token, bob.username, "first");
    // As another instance would: delete Bob behind this instance's back, then give his name to Carol.
    const { prisma } = server.app.services;
    await prisma.user.update({
      where: { id: bob.userId },
      data: { username: `deleted:${bob.userId}`, deletedAt: new Date() },
    });
    await fails(
      "NOT_FOUND",
      url,
      SEND,
      { to: { user: bob.username }, body: { text: { text: "x" } } },
      alice.token,
    );
    const carol = await signUp(url, { username: bob.username });
    const sent = await sendText(url, alice.token, carol.username, "to the new owner");
    assert.equal(sent.to.username, carol.username);
    const carolHistory = await ok(url, HISTORY, { with: alice.username }, carol.token);
    assert.deepEqual(
      carolHistory.messages.edges.map((e: any) => e.node.body.text),
      ["to the new owner"],
    );
    assert.equal(await prisma.message.count({ where: { recipientId: bob.userId } }), 1);
  });
});
