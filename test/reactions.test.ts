import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fewestStatements } from "./helpers/app.js";
import { fails, gql, ok, subscribe } from "./helpers/client.js";
import { adminToken, type SignedIn, signIn, signUp } from "./helpers/factories.js";
import { cursorOf, nextEvent, sendText } from "./helpers/messaging.js";
import { connect, server, url, useTestServer } from "./helpers/test-server.js";

// Reactions over the real API: HTTP for queries and mutations, graphql-ws for each device's stream.

useTestServer();

const REACTIONS = "reactions { reaction count reactedByMe users { username } }";
const ADD = `mutation($m: ID!, $r: String!) { addReaction(messageId: $m, reaction: $r) { id ${REACTIONS} } }`;
const REMOVE = "mutation($m: ID!, $r: String!) { removeReaction(messageId: $m, reaction: $r) }";
const MESSAGE = `query($id: ID!, $first: Int) {
  message(id: $id) { recalled reactions { reaction count reactedByMe users(first: $first) { username } } }
}`;
const USERS = `query($m: ID!, $r: String!, $first: Int, $after: String) {
  reactionUsers(messageId: $m, reaction: $r, first: $first, after: $after) {
    edges { cursor node { username } } pageInfo { hasNextPage endCursor hasPreviousPage }
  }
}`;
const STREAM = `subscription($since: String) {
  events(since: $since) {
    cursor
    event {
      __typename
      ... on ReactionEvent { reaction added user { username } message { id reactions { reaction count reactedByMe } } }
      ... on MessageEvent { message { id } }
      ... on GroupEvent { kind }
    }
  }
}`;
const SEND = `mutation($to: ChatTarget!, $t: String!, $targets: [String!]) {
  sendMessage(to: $to, body: { text: { text: $t } }, targets: $targets) { id }
}`;

const add = (user: SignedIn, messageId: string, reaction: string) =>
  ok(url, ADD, { m: messageId, r: reaction }, user.token);
const remove = (user: SignedIn, messageId: string, reaction: string) =>
  ok(url, REMOVE, { m: messageId, r: reaction }, user.token);
const reactionsOf = async (user: SignedIn, messageId: string, first?: number) =>
  (await ok(url, MESSAGE, { id: messageId, first }, user.token)).message.reactions;

/** A device's events from now on. */
async function follow(user: SignedIn) {
  const socket = connect(user.token);
  await socket.connected;
  return subscribe(socket, STREAM, { since: await cursorOf(url, user.token) });
}

async function group(owner: SignedIn, members: SignedIn[]): Promise<string> {
  const data = await ok(
    url,
    'mutation($m: [String!]) { createGroup(name: "reactions", isPublic: true, joinPolicy: OPEN, members: $m) { id } }',
    { m: members.map((member) => member.username) },
    owner.token,
  );
  return data.createGroup.id;
}

async function sendToGroup(sender: SignedIn, groupId: string, text: string, targets?: SignedIn[]) {
  const data = await ok(
    url,
    SEND,
    { to: { group: groupId }, t: text, targets: targets?.map((t) => t.username) },
    sender.token,
  );
  return data.sendMessage.id as string;
}

