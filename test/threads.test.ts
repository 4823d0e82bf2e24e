import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fails, gql, ok, subscribe } from "./helpers/client.js";
import { uniqueName } from "./helpers/env.js";
import { adminToken, type SignedIn, signIn, signUp } from "./helpers/factories.js";
import { cursorOf } from "./helpers/messaging.js";
import { connect, url, useTestServer } from "./helpers/test-server.js";

// Threads over the real API: a side conversation under a group message, with its own members.

useTestServer({ THREAD_SUMMARY_SECONDS: "1" });

const THREAD = `id name memberCount messageCount joined destroyed createdAt
  group { id } creator { username } parentMessage { id } lastMessage { id body { ... on TextBody { text } } }`;
const MESSAGE = `id chatType recalled editCount readCount from { username }
  to { __typename ... on Thread { id } ... on Group { id } }
  body { ... on TextBody { text } } mentions { username } thread { id name }`;

const CREATE_GROUP = `mutation($name: String!, $members: [String!], $isPublic: Boolean) {
  createGroup(name: $name, members: $members, isPublic: $isPublic, joinPolicy: OPEN) { id }
}`;
const SEND = `mutation($to: ChatTarget!, $text: String!, $mentions: [String!], $cid: String, $rr: Boolean) {
  sendMessage(to: $to, body: { text: { text: $text } }, mentions: $mentions, clientMessageId: $cid,
    requestReadReceipts: $rr) { ${MESSAGE} }
}`;
const CREATE = `mutation($m: ID!, $name: String!) { createThread(parentMessageId: $m, name: $name) { ${THREAD} } }`;
const RENAME = `mutation($id: ID!, $name: String!) { updateThreadName(id: $id, name: $name) { ${THREAD} } }`;
const DESTROY = "mutation($id: ID!) { destroyThread(id: $id) }";
const JOIN = `mutation($id: ID!) { joinThread(id: $id) { ${THREAD} } }`;
const LEAVE = "mutation($id: ID!) { leaveThread(id: $id) }";
const REMOVE = "mutation($id: ID!, $u: String!) { removeThreadMember(id: $id, username: $u) }";
const GET = `query($id: ID!) { thread(id: $id) { ${THREAD} } }`;
const LIST = `query($g: ID!, $first: Int, $after: String) {
  threads(groupId: $g, first: $first, after: $after) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } }
}`;
const MINE = "{ myThreads(first: 100) { edges { node { id name } } } }";
const MEMBERS = `query($id: ID!) { threadMembers(id: $id, first: 100) { edges { node { user { username } } } } }`;
const HISTORY = `query($to: ChatTarget!) {
  messages(conversation: $to, last: 100) { edges { node { id recalled body { ... on TextBody { text } } } } }
}`;
const CONVERSATIONS = `{ conversations(first: 100) {
  edges { node { id chatType unreadCount mentionCount group { id } thread { id } lastMessage { id } } } } }`;
const READ = `mutation($to: ChatTarget!) { markConversationRead(conversation: $to) { id unreadCount } }`;
const RECALL = "mutation($id: ID!) { recallMessage(id: $id) { id recalled } }";
const EDIT = `mutation($id: ID!, $text: String!) { editMessage(id: $id, body: { text: { text: $text } }) { id editCount } }`;
const MUTE =
  "mutation($id: ID!, $u: [String!]!) { muteGroupMembers(id: $id, usernames: $u, durationSeconds: 600) }";
const REMOVE_FROM_GROUP = "mutation($id: ID!, $u: [String!]!) { removeGroupMembers(id: $id, usernames: $u) }";
const ADD_ADMIN = "mutation($id: ID!, $u: String!) { addGroupAdmin(id: $id, username: $u) }";
const TYPING = "mutation($id: ID!) { sendTyping(conversation: { thread: $id }) }";
const REACTIONS = "reactions { reaction count reactedByMe users(first: 20) { username } }";
const REACT = `mutation($m: ID!, $r: String!) { addReaction(messageId: $m, reaction: $r) { id ${REACTIONS} } }`;
const UNREACT = "mutation($m: ID!, $r: String!) { removeReaction(messageId: $m, reaction: $r) }";
const REACTIONS_OF = `query($id: ID!) { message(id: $id) { id ${REACTIONS} } }`;

const STREAM = `subscription($since: String) {
  events(since: $since) {
    cursor
    event {
      __typename
      ... on ThreadEvent { kind thread { id name messageCount memberCount lastMessage { id } } actor { username } users { username } }
      ... on GroupEvent { kind }
      ... on MessageEvent { message { ${MESSAGE} } }
      ... on MessageEditedEvent { message { id editCount } }
      ... on MessageRecalledEvent { messageId conversation { id thread { id } } }
      ... on TypingEvent { user { username } conversation { id thread { id } } }
      ... on ReceiptEvent { kind messageIds }
      ... on ConversationEvent { kind }
      ... on ReactionEvent { reaction added user { username }
        message { id chatType to { __typename ... on Thread { id } } reactions { reaction count reactedByMe } } }
    }
  }
}`;

