import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eventually, fails, gql, ok, subscribe } from "./helpers/client.js";
import { uniqueName } from "./helpers/env.js";
import { adminToken, type SignedIn, signIn, signUp } from "./helpers/factories.js";
import {
  ANNOUNCE,
  ATTRIBUTES,
  accepted,
  BLOCK_LIST,
  BROADCAST,
  CREATE_ROOM,
  checkBudget,
  DESTROY_ROOM,
  EDIT,
  GET_ROOM,
  goOnline,
  JOIN_ROOM,
  LEAVE_ROOM,
  Live,
  MEMBERS,
  MUTE,
  MUTE_ALL,
  MY_ROOMS,
  marker,
  names,
  onUser,
  onUsers,
  type Priority,
  RECALL,
  REMOVE_ATTRIBUTES,
  ROOM_HISTORY,
  ROOM_STREAM,
  ROOMS,
  roomOf,
  SEND_ROOM,
  SET_ATTRIBUTES,
  sendAcrossPowerOfTen,
  sleep,
  startOfSecond,
  summary,
  type TimedSend,
  TRANSFER,
  timedSend,
  UPDATE_ROOM,
  usernames,
  wasDropped,
} from "./helpers/rooms.js";
import { connect, url, useTestServer } from "./helpers/test-server.js";

// Chat rooms over the real API: live-only delivery to the members online, the rules of joining,
// roles and moderation, history, the delivery budget and attributes. The permission matrix is in
// room-permissions.test.ts, the two-instance behaviour in room-cluster.test.ts.

const BUDGET = 10;
const HISTORY_LIMIT = 30;
const JOIN_HISTORY = 3;
const MAX_JOINED = 5;
const MAX_MEMBERS = 50;

useTestServer({
  ROOM_CREATE_BY_USERS: "true",
  ROOM_MAX_MEMBERS: String(MAX_MEMBERS),
  ROOM_MAX_JOINED: String(MAX_JOINED),
  ROOM_HISTORY_LIMIT: String(HISTORY_LIMIT),
  ROOM_JOIN_HISTORY: String(JOIN_HISTORY),
  ROOM_MAX_MESSAGES_PER_SECOND: String(BUDGET),
});

let app = "";
async function appToken() {
  app ||= await adminToken(url);
  return app;
}

/** A room the app server creates, owned by `owner` (or by nobody). */
async function newRoom(owner?: SignedIn, extra: Record<string, unknown> = {}) {
  const data = await ok(
    url,
    CREATE_ROOM,
    { name: uniqueName("room "), owner: owner?.username, ...extra },
    await appToken(),
  );
  return data.createRoom;
}

type Tuple<T, N extends number, R extends T[] = []> = R["length"] extends N ? R : Tuple<T, N, [T, ...R]>;
/** `count` new users, each signed in on one device. */
const users = <N extends number>(count: N) =>
  Promise.all(Array.from({ length: count }, () => signUp(url))) as Promise<Tuple<SignedIn, N>>;
const online = (user: SignedIn) => goOnline(url, user, (token) => connect(token));
async function join(roomId: string, ...members: SignedIn[]) {
  for (const member of members) await ok(url, JOIN_ROOM, { id: roomId }, member.token);
}
const send = async (roomId: string, user: SignedIn, text: string, extra: Record<string, unknown> = {}) =>
  (await ok(url, SEND_ROOM, { id: roomId, text, ...extra }, user.token)).sendMessage;

async function members(roomId: string, token?: string): Promise<Record<string, any>> {
  const data = await ok(url, MEMBERS, { id: roomId, first: 100 }, token ?? (await appToken()));
  return Object.fromEntries(data.roomMembers.edges.map((e: any) => [e.node.user.username, e.node]));
}

async function historyTexts(roomId: string, user: SignedIn, last = 100): Promise<(string | null)[]> {
  const data = await ok(url, ROOM_HISTORY, { id: roomId, last }, user.token);
  return data.messages.edges.map((e: any) => e.node.body?.text ?? null);
}

async function attributes(roomId: string, token?: string) {
  return (await ok(url, ATTRIBUTES, { id: roomId }, token ?? (await appToken()))).roomAttributes;
}

/** Proves a negative: after a marker has come through, and a moment more, `live` has nothing new from the room. */
async function nothingMoreFrom(live: Live, roomId: string, seenBefore: number) {
  await marker(url, live);
  await sleep(300);
  const later = live.all.slice(seenBefore).filter((e) => roomOf(e.event) === roomId);
  assert.deepEqual(
    later.map((e) => (e.event.__typename === "RoomEvent" ? e.event.kind : e.event.message?.body?.text)),
    [],
    `${live.user.username} still got the room's traffic`,
  );
}