describe("reactions on a direct message", () => {
  it("reach both sides and the reactor's other device as durable events, replayed once and in order", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const alicePhone = await signIn(url, alice.username, "ios");
    const message = (await sendText(url, alice.token, bob.username, "react to me")).id;
    const since = await cursorOf(url, alice.token);
    const [bobEvents, phoneEvents] = [await follow(bob), await follow(alicePhone)];

    const added = await add(alice, message, "👍");
    assert.deepEqual(added.addReaction, {
      id: message,
      reactions: [{ reaction: "👍", count: 1, reactedByMe: true, users: [{ username: alice.username }] }],
    });
    const atBob = await nextEvent(bobEvents, "ReactionEvent");
    assert.ok(atBob.cursor);
    assert.deepEqual(
      { reaction: atBob.reaction, added: atBob.added, user: atBob.user.username, id: atBob.message.id },
      { reaction: "👍", added: true, user: alice.username, id: message },
    );
    assert.deepEqual(atBob.message.reactions, [{ reaction: "👍", count: 1, reactedByMe: false }]);
    const atPhone = await nextEvent(phoneEvents, "ReactionEvent");
    assert.deepEqual(atPhone.message.reactions, [{ reaction: "👍", count: 1, reactedByMe: true }]);

    // Each event shows the message as it is when delivered: the stream's loaders start afresh.
    await add(bob, message, "👍");
    assert.deepEqual((await nextEvent(phoneEvents, "ReactionEvent")).message.reactions, [
      { reaction: "👍", count: 2, reactedByMe: true },
    ]);
    assert.equal(await remove(alice, message, "👍").then((data) => data.removeReaction), true);
    const removed = await nextEvent(phoneEvents, "ReactionEvent");
    assert.equal(removed.added, false);
    assert.deepEqual(removed.message.reactions, [{ reaction: "👍", count: 1, reactedByMe: false }]);

    const expected = [
      [alice.username, true],
      [bob.username, true],
      [alice.username, false],
    ];
    const page = await ok(
      url,
      `query($s: String) { sync(since: $s) { events { cursor event { __typename ... on ReactionEvent { added user { username } } } } } }`,
      { s: since },
      alice.token,
    );
    assert.deepEqual(
      page.sync.events.map((e: any) => [e.event.user.username, e.event.added]),
      expected,
    );
    const socket = connect(alice.token);
    await socket.connected;
    const replay = subscribe(socket, STREAM, { since });
    for (const [user, wasAdded] of expected) {
      const event = await nextEvent(replay, "ReactionEvent");
      assert.deepEqual([event.user.username, event.added], [user, wasAdded]);
    }
    await assert.rejects(replay.next(300), /no subscription result/, "each event comes once");
  });

  it("are NOT_FOUND for a message the caller cannot see", async () => {
    const [alice, bob, eve] = [await signUp(url), await signUp(url), await signUp(url)];
    const first = (await sendText(url, alice.token, bob.username, "one")).id;
    const second = (await sendText(url, alice.token, bob.username, "two")).id;
    await add(alice, first, "👍");
    for (const id of [first, "999999999", "not-an-id"]) {
      await fails("NOT_FOUND", url, ADD, { m: id, r: "👍" }, eve.token);
      await fails("NOT_FOUND", url, REMOVE, { m: id, r: "👍" }, eve.token);
      await fails("NOT_FOUND", url, USERS, { m: id, r: "👍" }, eve.token);
    }
    // Deleted from one's own history, or cleared out of it, is gone for that user only.
    await ok(
      url,
      "mutation($u: String!, $ids: [ID!]!) { deleteMessages(conversation: { user: $u }, messageIds: $ids) }",
      { u: alice.username, ids: [first] },
      bob.token,
    );
    await fails("NOT_FOUND", url, ADD, { m: first, r: "😂" }, bob.token);
    await add(bob, second, "😂");
    await ok(
      url,
      "mutation($u: String!) { clearConversationHistory(conversation: { user: $u }) }",
      { u: bob.username },
      alice.token,
    );
    await fails("NOT_FOUND", url, REMOVE, { m: first, r: "👍" }, alice.token);
    await fails("NOT_FOUND", url, ADD, { m: second, r: "😂" }, alice.token);
    assert.deepEqual(await reactionsOf(bob, second), [
      { reaction: "😂", count: 1, reactedByMe: true, users: [{ username: bob.username }] },
    ]);
  });

  it("follow the block list: BLOCKED for someone the other side blocked", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const message = (await sendText(url, alice.token, bob.username, "hi")).id;
    await add(alice, message, "👋");
    await ok(url, "mutation($u: String!) { blockUser(username: $u) }", { u: alice.username }, bob.token);
    await fails("BLOCKED", url, ADD, { m: message, r: "😡" }, alice.token);
    await fails("BLOCKED", url, REMOVE, { m: message, r: "👋" }, alice.token);
    await add(bob, message, "🙂");
    assert.deepEqual(
      (await reactionsOf(bob, message)).map((r: any) => r.reaction),
      ["👋", "🙂"],
    );
  });
});

