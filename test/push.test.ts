import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { verifySignature } from "../src/callbacks/signing.js";
import { loadConfig } from "../src/config.js";
import { sql } from "../src/db/sql.js";
import type { App } from "../src/server.js";
import { spawnServer, startApp, type TestServer, testStorage } from "./helpers/app.js";
import { connect, fails, ok } from "./helpers/client.js";
import { servicesMode } from "./helpers/env.js";
import { adminToken, type SignedIn, signIn, signUp } from "./helpers/factories.js";
import { sendText } from "./helpers/messaging.js";
import { FakeApns, FakeFcm, WebPushEndpoint } from "./helpers/push.js";
import { CREATE_ROOM, JOIN_ROOM } from "./helpers/rooms.js";

const REGISTER = `mutation($p: PushProvider!, $t: String!, $d: ID) {
  registerPushToken(provider: $p, token: $t, deviceId: $d) { id provider token deviceId }
}`;
const UNREGISTER =
  "mutation($p: PushProvider!, $t: String!) { unregisterPushToken(provider: $p, token: $t) }";
const TOKENS = "{ pushTokens { provider token deviceId } }";
const SETTINGS_FIELDS = "displayStyle doNotDisturb { start end } pushName";
const SET_SETTINGS = `mutation($s: PushDisplayStyle, $dnd: DoNotDisturbInput, $n: String) {
  setPushSettings(displayStyle: $s, doNotDisturb: $dnd, pushName: $n) { ${SETTINGS_FIELDS} }
}`;
const CREATE_GROUP = `mutation($name: String!, $members: [String!]) { createGroup(name: $name, members: $members) { id } }`;
const MUTE = `mutation($c: ChatTarget!) { muteConversation(conversation: $c, muted: true) { muted } }`;
const SEND_THREAD = `mutation($t: ID!, $text: String!) {
  sendMessage(to: { thread: $t }, body: { text: { text: $text } }) { id }
}`;
const SEND_GROUP = `mutation($g: ID!, $text: String!, $mentions: [String!]) {
  sendMessage(to: { group: $g }, body: { text: { text: $text } }, mentions: $mentions) { id }
}`;

const webPush = await new WebPushEndpoint().start();
const fcm = await new FakeFcm().start();
const apns = await new FakeApns().start();

let server: TestServer & { app: App };
let url: string;
before(async () => {
  server = await startApp({
    ...webPush.env(),
    ...fcm.env(),
    ...apns.env(),
    PUSH_LARGE_GROUP_MEMBERS: "3",
    PUSH_TIMEOUT_MS: "5000",
  });
  url = server.url;
});
after(async () => {
  await server.stop();
  await Promise.all([webPush.stop(), fcm.stop(), apns.stop()]);
});

/** A user whose one device registered a Web Push subscription and is not connected. */
async function offlineWithWebPush(): Promise<SignedIn & { push: string }> {
  const user = await signUp(url);
  const subscriber = webPush.subscribe();
  await ok(url, REGISTER, { p: "WEB_PUSH", t: subscriber.token }, user.token);
  return { ...user, push: subscriber.id };
}