type Stream = ReturnType<typeof subscribe<Record<string, any>>>;

async function users(count: number): Promise<SignedIn[]> {
  return Promise.all(Array.from({ length: count }, () => signUp(url)));
}

/** A group of `owner` with `members`, and a message in it to start threads from. */
async function groupWithMessage(owner: SignedIn, members: SignedIn[], isPublic = false) {
  const { createGroup } = await ok(
    url,
    CREATE_GROUP,
    { name: uniqueName("g"), members: members.map((m) => m.username), isPublic },
    owner.token,
  );
  const parent = await say(owner, { group: createGroup.id }, "what shall we discuss?");
  return { groupId: createGroup.id as string, parentId: parent.id as string };
}

async function say(
  user: SignedIn,
  to: Record<string, string>,
  text: string,
  extra: Record<string, unknown> = {},
) {
  return (await ok(url, SEND, { to, text, ...extra }, user.token)).sendMessage;
}

async function startThread(user: SignedIn, parentId: string, name = "side talk") {
  return (await ok(url, CREATE, { m: parentId, name }, user.token)).createThread;
}

async function texts(user: SignedIn, to: Record<string, string>): Promise<(string | null)[]> {
  const data = await ok(url, HISTORY, { to }, user.token);
  return data.messages.edges.map((edge: any) => edge.node.body?.text ?? null);
}

async function conversation(user: SignedIn, match: (node: any) => boolean) {
  const data = await ok(url, CONVERSATIONS, {}, user.token);
  return data.conversations.edges.map((edge: any) => edge.node).find(match);
}

async function watch(user: SignedIn, since?: string): Promise<Stream> {
  const socket = connect(user.token);
  await socket.connected;
  return subscribe(socket, STREAM, { since: since ?? (await cursorOf(url, user.token)) });
}

const describeEvent = (event: any) =>
  event.__typename === "ThreadEvent" || event.__typename === "GroupEvent"
    ? `${event.__typename} ${event.kind}`
    : event.__typename === "MessageEvent"
      ? `MessageEvent "${event.message.body?.text}"`
      : event.__typename === "ReactionEvent"
        ? `ReactionEvent ${event.added ? "+" : "-"}${event.reaction} by ${event.user?.username}`
        : event.__typename;

/** Reads on until an event matches; returns it and what came before it. */
async function readUntil(stream: Stream, match: (event: any) => boolean, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  const before: any[] = [];
  for (;;) {
    let result: Awaited<ReturnType<Stream["next"]>>;
    try {
      result = await stream.next(Math.max(1, deadline - Date.now()));
    } catch (error) {
      throw new Error(
        `${what}: ${(error as Error).message}; got only: [${before.map(describeEvent).join(", ")}]`,
      );
    }
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const event = result.data!.events.event;
    if (match(event)) return { event, before, cursor: result.data!.events.cursor as string };
    before.push(event);
  }
}

/** Every event that arrives within `ms`. */
async function drain(stream: Stream, ms: number): Promise<any[]> {
  const events: any[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return events;
    try {
      const result = await stream.next(left);
      events.push(result.data!.events.event);
    } catch {
      return events;
    }
  }
}

const threadEvent = (kind: string) => (event: any) =>
  event.__typename === "ThreadEvent" && event.kind === kind;
const isText = (text: string) => (event: any) =>
  event.__typename === "MessageEvent" && event.message.body?.text === text;