describe("rooms: live delivery", () => {
  it("members online get messages with no cursor; the joiner gets the recent ones; history keeps them", async () => {
    const [owner, a, b] = await users(3);
    const room = await newRoom(owner);
    assert.equal(room.owner.username, owner.username);
    assert.equal(room.memberCount, 1);
    await join(room.id, a);
    const aLive = await online(a);
    const sent = await send(room.id, owner, "hello room");
    assert.equal(sent.chatType, "ROOM");
    const got = await aLive.nextMessage(room.id, "hello room");
    assert.equal(got.cursor, null);
    assert.equal(got.event.message.conversation.room.id, room.id);

    const bLive = await online(b);
    await join(room.id, b);
    await bLive.nextMessage(room.id, "hello room");
    const joined = await aLive.nextRoomEvent(room.id, "MEMBER_JOINED");
    assert.deepEqual(names(joined.event), [b.username]);
    assert.deepEqual(await historyTexts(room.id, b), ["hello room"]);
    await ok(url, LEAVE_ROOM, { id: room.id }, b.token);
    await fails("NOT_MEMBER", url, SEND_ROOM, { id: room.id, text: "bye" }, b.token);
  });

  it("room messages are live only: never replayed, never in sync, conversations or unread counts", async () => {
    const [owner, a, b] = await users(3);
    const room = await newRoom(owner);
    await join(room.id, a, b);
    const aLive = await online(a);
    const ownerOther = await online(await signIn(url, owner.username, "ios"));
    const bCursor = (await ok(url, "{ eventCursor }", {}, b.token)).eventCursor;
    const aCursor = (await ok(url, "{ eventCursor }", {}, a.token)).eventCursor;
    const unreadBefore = (await ok(url, "{ totalUnread }", {}, a.token)).totalUnread;

    const sent = await send(room.id, owner, "live only");
    assert.equal(sent.chatType, "ROOM");
    assert.deepEqual(sent.to, { __typename: "Room", id: room.id });
    assert.equal(sent.conversation.chatType, "ROOM");
    assert.equal(sent.conversation.room.id, room.id);
    const got = await aLive.nextMessage(room.id, "live only");
    assert.equal(got.cursor, null, "room messages carry no cursor");
    assert.equal(got.event.message.id, sent.id);
    assert.equal(got.event.message.from.username, owner.username);
    assert.equal(got.event.message.conversation.chatType, "ROOM");
    assert.equal(got.event.message.conversation.room.id, room.id);
    assert.equal(got.event.message.conversation.unreadCount, 0);
    // The sender's other device gets it too.
    await ownerOther.nextMessage(room.id, "live only");

    // b was offline: resuming from a cursor taken before the send replays nothing of the room.
    const bSocket = connect(b.token);
    await bSocket.connected;
    const bLive = new Live(b, bSocket, subscribe(bSocket, ROOM_STREAM, { since: bCursor }));
    await marker(url, bLive);
    await sleep(300);
    assert.deepEqual(bLive.texts(room.id), [], "a room message was replayed to a member who was offline");

    const sync = await ok(
      url,
      `query($since: String) { sync(since: $since, first: 1000) { events { cursor event { __typename
        ... on MessageEvent { message { chatType } } } } } }`,
      { since: aCursor },
      a.token,
    );
    const roomish = sync.sync.events.filter(
      (e: any) => e.event.__typename === "RoomEvent" || e.event.message?.chatType === "ROOM",
    );
    assert.deepEqual(roomish, [], "sync returned room traffic");
    const conversations = await ok(
      url,
      "{ conversations(first: 100) { edges { node { chatType room { id } } } } }",
      {},
      a.token,
    );
    assert.equal(
      conversations.conversations.edges.filter((e: any) => e.node.chatType === "ROOM" || e.node.room).length,
      0,
      "a room shows up among conversations",
    );
    assert.equal((await ok(url, "{ totalUnread }", {}, a.token)).totalUnread, unreadBefore);
  });

  it("history keeps the last ROOM_HISTORY_LIMIT messages, newest page first; outsiders cannot read it", async () => {
    const [owner, reader, outsider] = await users(3);
    const room = await newRoom(owner);
    await join(room.id, reader);
    // The kept messages' ids cross a power of ten: they are ordered as numbers, not as text.
    const texts = await sendAcrossPowerOfTen(url, room.id, owner, HISTORY_LIMIT + 5, HISTORY_LIMIT, "h");
    assert.deepEqual(await historyTexts(room.id, reader), texts.slice(-HISTORY_LIMIT));

    const page = await ok(url, ROOM_HISTORY, { id: room.id, last: 10 }, reader.token);
    assert.deepEqual(
      page.messages.edges.map((e: any) => e.node.body.text),
      texts.slice(-10),
    );
    assert.equal(page.messages.pageInfo.hasPreviousPage, true);
    const earlier = await ok(
      url,
      ROOM_HISTORY,
      { id: room.id, last: 100, before: page.messages.pageInfo.startCursor },
      reader.token,
    );
    assert.deepEqual(
      earlier.messages.edges.map((e: any) => e.node.body.text),
      texts.slice(-HISTORY_LIMIT, -10),
    );
    assert.equal(earlier.messages.pageInfo.hasPreviousPage, false);
    await fails("NOT_MEMBER", url, ROOM_HISTORY, { id: room.id, last: 10 }, outsider.token);
  });

  it("a joiner's devices online get the last ROOM_JOIN_HISTORY messages they may see, then live traffic", async () => {
    const [owner, other, joiner, late] = await users(4);
    const room = await newRoom(owner);
    await join(room.id, other);
    for (const text of ["m1", "m2", "m3", "m4"]) await send(room.id, owner, text);
    await send(room.id, owner, "for other only", { targets: [other.username] });
    await send(room.id, owner, "m5");
    const recalled = await send(room.id, owner, "m6 recalled");
    await ok(url, RECALL, { m: recalled.id }, owner.token);

    const devices = [await online(joiner), await online(await signIn(url, joiner.username, "android"))];
    await join(room.id, joiner);
    await send(room.id, owner, "live");
    for (const device of devices) {
      await device.nextMessage(room.id, "live");
      assert.deepEqual(device.texts(room.id), ["m3", "m4", "m5", "live"]);
      assert.equal(
        device.roomEvents(room.id, "MEMBER_JOINED").length,
        1,
        "the joiner's device did not hear its own MEMBER_JOINED once",
      );
      assert.ok(device.messages(room.id).every((e) => e.cursor === null));
    }

    // Joined with no device online: connecting later brings nothing old, only what comes next.
    await join(room.id, late);
    const lateLive = await online(late);
    await sleep(300);
    assert.deepEqual(lateLive.texts(room.id), []);
    await send(room.id, owner, "later");
    await lateLive.nextMessage(room.id, "later");
    assert.deepEqual(lateLive.texts(room.id), ["later"]);
  });

  it("targets reach only them and the sender; read receipts, typing and reactions are refused", async () => {
    const [owner, a, b, outsider] = await users(4);
    const room = await newRoom(owner);
    await join(room.id, a, b);
    const [ownerLive, aLive, bLive] = [await online(owner), await online(a), await online(b)];
    await send(room.id, owner, "psst", { targets: [a.username] });
    await send(room.id, owner, "everyone");
    await aLive.nextMessage(room.id, "everyone");
    await ownerLive.nextMessage(room.id, "everyone");
    await bLive.nextMessage(room.id, "everyone");
    assert.deepEqual(aLive.texts(room.id), ["psst", "everyone"]);
    assert.deepEqual(ownerLive.texts(room.id), ["psst", "everyone"]);
    assert.deepEqual(bLive.texts(room.id), ["everyone"], "a targeted message reached someone else");
    assert.deepEqual(await historyTexts(room.id, a), ["psst", "everyone"]);
    assert.deepEqual(await historyTexts(room.id, b), ["everyone"]);

    await fails(
      "BAD_USER_INPUT",
      url,
      SEND_ROOM,
      { id: room.id, text: "x", targets: [outsider.username] },
      owner.token,
    );
    const many = Array.from({ length: 21 }, (_, i) => `nobody${i}`);
    await fails("LIMIT_EXCEEDED", url, SEND_ROOM, { id: room.id, text: "x", targets: many }, owner.token);
    await fails("BAD_USER_INPUT", url, SEND_ROOM, { id: room.id, text: "x", rr: true }, owner.token);
    await fails(
      "BAD_USER_INPUT",
      url,
      "mutation($id: ID!) { sendTyping(conversation: { room: $id }) }",
      { id: room.id },
      a.token,
    );
    const message = await send(room.id, a, "react to me");
    await fails(
      "BAD_USER_INPUT",
      url,
      'mutation($m: ID!) { addReaction(messageId: $m, reaction: "+1") { id } }',
      { m: message.id },
      b.token,
    );
    assert.deepEqual(
      await historyTexts(room.id, b),
      ["everyone", "react to me"],
      "a refused send was stored",
    );
  });

  it("edits and recalls reach the members online; owners and admins recall anyone's", async () => {
    const [owner, admin, a, b] = await users(4);
    const room = await newRoom(owner);
    await join(room.id, admin, a, b);
    await ok(url, onUser("addRoomAdmin"), { id: room.id, u: admin.username }, owner.token);
    const bLive = await online(b);
    const draft = await send(room.id, a, "draft");
    await bLive.nextMessage(room.id, "draft");

    await ok(url, EDIT, { m: draft.id, t: "final" }, a.token);
    const edited = await bLive.next((e) => e.__typename === "MessageEditedEvent", "the edit");
    assert.equal(edited.cursor, null);
    assert.equal(edited.event.message.id, draft.id);
    assert.equal(edited.event.message.body.text, "final");
    assert.equal(edited.event.message.editCount, 1);
    await fails("FORBIDDEN", url, EDIT, { m: draft.id, t: "mine now" }, owner.token);

    await fails("FORBIDDEN", url, RECALL, { m: draft.id }, b.token);
    await ok(url, RECALL, { m: draft.id }, a.token);
    const recalled = await bLive.next((e) => e.__typename === "MessageRecalledEvent", "the recall");
    assert.equal(recalled.cursor, null);
    assert.equal(recalled.event.messageId, draft.id);
    assert.equal(recalled.event.by.username, a.username);

    const bMessage = await send(room.id, b, "moderate me");
    await ok(url, RECALL, { m: bMessage.id }, admin.token);
    const byAdmin = await bLive.next(
      (e) => e.__typename === "MessageRecalledEvent" && e.messageId === bMessage.id,
      "the admin's recall",
    );
    assert.equal(byAdmin.event.by.username, admin.username);
    const history = await ok(url, ROOM_HISTORY, { id: room.id, last: 10 }, owner.token);
    assert.deepEqual(
      history.messages.edges.map((e: any) => [e.node.recalled, e.node.body]),
      [
        [true, null],
        [true, null],
      ],
    );
    // Like Message.conversation, the recall names the room's (made-up) conversation, so a client can place it.
    assert.ok(recalled.event.conversation, "MessageRecalledEvent.conversation is null for a room message");
    assert.equal(recalled.event.conversation.chatType, "ROOM");
    assert.equal(recalled.event.conversation.room.id, room.id);
  });

  it("clientMessageId makes a room send idempotent: the retry returns the first message, delivered once", async () => {
    const [owner, a] = await users(2);
    const room = await newRoom(owner);
    await join(room.id, a);
    const aLive = await online(a);
    const first = await send(room.id, owner, "once", { cid: "cid-1" });
    const again = await send(room.id, owner, "once", { cid: "cid-1" });
    assert.equal(again.id, first.id);
    await send(room.id, owner, "after");
    await aLive.nextMessage(room.id, "after");
    assert.deepEqual(aLive.texts(room.id), ["once", "after"]);
  });

  it("sending to a room needs membership; unknown and destroyed rooms are NOT_FOUND", async () => {
    const [owner, outsider] = await users(2);
    const room = await newRoom(owner);
    await fails("NOT_MEMBER", url, SEND_ROOM, { id: room.id, text: "hi" }, outsider.token);
    await fails(
      "NOT_FOUND",
      url,
      SEND_ROOM,
      { id: "00000000-0000-4000-8000-000000000000", text: "hi" },
      owner.token,
    );
    await ok(url, DESTROY_ROOM, { id: room.id }, owner.token);
    await fails("NOT_FOUND", url, SEND_ROOM, { id: room.id, text: "hi" }, owner.token);
  });
});

