import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fails, ok, subscribe } from "./helpers/client.js";
import { uniqueName } from "./helpers/env.js";
import { adminToken, type SignedIn, signUp } from "./helpers/factories.js";
import { connect, url, useTestServer } from "./helpers/test-server.js";

// Chat rooms over the real API: live-only delivery to the members online.

useTestServer({ ROOM_MAX_MESSAGES_PER_SECOND: "20" });

const ROOM = "id name memberCount myRole allMuted owner { username }";
const CREATE = `mutation($name: String!, $owner: String, $max: Int) {
  createRoom(name: $name, owner: $owner, maxMembers: $max) { ${ROOM} }
}`;
const JOIN = `mutation($id: ID!) { joinRoom(id: $id) { ${ROOM} } }`;
const LEAVE = "mutation($id: ID!) { leaveRoom(id: $id) }";
const SEND = `mutation($id: ID!, $text: String!, $p: MessagePriority) {
  sendMessage(to: { room: $id }, body: { text: { text: $text } }, priority: $p) { id chatType to { __typename ... on Room { id } } }
}`;
const HISTORY = `query($id: ID!, $last: Int) {
  messages(conversation: { room: $id }, last: $last) { edges { node { id body { ... on TextBody { text } } } } }
}`;
const SET_ATTRIBUTES = `mutation($id: ID!, $a: JSON!, $auto: Boolean, $over: Boolean) {
  setRoomAttributes(id: $id, attributes: $a, autoDelete: $auto, overwrite: $over)
}`;
const STREAM = `subscription {
  events {
    cursor
    event {
      __typename
      ... on MessageEvent { message { id body { ... on TextBody { text } } conversation { id room { id } } } }
      ... on RoomEvent { kind room { id } actor { username } users { username } attributes }
    }
  }
}`;

type Stream = ReturnType<typeof subscribe<Record<string, any>>>;

let app = "";
async function newRoom(owner?: SignedIn, extra: Record<string, unknown> = {}) {
  app ||= await adminToken(url);
  return (await ok(url, CREATE, { name: uniqueName("room "), owner: owner?.username, ...extra }, app))
    .createRoom;
}

async function online(user: SignedIn): Promise<Stream> {
  const socket = connect(user.token);
  await socket.connected;
  const stream = subscribe(socket, STREAM, {});
  await new Promise((resolve) => setTimeout(resolve, 100));
  return stream;
}

async function next(stream: Stream, match: (event: any) => boolean, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  const seen: any[] = [];
  for (;;) {
    let result: Awaited<ReturnType<Stream["next"]>>;
    try {
      result = await stream.next(Math.max(1, deadline - Date.now()));
    } catch (error) {
      throw new Error(`${what}: ${(error as Error).message}; got ${JSON.stringify(seen)}`);
    }
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const envelope = result.data!.events;
    if (match(envelope.event)) return envelope;
    seen.push(envelope.event);
  }
}

describe("rooms: live delivery", () => {
  it("members online get messages with no cursor; the joiner gets the recent ones; history keeps them", async () => {
    const [owner, a, b] = await Promise.all([signUp(url), signUp(url), signUp(url)]);
    const room = await newRoom(owner);
    assert.equal(room.owner.username, owner.username);
    assert.equal(room.memberCount, 1);
    await ok(url, JOIN, { id: room.id }, a.token);
    const aStream = await online(a);
    const sent = await ok(url, SEND, { id: room.id, text: "hello room" }, owner.token);
    assert.equal(sent.sendMessage.chatType, "ROOM");
    const got = await next(aStream, (e) => e.__typename === "MessageEvent", "a gets it");
    assert.equal(got.cursor, null);
    assert.equal(got.event.message.body.text, "hello room");
    assert.equal(got.event.message.conversation.room.id, room.id);

    const bStream = await online(b);
    await ok(url, JOIN, { id: room.id }, b.token);
    const recent = await next(bStream, (e) => e.__typename === "MessageEvent", "b gets the recent message");
    assert.equal(recent.event.message.body.text, "hello room");
    const joined = await next(aStream, (e) => e.__typename === "RoomEvent", "a hears b join");
    assert.equal(joined.event.kind, "MEMBER_JOINED");
    const history = await ok(url, HISTORY, { id: room.id }, b.token);
    assert.deepEqual(
      history.messages.edges.map((e: any) => e.node.body.text),
      ["hello room"],
    );
    await ok(url, LEAVE, { id: room.id }, b.token);
    await fails("NOT_MEMBER", url, SEND, { id: room.id, text: "bye" }, b.token);
  });

  it("attributes: one winner for a free key, CONFLICT for the other; admins overwrite", async () => {
    const [owner, a, b] = await Promise.all([signUp(url), signUp(url), signUp(url)]);
    const room = await newRoom(owner);
    for (const user of [a, b]) await ok(url, JOIN, { id: room.id }, user.token);
    const results = await Promise.allSettled(
      [a, b].map((user) => ok(url, SET_ATTRIBUTES, { id: room.id, a: { seat1: user.username } }, user.token)),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, JSON.stringify(results));
    await fails("CONFLICT", url, SET_ATTRIBUTES, { id: room.id, a: { seat1: "me" } }, a.token).catch(
      async () => fails("CONFLICT", url, SET_ATTRIBUTES, { id: room.id, a: { seat1: "me" } }, b.token),
    );
    const taken = await ok(
      url,
      SET_ATTRIBUTES,
      { id: room.id, a: { seat1: owner.username }, over: true },
      owner.token,
    );
    assert.deepEqual(taken.setRoomAttributes, { seat1: owner.username });
  });
});