describe("starting threads", () => {
  it("a member starts a thread from a group message: its creator is in, the group hears of it, the parent shows it", async () => {
    const [owner, a, b] = await users(3);
    const { groupId, parentId } = await groupWithMessage(owner!, [a!, b!]);
    const bStream = await watch(b!);
    const thread = await startThread(a!, parentId, "plans");
    assert.equal(thread.name, "plans");
    assert.equal(thread.memberCount, 1);
    assert.equal(thread.messageCount, 0);
    assert.equal(thread.joined, true);
    assert.equal(thread.group.id, groupId);
    assert.equal(thread.creator.username, a!.username);
    assert.equal(thread.parentMessage.id, parentId);
    const { event } = await readUntil(bStream, threadEvent("THREAD_CREATED"), "THREAD_CREATED");
    assert.equal(event.thread.id, thread.id);
    assert.equal(event.actor.username, a!.username);
    const seen = (await ok(url, GET, { id: thread.id }, b!.token)).thread;
    assert.equal(seen.joined, false);
    const history = await ok(
      url,
      `query($g: ID!) { messages(conversation: { group: $g }) { edges { node { id thread { id name } } } } }`,
      { g: groupId },
      b!.token,
    );
    assert.deepEqual(history.messages.edges.at(-1).node.thread, { id: thread.id, name: "plans" });
    assert.deepEqual(
      (await ok(url, MINE, {}, a!.token)).myThreads.edges.map((e: any) => e.node.id),
      [thread.id],
    );
  });

  it("refuses bad names, a second thread on a message, direct, targeted and recalled parents, and outsiders", async () => {
    const [owner, a, outsider] = await users(3);
    const { groupId, parentId } = await groupWithMessage(owner!, [a!]);
    await fails("BAD_USER_INPUT", url, CREATE, { m: parentId, name: "" }, a!.token);
    await fails("BAD_USER_INPUT", url, CREATE, { m: parentId, name: "x".repeat(65) }, a!.token);
    const long = await startThread(a!, parentId, "y".repeat(64));
    assert.equal(long.name.length, 64);
    assert.match(
      await fails("CONFLICT", url, CREATE, { m: parentId, name: "again" }, owner!.token),
      /already/,
    );
    await fails("NOT_FOUND", url, CREATE, { m: parentId, name: "nosy" }, outsider!.token);
    await fails("NOT_FOUND", url, CREATE, { m: "999999999", name: "none" }, a!.token);

    const direct = await say(a!, { user: owner!.username }, "just us");
    await fails("BAD_USER_INPUT", url, CREATE, { m: direct.id, name: "dm" }, a!.token);
    const targeted = await ok(
      url,
      `mutation($g: ID!, $t: [String!]) { sendMessage(to: { group: $g }, body: { text: { text: "psst" } }, targets: $t) { id } }`,
      { g: groupId, t: [a!.username] },
      owner!.token,
    );
    await fails("BAD_USER_INPUT", url, CREATE, { m: targeted.sendMessage.id, name: "secret" }, owner!.token);
    const recalled = await say(a!, { group: groupId }, "oops");
    await ok(url, RECALL, { id: recalled.id }, a!.token);
    await fails("NOT_FOUND", url, CREATE, { m: recalled.id, name: "gone" }, a!.token);
  });

  it("the creator and the group's owner and admins rename a thread, and the group hears of it; others cannot", async () => {
    const [owner, a, b] = await users(3);
    const { parentId } = await groupWithMessage(owner!, [a!, b!]);
    const thread = await startThread(a!, parentId, "first name");
    const bStream = await watch(b!);
    assert.equal(
      (await ok(url, RENAME, { id: thread.id, name: "second" }, a!.token)).updateThreadName.name,
      "second",
    );
    assert.equal(
      (await ok(url, RENAME, { id: thread.id, name: "third" }, owner!.token)).updateThreadName.name,
      "third",
    );
    await fails("FORBIDDEN", url, RENAME, { id: thread.id, name: "mine now" }, b!.token);
    await fails("BAD_USER_INPUT", url, RENAME, { id: thread.id, name: "" }, a!.token);
    const first = await readUntil(bStream, threadEvent("THREAD_UPDATED"), "rename");
    assert.equal(first.event.actor.username, a!.username);
    const second = await readUntil(bStream, threadEvent("THREAD_UPDATED"), "rename");
    assert.equal(second.event.thread.name, "third");
  });

  it("its creator, online as they start it, gets the thread's joins, messages and reactions live, as a replay has them", async () => {
    const [owner, a, b] = await users(3);
    const { parentId } = await groupWithMessage(owner!, [a!, b!]);
    const since = await cursorOf(url, a!.token);
    const aStream = await watch(a!, since);
    const thread = await startThread(a!, parentId);
    await ok(url, JOIN, { id: thread.id }, b!.token);
    const hello = await say(b!, { thread: thread.id }, "hello creator");
    await ok(url, REACT, { m: hello.id, r: "👋" }, b!.token);

    // What a device resuming from `since` reads; the open stream must have shown the same, in order.
    const replay = await ok(
      url,
      `query($s: String) { sync(since: $s, first: 100) { events { cursor event { __typename
        ... on ThreadEvent { kind } } } } }`,
      { s: since },
      a!.token,
    );
    const summary = (event: any) =>
      event.__typename === "ThreadEvent" ? `ThreadEvent ${event.kind}` : event.__typename;
    const replayed: string[] = replay.sync.events.map((e: any) => `${e.cursor} ${summary(e.event)}`);
    for (const kind of ["THREAD_CREATED", "MEMBER_JOINED", "MessageEvent", "ReactionEvent"]) {
      assert.ok(
        replayed.some((line) => line.endsWith(kind)),
        `${kind} in the replay: ${replayed}`,
      );
    }
    const last: string = replay.sync.events.at(-1).cursor;
    const live: string[] = [];
    while (live.at(-1)?.split(" ")[0] !== last) {
      const { event, cursor } = await readUntil(
        aStream,
        () => true,
        `the creator's open stream, up to ${last} as the replay [${replayed.join(", ")}]; it showed [${live.join(", ")}]`,
        3000,
      );
      if (cursor === null) continue;
      live.push(`${cursor} ${summary(event)}`);
      if (live.length > replayed.length) break;
    }
    assert.deepEqual(live, replayed);
  });
});

