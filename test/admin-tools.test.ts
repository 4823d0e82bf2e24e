import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { App } from "../src/server.js";
import { spawnServer, startApp, type TestServer, testStorage } from "./helpers/app.js";
import { eventually, fails, gql, ok } from "./helpers/client.js";
import { servicesMode, uniqueName } from "./helpers/env.js";
import { adminToken, PASSWORD, type SignedIn, signUp } from "./helpers/factories.js";
import { cursorOf, follow, sendText } from "./helpers/messaging.js";

let server: TestServer & { app: App };
let url: string;
let admin: string;
before(async () => {
  server = await startApp();
  url = server.url;
  admin = await adminToken(url);
});
after(() => server.stop());

const BROADCAST = `mutation($text: String!) {
  adminBroadcast(body: { text: { text: $text } }, ext: { kind: "notice" }) {
    id status sentCount totalCount createdAt finishedAt from { username } type body ext
  }
}`;
const STATUS = `query($id: ID!) { adminBroadcastStatus(id: $id) { id status sentCount totalCount finishedAt } }`;
const HISTORY = `query($conversation: ChatTarget!, $last: Int, $before: String) {
  messages(conversation: $conversation, last: $last, before: $before) {
    edges { node { id clientMessageId createdAt recalled from { username } ext
      body { __typename ... on TextBody { text } } } }
    pageInfo { hasPreviousPage startCursor }
  }
}`;
const CONVERSATIONS = `{ conversations(first: 50) { edges { node { chatType unreadCount peer { username } group { id }
  lastMessage { id body { ... on TextBody { text } } } } } } }`;
const SYNC = `query($since: String) { sync(since: $since, first: 100) { events { event { __typename
  ... on MessageEvent { message { from { username } body { ... on TextBody { text } } } } } } } }`;
const IMPORT = `mutation($messages: [ImportMessageInput!]!) {
  adminImportMessages(messages: $messages) {
    importedCount existingCount
    messages { id clientMessageId createdAt chatType status from { username } body { ... on TextBody { text } } }
  }
}`;
const CREATE_GROUP = `mutation($name: String!, $members: [String!]) { createGroup(name: $name, members: $members) { id } }`;
const SEND_GROUP = `mutation($id: ID!, $text: String!) {
  sendMessage(to: { group: $id }, body: { text: { text: $text } }) { id }
}`;
const EXPORT = `query($conversation: ChatTarget!, $user: String) {
  adminExportConversation(conversation: $conversation, user: $user) { url expiresAt }
}`;

async function waitUntilDone(base: string, token: string, id: string, timeoutMs = 30_000) {
  let last: Record<string, any> = {};
  await eventually(
    async () => {
      last = (await ok(base, STATUS, { id }, token)).adminBroadcastStatus;
      return last.status === "DONE";
    },
    timeoutMs,
    "the broadcast to finish",
  );
  return last;
}

/**
 * The times the users' broadcast messages were stored, one per batch (a batch's messages share its
 * transaction's time), oldest first; each batch must come at least a pace after the one before.
 */
async function batchTimes(base: string, users: SignedIn[]): Promise<number[]> {
  const times = new Set<number>();
  for (const user of users) {
    const data = await ok(base, HISTORY, { conversation: { user: "system" }, last: 1 }, user.token);
    times.add(Date.parse(data.messages.edges[0].node.createdAt));
  }
  return [...times].sort((a, b) => a - b);
}

function assertPaced(times: number[], users: number, perSecond: number) {
  assert.equal(times.length, Math.ceil(users / perSecond), "batches of BROADCAST_USERS_PER_SECOND users");
  for (let i = 1; i < times.length; i++) {
    // A batch of `perSecond` users is due a second after the last; 1 ms for the timestamps' rounding.
    assert.ok(
      times[i]! - times[i - 1]! >= 999,
      `batch ${i} came ${times[i]! - times[i - 1]!} ms after the last`,
    );
  }
}

/** What a user has from the broadcast sender, as texts. */
async function fromSystem(base: string, user: SignedIn): Promise<string[]> {
  const data = await ok(base, HISTORY, { conversation: { user: "system" }, last: 100 }, user.token);
  return data.messages.edges.map((edge: any) => edge.node.body?.text);
}