describe("rooms: creating and finding", () => {
  it("the app server creates rooms with or without an owner; users create them when allowed and own them", async () => {
    const [owner, creator] = await users(2);
    const admin = await appToken();
    const alone = await newRoom(undefined, { description: "run by the app", ext: { topic: "news" } });
    assert.equal(alone.owner, null);
    assert.equal(alone.memberCount, 0);
    assert.equal(alone.maxMembers, MAX_MEMBERS);
    assert.equal(alone.description, "run by the app");
    assert.deepEqual(alone.ext, { topic: "news" });
    assert.equal(alone.myRole, null);
    assert.equal(alone.destroyed, false);

    const owned = await newRoom(owner, { max: 10 });
    assert.equal(owned.owner.username, owner.username);
    assert.equal(owned.memberCount, 1);
    assert.equal(owned.maxMembers, 10);
    assert.equal((await ok(url, GET_ROOM, { id: owned.id }, owner.token)).room.myRole, "OWNER");
    assert.deepEqual(
      Object.entries(await members(owned.id)).map(([name, m]) => [name, m.role]),
      [[owner.username, "OWNER"]],
    );

    // ROOM_CREATE_BY_USERS is on here: the creator owns the room and is its first member.
    const mine = (await ok(url, CREATE_ROOM, { name: "my room" }, creator.token)).createRoom;
    assert.equal(mine.owner.username, creator.username);
    assert.equal(mine.memberCount, 1);
    assert.equal(mine.myRole, "OWNER");
    const myRooms = await ok(url, MY_ROOMS, {}, creator.token);
    assert.deepEqual(
      myRooms.myRooms.edges.map((e: any) => e.node.id),
      [mine.id],
    );
    await fails("BAD_USER_INPUT", url, CREATE_ROOM, { name: "x", owner: owner.username }, creator.token);

    await fails("LIMIT_EXCEEDED", url, CREATE_ROOM, { name: "x", max: MAX_MEMBERS + 1 }, admin);
    await fails("BAD_USER_INPUT", url, CREATE_ROOM, { name: "x", max: 1 }, admin);
    assert.equal((await ok(url, CREATE_ROOM, { name: "pair", max: 2 }, admin)).createRoom.maxMembers, 2);
    await fails("BAD_USER_INPUT", url, CREATE_ROOM, { name: "" }, admin);
    await fails("UNAUTHENTICATED", url, CREATE_ROOM, { name: "anonymous" });
    await fails("NOT_FOUND", url, CREATE_ROOM, { name: "x", owner: uniqueName("ghost") }, admin);
  });

  it("a room the app server runs alone: it names the admins who run it, and can hand it to an owner", async () => {
    const [helper, member, heir] = await users(3);
    const room = await newRoom();
    await join(room.id, helper, member, heir);
    const admin = await appToken();
    await ok(url, onUser("addRoomAdmin"), { id: room.id, u: helper.username }, admin);
    await fails("FORBIDDEN", url, onUser("addRoomAdmin"), { id: room.id, u: member.username }, helper.token);
    await ok(url, MUTE, { id: room.id, u: [member.username], s: 60 }, helper.token);
    await fails("MUTED", url, SEND_ROOM, { id: room.id, text: "hi" }, member.token);
    assert.equal(
      (await ok(url, ANNOUNCE, { id: room.id, t: "run by helpers" }, helper.token)).setRoomAnnouncement
        .announcement,
      "run by helpers",
    );
    await fails("FORBIDDEN", url, DESTROY_ROOM, { id: room.id }, helper.token);

    const handed = (await ok(url, TRANSFER, { id: room.id, u: heir.username }, admin)).transferRoomOwnership;
    assert.equal(handed.owner.username, heir.username);
    const roles = await members(room.id);
    assert.deepEqual(
      [helper, member, heir].map((u) => roles[u.username].role),
      ["ADMIN", "MEMBER", "OWNER"],
    );
    await ok(url, DESTROY_ROOM, { id: room.id }, heir.token);
    await fails("NOT_FOUND", url, GET_ROOM, { id: room.id }, member.token);
  });

  it("rooms are public: any signed-in user finds them; unknown ids are NOT_FOUND", async () => {
    const [owner, stranger] = await users(2);
    const tag = uniqueName("tag");
    const created = [];
    for (const n of [1, 2, 3]) created.push(await newRoom(owner, { name: `Room ${tag.toUpperCase()} ${n}` }));
    const seen = await ok(url, GET_ROOM, { id: created[0].id }, stranger.token);
    assert.equal(seen.room.name, created[0].name);
    assert.equal(seen.room.myRole, null);
    assert.equal((await ok(url, GET_ROOM, { id: created[0].id }, await appToken())).room.id, created[0].id);
    await fails("NOT_FOUND", url, GET_ROOM, { id: "00000000-0000-4000-8000-000000000000" }, stranger.token);
    await fails("NOT_FOUND", url, GET_ROOM, { id: "not-an-id" }, stranger.token);
    await fails("UNAUTHENTICATED", url, GET_ROOM, { id: created[0].id });

    // Newest first, searched case-insensitively, in pages.
    const first = await ok(url, ROOMS, { first: 2, search: tag }, stranger.token);
    assert.deepEqual(
      first.rooms.edges.map((e: any) => e.node.id),
      [created[2].id, created[1].id],
    );
    assert.equal(first.rooms.pageInfo.hasNextPage, true);
    const rest = await ok(
      url,
      ROOMS,
      { first: 2, search: tag, after: first.rooms.pageInfo.endCursor },
      stranger.token,
    );
    assert.deepEqual(
      rest.rooms.edges.map((e: any) => e.node.id),
      [created[0].id],
    );
    assert.equal(rest.rooms.pageInfo.hasNextPage, false);

    await ok(url, DESTROY_ROOM, { id: created[1].id }, owner.token);
    const after = await ok(url, ROOMS, { first: 10, search: tag }, stranger.token);
    assert.deepEqual(
      after.rooms.edges.map((e: any) => e.node.id),
      [created[2].id, created[0].id],
    );
    await fails("NOT_FOUND", url, GET_ROOM, { id: created[1].id }, stranger.token);
  });

  it("myRooms lists the caller's rooms, the most recently joined first, in pages", async () => {
    const [owner, member] = await users(2);
    const rooms = [await newRoom(owner), await newRoom(owner), await newRoom(owner)];
    for (const room of rooms) await join(room.id, member);
    const page = await ok(url, MY_ROOMS, { first: 2 }, member.token);
    assert.deepEqual(
      page.myRooms.edges.map((e: any) => [e.node.id, e.node.myRole]),
      [
        [rooms[2].id, "MEMBER"],
        [rooms[1].id, "MEMBER"],
      ],
    );
    assert.equal(page.myRooms.pageInfo.hasNextPage, true);
    const rest = await ok(url, MY_ROOMS, { first: 2, after: page.myRooms.pageInfo.endCursor }, member.token);
    assert.deepEqual(
      rest.myRooms.edges.map((e: any) => e.node.id),
      [rooms[0].id],
    );
    await ok(url, LEAVE_ROOM, { id: rooms[1].id }, member.token);
    const now = await ok(url, MY_ROOMS, {}, member.token);
    assert.deepEqual(
      now.myRooms.edges.map((e: any) => e.node.id),
      [rooms[2].id, rooms[0].id],
    );
  });

  it("roomMembers lists members in join order, by role, in pages, for members only; the block list for the owner and admins", async () => {
    const [owner, admin, m1, m2, outsider, barred] = await users(6);
    const room = await newRoom(owner);
    await join(room.id, admin, m1, m2, barred);
    await ok(url, onUser("addRoomAdmin"), { id: room.id, u: admin.username }, owner.token);
    await ok(url, onUsers("blockRoomMembers"), { id: room.id, u: [barred.username] }, owner.token);

    const all = await ok(url, MEMBERS, { id: room.id, first: 100 }, m1.token);
    assert.deepEqual(
      all.roomMembers.edges.map((e: any) => [e.node.user.username, e.node.role]),
      [
        [owner.username, "OWNER"],
        [admin.username, "ADMIN"],
        [m1.username, "MEMBER"],
        [m2.username, "MEMBER"],
      ],
    );
    const byRole = async (role: string) =>
      (await ok(url, MEMBERS, { id: room.id, role }, m1.token)).roomMembers.edges.map(
        (e: any) => e.node.user.username,
      );
    assert.deepEqual(await byRole("OWNER"), [owner.username]);
    assert.deepEqual(await byRole("ADMIN"), [admin.username]);
    assert.deepEqual(await byRole("MEMBER"), [m1.username, m2.username]);
    const page = await ok(url, MEMBERS, { id: room.id, first: 3 }, m1.token);
    assert.equal(page.roomMembers.edges.length, 3);
    assert.equal(page.roomMembers.pageInfo.hasNextPage, true);
    const rest = await ok(
      url,
      MEMBERS,
      { id: room.id, first: 3, after: page.roomMembers.pageInfo.endCursor },
      m1.token,
    );
    assert.deepEqual(
      rest.roomMembers.edges.map((e: any) => e.node.user.username),
      [m2.username],
    );
    assert.equal(rest.roomMembers.pageInfo.hasNextPage, false);

    await fails("NOT_MEMBER", url, MEMBERS, { id: room.id }, outsider.token);
    await fails("NOT_MEMBER", url, ATTRIBUTES, { id: room.id }, outsider.token);
    await fails("FORBIDDEN", url, BLOCK_LIST, { id: room.id }, m1.token);
    for (const token of [owner.token, admin.token, await appToken()]) {
      assert.deepEqual((await ok(url, BLOCK_LIST, { id: room.id }, token)).roomBlockList, [
        { username: barred.username },
      ]);
    }
  });
});

