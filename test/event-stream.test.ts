import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pruneEvents } from "../src/delivery/user-log.js";
import type { App } from "../src/server.js";
import { startApp, type TestServer } from "./helpers/app.js";
import { connect, fails, ok, subscribe } from "./helpers/client.js";
import { signIn, signUp } from "./helpers/factories.js";
import { cursorOf, HISTORY, SEND, sendText, userPosition } from "./helpers/messaging.js";

let server: TestServer & { app: App };
let url: string;
before(async () => {
  server = await startApp();
  url = server.url;
});
after(() => server.stop());

const SYNC = `query($since: String, $first: Int) {
  sync(since: $since, first: $first) {
    nextCursor hasMore
    events { cursor event { __typename ... on MessageEvent { message { id body { ... on TextBody { text } } } } } }
  }
}`;

const SMALL_STREAM = `subscription($since: String) {
  events(since: $since) { cursor event { __typename ... on MessageEvent { message { id body { ... on TextBody { text } ... on CommandBody { action } } } } } }
}`;

const text = (result: any) => result.data?.events.event.message?.body?.text;

describe("events(since)", () => {
  it("replays what arrived while offline, then goes live, with every message once and in order", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const since = await cursorOf(url, bob.token);
    for (let i = 0; i < 30; i++) await sendText(url, alice.token, bob.username, `offline ${i}`);
    const socket = connect(url, bob.token);
    await socket.connected;
    const events = subscribe(socket, SMALL_STREAM, { since });
    const received: string[] = [];
    const cursors: bigint[] = [];
    for (let i = 0; i < 30; i++) {
      const next = await events.next();
      received.push(text(next));
      cursors.push(userPosition(next.data?.events.cursor));
    }
    await sendText(url, alice.token, bob.username, "live");
    const live = await events.next();
    received.push(text(live));
    cursors.push(userPosition(live.data?.events.cursor));
    assert.deepEqual(received, [...Array.from({ length: 30 }, (_, i) => `offline ${i}`), "live"]);
    assert.deepEqual(
      cursors,
      cursors.map((_, i) => userPosition(since) + BigInt(i + 1)),
    );
    await socket.dispose();
  });

  it("replays a backlog of many pages with no live traffic to wake it", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const since = await cursorOf(url, bob.token);
    await Promise.all(
      [0, 1, 2].map(async (lane) => {
        for (let i = lane; i < 650; i += 3) await sendText(url, alice.token, bob.username, `b${i}`);
      }),
    );
    const socket = connect(url, bob.token);
    await socket.connected;
    const events = subscribe(socket, SMALL_STREAM, { since });
    const started = Date.now();
    const received = new Set<string>();
    while (received.size < 650) received.add(text(await events.next(5000)));
    assert.ok(Date.now() - started < 10_000);
    assert.equal(events.received.length, 650);
    await socket.dispose();
  });

  it("loses and repeats nothing at the seam when messages arrive during the replay", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const since = await cursorOf(url, bob.token);
    for (let i = 0; i < 250; i++) await sendText(url, alice.token, bob.username, `m${i}`);
    const socket = connect(url, bob.token);
    await socket.connected;
    const sending = (async () => {
      for (let i = 250; i < 400; i++) await sendText(url, alice.token, bob.username, `m${i}`);
    })();
    const events = subscribe(socket, SMALL_STREAM, { since });
    const received: string[] = [];
    while (received.length < 400) received.push(text(await events.next(10_000)));
    await sending;
    assert.deepEqual(
      received,
      Array.from({ length: 400 }, (_, i) => `m${i}`),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(events.received.length, 400, "no event after the last one");
    await socket.dispose();
  });

  it("keeps every stream gapless when many senders write to one user at once", async () => {
    const bob = await signUp(url);
    const senders = await Promise.all(Array.from({ length: 8 }, () => signUp(url)));
    const socket = connect(url, bob.token);
    await socket.connected;
    const events = subscribe(socket, SMALL_STREAM, { since: await cursorOf(url, bob.token) });
    await Promise.all(
      senders.map(async (sender, s) => {
        for (let i = 0; i < 15; i++) await sendText(url, sender.token, bob.username, `${s}:${i}`);
      }),
    );
    const received: { cursor: bigint; text: string }[] = [];
    while (received.length < 120) {
      const next = await events.next(10_000);
      received.push({ cursor: userPosition(next.data?.events.cursor), text: text(next) });
    }
    for (let i = 1; i < received.length; i++) assert.equal(received[i]!.cursor, received[i - 1]!.cursor + 1n);
    assert.equal(new Set(received.map((r) => r.text)).size, 120);
    // Per sender, their messages arrive in the order they were sent.
    for (let s = 0; s < 8; s++) {
      const mine = received
        .filter((r) => r.text.startsWith(`${s}:`))
        .map((r) => Number(r.text.split(":")[1]));
      assert.deepEqual(
        mine,
        Array.from({ length: 15 }, (_, i) => i),
      );
    }
    await socket.dispose();
  });

  it("survives the WebSocket being cut many times while messages flow: each arrives exactly once, in order", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const total = 300;
    let cursor = await cursorOf(url, bob.token);
    const sending = (async () => {
      for (let i = 0; i < total; i++) {
        await sendText(url, alice.token, bob.username, `r${i}`);
        if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const received: string[] = [];
    let cuts = 0;
    while (received.length < total) {
      const socket = connect(url, bob.token);
      await socket.connected;
      const events = subscribe(socket, SMALL_STREAM, { since: cursor });
      const take = 1 + Math.floor(Math.random() * 25);
      for (let i = 0; i < take && received.length < total; i++) {
        const next = await events.next(10_000);
        received.push(text(next));
        cursor = next.data?.events.cursor;
      }
      socket.client.terminate();
      cuts++;
    }
    await sending;
    assert.ok(cuts >= 12, `only ${cuts} reconnects`);
    assert.deepEqual(
      received,
      Array.from({ length: total }, (_, i) => `r${i}`),
    );
  });

  it("starts live without since, and gives every device of the user the same stream", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    await sendText(url, alice.token, bob.username, "before anyone listened");
    const phone = await signIn(url, bob.username, "ios");
    const sockets = [connect(url, bob.token), connect(url, phone.token)];
    await Promise.all(sockets.map((s) => s.connected));
    const streams = sockets.map((s) => subscribe(s, SMALL_STREAM));
    // A stream without since goes live once subscribed; graphql-ws does not say when that is.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await sendText(url, alice.token, bob.username, "now");
    for (const stream of streams) {
      const next = await stream.next();
      assert.equal(text(next), "now");
    }
    assert.equal(streams[0]!.received[0]!.data?.events.cursor, streams[1]!.received[0]!.data?.events.cursor);
    await Promise.all(sockets.map((s) => s.dispose()));
  });

  it("refuses malformed cursors, cursors from the future, and cursors older than retention", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const socket = connect(url, bob.token);
    await socket.connected;
    for (const since of ["abc", "-1", "1.5.5", "1"]) {
      const result = await subscribe(socket, SMALL_STREAM, { since }).next();
      assert.equal(result.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", since);
    }
    const ahead = await subscribe(socket, SMALL_STREAM, { since: "999999.0" }).next();
    assert.equal(ahead.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    for (let i = 0; i < 3; i++) await sendText(url, alice.token, bob.username, `old ${i}`);
    // Retention passes the first events: everything older than "now + 7 days" minus 7 days, that is now.
    const removed = await pruneEvents(server.app.services, new Date(Date.now() + 7 * 86_400_000 + 1000));
    assert.ok(removed >= 3);
    const expired = await subscribe(socket, SMALL_STREAM, { since: "0.0" }).next();
    assert.equal(expired.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.equal(expired.errors?.[0]?.extensions?.reason, "CURSOR_EXPIRED");
    await fails("BAD_USER_INPUT", url, SYNC, { since: "1.0" }, bob.token);
    // The current cursor still works, and the history is still there.
    const current = await cursorOf(url, bob.token);
    const live = subscribe(socket, SMALL_STREAM, { since: current });
    await sendText(url, alice.token, bob.username, "after retention");
    assert.equal(text(await live.next()), "after retention");
    assert.equal((await ok(url, HISTORY, { with: alice.username }, bob.token)).messages.edges.length, 4);
    await socket.dispose();
  });
});

describe("sync", () => {
  it("pages the same durable events as the stream", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const start = await cursorOf(url, bob.token);
    for (let i = 0; i < 25; i++) await sendText(url, alice.token, bob.username, `s${i}`);
    const texts: string[] = [];
    let since = start;
    let pages = 0;
    for (;;) {
      const page = (await ok(url, SYNC, { since, first: 10 }, bob.token)).sync;
      pages++;
      for (const envelope of page.events) texts.push(envelope.event.message.body.text);
      since = page.nextCursor;
      if (!page.hasMore) break;
    }
    assert.equal(pages, 3);
    assert.deepEqual(
      texts,
      Array.from({ length: 25 }, (_, i) => `s${i}`),
    );
    const empty = (await ok(url, SYNC, { since }, bob.token)).sync;
    assert.deepEqual(empty.events, []);
    assert.equal(empty.nextCursor, since);
    assert.equal(empty.hasMore, false);
    const fromStart = (await ok(url, SYNC, { first: 1000 }, bob.token)).sync;
    assert.equal(fromStart.events.length, 25);
    await fails("BAD_USER_INPUT", url, SYNC, { first: 1001 }, bob.token);
    await fails("UNAUTHENTICATED", url, SYNC, {});
  });
});