describe("adminBroadcast", () => {
  it("reaches every user once, live and offline, from the system account; deleted and banned users are passed over", async () => {
    const online = [await signUp(url), await signUp(url)];
    const offline = await Promise.all(Array.from({ length: 12 }, () => signUp(url)));
    const banned = await signUp(url);
    const deleted = await signUp(url);
    await ok(url, "mutation($u: String!) { adminBanUser(username: $u) }", { u: banned.username }, admin);
    await ok(url, "mutation($u: String!) { adminDeleteUser(username: $u) }", { u: deleted.username }, admin);
    const streams = await Promise.all(online.map((user) => follow(url, user)));
    const cursors = await Promise.all(offline.map((user) => cursorOf(url, user.token)));

    const made = (await ok(url, BROADCAST, { text: "Maintenance tonight" }, admin)).adminBroadcast;
    assert.equal(made.from.username, "system");
    assert.deepEqual(
      [made.type, made.body, made.ext],
      ["TEXT", { text: "Maintenance tonight" }, { kind: "notice" }],
    );
    assert.ok(made.totalCount >= online.length + offline.length);

    for (const { events } of streams) {
      const received = await events.next(10_000);
      const message = received.data?.events.event.message;
      assert.equal(message.from.username, "system");
      assert.equal(message.body.text, "Maintenance tonight");
    }
    const done = await waitUntilDone(url, admin, made.id);
    assert.equal(done.sentCount, done.totalCount, "everyone it was for got it");
    assert.ok(done.finishedAt);

    // Offline users have it in their history, once, and as an offline event from their cursor.
    for (const [i, user] of offline.entries()) {
      assert.deepEqual(await fromSystem(url, user), ["Maintenance tonight"]);
      const sync = await ok(url, SYNC, { since: cursors[i] }, user.token);
      const messages = sync.sync.events.filter((e: any) => e.event.__typename === "MessageEvent");
      assert.deepEqual(
        messages.map((e: any) => [e.event.message.from.username, e.event.message.body.text]),
        [["system", "Maintenance tonight"]],
      );
      const conversations = (await ok(url, CONVERSATIONS, {}, user.token)).conversations.edges;
      assert.equal(conversations[0].node.peer.username, "system");
      assert.equal(conversations[0].node.unreadCount, 1);
    }
    // Nothing more arrives live: the next event on an open stream is the next message.
    const [first] = online;
    await sendText(url, offline[0]!.token, first!.username, "after the broadcast");
    const next = await streams[0]!.events.next();
    assert.equal(next.data?.events.event.message.body.text, "after the broadcast");
    for (const { socket } of streams) await socket.dispose();

    const prisma = server.app.services.prisma;
    const system = await prisma.user.findUniqueOrThrow({ where: { username: "system" } });
    for (const user of [banned, deleted]) {
      assert.equal(
        await prisma.message.count({ where: { senderId: system.id, recipientId: user.userId } }),
        0,
      );
    }
  });

  it("comes from an account nobody can register or sign in as, and is for the app server only", async () => {
    await ok(url, BROADCAST, { text: "makes the sender" }, admin);
    const REGISTER = `mutation($u: String!, $p: String!) { register(username: $u, password: $p) { token } }`;
    await fails("CONFLICT", url, REGISTER, { u: "System", p: PASSWORD });
    const LOGIN = `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }`;
    await fails("UNAUTHENTICATED", url, LOGIN, { u: "system", p: "!" });
    const user = await signUp(url);
    await fails("FORBIDDEN", url, BROADCAST, { text: "hi" }, user.token);
    await fails("FORBIDDEN", url, "{ adminBroadcasts { edges { node { id } } } }", {}, user.token);
    await fails(
      "BAD_USER_INPUT",
      url,
      `mutation { adminBroadcast(body: { command: { action: "refresh" } }) { id } }`,
      {},
      admin,
    );
    const list = await ok(url, "{ adminBroadcasts(first: 1) { edges { node { body } } } }", {}, admin);
    assert.deepEqual(list.adminBroadcasts.edges[0].node.body, { text: "makes the sender" });
  });
});