describe("rooms: joining and leaving", () => {
  it("joinRoom: CONFLICT for members, BLOCKED for the barred, LIMIT_EXCEEDED when full or past ROOM_MAX_JOINED", async () => {
    const [owner, a, b, barred, busy] = await users(5);
    const room = await newRoom(owner, { max: 3 });
    const joined = (await ok(url, JOIN_ROOM, { id: room.id }, a.token)).joinRoom;
    assert.equal(joined.memberCount, 2);
    assert.equal(joined.myRole, "MEMBER");
    await fails("CONFLICT", url, JOIN_ROOM, { id: room.id }, a.token);
    await fails("CONFLICT", url, JOIN_ROOM, { id: room.id }, owner.token);
    await ok(url, onUsers("blockRoomMembers"), { id: room.id, u: [barred.username] }, owner.token);
    await fails("BLOCKED", url, JOIN_ROOM, { id: room.id }, barred.token);
    await join(room.id, b);
    await fails("LIMIT_EXCEEDED", url, JOIN_ROOM, { id: room.id }, busy.token);
    await fails("FORBIDDEN", url, JOIN_ROOM, { id: room.id }, await appToken());
    await fails("NOT_FOUND", url, JOIN_ROOM, { id: "00000000-0000-4000-8000-000000000000" }, a.token);
    assert.equal((await ok(url, GET_ROOM, { id: room.id }, a.token)).room.memberCount, 3);

    // ROOM_MAX_JOINED rooms at once.
    const rooms = [];
    for (let i = 0; i <= MAX_JOINED; i++) rooms.push(await newRoom());
    for (const r of rooms.slice(0, MAX_JOINED)) await join(r.id, busy);
    await fails("LIMIT_EXCEEDED", url, JOIN_ROOM, { id: rooms[MAX_JOINED].id }, busy.token);
    await ok(url, LEAVE_ROOM, { id: rooms[0].id }, busy.token);
    await join(rooms[MAX_JOINED].id, busy);
  });

  it("many users racing for the last seats: exactly as many get in as there are seats", async () => {
    const [owner, ...racers] = await users(9);
    const room = await newRoom(owner, { max: 4 });
    const results = await Promise.all(racers.map((user) => gql(url, JOIN_ROOM, { id: room.id }, user.token)));
    const codes = results.map((r) => r.errors?.[0]?.extensions?.code ?? "ok").sort();
    assert.deepEqual(codes, [
      "LIMIT_EXCEEDED",
      "LIMIT_EXCEEDED",
      "LIMIT_EXCEEDED",
      "LIMIT_EXCEEDED",
      "LIMIT_EXCEEDED",
      "ok",
      "ok",
      "ok",
    ]);
    assert.equal((await ok(url, GET_ROOM, { id: room.id }, owner.token)).room.memberCount, 4);
    assert.equal(Object.keys(await members(room.id)).length, 4);
  });

  it("one user joining many rooms at once stays within ROOM_MAX_JOINED", async () => {
    const [user] = await users(1);
    const rooms = [];
    for (let i = 0; i < MAX_JOINED + 3; i++) rooms.push(await newRoom());
    const results = await Promise.all(rooms.map((room) => gql(url, JOIN_ROOM, { id: room.id }, user.token)));
    const joined = results.filter((r) => !r.errors).length;
    for (const r of results.filter((r) => r.errors))
      assert.equal(r.errors![0]!.extensions?.code, "LIMIT_EXCEEDED");
    const mine = await ok(url, MY_ROOMS, { first: 100 }, user.token);
    assert.equal(mine.myRooms.edges.length, joined);
    assert.equal(joined, MAX_JOINED, `${joined} joins went through, ROOM_MAX_JOINED is ${MAX_JOINED}`);
  });

  it("leaveRoom: NOT_MEMBER for outsiders, FORBIDDEN for the owner until they hand the room over", async () => {
    const [owner, a, outsider] = await users(3);
    const room = await newRoom(owner);
    await join(room.id, a);
    await fails("NOT_MEMBER", url, LEAVE_ROOM, { id: room.id }, outsider.token);
    await fails("FORBIDDEN", url, LEAVE_ROOM, { id: room.id }, owner.token);
    await fails("FORBIDDEN", url, LEAVE_ROOM, { id: room.id }, await appToken());
    const handed = (await ok(url, TRANSFER, { id: room.id, u: a.username }, owner.token))
      .transferRoomOwnership;
    assert.equal(handed.owner.username, a.username);
    assert.equal((await ok(url, LEAVE_ROOM, { id: room.id }, owner.token)).leaveRoom, true);
    const now = (await ok(url, GET_ROOM, { id: room.id }, a.token)).room;
    assert.equal(now.memberCount, 1);
    assert.equal(now.myRole, "OWNER");
    await fails("NOT_MEMBER", url, LEAVE_ROOM, { id: room.id }, owner.token);
  });

  it("updateRoom and setRoomAnnouncement change the room; maxMembers cannot go below the members; destroyRoom ends it", async () => {
    const [owner, a, b] = await users(3);
    const room = await newRoom(owner, { max: 10 });
    await join(room.id, a, b);
    const updated = (
      await ok(
        url,
        UPDATE_ROOM,
        { id: room.id, name: "renamed", description: "new words", ext: { k: "v" }, max: 3 },
        owner.token,
      )
    ).updateRoom;
    assert.deepEqual(
      [updated.name, updated.description, updated.ext, updated.maxMembers],
      ["renamed", "new words", { k: "v" }, 3],
    );
    await fails("LIMIT_EXCEEDED", url, UPDATE_ROOM, { id: room.id, max: 2 }, owner.token);
    await fails("LIMIT_EXCEEDED", url, UPDATE_ROOM, { id: room.id, max: MAX_MEMBERS + 1 }, owner.token);
    await fails("BAD_USER_INPUT", url, UPDATE_ROOM, { id: room.id, max: 1 }, owner.token);
    assert.equal((await ok(url, GET_ROOM, { id: room.id }, a.token)).room.maxMembers, 3);
    const announced = (await ok(url, ANNOUNCE, { id: room.id, t: "be nice" }, owner.token))
      .setRoomAnnouncement;
    assert.equal(announced.announcement, "be nice");
    await fails("BAD_USER_INPUT", url, ANNOUNCE, { id: room.id, t: "x".repeat(513) }, owner.token);

    const aLive = await online(a);
    await ok(url, DESTROY_ROOM, { id: room.id }, owner.token);
    const destroyed = await aLive.nextRoomEvent(room.id, "ROOM_DESTROYED");
    assert.equal(destroyed.event.actor.username, owner.username);
    await fails("NOT_FOUND", url, GET_ROOM, { id: room.id }, a.token);
    await fails("NOT_FOUND", url, JOIN_ROOM, { id: room.id }, b.token);
    assert.deepEqual((await ok(url, MY_ROOMS, {}, a.token)).myRooms.edges, []);
    await fails("NOT_FOUND", url, DESTROY_ROOM, { id: room.id }, owner.token);
  });
});