describe("command messages", () => {
  it("go to online devices only, with no cursor, and never into history or replay", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const since = await cursorOf(url, bob.token);
    const socket = connect(url, bob.token);
    await socket.connected;
    const events = subscribe(socket, SMALL_STREAM);
    // A stream without since goes live once subscribed; graphql-ws does not say when that is.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sent = (
      await ok(
        url,
        SEND,
        { to: { user: bob.username }, body: { command: { action: "typing-start", params: { a: 1 } } } },
        alice.token,
      )
    ).sendMessage;
    assert.equal(sent.type, "COMMAND");
    assert.deepEqual(sent.body.params, { a: 1 });
    const live = await events.next();
    assert.equal(live.data?.events.cursor, null);
    assert.equal(live.data?.events.event.message.body.action, "typing-start");
    assert.equal(live.data?.events.event.message.id, sent.id);
    assert.equal((await ok(url, HISTORY, { with: alice.username }, bob.token)).messages.edges.length, 0);
    assert.deepEqual((await ok(url, SYNC, { since }, bob.token)).sync.events, []);
    await socket.dispose();
  });
});

describe("a lost wake-up", () => {
  let lossy: TestServer & { app: App };
  before(async () => {
    lossy = await startApp({ DELIVERY_POLL_SECONDS: "1" });
  });
  after(() => lossy.stop());

  it("is made up by the instance's own look within DELIVERY_POLL_SECONDS, in both logs", async () => {
    const [alice, bob] = [await signUp(lossy.url), await signUp(lossy.url)];
    const group = (
      await ok(
        lossy.url,
        'mutation($m: [String!]) { createGroup(name: "g", members: $m) { id } }',
        {
          m: [bob.username],
        },
        alice.token,
      )
    ).createGroup.id;
    const socket = connect(lossy.url, bob.token);
    await socket.connected;
    const events = subscribe(socket, SMALL_STREAM, { since: await cursorOf(lossy.url, bob.token) });
    await sendText(lossy.url, alice.token, bob.username, "woken");
    assert.equal(text(await events.next()), "woken");

    // Wake-ups are dropped, as Redis pubsub drops them while a subscriber reconnects.
    const { pubsub } = lossy.app.services;
    const publish = pubsub.publish;
    pubsub.publish = ((topic: string, ...rest: unknown[]) => {
      if (topic === "streamAdvanced" || topic === "chatLogAdvanced") return;
      return (publish as (...args: unknown[]) => unknown).call(pubsub, topic, ...rest);
    }) as typeof publish;
    try {
      await sendText(lossy.url, alice.token, bob.username, "direct, never announced");
      await ok(
        lossy.url,
        'mutation($g: ID!) { sendMessage(to: { group: $g }, body: { text: { text: "group, never announced" } }) { id } }',
        { g: group },
        alice.token,
      );
      const arrived = [text(await events.next(5000)), text(await events.next(5000))];
      assert.deepEqual(arrived.sort(), ["direct, never announced", "group, never announced"]);
    } finally {
      pubsub.publish = publish;
    }
  });
});