describe("adminBroadcast across a restart", () => {
  let dataDir: string | undefined;
  let storage: Awaited<ReturnType<typeof testStorage>> | undefined;
  after(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    await storage?.cleanup();
  });

  it("an instance stopped mid-broadcast leaves the rest to the next, and nobody gets it twice", async () => {
    // One storage for both runs: a data directory embedded, one database in services mode.
    storage = await testStorage();
    dataDir = servicesMode ? undefined : await mkdtemp(join(tmpdir(), "im-broadcast-"));
    const env = {
      ...storage.env,
      ...(dataDir ? { DATA_DIR: dataDir } : {}),
      BROADCAST_USERS_PER_SECOND: "4",
    };
    let first: (TestServer & { app: App }) | undefined = await startApp(env);
    try {
      const users = await Promise.all(Array.from({ length: 14 }, () => signUp(first!.url)));
      const token = await adminToken(first.url);
      const made = (await ok(first.url, BROADCAST, { text: "once only" }, token)).adminBroadcast;
      await eventually(
        async () => (await ok(first!.url, STATUS, { id: made.id }, token)).adminBroadcastStatus.sentCount > 0,
        10_000,
        "a first batch",
      );
      await first.stop();
      first = undefined;

      const second = await startApp(env);
      try {
        const status = await waitUntilDone(second.url, await adminToken(second.url), made.id);
        assert.equal(status.sentCount, users.length);
        for (const user of users) assert.deepEqual(await fromSystem(second.url, user), ["once only"]);
        assertPaced(await batchTimes(second.url, users), users.length, 4);

        // Cancelled: what it sent stays, and nothing more goes out, also once the next one has run.
        const admin2 = await adminToken(second.url);
        const stopped = (await ok(second.url, BROADCAST, { text: "cancelled" }, admin2)).adminBroadcast;
        const CANCEL = "mutation($id: ID!) { adminCancelBroadcast(id: $id) { status sentCount finishedAt } }";
        const cancelled = (await ok(second.url, CANCEL, { id: stopped.id }, admin2)).adminCancelBroadcast;
        assert.equal(cancelled.status, "CANCELLED");
        assert.ok(cancelled.sentCount < users.length && cancelled.finishedAt);
        const later = (await ok(second.url, BROADCAST, { text: "later" }, admin2)).adminBroadcast;
        await waitUntilDone(second.url, admin2, later.id);
        const got = await Promise.all(users.map((user) => fromSystem(second.url, user)));
        assert.equal(got.filter((texts) => texts.includes("cancelled")).length, cancelled.sentCount);
        assert.ok(got.every((texts) => texts.at(-1) === "later"));
      } finally {
        await second.stop();
      }
    } finally {
      await first?.stop();
    }
  });
});

// Two server processes on one PostgreSQL and Redis: both run the worker, one dies mid-broadcast.
describe("adminBroadcast on two instances", {
  skip: servicesMode ? false : "needs DATABASE_URL and REDIS_URL",
}, () => {
  let storage: Awaited<ReturnType<typeof testStorage>>;
  let a: Awaited<ReturnType<typeof spawnServer>>;
  let b: Awaited<ReturnType<typeof spawnServer>>;
  before(async () => {
    storage = await testStorage();
    const env = { ...storage.env, BROADCAST_USERS_PER_SECOND: "4" };
    a = await spawnServer(env);
    b = await spawnServer(env);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await storage?.cleanup();
  });

  it("sends each user one message though both take batches and one is killed mid-way", async () => {
    const users = await Promise.all(Array.from({ length: 16 }, (_, i) => signUp(i % 2 ? a.url : b.url)));
    const token = await adminToken(b.url);
    const made = (await ok(a.url, BROADCAST, { text: "to all, once" }, token)).adminBroadcast;
    await eventually(
      async () => (await ok(b.url, STATUS, { id: made.id }, token)).adminBroadcastStatus.sentCount > 4,
      10_000,
      "a few batches",
    );
    a.process.kill("SIGKILL");
    const status = await waitUntilDone(b.url, token, made.id);
    assert.equal(status.sentCount, users.length, b.stderr());
    for (const user of users) assert.deepEqual(await fromSystem(b.url, user), ["to all, once"]);
    // Whichever instance sent each batch, together they kept to one pace.
    assertPaced(await batchTimes(b.url, users), users.length, 4);
  });
});