describe("rooms: roles, moderation and their events", () => {
  it("every change is a RoomEvent to the members online, with its actor and users, and no cursor", async () => {
    const [owner, admin, member, target, heir] = await users(5);
    const room = await newRoom(owner);
    await join(room.id, admin, member, target, heir);
    const [ownerLive, adminLive, memberLive] = [
      await online(owner),
      await online(admin),
      await online(member),
    ];
    const memberCursor = (await ok(url, "{ eventCursor }", {}, member.token)).eventCursor;
    const as = (user: SignedIn | "app", query: string, vars: Record<string, unknown>) =>
      ok(url, query, { id: room.id, ...vars }, user === "app" ? app : user.token);
    await appToken();

    await as(owner, onUser("addRoomAdmin"), { u: admin.username });
    // The room in an event is rendered for each reader.
    const promoted = await adminLive.nextRoomEvent(room.id, "ADMIN_ADDED");
    assert.equal(promoted.event.room.myRole, "ADMIN");
    assert.equal((await ownerLive.nextRoomEvent(room.id, "ADMIN_ADDED")).event.room.myRole, "OWNER");
    await as(admin, MUTE, { u: [target.username], s: 60 });
    await as(admin, onUsers("unmuteRoomMembers"), { u: [target.username] });
    await as(owner, MUTE_ALL, { m: true });
    await as(owner, onUsers("addToRoomAllowList"), { u: [member.username] });
    await as(owner, onUsers("removeFromRoomAllowList"), { u: [member.username] });
    await as(owner, MUTE_ALL, { m: false });
    await as(admin, UPDATE_ROOM, { name: "renamed" });
    await as(admin, ANNOUNCE, { t: "hello all" });
    await as("app", SET_ATTRIBUTES, { a: { topic: "rooms" } });
    await as(owner, onUser("removeRoomAdmin"), { u: admin.username });
    await as(owner, TRANSFER, { u: heir.username });
    await as(heir, onUsers("removeRoomMembers"), { u: [target.username] });
    await as(heir, onUsers("blockRoomMembers"), { u: [admin.username] });
    await as(heir, onUsers("unblockRoomMembers"), { u: [admin.username] });
    await as(admin, JOIN_ROOM, {});

    const want = [
      ["ADMIN_ADDED", owner, [admin]],
      ["MEMBERS_MUTED", admin, [target]],
      ["MEMBERS_UNMUTED", admin, [target]],
      ["ALL_MUTED", owner, []],
      ["ALLOW_LIST_ADDED", owner, [member]],
      ["ALLOW_LIST_REMOVED", owner, [member]],
      ["ALL_UNMUTED", owner, []],
      ["ROOM_UPDATED", admin, []],
      ["ANNOUNCEMENT_CHANGED", admin, []],
      ["ATTRIBUTES_CHANGED", null, []],
      ["ADMIN_REMOVED", owner, [admin]],
      ["OWNER_CHANGED", owner, [heir, owner]],
      ["MEMBER_REMOVED", heir, [target]],
      ["MEMBERS_BLOCKED", heir, [admin]],
      ["MEMBERS_UNBLOCKED", heir, [admin]],
      ["MEMBER_JOINED", admin, [admin]],
    ] as const;
    const got = await memberLive.until(
      (e) => e.__typename === "RoomEvent" && roomOf(e) === room.id,
      want.length,
      "room events",
    );
    assert.deepEqual(
      got.map((e) => [
        e.event.kind,
        e.event.actor?.username ?? null,
        e.event.users.map((u: any) => u.username),
      ]),
      want.map(([kind, actor, users]) => [kind, actor?.username ?? null, users.map((u) => u.username)]),
    );
    assert.ok(
      got.every((e) => e.cursor === null),
      "RoomEvents carry no cursor",
    );
    const byKind = Object.fromEntries(got.map((e) => [e.event.kind, e.event]));
    assert.equal(byKind.ROOM_UPDATED.room.name, "renamed");
    assert.equal(byKind.ANNOUNCEMENT_CHANGED.room.announcement, "hello all");
    assert.deepEqual(byKind.ATTRIBUTES_CHANGED.attributes, { topic: "rooms" });
    assert.equal(byKind.MEMBER_JOINED.room.memberCount, 4);

    await ok(url, LEAVE_ROOM, { id: room.id }, member.token);
    const left = await ownerLive.nextRoomEvent(room.id, "MEMBER_LEFT");
    assert.equal(left.event.actor.username, member.username);
    assert.deepEqual(names(left.event), [member.username]);
    await ok(url, DESTROY_ROOM, { id: room.id }, heir.token);
    const destroyed = await ownerLive.nextRoomEvent(room.id, "ROOM_DESTROYED");
    assert.equal(destroyed.event.actor.username, heir.username);

    const sync = await ok(
      url,
      "query($since: String) { sync(since: $since, first: 1000) { events { event { __typename } } } }",
      { since: memberCursor },
      member.token,
    );
    assert.deepEqual(
      sync.sync.events.filter((e: any) => e.event.__typename === "RoomEvent"),
      [],
      "RoomEvents are live only",
    );
  });

  it("admins act on plain members only, nobody on themselves, and nobody removes the owner", async () => {
    const [owner, admin, admin2, member] = await users(4);
    const room = await newRoom(owner);
    await join(room.id, admin, admin2, member);
    for (const a of [admin, admin2])
      await ok(url, onUser("addRoomAdmin"), { id: room.id, u: a.username }, owner.token);
    const as = (user: SignedIn | string, query: string, vars: Record<string, unknown>) =>
      gql(url, query, { id: room.id, ...vars }, typeof user === "string" ? user : user.token);
    const code = async (p: Promise<any>) => (await p).errors?.[0]?.extensions?.code ?? "ok";
    const token = await appToken();

    assert.equal(await code(as(admin, onUsers("removeRoomMembers"), { u: [admin2.username] })), "FORBIDDEN");
    assert.equal(await code(as(admin, MUTE, { u: [owner.username], s: 60 })), "FORBIDDEN");
    assert.equal(
      await code(as(admin, onUsers("blockRoomMembers"), { u: [admin2.username, member.username] })),
      "FORBIDDEN",
    );
    assert.equal(
      await code(as(admin, onUsers("removeRoomMembers"), { u: [admin.username] })),
      "BAD_USER_INPUT",
    );
    assert.equal(await code(as(owner, MUTE, { u: [owner.username], s: 60 })), "BAD_USER_INPUT");
    assert.equal(await code(as(token, onUsers("removeRoomMembers"), { u: [owner.username] })), "FORBIDDEN");
    assert.equal(await code(as(token, onUsers("blockRoomMembers"), { u: [owner.username] })), "FORBIDDEN");
    assert.equal(await code(as(member, onUsers("removeRoomMembers"), { u: [admin.username] })), "FORBIDDEN");
    assert.equal(await code(as(admin, onUser("addRoomAdmin"), { u: member.username })), "FORBIDDEN");
    assert.equal(await code(as(owner, onUser("addRoomAdmin"), { u: owner.username })), "BAD_USER_INPUT");
    assert.equal(await code(as(owner, MUTE, { u: [member.username], s: 0 })), "BAD_USER_INPUT");
    assert.equal(await code(as(owner, onUsers("removeRoomMembers"), { u: [] })), "BAD_USER_INPUT");
    assert.equal(
      await code(as(owner, onUsers("removeRoomMembers"), { u: [uniqueName("ghost")] })),
      "NOT_FOUND",
    );
    // A refusal changes nothing, even for the names in the batch it could act on.
    assert.deepEqual(
      Object.entries(await members(room.id)).map(([name, m]) => [name, m.role, m.mutedUntil]),
      [
        [owner.username, "OWNER", null],
        [admin.username, "ADMIN", null],
        [admin2.username, "ADMIN", null],
        [member.username, "MEMBER", null],
      ],
    );
    // Admins act on members; the owner and the app server on admins too.
    assert.equal(await code(as(admin, onUsers("removeRoomMembers"), { u: [member.username] })), "ok");
    assert.equal(await code(as(owner, onUsers("blockRoomMembers"), { u: [admin2.username] })), "ok");
    assert.equal(await code(as(token, MUTE, { u: [admin.username], s: 60 })), "ok");
    const now = await members(room.id);
    assert.deepEqual(Object.keys(now).sort(), [owner.username, admin.username].sort());
    assert.ok(now[admin.username].mutedUntil);
  });

  it("a removed or blocked member hears of it, then nothing more from the room", async () => {
    const [owner, keep, kicked, barred] = await users(4);
    const room = await newRoom(owner);
    await join(room.id, keep, kicked, barred);
    const [keepLive, kickedLive, barredLive] = [
      await online(keep),
      await online(kicked),
      await online(barred),
    ];

    await ok(url, onUsers("removeRoomMembers"), { id: room.id, u: [kicked.username] }, owner.token);
    const removed = await kickedLive.nextRoomEvent(room.id, "MEMBER_REMOVED");
    assert.deepEqual(names(removed.event), [kicked.username]);
    assert.equal(removed.event.actor.username, owner.username);
    await ok(url, onUsers("blockRoomMembers"), { id: room.id, u: [barred.username] }, owner.token);
    const blocked = await barredLive.nextRoomEvent(room.id, "MEMBERS_BLOCKED");
    assert.deepEqual(names(blocked.event), [barred.username]);
    // Counted from each one's own event: nothing after it may come from the room.
    const kickedSeen = kickedLive.all.findIndex((e) => e.event === removed.event) + 1;
    const barredSeen = barredLive.all.findIndex((e) => e.event === blocked.event) + 1;

    await send(room.id, owner, "after they went");
    await ok(url, ANNOUNCE, { id: room.id, t: "new rules" }, owner.token);
    await ok(url, SET_ATTRIBUTES, { id: room.id, a: { mood: "calm" } }, owner.token);
    await keepLive.nextRoomEvent(room.id, "ATTRIBUTES_CHANGED");
    assert.deepEqual(keepLive.texts(room.id), ["after they went"]);
    await nothingMoreFrom(kickedLive, room.id, kickedSeen);
    await nothingMoreFrom(barredLive, room.id, barredSeen);

    await fails("NOT_MEMBER", url, SEND_ROOM, { id: room.id, text: "still here?" }, kicked.token);
    await fails("NOT_MEMBER", url, ROOM_HISTORY, { id: room.id }, kicked.token);
    await fails("BLOCKED", url, JOIN_ROOM, { id: room.id }, barred.token);
    await join(room.id, kicked); // removed, not barred
    await ok(url, onUsers("unblockRoomMembers"), { id: room.id, u: [barred.username] }, owner.token);
    await join(room.id, barred);
    assert.deepEqual((await ok(url, BLOCK_LIST, { id: room.id }, owner.token)).roomBlockList, []);
  });

  it("muted members and mute-all: MUTED, except for the owner, admins and the allow list; a mute lapses by itself", async () => {
    const [owner, admin, member, listed] = await users(4);
    const room = await newRoom(owner);
    await join(room.id, admin, member, listed);
    await ok(url, onUser("addRoomAdmin"), { id: room.id, u: admin.username }, owner.token);
    const ownerLive = await online(owner);

    await ok(url, MUTE, { id: room.id, u: [member.username], s: 1 }, admin.token);
    assert.ok((await members(room.id))[member.username].mutedUntil, "mutedUntil is shown while muted");
    await fails("MUTED", url, SEND_ROOM, { id: room.id, text: "muted" }, member.token);
    await eventually(
      async () => !(await gql(url, SEND_ROOM, { id: room.id, text: "free again" }, member.token)).errors,
      10_000,
      "the one-second mute to lapse",
    );
    assert.equal((await members(room.id))[member.username].mutedUntil, null);

    const allMuted = (await ok(url, MUTE_ALL, { id: room.id, m: true }, owner.token)).muteAllRoomMembers;
    assert.equal(allMuted.allMuted, true);
    await fails("MUTED", url, SEND_ROOM, { id: room.id, text: "x" }, member.token);
    await fails("MUTED", url, SEND_ROOM, { id: room.id, text: "x" }, listed.token);
    await ok(url, onUsers("addToRoomAllowList"), { id: room.id, u: [listed.username] }, owner.token);
    assert.equal((await members(room.id))[listed.username].allowListed, true);
    for (const user of [owner, admin, listed]) await send(room.id, user, `speaks: ${user.username}`);
    await ok(url, MUTE_ALL, { id: room.id, m: false }, admin.token);
    await send(room.id, member, "unmuted");
    await ownerLive.nextMessage(room.id, "unmuted");
    assert.deepEqual(ownerLive.texts(room.id), [
      "free again",
      `speaks: ${owner.username}`,
      `speaks: ${admin.username}`,
      `speaks: ${listed.username}`,
      "unmuted",
    ]);
    assert.deepEqual(
      (await historyTexts(room.id, owner)).filter((t) => t === "muted" || t === "x"),
      [],
      "a MUTED send was stored",
    );
  });
});