describe("reactions in a group", () => {
  it("are one chat-log entry read by every member, rendered with each member's reactedByMe", async () => {
    const [owner, a, b, outsider] = [
      await signUp(url),
      await signUp(url),
      await signUp(url),
      await signUp(url),
    ];
    const groupId = await group(owner, [a, b]);
    const message = await sendToGroup(owner, groupId, "hello group");
    // The same document on every stream: one rendering of the event serves them all but reactedByMe.
    const streams = [await follow(owner), await follow(a), await follow(b)];
    const { prisma } = server.app.services;
    const [entries, events] = [await prisma.chatLogEntry.count(), await prisma.userEvent.count()];
    await add(a, message, "🎉");
    assert.equal(await prisma.chatLogEntry.count(), entries + 1, "one chat-log entry");
    assert.equal(await prisma.userEvent.count(), events, "no row per member");
    for (const [i, stream] of streams.entries()) {
      const event = await nextEvent(stream, "ReactionEvent");
      assert.deepEqual([event.reaction, event.added, event.user.username], ["🎉", true, a.username]);
      assert.deepEqual(event.message.reactions, [{ reaction: "🎉", count: 1, reactedByMe: i === 1 }]);
    }
    for (const query of [ADD, REMOVE, USERS]) {
      await fails("NOT_FOUND", url, query, { m: message, r: "🎉" }, outsider.token);
    }
    // History starts at a member's join: older messages are not theirs to react to.
    await ok(url, "mutation($id: ID!) { joinGroup(id: $id) { id } }", { id: groupId }, outsider.token);
    await fails("NOT_FOUND", url, ADD, { m: message, r: "🎉" }, outsider.token);
  });

  it("on a targeted message reach only its targets and sender", async () => {
    const [owner, a, b] = [await signUp(url), await signUp(url), await signUp(url)];
    const groupId = await group(owner, [a, b]);
    const [ownerEvents, aEvents, bEvents] = [await follow(owner), await follow(a), await follow(b)];
    const targeted = await sendToGroup(owner, groupId, "for a only", [a]);
    await nextEvent(ownerEvents, "MessageEvent");
    await nextEvent(aEvents, "MessageEvent");
    await fails("NOT_FOUND", url, ADD, { m: targeted, r: "👀" }, b.token);
    await add(a, targeted, "👀");
    assert.equal((await nextEvent(ownerEvents, "ReactionEvent")).message.id, targeted);
    assert.equal((await nextEvent(aEvents, "ReactionEvent")).message.id, targeted);
    const after = await sendToGroup(owner, groupId, "for everyone");
    assert.equal((await nextEvent(bEvents, "MessageEvent")).message.id, after, "b never hears of it");
  });

  it("stop for a member removed, and skip a member who blocked the group's messages", async () => {
    const [owner, a, b] = [await signUp(url), await signUp(url), await signUp(url)];
    const groupId = await group(owner, [a, b]);
    const message = await sendToGroup(owner, groupId, "hello");
    await ok(
      url,
      "mutation($id: ID!, $b: Boolean!) { blockGroupMessages(id: $id, blocked: $b) }",
      { id: groupId, b: true },
      b.token,
    );
    const bEvents = await follow(b);
    await add(a, message, "👍");
    await ok(
      url,
      'mutation($id: ID!) { updateGroup(id: $id, name: "renamed") { id } }',
      { id: groupId },
      owner.token,
    );
    assert.equal((await nextEvent(bEvents, "GroupEvent")).kind, "GROUP_UPDATED");

    await ok(
      url,
      "mutation($id: ID!, $u: [String!]!) { removeGroupMembers(id: $id, usernames: $u) }",
      { id: groupId, u: [a.username] },
      owner.token,
    );
    await fails("NOT_FOUND", url, ADD, { m: message, r: "😢" }, a.token);
    await fails("NOT_FOUND", url, REMOVE, { m: message, r: "👍" }, a.token);
  });

  it("are open to a muted member: mutes stop sending, not reacting", async () => {
    const [owner, a] = [await signUp(url), await signUp(url)];
    const groupId = await group(owner, [a]);
    const message = await sendToGroup(owner, groupId, "quiet please");
    await ok(
      url,
      "mutation($id: ID!, $u: [String!]!) { muteGroupMembers(id: $id, usernames: $u, durationSeconds: 3600) }",
      { id: groupId, u: [a.username] },
      owner.token,
    );
    await fails("MUTED", url, SEND, { to: { group: groupId }, t: "let me speak" }, a.token);
    await add(a, message, "🤐");
  });
});