describe("adminImportMessages", () => {
  it("stores direct history in sentAt order, delivered to nobody and unread by nobody", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const { socket, events } = await follow(url, bob);
    const at = (minutes: number) => new Date(Date.UTC(2024, 0, 1, 12, minutes)).toISOString();
    const batch = [
      {
        from: alice.username,
        to: { user: bob.username },
        body: { text: { text: "third" } },
        sentAt: at(3),
        importId: "m3",
      },
      {
        from: alice.username,
        to: { user: bob.username },
        body: { text: { text: "first" } },
        sentAt: at(1),
        importId: "m1",
      },
      {
        from: bob.username,
        to: { user: alice.username },
        body: { text: { text: "second" } },
        sentAt: at(2),
        importId: "m2",
      },
    ];
    const imported = (await ok(url, IMPORT, { messages: batch }, admin)).adminImportMessages;
    assert.deepEqual([imported.importedCount, imported.existingCount], [3, 0]);
    assert.deepEqual(
      imported.messages.map((m: any) => [m.clientMessageId, m.createdAt, m.status]),
      [
        ["m3", at(3), "READ"],
        ["m1", at(1), "READ"],
        ["m2", at(2), "READ"],
      ],
    );
    const [m3, m1, m2] = imported.messages.map((m: any) => BigInt(m.id));
    assert.ok(m1! < m2! && m2! < m3!, "ids follow sentAt");

    // The next thing bob's open stream gets is a live message, not the import.
    await sendText(url, alice.token, bob.username, "live");
    const next = await events.next();
    assert.equal(next.data?.events.event.message.body.text, "live");
    await socket.dispose();

    const history = await ok(url, HISTORY, { conversation: { user: alice.username }, last: 10 }, bob.token);
    assert.deepEqual(
      history.messages.edges.map((e: any) => [e.node.from.username, e.node.body.text]),
      [
        [alice.username, "first"],
        [bob.username, "second"],
        [alice.username, "third"],
        [alice.username, "live"],
      ],
    );
    const conversation = (await ok(url, CONVERSATIONS, {}, bob.token)).conversations.edges[0].node;
    assert.deepEqual([conversation.peer.username, conversation.unreadCount], [alice.username, 1]);

    // Again: nothing new, the same messages back.
    const again = (await ok(url, IMPORT, { messages: batch }, admin)).adminImportMessages;
    assert.deepEqual([again.importedCount, again.existingCount], [0, 3]);
    assert.deepEqual(
      again.messages.map((m: any) => m.id),
      imported.messages.map((m: any) => m.id),
    );
    const after = await ok(url, HISTORY, { conversation: { user: alice.username }, last: 10 }, bob.token);
    assert.equal(after.messages.edges.length, 4);
  });

  it("stores group history that open streams never see and nobody counts as unread", async () => {
    const [owner, member] = [await signUp(url), await signUp(url)];
    const group = (await ok(url, CREATE_GROUP, { name: "history", members: [member.username] }, owner.token))
      .createGroup;
    const { socket, events } = await follow(url, member);
    const imported = (
      await ok(
        url,
        IMPORT,
        {
          messages: ["old one", "old two"].map((text, i) => ({
            from: i ? member.username : owner.username,
            to: { group: group.id },
            body: { text: { text } },
            sentAt: new Date(Date.UTC(2023, 5, 1, 9, i)).toISOString(),
            importId: `${group.id}:${i}`,
          })),
        },
        admin,
      )
    ).adminImportMessages;
    assert.equal(imported.importedCount, 2);
    const memberView = async () =>
      (await ok(url, CONVERSATIONS, {}, member.token)).conversations.edges.find(
        (e: any) => e.node.group?.id === group.id,
      ).node;
    assert.equal((await memberView()).unreadCount, 0);
    assert.equal((await memberView()).lastMessage.body.text, "old two");

    await ok(url, SEND_GROUP, { id: group.id, text: "new" }, owner.token);
    const next = await events.next();
    assert.equal(next.data?.events.event.message.body.text, "new");
    await socket.dispose();
    assert.equal((await memberView()).unreadCount, 1);
    const history = await ok(url, HISTORY, { conversation: { group: group.id }, last: 10 }, member.token);
    assert.deepEqual(
      history.messages.edges.map((e: any) => e.node.body.text),
      ["old one", "old two", "new"],
    );
  });

  it("refuses a batch with a bad message whole, naming it; only for the app server", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const good = {
      from: alice.username,
      to: { user: bob.username },
      body: { text: { text: "fine" } },
      sentAt: new Date().toISOString(),
      importId: uniqueName("i"),
    };
    const result = await gql(
      url,
      IMPORT,
      { messages: [good, { ...good, from: "nobody-here", importId: "x" }] },
      admin,
    );
    assert.equal(result.errors?.[0]?.extensions?.code, "NOT_FOUND");
    assert.equal(result.errors?.[0]?.extensions?.index, 1);
    assert.match(result.errors![0]!.message, /messages\[1\]/);
    const history = await ok(url, HISTORY, { conversation: { user: alice.username }, last: 10 }, bob.token);
    assert.equal(history.messages.edges.length, 0, "nothing half-written");

    const future = new Date(Date.now() + 3_600_000).toISOString();
    await fails("BAD_USER_INPUT", url, IMPORT, { messages: [{ ...good, sentAt: future }] }, admin);
    await fails("BAD_USER_INPUT", url, IMPORT, { messages: [good, good] }, admin);
    const room = { ...good, to: { room: "00000000-0000-4000-8000-000000000000" } };
    await fails("BAD_USER_INPUT", url, IMPORT, { messages: [room] }, admin);
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ ...good, importId: `n${i}` }));
    await fails("LIMIT_EXCEEDED", url, IMPORT, { messages: tooMany }, admin);
    await fails("FORBIDDEN", url, IMPORT, { messages: [good] }, alice.token);
  });

  it("marks its transaction so the post-send webhook's trigger passes over imported messages", async () => {
    const db = server.app.services.db;
    await db.query({ text: `CREATE TABLE "CallbackProbe" (id bigint, skip text)`, values: [] });
    await db.query({
      text: `CREATE FUNCTION callback_probe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO "CallbackProbe" VALUES (NEW.id, coalesce(current_setting('imserver.skip_callbacks', true), ''));
        RETURN NEW; END $$`,
      values: [],
    });
    await db.query({
      text: `CREATE TRIGGER callback_probe AFTER INSERT ON "Message" FOR EACH ROW EXECUTE FUNCTION callback_probe()`,
      values: [],
    });
    try {
      const [alice, bob] = [await signUp(url), await signUp(url)];
      const imported = (
        await ok(
          url,
          IMPORT,
          {
            messages: [
              {
                from: alice.username,
                to: { user: bob.username },
                body: { text: { text: "old" } },
                sentAt: new Date().toISOString(),
                importId: uniqueName(),
              },
            ],
          },
          admin,
        )
      ).adminImportMessages.messages[0];
      const live = await sendText(url, alice.token, bob.username, "new");
      const rows = await db.query<{ id: string; skip: string }>({
        text: `SELECT id::text AS id, skip FROM "CallbackProbe" WHERE id = ANY($1::bigint[]) ORDER BY id`,
        values: [[imported.id, live.id]],
      });
      assert.deepEqual(rows, [
        { id: imported.id, skip: "on" },
        { id: live.id, skip: "" },
      ]);
    } finally {
      await db.query({ text: `DROP TRIGGER callback_probe ON "Message"`, values: [] });
      await db.query({ text: "DROP FUNCTION callback_probe()", values: [] });
      await db.query({ text: `DROP TABLE "CallbackProbe"`, values: [] });
    }
  });
});