describe("rooms: the delivery budget", () => {
  /**
   * Floods a room from `senders` at once (each sending its priorities in turn), starting at the top of
   * a second; a receiver online counts what arrives.
   */
  async function flood(
    roomId: string,
    senders: {
      user: SignedIn;
      priorities: ("LOW" | "NORMAL" | "HIGH")[];
      exempt?: boolean;
      admin?: string;
    }[],
    tag: string,
  ): Promise<TimedSend[]> {
    await startOfSecond();
    const results: TimedSend[] = [];
    await Promise.all(
      senders.map(async ({ user, priorities, exempt, admin }, s) => {
        for (const [k, priority] of priorities.entries()) {
          const text = `${tag} s${s} #${k} ${priority}`;
          if (admin) {
            const start = Date.now();
            const result = await gql(
              url,
              `mutation($from: String!, $id: ID!, $text: String!) {
                adminSendMessage(from: $from, to: { room: $id }, body: { text: { text: $text } }) { id }
              }`,
              { from: user.username, id: roomId, text },
              admin,
            );
            results.push({ sender: "app", text, priority, exempt: true, start, end: Date.now(), result });
          } else results.push(await timedSend(url, roomId, user, text, priority, exempt));
        }
      }),
    );
    return results;
  }

  const cycle = (count: number, offset: number) =>
    Array.from({ length: count }, (_, k) => (["LOW", "NORMAL", "HIGH"] as const)[(k + offset) % 3]!);

  it("a flood past the budget: every HIGH message arrives, dropped sends are told so and go nowhere", async () => {
    const [owner, receiver, ...senders] = await users(6);
    const room = await newRoom(owner);
    await join(room.id, receiver, ...senders);
    const receiverLive = await online(receiver);
    const sends = await flood(
      room.id,
      senders.map((user, s) => ({ user, priorities: cycle(30, s) })),
      "flood",
    );
    const pinned = checkBudget(sends, BUDGET);
    assert.ok(
      pinned.droppedLow.length > 0,
      `the flood never pinned a LOW send past half the budget (${sends.length} sends in ${
        Math.max(...sends.map((s) => s.end)) - Math.min(...sends.map((s) => s.start))
      } ms)`,
    );
    for (const dropped of sends.filter(wasDropped)) {
      const error = dropped.result.errors![0]!;
      assert.equal(error.extensions!.dropped, true);
      assert.notEqual(dropped.priority, "HIGH");
    }

    const kept = sends.filter(accepted);
    assert.equal(kept.filter((s) => s.priority === "HIGH").length, 40);
    await receiverLive.until(
      (e) => e.__typename === "MessageEvent" && roomOf(e) === room.id,
      kept.length,
      "kept messages",
    );
    await marker(url, receiverLive);
    assert.deepEqual(
      [...receiverLive.texts(room.id)].sort(),
      kept.map((s) => s.text).sort(),
      "what arrived is exactly what was kept",
    );
    const history = await historyTexts(room.id, receiver);
    const droppedTexts = new Set(sends.filter(wasDropped).map((s) => s.text));
    assert.deepEqual(
      history.filter((t) => droppedTexts.has(t!)),
      [],
      "a dropped message was stored",
    );
    const keptTexts = new Set(kept.map((s) => s.text));
    assert.ok(
      history.every((t) => keptTexts.has(t!)),
      "history holds a message that was not kept",
    );
  });

  it("LOW is dropped first: past half the budget LOW goes, NORMAL only past all of it, HIGH never", async () => {
    // One sender, one message after another from the top of a second: each one's count is known.
    const plan = [
      ...Array<Priority>(BUDGET / 2 + 1).fill("HIGH"), // counts 1..6
      "LOW", // 7: over half the budget
      "NORMAL", // 8: within it
      "NORMAL", // 9
      "HIGH", // 10
      "NORMAL", // 11: over it
      "LOW", // 12
      "HIGH", // 13
    ] as Priority[];
    const want = plan.map((priority, i) =>
      priority === "HIGH" || i + 1 <= (priority === "LOW" ? BUDGET / 2 : BUDGET) ? "ok" : "RATE_LIMITED",
    );
    let checked = false;
    for (let round = 0; round < 5 && !checked; round++) {
      const [owner, sender] = await users(2);
      const room = await newRoom(owner);
      await join(room.id, sender);
      await startOfSecond();
      const sends: TimedSend[] = [];
      for (const [i, priority] of plan.entries()) {
        sends.push(await timedSend(url, room.id, sender, `#${i + 1} ${priority}`, priority));
      }
      if (Math.floor(sends[0]!.start / 1000) !== Math.floor(sends.at(-1)!.end / 1000)) continue; // two seconds
      checked = true;
      checkBudget(sends, BUDGET);
      assert.deepEqual(
        sends.map((send) => `${send.text}: ${send.result.errors?.[0]?.extensions?.code ?? "ok"}`),
        sends.map((send, i) => `${send.text}: ${want[i]}`),
      );
      assert.deepEqual(
        await historyTexts(room.id, sender),
        sends.filter((_, i) => want[i] === "ok").map((send) => send.text),
      );
    }
    assert.ok(checked, "never got the sends into one second");
  });

  it("allow-listed senders and the app server's messages are never dropped by the budget", async () => {
    const admin = await appToken();
    const tested = { listed: false, app: false };
    const rates: number[] = [];
    for (let round = 0; round < 5 && !(tested.listed && tested.app); round++) {
      const [owner, sender, listed] = await users(3);
      const room = await newRoom(owner);
      await join(room.id, sender, listed);
      await ok(url, onUsers("addToRoomAllowList"), { id: room.id, u: [listed.username] }, owner.token);
      // First the budget is spent with HIGH messages (never dropped), then the exempt senders speak,
      // with a plain member's NORMAL message beside them that is dropped.
      const burst = await flood(
        room.id,
        Array.from({ length: 6 }, () => ({ user: sender, priorities: Array(2).fill("HIGH") })),
        `burst r${round}`,
      );
      const after = await Promise.all([
        timedSend(url, room.id, listed, `listed r${round}`, "LOW", true),
        (async () => {
          const start = Date.now();
          const result = await gql(
            url,
            `mutation($from: String!, $id: ID!, $text: String!) {
              adminSendMessage(from: $from, to: { room: $id }, body: { text: { text: $text } }) { id }
            }`,
            { from: sender.username, id: room.id, text: `app r${round}` },
            admin,
          );
          return {
            sender: "app",
            text: `app r${round}`,
            priority: "NORMAL",
            exempt: true,
            start,
            end: Date.now(),
            result,
          } as TimedSend;
        })(),
        timedSend(url, room.id, sender, `plain r${round}`, "NORMAL"),
      ]);
      const sends = [...burst, ...after];
      rates.push(
        burst.length /
          ((Math.max(...burst.map((x) => x.end)) - Math.min(...burst.map((x) => x.start))) / 1000),
      );
      checkBudget(sends, BUDGET); // exempt sends must all go through; the plain one, when pinned, not
      for (const send of after.filter((x) => x.exempt)) {
        const from = Math.floor(send.start / 1000) * 1000;
        if (Math.floor(send.end / 1000) * 1000 !== from) continue;
        const before = sends.filter((o) => o !== send && o.start >= from && o.end < send.start).length;
        const threshold = send.priority === "LOW" ? BUDGET / 2 : BUDGET;
        if (before + 1 > threshold) tested[send.sender === "app" ? "app" : "listed"] = true;
      }
    }
    const why = `(the server took ${rates.map((r) => r.toFixed(0)).join(", ")} sends a second)`;
    assert.ok(tested.listed, `no allow-listed LOW send came while the room was past half its budget ${why}`);
    assert.ok(tested.app, `no adminSendMessage came while the room was past its budget ${why}`);
  });

  it("retrying a stored message with its clientMessageId returns it, even while the room is over budget", async () => {
    let checked = false;
    for (let round = 0; round < 5 && !checked; round++) {
      const [owner, sender, loud] = await users(3);
      const room = await newRoom(owner);
      await join(room.id, sender, loud);
      const low = (text: string, cid?: string) =>
        gql(url, SEND_ROOM, { id: room.id, text, p: "LOW", cid }, sender.token);
      await startOfSecond();
      const firstStart = Date.now();
      const first = await low("keep me", "retry-1");
      assert.equal(first.errors, undefined, JSON.stringify(first.errors));
      // Past half the budget with HIGH messages, which are never dropped.
      await Promise.all(
        Array.from({ length: 3 }, async (_, w) => {
          for (let k = 0; k < 2; k++) await send(room.id, loud, `loud ${w}.${k}`, { p: "HIGH" });
        }),
      );
      const retry = await low("keep me", "retry-1");
      const fresh = await low("a new one");
      const end = Date.now();
      if (Math.floor(firstStart / 1000) !== Math.floor(end / 1000)) continue; // not one second: try again
      checked = true;
      assert.equal(
        fresh.errors?.[0]?.extensions?.code,
        "RATE_LIMITED",
        "the room was over budget: a new LOW message must be dropped",
      );
      assert.equal(
        retry.errors,
        undefined,
        `the retry of a stored message was refused (${JSON.stringify(retry.errors)}), though the message was kept and delivered`,
      );
      assert.equal(retry.data!.sendMessage.id, first.data!.sendMessage.id);
    }
    assert.ok(checked, "never got the retry into the same second as the first send");
  });
});