describe("reaction rules", () => {
  it("take at most 20 different reactions, each once per user", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const message = (await sendText(url, alice.token, bob.username, "limits")).id;
    for (let i = 0; i < 20; i++) await add(alice, message, `r${i}`);
    const message21 = await fails("LIMIT_EXCEEDED", url, ADD, { m: message, r: "r20" }, bob.token);
    assert.match(message21, /at most 20/);
    // A reaction already there takes more users at the limit.
    await add(bob, message, "r7");
    assert.match(await fails("CONFLICT", url, ADD, { m: message, r: "r7" }, bob.token), /already/);
    await fails("NOT_FOUND", url, REMOVE, { m: message, r: "r8" }, bob.token);
    await fails("NOT_FOUND", url, REMOVE, { m: message, r: "never" }, bob.token);
    // Freeing a place makes room for a new one.
    await remove(alice, message, "r0");
    await add(bob, message, "r20");
    const reactions = await reactionsOf(alice, message);
    assert.equal(reactions.length, 20);
    assert.deepEqual(reactions.at(-1), {
      reaction: "r20",
      count: 1,
      reactedByMe: false,
      users: [{ username: bob.username }],
    });
  });

  it("are 1-128 characters, counted in code points", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const message = (await sendText(url, alice.token, bob.username, "text rules")).id;
    for (const reaction of ["", "   ", "x".repeat(129), "😀".repeat(129), "a\u0007"]) {
      await fails("BAD_USER_INPUT", url, ADD, { m: message, r: reaction }, alice.token);
    }
    await fails("BAD_USER_INPUT", url, REMOVE, { m: message, r: "" }, alice.token);
    // 128 emoji are 256 UTF-16 units, and allowed.
    const long = "😀".repeat(128);
    await add(alice, message, long);
    await add(alice, message, "x".repeat(128));
    await add(alice, message, " ok ");
    assert.deepEqual(
      (await reactionsOf(alice, message)).map((r: any) => r.reaction),
      [long, "x".repeat(128), "ok"],
    );
  });

  it("count, mark the viewer's own and list the first users, in order of first use", async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => signUp(url)));
    const [u1, u2, u3, u4, u5] = users as [SignedIn, SignedIn, SignedIn, SignedIn, SignedIn];
    const groupId = await group(u1, [u2, u3, u4, u5]);
    const message = await sendToGroup(u1, groupId, "popular");
    await add(u1, message, "👍");
    await add(u2, message, "❤️");
    for (const user of [u3, u4, u5]) await add(user, message, "👍");
    await add(u5, message, "😂");
    const names = (list: SignedIn[]) => list.map((user) => ({ username: user.username }));
    assert.deepEqual(await reactionsOf(u3, message), [
      { reaction: "👍", count: 4, reactedByMe: true, users: names([u1, u3, u4]) },
      { reaction: "❤️", count: 1, reactedByMe: false, users: names([u2]) },
      { reaction: "😂", count: 1, reactedByMe: false, users: names([u5]) },
    ]);
    assert.deepEqual(
      (await reactionsOf(u2, message, 1)).map((r: any) => r.users),
      [names([u1]), names([u2]), names([u5])],
    );
    assert.deepEqual((await reactionsOf(u2, message, 20))[0].users, names([u1, u3, u4, u5]));
    assert.deepEqual((await reactionsOf(u2, message, 0))[0].users, []);
    await fails("BAD_USER_INPUT", url, MESSAGE, { id: message, first: 21 }, u2.token);

    // A reaction keeps its place while anyone has it; gone and made again, it comes last.
    await remove(u1, message, "👍");
    await remove(u2, message, "❤️");
    await add(u2, message, "❤️");
    assert.deepEqual(
      (await reactionsOf(u1, message)).map((r: any) => [r.reaction, r.count, r.reactedByMe]),
      [
        ["👍", 3, false],
        ["😂", 1, false],
        ["❤️", 1, false],
      ],
    );
  });

  it("page who reacted with reactionUsers, oldest first", async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => signUp(url)));
    const groupId = await group(users[0]!, users.slice(1));
    const message = await sendToGroup(users[0]!, groupId, "page me");
    for (const user of users) await add(user, message, "🔥");
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const data: any = await ok(url, USERS, { m: message, r: "🔥", first: 2, after }, users[1]!.token);
      const { edges, pageInfo } = data.reactionUsers;
      seen.push(...edges.map((e: any) => e.node.username));
      assert.equal(pageInfo.hasPreviousPage, after !== null);
      pages++;
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor;
    }
    assert.deepEqual(
      seen,
      users.map((user) => user.username),
    );
    assert.equal(pages, 3);
    const none = await ok(url, USERS, { m: message, r: "🙈" }, users[1]!.token);
    assert.deepEqual(none.reactionUsers.edges, []);
    await fails("BAD_USER_INPUT", url, USERS, { m: message, r: "🔥", after: "nonsense" }, users[1]!.token);
    await fails("BAD_USER_INPUT", url, USERS, { m: message, r: "🔥", first: 101 }, users[1]!.token);
  });

  it("hold the limit and one-per-user under concurrent adds", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const message = (await sendText(url, alice.token, bob.username, "race")).id;
    const distinct = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        gql(url, ADD, { m: message, r: `c${i}` }, i % 2 === 0 ? alice.token : bob.token),
      ),
    );
    const codes = distinct.map((result) => result.errors?.[0]?.extensions?.code ?? "ok");
    assert.equal(codes.filter((code) => code === "ok").length, 20, codes.join(","));
    assert.equal(codes.filter((code) => code === "LIMIT_EXCEEDED").length, 5, codes.join(","));
    const stored = await server.app.services.prisma.reaction.groupBy({
      by: ["reaction"],
      where: { messageId: BigInt(message) },
    });
    assert.equal(stored.length, 20);

    const other = (await sendText(url, alice.token, bob.username, "race again")).id;
    const same = await Promise.all(
      Array.from({ length: 5 }, () => gql(url, ADD, { m: other, r: "🏁" }, bob.token)),
    );
    const sameCodes = same.map((result) => result.errors?.[0]?.extensions?.code ?? "ok").sort();
    assert.deepEqual(sameCodes, ["CONFLICT", "CONFLICT", "CONFLICT", "CONFLICT", "ok"]);
    assert.equal((await reactionsOf(alice, other))[0].count, 1);
  });

  it("are hidden once the message is recalled, which takes no more", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const message = (await sendText(url, alice.token, bob.username, "soon gone")).id;
    await add(bob, message, "👍");
    await ok(url, "mutation($id: ID!) { recallMessage(id: $id) { id } }", { id: message }, alice.token);
    const seen = await ok(url, MESSAGE, { id: message }, bob.token);
    assert.deepEqual(seen.message, { recalled: true, reactions: [] });
    await fails("BAD_USER_INPUT", url, ADD, { m: message, r: "😮" }, bob.token);
    await fails("BAD_USER_INPUT", url, REMOVE, { m: message, r: "👍" }, bob.token);
    const users = await ok(url, USERS, { m: message, r: "👍" }, bob.token);
    assert.deepEqual(users.reactionUsers.edges, []);
  });

  it("are not for room messages, nor for a banned user", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const { prisma } = server.app.services;
    const room = (
      await ok(
        url,
        'mutation($o: String) { createRoom(name: "live", owner: $o) { id } }',
        { o: bob.username },
        await adminToken(url),
      )
    ).createRoom.id;
    await ok(url, "mutation($r: ID!) { joinRoom(id: $r) { id } }", { r: room }, alice.token);
    const roomMessage = await ok(
      url,
      'mutation($r: ID!) { sendMessage(to: { room: $r }, body: { text: { text: "hi" } }) { id } }',
      { r: room },
      bob.token,
    );
    await fails("BAD_USER_INPUT", url, ADD, { m: roomMessage.sendMessage.id, r: "👍" }, alice.token);

    const message = (await sendText(url, bob.token, alice.username, "hello")).id;
    await ok(
      url,
      "mutation($u: String!) { adminBanUser(username: $u) }",
      { u: alice.username },
      await adminToken(url),
    );
    // A banned user's sessions are over: the API refuses the token itself.
    await fails("UNAUTHENTICATED", url, ADD, { m: message, r: "👍" }, alice.token);
    assert.equal(await prisma.reaction.count({ where: { messageId: BigInt(message) } }), 0);
  });
});