/** Until every queued push was handed to its provider (nothing in the outbox or the job queue). */
async function drained(app: App = server.app) {
  for (;;) {
    const [row] = await app.services.db.query<{ waiting: number }>(sql`
      SELECT (SELECT count(*) FROM "OutboxEntry" WHERE consumer = 'push')::int
        + (SELECT count(*) FROM "PushJob")::int AS waiting`);
    if (row!.waiting === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("push tokens and settings", () => {
  it("registers, lists, moves and unregisters tokens of the caller's own devices", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const subscriber = webPush.subscribe();
    const registered = (await ok(url, REGISTER, { p: "WEB_PUSH", t: subscriber.token }, alice.token))
      .registerPushToken;
    assert.equal(registered.deviceId, alice.deviceId, "the calling device by default");
    assert.deepEqual(JSON.parse(registered.token), JSON.parse(subscriber.token));
    const apnsToken = "AB".repeat(32);
    await ok(url, REGISTER, { p: "APNS", t: apnsToken, d: alice.deviceId }, alice.token);
    assert.deepEqual(
      (await ok(url, TOKENS, {}, alice.token)).pushTokens.map(
        (token: { provider: string }) => token.provider,
      ),
      ["WEB_PUSH", "APNS"],
    );
    // The same phone signed in as someone else: the token follows the login.
    await ok(url, REGISTER, { p: "APNS", t: apnsToken }, bob.token);
    assert.deepEqual(
      (await ok(url, TOKENS, {}, alice.token)).pushTokens.map(
        (token: { provider: string }) => token.provider,
      ),
      ["WEB_PUSH"],
    );
    assert.equal(
      (await ok(url, UNREGISTER, { p: "APNS", t: apnsToken }, alice.token)).unregisterPushToken,
      false,
    );
    assert.equal(
      (await ok(url, UNREGISTER, { p: "APNS", t: apnsToken }, bob.token)).unregisterPushToken,
      true,
    );
    assert.deepEqual((await ok(url, TOKENS, {}, bob.token)).pushTokens, []);

    // A signed-out device's token is no longer used, nor listed.
    const phone = await signIn(url, bob.username, "android");
    await ok(url, REGISTER, { p: "FCM", t: `fcm-gone-${bob.userId}` }, phone.token);
    assert.equal((await ok(url, TOKENS, {}, bob.token)).pushTokens.length, 1);
    await ok(url, "mutation($d: ID!) { logoutDevice(deviceId: $d) }", { d: phone.deviceId }, bob.token);
    assert.deepEqual((await ok(url, TOKENS, {}, bob.token)).pushTokens, []);
    await sendText(url, alice.token, bob.username, "anyone?");
    await drained();
    assert.deepEqual(fcm.for(`fcm-gone-${bob.userId}`), []);
  });

  it("refuses bad tokens, other users' devices, the admin token and anonymous callers", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    await fails("BAD_USER_INPUT", url, REGISTER, { p: "WEB_PUSH", t: "not json" }, alice.token);
    await fails(
      "BAD_USER_INPUT",
      url,
      REGISTER,
      { p: "WEB_PUSH", t: JSON.stringify({ endpoint: "ftp://x/y", keys: { p256dh: "AA", auth: "AA" } }) },
      alice.token,
    );
    await fails("BAD_USER_INPUT", url, REGISTER, { p: "APNS", t: "not-hex" }, alice.token);
    await fails("BAD_USER_INPUT", url, REGISTER, { p: "FCM", t: "" }, alice.token);
    await fails("BAD_USER_INPUT", url, REGISTER, { p: "FCM", t: "abc", d: "nope" }, alice.token);
    await fails("FORBIDDEN", url, REGISTER, { p: "FCM", t: "abc", d: bob.deviceId }, alice.token);
    await fails(
      "NOT_FOUND",
      url,
      REGISTER,
      { p: "FCM", t: "abc", d: "00000000-0000-4000-8000-000000000000" },
      alice.token,
    );
    // WEBHOOK is not configured on this server.
    await fails("BAD_USER_INPUT", url, REGISTER, { p: "WEBHOOK", t: "abc" }, alice.token);
    await fails("FORBIDDEN", url, REGISTER, { p: "FCM", t: "abc" }, await adminToken(url));
    await fails("UNAUTHENTICATED", url, REGISTER, { p: "FCM", t: "abc" });
    await fails("UNAUTHENTICATED", url, `{ pushSettings { ${SETTINGS_FIELDS} } }`);
    assert.deepEqual((await ok(url, TOKENS, {}, alice.token)).pushTokens, []);
  });

  it("keeps settings, changes only what is given, and refuses bad times and names", async () => {
    const alice = await signUp(url);
    assert.deepEqual(
      (await ok(url, `{ pushSettings { ${SETTINGS_FIELDS} } }`, {}, alice.token)).pushSettings,
      {
        displayStyle: "SUMMARY",
        doNotDisturb: null,
        pushName: null,
      },
    );
    const set = await ok(
      url,
      SET_SETTINGS,
      { s: "CONTENT", dnd: { start: "22:30", end: "07:00" }, n: " Ally " },
      alice.token,
    );
    assert.deepEqual(set.setPushSettings, {
      displayStyle: "CONTENT",
      doNotDisturb: { start: "22:30", end: "07:00" },
      pushName: "Ally",
    });
    const partly = await ok(
      url,
      "mutation { setPushSettings(doNotDisturb: null) { displayStyle doNotDisturb { start } pushName } }",
      {},
      alice.token,
    );
    assert.deepEqual(partly.setPushSettings, {
      displayStyle: "CONTENT",
      doNotDisturb: null,
      pushName: "Ally",
    });
    await fails("BAD_USER_INPUT", url, SET_SETTINGS, { dnd: { start: "24:00", end: "07:00" } }, alice.token);
    await fails("BAD_USER_INPUT", url, SET_SETTINGS, { dnd: { start: "7:00", end: "08:00" } }, alice.token);
    await fails("BAD_USER_INPUT", url, SET_SETTINGS, { dnd: { start: "08:00", end: "08:00" } }, alice.token);
    await fails("BAD_USER_INPUT", url, SET_SETTINGS, { n: "x".repeat(65) }, alice.token);
    await fails("BAD_USER_INPUT", url, SET_SETTINGS, { s: "LOUD" }, alice.token);
    const config = (await ok(url, "{ pushConfig { providers vapidPublicKey } }", {}, alice.token)).pushConfig;
    assert.deepEqual(config, {
      providers: ["FCM", "APNS", "WEB_PUSH"],
      vapidPublicKey: webPush.env().VAPID_PUBLIC_KEY,
    });
  });
});

describe("push settings of the deployment", () => {
  it("refuses half a provider's settings, and a push webhook without a secret", () => {
    assert.throws(
      () => loadConfig({ VAPID_PUBLIC_KEY: "x" }),
      /VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT must be set together/,
    );
    assert.throws(() => loadConfig({ APNS_KEY_FILE: "k.p8", APNS_KEY_ID: "K" }), /must be set together/);
    assert.throws(
      () => loadConfig({ PUSH_WEBHOOK_URL: "http://app.test/push" }),
      /PUSH_WEBHOOK_URL needs WEBHOOK_SECRET/,
    );
    assert.throws(() => loadConfig({ PUSH_LARGE_GROUP_MEMBERS: "1" }), /PUSH_LARGE_GROUP_MEMBERS/);
    const defaults = loadConfig({}).push;
    assert.deepEqual(
      [defaults.largeGroupMembers, defaults.vapid, defaults.apns, defaults.webhookUrl],
      [500, undefined, undefined, undefined],
    );
  });
});

describe("who gets a push", () => {
  it("an offline user gets an encrypted Web Push: the summary by default, the content when asked", async () => {
    const [alice, bob] = [await signUp(url), await offlineWithWebPush()];
    const first = await sendText(url, alice.token, bob.username, "secret plans");
    const [summary] = await webPush.waitFor(bob.push);
    assert.deepEqual(summary!.payload, {
      id: summary!.payload.id,
      title: "New message",
      body: "",
      chatType: "DIRECT",
      conversation: alice.username,
      messageId: first.id,
      count: "1",
      mentioned: "false",
    });
    assert.match(String(summary!.headers.topic), /^[A-Za-z0-9_-]{1,32}$/, "collapses per conversation");
    assert.ok(Number(summary!.headers.ttl) > 0);

    await ok(url, SET_SETTINGS, { s: "CONTENT" }, bob.token);
    await ok(url, SET_SETTINGS, { n: "Alice from Accounts" }, alice.token);
    await sendText(url, alice.token, bob.username, "lunch at noon?");
    const [, content] = await webPush.waitFor(bob.push, 2);
    assert.equal(content!.payload.title, "Alice from Accounts");
    assert.equal(content!.payload.body, "lunch at noon?");
    assert.equal(content!.payload.sender, alice.username);
    assert.notEqual(content!.payload.id, summary!.payload.id);
    assert.equal(content!.headers.topic, summary!.headers.topic);
  });

  it("a user with a device online gets none; once offline, they do", async () => {
    const [alice, bob] = [await signUp(url), await offlineWithWebPush()];
    const socket = connect(url, bob.token);
    await socket.connected;
    await sendText(url, alice.token, bob.username, "you are here");
    await drained();
    assert.deepEqual(webPush.for(bob.push), []);

    await socket.dispose();
    for (;;) {
      const status = await ok(
        url,
        "query($u: [String!]!) { presence(usernames: $u) { online } }",
        { u: [bob.username] },
        alice.token,
      );
      if (!status.presence[0].online) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await sendText(url, alice.token, bob.username, "gone now");
    assert.equal((await webPush.waitFor(bob.push)).length, 1);
  });

  it("a muted conversation gets none but a mention still does; quiet hours get none", async () => {
    const [owner, muted, listening] = [
      await signUp(url),
      await offlineWithWebPush(),
      await offlineWithWebPush(),
    ];
    const group = (
      await ok(
        url,
        CREATE_GROUP,
        { name: "team", members: [muted.username, listening.username] },
        owner.token,
      )
    ).createGroup;
    await ok(url, MUTE, { c: { group: group.id } }, muted.token);
    await ok(url, SEND_GROUP, { g: group.id, text: "standup in 5" }, owner.token);
    await webPush.waitFor(listening.push);
    await drained();
    assert.deepEqual(webPush.for(muted.push), []);

    await ok(url, SEND_GROUP, { g: group.id, text: "you too", mentions: [muted.username] }, owner.token);
    const [mention] = await webPush.waitFor(muted.push);
    assert.equal(mention!.payload.mentioned, "true");
    assert.equal(mention!.payload.chatType, "GROUP");
    assert.equal(mention!.payload.conversation, group.id);
    await webPush.waitFor(listening.push, 2);

    // Quiet hours around now (UTC) for the listening member: nothing, mention or not.
    const now = new Date();
    const at = (minutes: number) => {
      const time = new Date(now.getTime() + minutes * 60_000);
      return `${String(time.getUTCHours()).padStart(2, "0")}:${String(time.getUTCMinutes()).padStart(2, "0")}`;
    };
    await ok(url, SET_SETTINGS, { dnd: { start: at(-60), end: at(60) } }, listening.token);
    await ok(url, SEND_GROUP, { g: group.id, text: "shh", mentions: [listening.username] }, owner.token);
    await drained();
    assert.equal(webPush.for(listening.push).length, 2);
  });

  it("thread members get their thread's messages, under the thread's name, unless they muted it", async () => {
    const [owner, member] = [await signUp(url), await offlineWithWebPush()];
    await ok(url, SET_SETTINGS, { s: "CONTENT" }, member.token);
    const group = (await ok(url, CREATE_GROUP, { name: "crew", members: [member.username] }, owner.token))
      .createGroup;
    const parent = (await ok(url, SEND_GROUP, { g: group.id, text: "plans?" }, owner.token)).sendMessage;
    await webPush.waitFor(member.push);
    const thread = (
      await ok(
        url,
        `mutation($m: ID!) { createThread(parentMessageId: $m, name: "weekend") { id } }`,
        { m: parent.id },
        owner.token,
      )
    ).createThread;
    await ok(url, `mutation($id: ID!) { joinThread(id: $id) { id } }`, { id: thread.id }, member.token);
    await ok(url, SEND_THREAD, { t: thread.id, text: "hike on saturday" }, owner.token);
    const [, inThread] = await webPush.waitFor(member.push, 2);
    assert.deepEqual(
      [
        inThread!.payload.chatType,
        inThread!.payload.conversation,
        inThread!.payload.title,
        inThread!.payload.body,
      ],
      ["THREAD", thread.id, "weekend", `${owner.username}: hike on saturday`],
    );
    await ok(url, MUTE, { c: { thread: thread.id } }, member.token);
    await ok(url, SEND_THREAD, { t: thread.id, text: "bring water" }, owner.token);
    await drained();
    assert.equal(webPush.for(member.push).length, 2);
  });

  it("groups above PUSH_LARGE_GROUP_MEMBERS push mentions only; rooms never push", async () => {
    const owner = await signUp(url);
    const members = [await offlineWithWebPush(), await offlineWithWebPush(), await offlineWithWebPush()];
    const group = (
      await ok(url, CREATE_GROUP, { name: "big", members: members.map((m) => m.username) }, owner.token)
    ).createGroup;
    await ok(url, SEND_GROUP, { g: group.id, text: "everyone?" }, owner.token);
    await ok(
      url,
      SEND_GROUP,
      { g: group.id, text: "just you", mentions: [members[0]!.username] },
      owner.token,
    );
    const [only] = await webPush.waitFor(members[0]!.push);
    await drained();
    assert.equal(only!.payload.mentioned, "true");
    assert.deepEqual(
      [members[1], members[2]].map((m) => webPush.for(m!.push).length),
      [0, 0],
    );

    const admin = await adminToken(url);
    const room = (await ok(url, CREATE_ROOM, { name: "lobby", owner: owner.username }, admin)).createRoom;
    const listener = members[1]!;
    await ok(url, JOIN_ROOM, { id: room.id }, listener.token);
    await ok(
      url,
      `mutation($id: ID!) { sendMessage(to: { room: $id }, body: { text: { text: "@all hi" } }, mentionAll: true) { id } }`,
      { id: room.id },
      owner.token,
    );
    await drained();
    assert.equal(webPush.for(listener.push).length, 0);
  });
});

describe("sending", () => {
  it("collapses what piles up for one conversation into one notification", async () => {
    const [alice, bob] = [await signUp(url), await offlineWithWebPush()];
    await ok(url, SET_SETTINGS, { s: "CONTENT" }, bob.token);
    let release!: () => void;
    webPush.plan(bob.push, {
      hold: new Promise<void>((resolve) => {
        release = resolve;
      }),
    });
    await sendText(url, alice.token, bob.username, "one");
    await webPush.waitFor(bob.push);
    for (const text of ["two", "three", "four", "five"]) await sendText(url, alice.token, bob.username, text);
    // While the first push is in flight the other four wait in the queue.
    for (;;) {
      const [row] = await server.app.services.db.query<{ n: number }>(
        sql`SELECT count(*)::int AS n FROM "PushJob" WHERE "userId" = ${bob.userId}::uuid`,
      );
      if (row!.n === 5) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    release();
    const [first, rest] = await webPush.waitFor(bob.push, 2);
    await drained();
    assert.equal(webPush.for(bob.push).length, 2);
    assert.equal(first!.payload.count, "1");
    assert.deepEqual([rest!.payload.count, rest!.payload.body], ["4", "five (4 new messages)"]);
  });

  it("unregisters a token the provider says is gone, and retries one that failed", async () => {
    const [alice, bob, carol] = [await signUp(url), await offlineWithWebPush(), await offlineWithWebPush()];
    webPush.plan(bob.push, { status: 410 });
    webPush.plan(carol.push, { status: 503 });
    await sendText(url, alice.token, bob.username, "anyone there?");
    await sendText(url, alice.token, carol.username, "try again");
    await webPush.waitFor(bob.push);
    const [failed, retried] = await webPush.waitFor(carol.push, 2);
    assert.equal(retried!.payload.id, failed!.payload.id, "a retry is the same notification");
    await drained();
    assert.deepEqual((await ok(url, TOKENS, {}, bob.token)).pushTokens, []);
    assert.equal((await ok(url, TOKENS, {}, carol.token)).pushTokens.length, 1);
  });

  it("FCM HTTP v1: an OAuth token from the service account, then messages:send; UNREGISTERED drops the token", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    await ok(url, REGISTER, { p: "FCM", t: `fcm-${bob.userId}` }, bob.token);
    const message = await sendText(url, alice.token, bob.username, "hi android");
    const [received] = await fcm.waitFor(`fcm-${bob.userId}`);
    const { message: sent } = received!.payload;
    assert.equal(received!.headers["content-type"], "application/json");
    assert.deepEqual(sent.notification, { title: "New message", body: "" });
    assert.equal(sent.data.messageId, message.id);
    assert.equal(sent.data.conversation, alice.username);
    assert.equal(typeof sent.data.id, "string");
    assert.equal(sent.android.collapse_key.length > 0, true);
    assert.ok(fcm.tokenRequests >= 1);

    const carol = await signUp(url);
    await ok(url, REGISTER, { p: "FCM", t: `fcm-${carol.userId}` }, carol.token);
    fcm.plan(`fcm-${carol.userId}`, {
      status: 404,
      body: JSON.stringify({
        error: { code: 404, status: "NOT_FOUND", details: [{ errorCode: "UNREGISTERED" }] },
      }),
    });
    await sendText(url, alice.token, carol.username, "uninstalled?");
    await fcm.waitFor(`fcm-${carol.userId}`);
    await drained();
    assert.deepEqual((await ok(url, TOKENS, {}, carol.token)).pushTokens, []);
  });

  it("APNs over HTTP/2 with a provider token; 410 Unregistered drops the token", async () => {
    const [alice, bob, carol] = [await signUp(url), await signUp(url), await signUp(url)];
    const bobToken = Buffer.from(bob.userId.replaceAll("-", ""), "hex").toString("hex").padEnd(64, "0");
    const carolToken = Buffer.from(carol.userId.replaceAll("-", ""), "hex").toString("hex").padEnd(64, "1");
    await ok(url, REGISTER, { p: "APNS", t: bobToken }, bob.token);
    await ok(url, REGISTER, { p: "APNS", t: carolToken }, carol.token);
    apns.plan(carolToken, {
      status: 410,
      body: JSON.stringify({ reason: "Unregistered", timestamp: Date.now() }),
    });
    await ok(url, SET_SETTINGS, { s: "CONTENT" }, bob.token);
    const message = await sendText(url, alice.token, bob.username, "hi iphone");
    await sendText(url, alice.token, carol.username, "hi old iphone");
    const [received] = await apns.waitFor(bobToken);
    assert.equal(received!.headers["apns-push-type"], "alert");
    assert.match(
      String(received!.headers["apns-id"]),
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    assert.ok(String(received!.headers["apns-collapse-id"]).length > 0);
    assert.deepEqual(received!.payload.aps.alert, { title: alice.username, body: "hi iphone" });
    assert.equal(received!.payload.messageId, message.id);
    await apns.waitFor(carolToken);
    await drained();
    assert.deepEqual((await ok(url, TOKENS, {}, carol.token)).pushTokens, []);
    assert.equal((await ok(url, TOKENS, {}, bob.token)).pushTokens.length, 1);
  });
});

describe("the WEBHOOK provider", () => {
  it("posts the token and the notification to PUSH_WEBHOOK_URL, signed; 410 unregisters the token", async () => {
    const secret = "push-webhook-secret-0123";
    const calls: { body: string; signature: string | undefined }[] = [];
    const receiver = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString();
      calls.push({ body, signature: request.headers["x-webhook-signature"] as string | undefined });
      response.writeHead(JSON.parse(body).token === "dead-token" ? 410 : 200).end();
    });
    receiver.listen(0, "127.0.0.1");
    await once(receiver, "listening");
    const hook = await startApp({
      PUSH_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/push`,
      WEBHOOK_SECRET: secret,
    });
    try {
      const [alice, bob, carol] = [await signUp(hook.url), await signUp(hook.url), await signUp(hook.url)];
      await ok(hook.url, REGISTER, { p: "WEBHOOK", t: "app-token-1" }, bob.token);
      await ok(hook.url, REGISTER, { p: "WEBHOOK", t: "dead-token" }, carol.token);
      const message = await sendText(hook.url, alice.token, bob.username, "via the app server");
      await sendText(hook.url, alice.token, carol.username, "to a dead token");
      await drained(hook.app);
      const toBob = calls
        .map((call) => ({ ...call, json: JSON.parse(call.body) }))
        .find((call) => call.json.token === "app-token-1")!;
      assert.ok(verifySignature(secret, toBob.body, toBob.signature), "signed with WEBHOOK_SECRET");
      assert.deepEqual(toBob.json, {
        event: "push",
        user: bob.username,
        deviceId: bob.deviceId,
        token: "app-token-1",
        notification: {
          id: toBob.json.notification.id,
          title: "New message",
          body: "",
          chatType: "DIRECT",
          conversation: alice.username,
          messageId: message.id,
          count: "1",
          mentioned: "false",
        },
      });
      assert.deepEqual((await ok(hook.url, TOKENS, {}, carol.token)).pushTokens, []);
    } finally {
      await hook.stop();
      receiver.closeAllConnections();
      receiver.close();
    }
  });
});

describe("an instance killed mid-queue", () => {
  it("loses no push after a restart, and sends one again only with the same id", async () => {
    const storage = servicesMode ? await testStorage() : undefined;
    const dataDir = servicesMode ? undefined : mkdtempSync(path.join(tmpdir(), "im-push-"));
    const env = {
      ...(storage?.env ?? { DATA_DIR: dataDir!, DATABASE_URL: "", REDIS_URL: "" }),
      ...webPush.env(),
      PUSH_TIMEOUT_MS: "3000",
    };
    let first = await spawnServer(env);
    try {
      const alice = await signUp(first.url);
      const bobs: (SignedIn & { push: string })[] = [];
      for (let i = 0; i < 3; i++) {
        const bob = await signUp(first.url);
        const subscriber = webPush.subscribe();
        await ok(first.url, REGISTER, { p: "WEB_PUSH", t: subscriber.token }, bob.token);
        bobs.push({ ...bob, push: subscriber.id });
      }
      // The first push reaches the endpoint, which never answers; the others queue behind it.
      webPush.plan(bobs[0]!.push, { hold: new Promise<void>(() => {}) });
      await sendText(first.url, alice.token, bobs[0]!.username, "zero");
      await webPush.waitFor(bobs[0]!.push);
      await sendText(first.url, alice.token, bobs[1]!.username, "one");
      await sendText(first.url, alice.token, bobs[2]!.username, "two");
      first.process.kill("SIGKILL");
      await once(first.process, "exit");

      first = await spawnServer(env);
      // The killed instance's claims on the outbox and the jobs run out (10 s each).
      const [sent, again] = await webPush.waitFor(bobs[0]!.push, 2, 90_000);
      assert.equal(again!.payload.id, sent!.payload.id, "sent again, as the same notification");
      for (const bob of bobs.slice(1)) await webPush.waitFor(bob.push, 1, 90_000);
      await first.stop();
      assert.deepEqual(
        bobs.map((bob) => webPush.for(bob.push).length),
        [2, 1, 1],
        "nothing lost, and nothing else twice",
      );
      assert.deepEqual(
        bobs.map((bob) => webPush.for(bob.push)[0]!.payload.messageId),
        bobs.map((bob) => webPush.for(bob.push).at(-1)!.payload.messageId),
      );
    } finally {
      await first.stop();
      await storage?.cleanup();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