describe("rooms: attributes", () => {
  it("set, read and remove: the whole map comes back, and members online hear ATTRIBUTES_CHANGED", async () => {
    const [owner, a, b, outsider] = await users(4);
    const room = await newRoom(owner);
    await join(room.id, a, b);
    const bLive = await online(b);
    const set = (user: SignedIn, attrs: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      ok(url, SET_ATTRIBUTES, { id: room.id, a: attrs, ...extra }, user.token);

    assert.deepEqual((await set(a, { k1: "v1", k2: "v2" })).setRoomAttributes, { k1: "v1", k2: "v2" });
    const changed = await bLive.nextRoomEvent(room.id, "ATTRIBUTES_CHANGED");
    assert.equal(changed.cursor, null);
    assert.equal(changed.event.actor.username, a.username);
    assert.deepEqual(changed.event.attributes, { k1: "v1", k2: "v2" });
    assert.deepEqual((await set(b, { b1: "x" })).setRoomAttributes, { b1: "x", k1: "v1", k2: "v2" });
    assert.deepEqual(
      (await ok(url, ATTRIBUTES, { id: room.id, k: ["k1", "b1", "nope"] }, owner.token)).roomAttributes,
      { b1: "x", k1: "v1" },
    );
    assert.deepEqual(await attributes(room.id), { b1: "x", k1: "v1", k2: "v2" });
    const removed = await ok(url, REMOVE_ATTRIBUTES, { id: room.id, k: ["k1", "missing"] }, a.token);
    assert.deepEqual(removed.removeRoomAttributes, { b1: "x", k2: "v2" });
    await bLive.nextRoomEvent(room.id, "ATTRIBUTES_CHANGED"); // b1
    const gone = await bLive.nextRoomEvent(room.id, "ATTRIBUTES_CHANGED");
    assert.deepEqual(gone.event.attributes, { k1: null });
    assert.deepEqual((await set(a, { k2: "v2b" })).setRoomAttributes, { b1: "x", k2: "v2b" });

    await fails("NOT_MEMBER", url, SET_ATTRIBUTES, { id: room.id, a: { o: "1" } }, outsider.token);
    await fails("NOT_MEMBER", url, REMOVE_ATTRIBUTES, { id: room.id, k: ["k2"] }, outsider.token);
    await fails("NOT_MEMBER", url, ATTRIBUTES, { id: room.id }, outsider.token);
  });

  it("limits: 20 keys a call, 100 a room, keys of 1 to 128 bytes, string values up to 4 KB, all or nothing", async () => {
    const [owner] = await users(1);
    const room = await newRoom(owner);
    const set = (attrs: unknown) => gql(url, SET_ATTRIBUTES, { id: room.id, a: attrs }, owner.token);
    const code = async (attrs: unknown) => (await set(attrs)).errors?.[0]?.extensions?.code ?? "ok";
    const keys = (prefix: string, count: number) =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, "v"]));

    assert.equal(await code(keys("a", 21)), "LIMIT_EXCEEDED");
    assert.equal(await code({ "": "v" }), "BAD_USER_INPUT");
    assert.equal(await code({ [`${"é".repeat(64)}x`]: "v" }), "BAD_USER_INPUT"); // 129 bytes
    assert.equal(await code({ ok1: `${"é".repeat(2048)}x` }), "LIMIT_EXCEEDED"); // 4097 bytes
    assert.equal(await code({ ok1: 5 }), "BAD_USER_INPUT");
    assert.equal(await code({ ok1: null }), "BAD_USER_INPUT");
    assert.equal(await code({ ok1: { nested: "x" } }), "BAD_USER_INPUT");
    assert.equal(await code(["a", "b"]), "BAD_USER_INPUT");
    assert.equal(await code({}), "BAD_USER_INPUT");
    assert.equal(await code({ good: "1", bad: 5 }), "BAD_USER_INPUT");
    assert.deepEqual(await attributes(room.id), {}, "a refused call stored something");

    assert.equal(await code({ ["é".repeat(64)]: "é".repeat(2048) }), "ok"); // 128 and 4096 bytes
    for (let call = 0; call < 4; call++) assert.equal(await code(keys(`c${call}.`, 20)), "ok");
    assert.equal(await code(keys("c4.", 19)), "ok"); // 100 keys now
    assert.equal(await code({ one_more: "v" }), "LIMIT_EXCEEDED");
    assert.equal(await code({ "c0.0": "changed", one_more: "v" }), "LIMIT_EXCEEDED");
    assert.equal((await attributes(room.id))["c0.0"], "v", "half of a refused call was applied");
    assert.equal(await code({ "c0.0": "changed" }), "ok", "changing a key is not adding one");
    const removeCode = async (k: string[]) =>
      (await gql(url, REMOVE_ATTRIBUTES, { id: room.id, k }, owner.token)).errors?.[0]?.extensions?.code ??
      "ok";
    assert.equal(await removeCode(Object.keys(keys("c1.", 21))), "LIMIT_EXCEEDED");
    assert.equal(await removeCode([]), "BAD_USER_INPUT");
    assert.equal(await removeCode(["c1.0"]), "ok");
    assert.equal(await code({ one_more: "v" }), "ok");
    assert.equal(Object.keys(await attributes(room.id)).length, 100);
  });

  it("a key belongs to its setter: CONFLICT for others, FORBIDDEN for members' overwrite; the owner, admins and the app take it", async () => {
    const [owner, admin, a, b] = await users(4);
    const room = await newRoom(owner);
    await join(room.id, admin, a, b);
    await ok(url, onUser("addRoomAdmin"), { id: room.id, u: admin.username }, owner.token);
    const token = await appToken();
    const set = (t: string, attrs: Record<string, string>, over?: boolean) =>
      gql(url, SET_ATTRIBUTES, { id: room.id, a: attrs, over }, t);
    const remove = (t: string, k: string[], over?: boolean) =>
      gql(url, REMOVE_ATTRIBUTES, { id: room.id, k, over }, t);
    const code = async (p: Promise<any>) => (await p).errors?.[0]?.extensions?.code ?? "ok";

    assert.equal(await code(set(a.token, { seat: "a" })), "ok");
    assert.equal(await code(set(b.token, { seat: "b" })), "CONFLICT");
    assert.equal(await code(set(b.token, { seat: "b" }, true)), "FORBIDDEN");
    assert.equal(await code(remove(b.token, ["seat"])), "CONFLICT");
    assert.equal(await code(remove(b.token, ["seat"], true)), "FORBIDDEN");
    assert.equal(await code(set(admin.token, { seat: "admin" })), "CONFLICT");
    assert.equal(await code(set(token, { seat: "app" })), "CONFLICT");
    assert.deepEqual(await attributes(room.id), { seat: "a" });

    assert.equal(await code(set(admin.token, { seat: "admin" }, true)), "ok");
    assert.equal(await code(set(a.token, { seat: "a again" })), "CONFLICT", "the key is the admin's now");
    assert.equal(await code(set(owner.token, { seat: "owner" }, true)), "ok");
    assert.equal(await code(remove(admin.token, ["seat"])), "CONFLICT");
    assert.equal(await code(remove(owner.token, ["seat"], true)), "ok");
    assert.deepEqual(await attributes(room.id), {});
    assert.equal(await code(set(a.token, { seat: "a" })), "ok", "a removed key is free again");
    assert.equal(await code(set(token, { seat: "app" }, true)), "ok");
    assert.equal(await code(remove(token, ["seat"])), "ok", "the app server's own key");
  });

  it("keys the app server set are its own: members need an admin's overwrite to change them", async () => {
    const [owner, a] = await users(2);
    const room = await newRoom(owner);
    await join(room.id, a);
    const token = await appToken();
    const code = async (t: string, query: string, vars: Record<string, unknown>) =>
      (await gql(url, query, { id: room.id, ...vars }, t)).errors?.[0]?.extensions?.code ?? "ok";
    assert.equal(await code(token, SET_ATTRIBUTES, { a: { title: "official" } }), "ok");
    assert.equal(
      await code(a.token, SET_ATTRIBUTES, { a: { title: "mine" } }),
      "CONFLICT",
      "a member overwrote a key the app server set",
    );
    assert.equal(
      await code(a.token, SET_ATTRIBUTES, { a: { title: "mine" }, over: true }),
      "FORBIDDEN",
      "a member overwrote a key the app server set, saying overwrite",
    );
    assert.equal(
      await code(a.token, REMOVE_ATTRIBUTES, { k: ["title"] }),
      "CONFLICT",
      "a member removed a key the app server set",
    );
    assert.equal(await code(owner.token, SET_ATTRIBUTES, { a: { title: "owner's" } }), "CONFLICT");
    assert.deepEqual(await attributes(room.id), { title: "official" });
    assert.equal(await code(owner.token, SET_ATTRIBUTES, { a: { title: "owner's" }, over: true }), "ok");
    assert.deepEqual(await attributes(room.id), { title: "owner's" });
  });

  it("autoDelete keys vanish when their setter leaves or is removed, and members hear of it", async () => {
    const [owner, a, c] = await users(3);
    const room = await newRoom(owner);
    await join(room.id, a, c);
    const ownerLive = await online(owner);
    await ok(url, SET_ATTRIBUTES, { id: room.id, a: { "mic.a": "a" }, auto: true }, a.token);
    await ok(url, SET_ATTRIBUTES, { id: room.id, a: { "note.a": "stays" } }, a.token);
    await ok(url, SET_ATTRIBUTES, { id: room.id, a: { "mic.c": "c" }, auto: true }, c.token);

    await ok(url, LEAVE_ROOM, { id: room.id }, a.token);
    const gone = await ownerLive.next(
      (e) =>
        e.__typename === "RoomEvent" && e.kind === "ATTRIBUTES_CHANGED" && e.attributes?.["mic.a"] === null,
      "mic.a removed",
    );
    assert.deepEqual(gone.event.attributes, { "mic.a": null });
    assert.equal(gone.event.actor, null);
    assert.deepEqual(names(gone.event), [a.username]);
    assert.deepEqual(await attributes(room.id), { "mic.c": "c", "note.a": "stays" });

    await ok(url, onUsers("removeRoomMembers"), { id: room.id, u: [c.username] }, owner.token);
    const cGone = await ownerLive.next(
      (e) =>
        e.__typename === "RoomEvent" && e.kind === "ATTRIBUTES_CHANGED" && e.attributes?.["mic.c"] === null,
      "mic.c removed",
    );
    assert.deepEqual(cGone.event.attributes, { "mic.c": null });
    assert.deepEqual(await attributes(room.id), { "note.a": "stays" });
  });

  it("two members racing for a free key: one wins, the other gets CONFLICT", async () => {
    const [owner, a, b] = await users(3);
    const room = await newRoom(owner);
    await join(room.id, a, b);
    const results = await Promise.all(
      [a, b].map((user) =>
        gql(url, SET_ATTRIBUTES, { id: room.id, a: { seat1: user.username } }, user.token),
      ),
    );
    const winners = results.filter((r) => !r.errors);
    assert.equal(winners.length, 1, JSON.stringify(results));
    assert.equal(results.find((r) => r.errors)!.errors![0]!.extensions?.code, "CONFLICT");
    const winner = winners[0]!.data!.setRoomAttributes.seat1;
    assert.deepEqual(await attributes(room.id), { seat1: winner });
    const taken = await ok(
      url,
      SET_ATTRIBUTES,
      { id: room.id, a: { seat1: owner.username }, over: true },
      owner.token,
    );
    assert.deepEqual(taken.setRoomAttributes, { seat1: owner.username });
  });

  it("mic seats as a voice-room app builds them: seats taken, raced, freed on leave, taken back by the host", async () => {
    const [host, ...listeners] = await users(5);
    const room = await newRoom(host, { name: "voice room" });
    await join(room.id, ...listeners);
    const everyone = [host, ...listeners];
    const lives = await Promise.all(everyone.map(online));
    const token = await appToken();
    let changes = 0;
    // Each client starts from a snapshot and applies ATTRIBUTES_CHANGED, as a voice-room SDK does.
    const snapshot = await attributes(room.id, host.token);
    await ok(url, SET_ATTRIBUTES, { id: room.id, a: { "seat.count": "4", "seat.4": "locked" } }, host.token);
    changes++;

    const seat = (user: SignedIn, n: number) =>
      gql(url, SET_ATTRIBUTES, { id: room.id, a: { [`seat.${n}`]: user.username }, auto: true }, user.token);
    const race = await Promise.all(listeners.map((user) => seat(user, 1)));
    assert.equal(race.filter((r) => !r.errors).length, 1, "one listener takes seat 1");
    changes++;
    for (const r of race.filter((r) => r.errors)) assert.equal(r.errors![0]!.extensions?.code, "CONFLICT");
    const seated = new Map<number, SignedIn>();
    seated.set(1, listeners[race.findIndex((r) => !r.errors)]!);
    // The others take the next free seat; seat 4 is the host's (locked).
    for (const user of listeners.filter((u) => u !== seated.get(1))) {
      for (let n = 2; n <= 4; n++) {
        const result = await seat(user, n);
        if (!result.errors) {
          seated.set(n, user);
          changes++;
          break;
        }
        assert.equal(result.errors[0]!.extensions?.code, "CONFLICT");
      }
    }
    assert.deepEqual([...seated.keys()].sort(), [1, 2, 3], "three seats for four listeners");
    const standing = listeners.find((u) => ![...seated.values()].includes(u))!;

    // The host takes seat 3 back for the one standing, then the one on seat 2 leaves the room.
    await ok(url, REMOVE_ATTRIBUTES, { id: room.id, k: ["seat.3"], over: true }, host.token);
    changes++;
    assert.equal((await seat(standing, 3)).errors, undefined);
    changes++;
    const leaver = seated.get(2)!;
    await ok(url, LEAVE_ROOM, { id: room.id }, leaver.token);
    changes++;
    await ok(url, SET_ATTRIBUTES, { id: room.id, a: { "seat.4": "open" }, over: true }, token);
    changes++;

    const want = {
      "seat.1": seated.get(1)!.username,
      "seat.3": standing.username,
      "seat.4": "open",
      "seat.count": "4",
    };
    assert.deepEqual(await attributes(room.id), want);
    for (const live of lives.filter((l) => l.user !== leaver)) {
      const events = await live.until(
        (e) => e.__typename === "RoomEvent" && roomOf(e) === room.id && e.kind === "ATTRIBUTES_CHANGED",
        changes,
        "attribute changes",
      );
      const model: Record<string, string> = { ...snapshot };
      for (const { event } of events) {
        for (const [key, value] of Object.entries(event.attributes as Record<string, string | null>)) {
          if (value === null) delete model[key];
          else model[key] = value;
        }
      }
      assert.deepEqual(
        model,
        want,
        `${live.user.username}'s seats, built from events, differ from the room's`,
      );
    }
  });
});