describe("talking in a thread", () => {
  it("messages reach the thread's members only; the group's members get a coalesced summary instead", async () => {
    const [owner, a, b, c] = await users(4);
    const { groupId, parentId } = await groupWithMessage(owner!, [a!, b!, c!]);
    const thread = await startThread(a!, parentId);
    await ok(url, JOIN, { id: thread.id }, b!.token);
    const to = { thread: thread.id };
    const [bStream, cStream] = await Promise.all([watch(b!), watch(c!)]);

    const first = await say(a!, to, "one");
    assert.equal(first.chatType, "THREAD");
    assert.deepEqual(first.to, { __typename: "Thread", id: thread.id });
    for (const text of ["two", "three"]) await say(a!, to, text);
    const last = await say(a!, to, "four");
    const got = await readUntil(bStream, isText("four"), "b gets the thread's messages");
    assert.deepEqual(
      got.before.filter((e) => e.__typename === "MessageEvent").map((e) => e.message.body.text),
      ["one", "two", "three"],
    );

    // c is in the group, not the thread: one summary at once, one more for the rest after the window.
    const summaries = (await drain(cStream, 2500)).filter(
      (event) => event.__typename !== "ThreadEvent" || event.kind === "NEW_MESSAGES",
    );
    assert.ok(
      summaries.every((event) => event.__typename === "ThreadEvent"),
      JSON.stringify(summaries),
    );
    assert.equal(summaries.length, 2, JSON.stringify(summaries));
    assert.equal(summaries.at(-1).thread.messageCount, 4);
    assert.equal(summaries.at(-1).thread.lastMessage.id, last.id);

    // Thread messages leave the group's unread count and history alone.
    const groupConversation = await conversation(c!, (node) => node.group?.id === groupId);
    assert.equal(groupConversation.unreadCount, 1);
    assert.deepEqual(await texts(c!, { group: groupId }), ["what shall we discuss?"]);
    const threadConversation = await conversation(b!, (node) => node.thread?.id === thread.id);
    assert.equal(threadConversation.chatType, "THREAD");
    assert.equal(threadConversation.unreadCount, 4);
    assert.equal((await ok(url, READ, { to }, b!.token)).markConversationRead.unreadCount, 0);
    assert.deepEqual(await texts(b!, to), ["one", "two", "three", "four"]);
    const seen = (await ok(url, GET, { id: thread.id }, c!.token)).thread;
    assert.equal(seen.messageCount, 4);
    assert.equal(seen.lastMessage.body.text, "four");
  });

  it("sending, reading and typing need the thread's membership; outsiders of a private group learn nothing", async () => {
    const [owner, a, b, outsider] = await users(4);
    const { parentId } = await groupWithMessage(owner!, [a!, b!]);
    const thread = await startThread(a!, parentId);
    const to = { thread: thread.id };
    assert.match(await fails("NOT_MEMBER", url, SEND, { to, text: "hi" }, b!.token), /joinThread/);
    await fails("NOT_MEMBER", url, HISTORY, { to }, b!.token);
    await fails("NOT_MEMBER", url, TYPING, { id: thread.id }, b!.token);
    // As for the group itself, a send answers NOT_MEMBER, naming nothing.
    assert.equal(
      await fails("NOT_MEMBER", url, SEND, { to, text: "hi" }, outsider!.token),
      "You are not a member of this group",
    );
    await fails("NOT_FOUND", url, GET, { id: thread.id }, outsider!.token);
    await fails("NOT_FOUND", url, JOIN, { id: thread.id }, outsider!.token);
    await fails("NOT_FOUND", url, MEMBERS, { id: thread.id }, outsider!.token);
    await fails("NOT_FOUND", url, GET, { id: "00000000-0000-4000-8000-000000000000" }, a!.token);

    await ok(url, JOIN, { id: thread.id }, b!.token);
    assert.match(await fails("CONFLICT", url, JOIN, { id: thread.id }, b!.token), /already/);
    const aStream = await watch(a!);
    // Typing is live only: wait until a's stream is live (a durable message has come through).
    await say(b!, to, "now I may");
    await readUntil(aStream, isText("now I may"), "a's stream is live");
    await ok(url, TYPING, { id: thread.id }, b!.token);
    const typing = await readUntil(aStream, (e) => e.__typename === "TypingEvent", "typing");
    assert.equal(typing.event.user.username, b!.username);
    assert.equal(typing.event.conversation.thread.id, thread.id);
    const members = (await ok(url, MEMBERS, { id: thread.id }, owner!.token)).threadMembers.edges;
    assert.deepEqual(
      members.map((edge: any) => edge.node.user.username),
      [a!.username, b!.username],
    );
  });

  it("a public group's outsiders are told to join the group", async () => {
    const [owner, outsider] = await users(2);
    const { parentId } = await groupWithMessage(owner!, [], true);
    const thread = await startThread(owner!, parentId);
    await fails("NOT_MEMBER", url, GET, { id: thread.id }, outsider!.token);
    await fails("NOT_MEMBER", url, JOIN, { id: thread.id }, outsider!.token);
    await fails("NOT_MEMBER", url, SEND, { to: { thread: thread.id }, text: "hi" }, outsider!.token);
  });

  it("a late joiner reads the whole thread, and nothing before the join counts as unread", async () => {
    const [owner, a, b] = await users(3);
    const { parentId } = await groupWithMessage(owner!, [a!, b!]);
    const thread = await startThread(a!, parentId);
    const to = { thread: thread.id };
    await say(a!, to, "early");
    await ok(url, JOIN, { id: thread.id }, b!.token);
    await say(a!, to, "late");
    assert.deepEqual(await texts(b!, to), ["early", "late"]);
    assert.equal((await conversation(b!, (node) => node.thread?.id === thread.id)).unreadCount, 1);
  });

  it("mentions name the thread's members and count for them; muted group members cannot speak; clientMessageId is idempotent", async () => {
    const [owner, a, b, c] = await users(4);
    const { groupId, parentId } = await groupWithMessage(owner!, [a!, b!, c!]);
    const thread = await startThread(a!, parentId);
    await ok(url, JOIN, { id: thread.id }, b!.token);
    const to = { thread: thread.id };
    await fails("BAD_USER_INPUT", url, SEND, { to, text: "hey c", mentions: [c!.username] }, a!.token);
    const mention = await say(a!, to, "hey b", { mentions: [b!.username] });
    assert.deepEqual(mention.mentions, [{ username: b!.username }]);
    assert.equal((await conversation(b!, (node) => node.thread?.id === thread.id)).mentionCount, 1);

    const cid = uniqueName("cid");
    const once = await say(a!, to, "only once", { cid });
    const again = await say(a!, to, "only once", { cid });
    assert.equal(again.id, once.id);
    assert.equal((await ok(url, GET, { id: thread.id }, a!.token)).thread.messageCount, 2);

    await ok(url, MUTE, { id: groupId, u: [b!.username] }, owner!.token);
    await fails("MUTED", url, SEND, { to, text: "muted" }, b!.token);
  });

  it("thread messages are recalled (by the sender, or the group's admins) and edited like any other", async () => {
    const [owner, a, b] = await users(3);
    const { parentId } = await groupWithMessage(owner!, [a!, b!]);
    const thread = await startThread(a!, parentId);
    await ok(url, JOIN, { id: thread.id }, b!.token);
    const to = { thread: thread.id };
    const bStream = await watch(b!);
    const first = await say(a!, to, "draft");
    await ok(url, EDIT, { id: first.id, text: "final" }, a!.token);
    const edited = await readUntil(bStream, (e) => e.__typename === "MessageEditedEvent", "edit");
    assert.equal(edited.event.message.editCount, 1);
    await fails("FORBIDDEN", url, RECALL, { id: first.id }, b!.token);
    // The owner runs the group but never joined the thread: they may still recall in it.
    assert.equal((await ok(url, RECALL, { id: first.id }, owner!.token)).recallMessage.recalled, true);
    const recalled = await readUntil(bStream, (e) => e.__typename === "MessageRecalledEvent", "recall");
    assert.equal(recalled.event.messageId, first.id);
    assert.equal(recalled.event.conversation.thread.id, thread.id);
    assert.equal((await ok(url, GET, { id: thread.id }, a!.token)).thread.messageCount, 0);
  });

  it("read receipts in a thread: the sender sees who read it", async () => {
    const [owner, a, b] = await users(3);
    const { parentId } = await groupWithMessage(owner!, [a!, b!]);
    const thread = await startThread(a!, parentId);
    await ok(url, JOIN, { id: thread.id }, b!.token);
    const to = { thread: thread.id };
    const aStream = await watch(a!);
    const sent = await say(a!, to, "please confirm", { rr: true });
    await ok(url, READ, { to }, b!.token);
    const receipt = await readUntil(aStream, (e) => e.__typename === "ReceiptEvent", "receipt");
    assert.deepEqual(receipt.event.messageIds, [sent.id]);
    const read = await ok(
      url,
      `query($id: ID!) { message(id: $id) { readCount readBy { edges { node { username } } } } }`,
      { id: sent.id },
      a!.token,
    );
    assert.equal(read.message.readCount, 1);
    assert.deepEqual(read.message.readBy.edges, [{ node: { username: b!.username } }]);
  });

  it("an offline member resumes from their cursor and gets the thread's messages once, in order", async () => {
    const [owner, a, b] = await users(3);
    const { parentId } = await groupWithMessage(owner!, [a!, b!]);
    const thread = await startThread(a!, parentId);
    await ok(url, JOIN, { id: thread.id }, b!.token);
    const since = await cursorOf(url, b!.token);
    const sent = [];
    for (let i = 0; i < 12; i++) sent.push(`m${i}`);
    await Promise.all(sent.slice(0, 6).map((text) => say(a!, { thread: thread.id }, text)));
    for (const text of sent.slice(6)) await say(a!, { thread: thread.id }, text);
    const phone = await signIn(url, b!.username, "ios");
    const stream = await watch(phone, since);
    const got = await readUntil(stream, isText("m11"), "resume");
    const received = [...got.before, got.event].filter((e) => e.__typename === "MessageEvent");
    const ids = received.map((e) => BigInt(e.message.id));
    assert.equal(received.length, 12);
    assert.deepEqual(
      ids,
      [...ids].sort((x, y) => (x < y ? -1 : 1)),
    );
    assert.deepEqual(new Set(received.map((e) => e.message.body.text)), new Set(sent));
    const sync = await ok(
      url,
      `query($since: String) { sync(since: $since, first: 100) { events { event { __typename } } } }`,
      { since },
      b!.token,
    );
    assert.equal(sync.sync.events.filter((e: any) => e.event.__typename === "MessageEvent").length, 12);
  });
});