describe("adminExportConversation", () => {
  const origin = () => new URL(url).origin;

  it("streams a direct chat of more than a page as JSON lines, the same as its history", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const base = Date.UTC(2022, 0, 1);
    const messages = Array.from({ length: 620 }, (_, i) => ({
      from: i % 3 ? alice.username : bob.username,
      to: { user: i % 3 ? bob.username : alice.username },
      body: { text: { text: `old ${i}` } },
      sentAt: new Date(base + i * 1000).toISOString(),
      importId: `e${i}`,
      ...(i === 7 ? { ext: { tag: "seven" } } : {}),
    }));
    await ok(url, IMPORT, { messages }, admin);
    await sendText(url, alice.token, bob.username, "live one");
    const recalled = await sendText(url, alice.token, bob.username, "taken back");
    await ok(url, "mutation($id: ID!) { recallMessage(id: $id) { id } }", { id: recalled.id }, alice.token);

    const link = (
      await ok(url, EXPORT, { conversation: { user: alice.username }, user: bob.username }, admin)
    ).adminExportConversation;
    assert.ok(new Date(link.expiresAt).getTime() > Date.now());
    const response = await fetch(origin() + link.url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /application\/x-ndjson/);
    const text = await response.text();
    assert.ok(text.endsWith("\n"));
    const lines = text
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));

    // Bob's history, paged back to the start.
    const history: any[] = [];
    let before: string | null = null;
    for (;;) {
      const page: any = await ok(
        url,
        HISTORY,
        { conversation: { user: alice.username }, last: 100, before },
        bob.token,
      );
      history.unshift(...page.messages.edges.map((e: any) => e.node));
      if (!page.messages.pageInfo.hasPreviousPage) break;
      before = page.messages.pageInfo.startCursor;
    }
    assert.equal(lines.length, 622);
    assert.deepEqual(
      lines.map((m) => [
        m.id,
        m.clientMessageId,
        m.from.username,
        m.body?.text ?? null,
        m.createdAt,
        m.recalled,
        m.ext,
      ]),
      history.map((m) => [
        m.id,
        m.clientMessageId,
        m.from.username,
        m.body?.text ?? null,
        m.createdAt,
        m.recalled,
        m.ext,
      ]),
    );
    assert.equal(lines[1].body.__typename, "TextBody");
    assert.equal(lines[1].to.username, bob.username);
    assert.ok(lines[0].importedAt && lines.at(-1).importedAt === null);
  });

  it("exports a group; refuses forged and expired links, direct chats without both sides, and users", async () => {
    const [owner, member] = [await signUp(url), await signUp(url)];
    const group = (await ok(url, CREATE_GROUP, { name: "exported", members: [member.username] }, owner.token))
      .createGroup;
    for (const text of ["a", "b"]) await ok(url, SEND_GROUP, { id: group.id, text }, member.token);
    const link = (await ok(url, EXPORT, { conversation: { group: group.id } }, admin))
      .adminExportConversation;
    const lines = (await (await fetch(origin() + link.url)).text())
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((m) => [m.chatType, m.to.id, m.from.username, m.body.text]),
      [
        ["GROUP", group.id, member.username, "a"],
        ["GROUP", group.id, member.username, "b"],
      ],
    );

    const forged = new URL(origin() + link.url);
    forged.searchParams.set("sig", "00".repeat(32));
    assert.equal((await fetch(forged)).status, 403);
    const otherChat = new URL(origin() + link.url.replace(group.id, "00000000-0000-4000-8000-000000000000"));
    assert.equal((await fetch(otherChat)).status, 403);
    const longer = new URL(origin() + link.url);
    longer.searchParams.set("expires", String(Number(longer.searchParams.get("expires")) + 3600));
    assert.equal((await fetch(longer)).status, 403);
    // Signed right but past its time (made here with the server's key, as a link from long ago).
    const expires = Math.floor(Date.now() / 1000) - 1;
    const sig = createHmac("sha256", server.app.services.urlSigningKey)
      .update(`conversation-export\n${group.id}\n${expires}`)
      .digest("hex");
    const expired = await fetch(`${origin()}/exports/${group.id}.ndjson?expires=${expires}&sig=${sig}`);
    assert.equal(expired.status, 403);
    assert.match(await expired.text(), /expired/);

    await fails("BAD_USER_INPUT", url, EXPORT, { conversation: { user: owner.username } }, admin);
    await fails(
      "NOT_FOUND",
      url,
      EXPORT,
      { conversation: { user: owner.username }, user: member.username },
      admin,
    );
    await fails("FORBIDDEN", url, EXPORT, { conversation: { group: group.id } }, member.token);
  });
});