describe("rooms: concurrent joins, leaves and sends", () => {
  it("members who stay get every message once and in each sender's order; joiners and leavers get what they were in for", async () => {
    const [host, ...rest] = await users(9);
    const stable = rest.slice(0, 3);
    const senders = rest.slice(3, 5);
    const churners = rest.slice(5, 8);
    const room = await newRoom(host);
    await join(room.id, ...stable, ...senders);
    const stableLives = await Promise.all(stable.map(online));
    const churnLives = await Promise.all(churners.map(online));
    const PER_SENDER = 25;
    const CYCLES = 3;

    const sent: { text: string; id: bigint; start: number; end: number }[] = [];
    const spans = new Map<
      SignedIn,
      { joinCalled: number; joinReturned: number; leaveCalled: number; leaveReturned: number }[]
    >();
    const sending = senders.map(async (sender, s) => {
      for (let k = 0; k < PER_SENDER; k++) {
        const start = Date.now();
        const message = await send(room.id, sender, `s${s}-${k}`, { p: "HIGH" });
        sent.push({ text: `s${s}-${k}`, id: BigInt(message.id), start, end: Date.now() });
      }
    });
    const churning = churners.map(async (user) => {
      const mine: { joinCalled: number; joinReturned: number; leaveCalled: number; leaveReturned: number }[] =
        [];
      spans.set(user, mine);
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const joinCalled = Date.now();
        await join(room.id, user);
        const joinReturned = Date.now();
        await sleep(30 + Math.random() * 120);
        const leaveCalled = Date.now();
        await ok(url, LEAVE_ROOM, { id: room.id }, user.token);
        mine.push({ joinCalled, joinReturned, leaveCalled, leaveReturned: Date.now() });
        await sleep(Math.random() * 80);
      }
    });
    await Promise.all([...sending, ...churning]);
    const all = senders.length * PER_SENDER;

    for (const live of stableLives) {
      await live.until((e) => e.__typename === "MessageEvent" && roomOf(e) === room.id, all, "room messages");
      await marker(url, live);
      const texts = live.texts(room.id) as string[];
      assert.equal(new Set(texts).size, texts.length, `${live.user.username} got a message twice`);
      assert.equal(texts.length, all);
      for (let s = 0; s < senders.length; s++) {
        assert.deepEqual(
          texts.filter((t) => t.startsWith(`s${s}-`)),
          Array.from({ length: PER_SENDER }, (_, k) => `s${s}-${k}`),
          `${live.user.username} got sender ${s}'s messages out of order`,
        );
      }
      assert.equal(live.roomEvents(room.id, "MEMBER_JOINED").length, churners.length * CYCLES);
      assert.equal(live.roomEvents(room.id, "MEMBER_LEFT").length, churners.length * CYCLES);
    }

    for (const [c, live] of churnLives.entries()) {
      const user = churners[c]!;
      const mine = spans.get(user)!;
      await marker(url, live);
      await sleep(300);
      const got = live.all.filter((e) => roomOf(e.event) === room.id);
      const texts = new Set(live.texts(room.id) as string[]);
      for (const m of sent) {
        const inside = mine.some((span) => span.joinReturned <= m.start && m.end <= span.leaveCalled);
        if (inside)
          assert.ok(texts.has(m.text), `${user.username} was in the room for ${m.text} and missed it`);
        // Sent while out, and too old to be among the recent messages of the next join.
        const outside = mine.findIndex((span, i) => {
          const nextJoin = mine[i + 1]?.joinCalled ?? Number.POSITIVE_INFINITY;
          return span.leaveReturned <= m.start && m.end <= nextJoin;
        });
        if (outside >= 0) {
          const nextJoin = mine[outside + 1]?.joinCalled ?? Number.POSITIVE_INFINITY;
          const newer = sent.filter((o) => o.id > m.id && o.end <= nextJoin).length;
          if (newer >= JOIN_HISTORY) {
            assert.ok(
              !texts.has(m.text),
              `${user.username} got ${m.text}, sent while they were out of the room`,
            );
          }
        }
      }
      // Within one stay (up to their own MEMBER_LEFT), no message twice.
      let stay = new Set<string>();
      let seen: string[] = [];
      for (const envelope of got) {
        const { event } = envelope;
        if (
          event.__typename === "RoomEvent" &&
          event.kind === "MEMBER_LEFT" &&
          names(event).includes(user.username)
        ) {
          stay = new Set();
          seen = [];
        } else if (event.__typename === "MessageEvent") {
          seen.push(event.message.body.text);
          assert.ok(
            !stay.has(event.message.id),
            `${user.username} got ${event.message.body.text} twice in one stay: ${seen.join(", ")}`,
          );
          stay.add(event.message.id);
        } else seen.push(summary(event));
      }
    }

    const room2 = (await ok(url, GET_ROOM, { id: room.id }, host.token)).room;
    const roster = await members(room.id);
    assert.equal(room2.memberCount, Object.keys(roster).length);
    assert.deepEqual(Object.keys(roster).sort(), usernames(host, ...stable, ...senders).sort());
  });
});

describe("rooms: adminBroadcastToRooms", () => {
  it("the app server only: one message to the listed rooms or to all, from the system or a user, at most 10 a minute", async () => {
    const [owner, a] = await users(2);
    const r1 = await newRoom(owner);
    const r2 = await newRoom(owner);
    await join(r1.id, a);
    const [ownerLive, aLive] = [await online(owner), await online(a)];
    const admin = await appToken();
    await fails("FORBIDDEN", url, BROADCAST, { text: "not yours" }, a.token);
    await fails(
      "NOT_FOUND",
      url,
      BROADCAST,
      { text: "x", rooms: [r1.id, "00000000-0000-4000-8000-000000000000"] },
      admin,
    );
    await marker(url, aLive);
    assert.deepEqual(aLive.texts(r1.id), [], "a refused broadcast reached a listed room");
    let sent = 0;
    sent++;
    assert.equal(
      (await ok(url, BROADCAST, { text: "to r1", rooms: [r1.id] }, admin)).adminBroadcastToRooms,
      1,
    );
    const toR1 = await aLive.nextMessage(r1.id, "to r1");
    assert.equal(toR1.cursor, null);
    assert.ok(toR1.event.message.from.username, "a broadcast has a sender");
    assert.ok(
      ![owner.username, a.username].includes(toR1.event.message.from.username),
      "without `from`, a broadcast comes from the system, not a member",
    );
    sent++;
    assert.equal(
      (await ok(url, BROADCAST, { text: "to r2 from owner", rooms: [r2.id], from: owner.username }, admin))
        .adminBroadcastToRooms,
      1,
    );
    const toR2 = await ownerLive.nextMessage(r2.id, "to r2 from owner");
    assert.equal(toR2.event.message.from.username, owner.username);
    assert.deepEqual(ownerLive.texts(r1.id), ["to r1"], "a broadcast to r2 went to r1 too");

    await ok(url, DESTROY_ROOM, { id: r2.id }, owner.token);
    let live = 0;
    let after: string | undefined;
    for (;;) {
      const page = await ok(url, ROOMS, { first: 100, after }, admin);
      live += page.rooms.edges.length;
      if (!page.rooms.pageInfo.hasNextPage) break;
      after = page.rooms.pageInfo.endCursor;
    }
    sent++;
    assert.equal((await ok(url, BROADCAST, { text: "to all" }, admin)).adminBroadcastToRooms, live);
    await aLive.nextMessage(r1.id, "to all");
    await ownerLive.nextMessage(r1.id, "to all");
    assert.deepEqual(await historyTexts(r1.id, a), ["to r1", "to all"]);

    // At most 10 a minute (the refused one above may or may not have counted).
    for (;;) {
      const result = await gql(url, BROADCAST, { text: `more ${sent}`, rooms: [r1.id] }, admin);
      if (result.errors) {
        assert.equal(result.errors[0]!.extensions?.code, "RATE_LIMITED", JSON.stringify(result.errors));
        break;
      }
      sent++;
      assert.ok(sent <= 10, `broadcast number ${sent} within a minute went through`);
    }
    assert.ok(sent >= 9, `only ${sent} broadcasts went through before RATE_LIMITED`);
    await aLive.until((e) => e.__typename === "MessageEvent" && roomOf(e) === r1.id, sent - 1, "broadcasts");
    await marker(url, aLive);
    assert.equal(aLive.texts(r1.id).length, sent - 1, "a refused broadcast was delivered");
  });
});