describe("reactions in a thread", () => {
  const isReaction = (event: any) => event.__typename === "ReactionEvent";
  const seen = (event: any) => [event.user.username, event.reaction, event.added];

  it("reach the thread's members as durable events, replayed once and in order; the group's others get none and may not react", async () => {
    const [owner, a, b, c] = await users(4);
    const { parentId } = await groupWithMessage(owner!, [a!, b!, c!]);
    const thread = await startThread(a!, parentId);
    await ok(url, JOIN, { id: thread.id }, b!.token);
    const message = await say(a!, { thread: thread.id }, "react to me");
    const since = await cursorOf(url, b!.token);
    const [aStream, bStream, cStream, ownerStream] = await Promise.all([
      watch(a!),
      watch(b!, since),
      watch(c!),
      watch(owner!),
    ]);

    // In the group, not in the thread: the message is not theirs to see, the group's owner's neither.
    for (const outsider of [c!, owner!]) {
      await fails("NOT_FOUND", url, REACT, { m: message.id, r: "👍" }, outsider.token);
      await fails("NOT_FOUND", url, UNREACT, { m: message.id, r: "👍" }, outsider.token);
      await fails("NOT_FOUND", url, REACTIONS_OF, { id: message.id }, outsider.token);
    }
    await ok(url, REACT, { m: message.id, r: "👍" }, b!.token);
    await ok(url, REACT, { m: message.id, r: "😂" }, b!.token);
    const added = await ok(url, REACT, { m: message.id, r: "👍" }, a!.token);
    assert.deepEqual(added.addReaction.reactions, [
      {
        reaction: "👍",
        count: 2,
        reactedByMe: true,
        users: [{ username: b!.username }, { username: a!.username }],
      },
      { reaction: "😂", count: 1, reactedByMe: false, users: [{ username: b!.username }] },
    ]);
    assert.equal((await ok(url, UNREACT, { m: message.id, r: "😂" }, b!.token)).removeReaction, true);
    const expected = [
      [b!.username, "👍", true],
      [b!.username, "😂", true],
      [a!.username, "👍", true],
      [b!.username, "😂", false],
    ];

    // Both members, each in order, each event with a cursor and the message as it is in the thread.
    for (const [stream, me] of [
      [aStream, a!],
      [bStream, b!],
    ] as const) {
      const got = [];
      for (const _ of expected) {
        const { event, cursor } = await readUntil(stream, isReaction, `${me.username}'s reactions`);
        assert.ok(cursor, "a reaction is durable");
        assert.equal(event.message.id, message.id);
        assert.equal(event.message.chatType, "THREAD");
        assert.deepEqual(event.message.to, { __typename: "Thread", id: thread.id });
        got.push(seen(event));
      }
      assert.deepEqual(got, expected);
    }
    const late = [...(await drain(cStream, 600)), ...(await drain(ownerStream, 100))];
    assert.ok(!late.some(isReaction), `the group's other members got ${late.map(describeEvent)}`);

    // A device that was away reads them from its cursor, once each, in order; so does sync.
    const phone = await signIn(url, b!.username, "ios");
    const replay = await watch(phone, since);
    const replayed = [];
    for (const _ of expected) replayed.push(seen((await readUntil(replay, isReaction, "replay")).event));
    assert.deepEqual(replayed, expected);
    const more = await drain(replay, 400);
    assert.ok(!more.some(isReaction), `replayed twice: ${more.map(describeEvent)}`);
    const page = await ok(
      url,
      `query($s: String) { sync(since: $s, first: 100) { events { cursor event { __typename
        ... on ReactionEvent { reaction added user { username } } } } } }`,
      { s: since },
      b!.token,
    );
    const synced = page.sync.events.filter((e: any) => isReaction(e.event));
    assert.deepEqual(
      synced.map((e: any) => seen(e.event)),
      expected,
    );
    assert.ok(synced.every((e: any) => e.cursor));

    // Message.reactions in the thread: both reacted 👍, so each sees it as theirs; users oldest first.
    const both = [
      {
        reaction: "👍",
        count: 2,
        reactedByMe: true,
        users: [{ username: b!.username }, { username: a!.username }],
      },
    ];
    assert.deepEqual((await ok(url, REACTIONS_OF, { id: message.id }, a!.token)).message.reactions, both);
    assert.deepEqual((await ok(url, REACTIONS_OF, { id: message.id }, b!.token)).message.reactions, both);
    const history = await ok(
      url,
      `query($to: ChatTarget!) { messages(conversation: $to, last: 10) { edges { node { id ${REACTIONS} } } } }`,
      { to: { thread: thread.id } },
      b!.token,
    );
    assert.deepEqual(history.messages.edges.at(-1).node, { id: message.id, reactions: both });
  });

  it("a late joiner reacts to what came before the join; one who left may not, keeps theirs, and hears no more", async () => {
    const [owner, a, b, c] = await users(4);
    const { parentId } = await groupWithMessage(owner!, [a!, b!, c!]);
    const thread = await startThread(a!, parentId);
    await ok(url, JOIN, { id: thread.id }, b!.token);
    const early = await say(a!, { thread: thread.id }, "before c");
    await ok(url, JOIN, { id: thread.id }, c!.token);
    const cStream = await watch(c!);
    const reacted = await ok(url, REACT, { m: early.id, r: "👍" }, c!.token);
    assert.deepEqual(reacted.addReaction.reactions, [
      { reaction: "👍", count: 1, reactedByMe: true, users: [{ username: c!.username }] },
    ]);

    await ok(url, LEAVE, { id: thread.id }, b!.token);
    await fails("NOT_FOUND", url, REACT, { m: early.id, r: "❤️" }, b!.token);
    const bStream = await watch(b!);
    await ok(url, REMOVE, { id: thread.id, u: c!.username }, owner!.token);
    await readUntil(cStream, threadEvent("MEMBER_REMOVED"), "c removed");
    await fails("NOT_FOUND", url, UNREACT, { m: early.id, r: "👍" }, c!.token);
    await ok(url, REACT, { m: early.id, r: "😂" }, a!.token);
    const quiet = [...(await drain(bStream, 500)), ...(await drain(cStream, 100))];
    assert.ok(!quiet.some(isReaction), `reactions after leaving: ${quiet.map(describeEvent)}`);
    // Their reactions stay on the message.
    const reactions = (await ok(url, REACTIONS_OF, { id: early.id }, a!.token)).message.reactions;
    assert.deepEqual(reactions, [
      { reaction: "👍", count: 1, reactedByMe: false, users: [{ username: c!.username }] },
      { reaction: "😂", count: 1, reactedByMe: true, users: [{ username: a!.username }] },
    ]);
  });
});