describe("reading reactions", () => {
  it("costs the same few statements for a page of 5 messages as for 50", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await sendText(url, alice.token, bob.username, `m${i}`)).id);
    for (const id of ids) {
      await add(alice, id, "👍");
      await add(bob, id, "👍");
      await add(bob, id, "🎉");
    }
    const page = `query($u: String!, $last: Int) { messages(conversation: { user: $u }, last: $last) {
      edges { node { id reactions { reaction count reactedByMe users(first: 3) { username } } } } } }`;
    const statements = (last: number) =>
      fewestStatements(server.app, async () => {
        const data = await ok(url, page, { u: bob.username, last }, alice.token);
        assert.equal(data.messages.edges.length, last);
        for (const { node } of data.messages.edges) {
          assert.deepEqual(node.reactions, [
            {
              reaction: "👍",
              count: 2,
              reactedByMe: true,
              users: [{ username: alice.username }, { username: bob.username }],
            },
            { reaction: "🎉", count: 1, reactedByMe: false, users: [{ username: bob.username }] },
          ]);
        }
      });
    await statements(50); // warm-up: lastSeenAt and the connection pool
    const [five, fifty] = [await statements(5), await statements(50)];
    assert.equal(fifty, five, `50 messages took ${fifty} statements, 5 took ${five}`);
    assert.ok(fifty <= 6, `expected at most 6 SQL statements, saw ${fifty}`);
  });
});