describe("thread membership and ends", () => {
  it("leaving the thread stops its messages; the owner's admins remove members but not the owner", async () => {
    const [owner, admin, a, b] = await users(4);
    const { groupId, parentId } = await groupWithMessage(owner!, [admin!, a!, b!]);
    await ok(url, ADD_ADMIN, { id: groupId, u: admin!.username }, owner!.token);
    const thread = await startThread(a!, parentId);
    for (const user of [owner!, b!]) await ok(url, JOIN, { id: thread.id }, user.token);
    const to = { thread: thread.id };
    const bStream = await watch(b!);

    await fails("FORBIDDEN", url, REMOVE, { id: thread.id, u: b!.username }, a!.token);
    await fails("FORBIDDEN", url, REMOVE, { id: thread.id, u: owner!.username }, admin!.token);
    await fails("NOT_MEMBER", url, REMOVE, { id: thread.id, u: admin!.username }, owner!.token);
    await ok(url, REMOVE, { id: thread.id, u: b!.username }, admin!.token);
    const removed = await readUntil(bStream, threadEvent("MEMBER_REMOVED"), "removed");
    assert.deepEqual(removed.event.users, [{ username: b!.username }]);
    await say(a!, to, "after b left");
    await ok(url, LEAVE, { id: thread.id }, owner!.token);
    await fails("NOT_MEMBER", url, LEAVE, { id: thread.id }, owner!.token);
    const late = await drain(bStream, 400);
    assert.ok(!late.some((event) => event.__typename === "MessageEvent"), JSON.stringify(late));
    await fails("NOT_MEMBER", url, SEND, { to, text: "back?" }, b!.token);
    assert.equal((await ok(url, GET, { id: thread.id }, a!.token)).thread.memberCount, 1);
    assert.equal(await conversation(b!, (node) => node.thread?.id === thread.id), undefined);
  });

  it("leaving the group leaves its threads", async () => {
    const [owner, a, b] = await users(3);
    const { groupId, parentId } = await groupWithMessage(owner!, [a!, b!]);
    const thread = await startThread(a!, parentId);
    await ok(url, JOIN, { id: thread.id }, b!.token);
    const bStream = await watch(b!);
    await ok(url, REMOVE_FROM_GROUP, { id: groupId, u: [b!.username] }, owner!.token);
    await readUntil(bStream, (e) => e.__typename === "GroupEvent" && e.kind === "MEMBER_REMOVED", "removed");
    await say(a!, { thread: thread.id }, "b is gone");
    const late = await drain(bStream, 400);
    assert.ok(!late.some((event) => event.__typename === "MessageEvent"), JSON.stringify(late));
    assert.deepEqual((await ok(url, MINE, {}, b!.token)).myThreads.edges, []);
    assert.equal((await ok(url, GET, { id: thread.id }, a!.token)).thread.memberCount, 1);
    await fails("NOT_MEMBER", url, SEND, { to: { thread: thread.id }, text: "hi" }, b!.token);
  });

  it("the group's owner and admins destroy a thread: members read its end and nothing after", async () => {
    const [owner, a, b] = await users(3);
    const { parentId, groupId } = await groupWithMessage(owner!, [a!, b!]);
    const thread = await startThread(a!, parentId);
    await ok(url, JOIN, { id: thread.id }, b!.token);
    const bStream = await watch(b!);
    await fails("FORBIDDEN", url, DESTROY, { id: thread.id }, a!.token);
    assert.equal((await ok(url, DESTROY, { id: thread.id }, owner!.token)).destroyThread, true);
    const ended = await readUntil(bStream, threadEvent("THREAD_DESTROYED"), "destroyed");
    assert.equal(ended.event.thread.id, thread.id);
    await fails("NOT_FOUND", url, SEND, { to: { thread: thread.id }, text: "hello?" }, a!.token);
    await fails("NOT_FOUND", url, GET, { id: thread.id }, a!.token);
    assert.equal(await conversation(b!, (node) => node.thread?.id === thread.id), undefined);
    const list = await ok(url, LIST, { g: groupId }, owner!.token);
    assert.deepEqual(list.threads.edges, []);
    // The message may start a new thread? No: a message has one thread, also after it ended.
    await fails("CONFLICT", url, CREATE, { m: parentId, name: "again" }, a!.token);
  });

  it("destroying the group destroys its threads", async () => {
    const [owner, a] = await users(2);
    const { groupId, parentId } = await groupWithMessage(owner!, [a!]);
    const thread = await startThread(a!, parentId);
    await ok(url, "mutation($id: ID!) { destroyGroup(id: $id) }", { id: groupId }, owner!.token);
    await fails("NOT_FOUND", url, GET, { id: thread.id }, a!.token);
    await fails("NOT_FOUND", url, SEND, { to: { thread: thread.id }, text: "hi" }, a!.token);
    assert.deepEqual((await ok(url, MINE, {}, a!.token)).myThreads.edges, []);
    assert.equal(await conversation(a!, (node) => node.thread?.id === thread.id), undefined);
  });

  it("threads(groupId) pages newest first; the app server sees and acts on threads", async () => {
    const [owner, a] = await users(2);
    const { groupId } = await groupWithMessage(owner!, [a!]);
    const created = [];
    for (let i = 0; i < 5; i++) {
      const parent = await say(a!, { group: groupId }, `topic ${i}`);
      created.push((await startThread(a!, parent.id, `t${i}`)).id);
    }
    const first = (await ok(url, LIST, { g: groupId, first: 3 }, owner!.token)).threads;
    assert.equal(first.pageInfo.hasNextPage, true);
    const second = (
      await ok(url, LIST, { g: groupId, first: 3, after: first.pageInfo.endCursor }, owner!.token)
    ).threads;
    assert.equal(second.pageInfo.hasNextPage, false);
    assert.deepEqual(
      [...first.edges, ...second.edges].map((edge: any) => edge.node.id),
      [...created].reverse(),
    );
    const admin = await adminToken(url);
    assert.equal((await ok(url, GET, { id: created[0] }, admin)).thread.name, "t0");
    assert.equal(
      (await ok(url, RENAME, { id: created[0], name: "by the app" }, admin)).updateThreadName.name,
      "by the app",
    );
    assert.equal((await ok(url, DESTROY, { id: created[1] }, admin)).destroyThread, true);
    const outsider = await signUp(url);
    await fails("NOT_FOUND", url, LIST, { g: groupId }, outsider.token);
    assert.equal((await gql(url, LIST, { g: groupId })).errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
  });
});
