import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer } from "./helpers/app.js";
import { type GraphQLResponse, gql, ok } from "./helpers/client.js";
import { uniqueName } from "./helpers/env.js";
import { adminToken, createUsers } from "./helpers/factories.js";
import { MUTE, onUser, onUsers } from "./helpers/rooms.js";

// The room permission matrix (the groups' matrix, extended to rooms): every room operation, run by
// each kind of caller against a fresh room, generated from the one table below. "ok" cases check the
// visible change (or, for queries, the answer); refused ones check the error code and that nothing
// was written. Rooms are public, so there is one pass (no private rooms).

let server: TestServer;
let url: string;
let app: string;

/** The callers of the matrix. */
const ACTORS = ["owner", "admin", "member", "outsider", "blocked", "app"] as const;
type Actor = (typeof ACTORS)[number];
/** Everyone with a role in the fixtures: the actors, and the users they act on. */
const PEOPLE = ["owner", "admin", "admin2", "member", "target", "outsider", "blocked", "stranger"] as const;
type Person = (typeof PEOPLE)[number];
type Code =
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "NOT_MEMBER"
  | "BLOCKED"
  | "CONFLICT"
  | "BAD_USER_INPUT"
  | "MUTED"
  | "LIMIT_EXCEEDED";
/** "skip": the case says nothing worth fixing (see the row's comment). */
type Outcome = "ok" | Code | "skip";

interface User {
  username: string;
  token: string;
}
const people = {} as Record<Person, User>;

/** A fresh room and what its row set up in it. */
interface Fixture {
  id: string;
  name: string;
  messageId?: string;
}

interface Row {
  name: string;
  /** The operation; its variables come from `vars`. */
  query: string;
  vars: (fx: Fixture, actor: Actor) => Record<string, unknown>;
  expect: Record<Actor, Outcome>;
  room?: { admin2?: boolean };
  /** Runs once the fixture is complete (roles given, `blocked` barred). */
  setup?: (fx: Fixture) => Promise<void>;
  /** Visible state that the row's refusals must leave alone; defaults to the room's own state. */
  state?: (fx: Fixture) => Promise<unknown>;
  /** For "ok": what must have changed (`data` is the operation's answer). */
  changed: (before: any, after: any, fx: Fixture, actor: Actor, data: any) => void | Promise<void>;
  /** No room fixture at all (createRoom). */
  noRoom?: boolean;
}

const tokenOf = (actor: Actor) => (actor === "app" ? app : people[actor].token);
const nameOf = (person: Person) => people[person].username;
const as = async (person: Person | "app", query: string, variables: Record<string, unknown>) =>
  ok(url, query, variables, person === "app" ? app : people[person].token);

const ROOM_STATE = `query($id: ID!) {
  room(id: $id) { name description announcement memberCount maxMembers allMuted ext owner { username } }
  roomMembers(id: $id, first: 100) { edges { node { user { username } role mutedUntil allowListed } } }
  roomBlockList(id: $id) { username }
  roomAttributes(id: $id)
}`;

/** The room as the app server sees it: profile, roster with roles and mutes, block list, attributes. */
async function roomState(id: string) {
  const result = await gql(url, ROOM_STATE, { id }, app);
  if (result.errors?.[0]?.extensions?.code === "NOT_FOUND") return { destroyed: true };
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  const data = result.data!;
  const members: Record<string, any> = {};
  for (const edge of data.roomMembers.edges) {
    const { user, ...rest } = edge.node;
    members[user.username] = rest;
  }
  return {
    destroyed: false,
    room: data.room,
    members,
    blocked: data.roomBlockList.map((user: any) => user.username).sort(),
    attributes: data.roomAttributes,
  };
}

const HISTORY = `query($id: ID!) {
  messages(conversation: { room: $id }, last: 100) { edges { node { from { username } body { ... on TextBody { text } } } } }
}`;
/** The room's history as its owner reads it. */
async function ownerHistory(id: string): Promise<string[]> {
  const data = await ok(url, HISTORY, { id }, people.owner.token);
  return data.messages.edges.map((edge: any) => `${edge.node.from?.username}:${edge.node.body?.text}`);
}
const withHistory = async (fx: Fixture) => ({
  room: await roomState(fx.id),
  history: await ownerHistory(fx.id),
});

const CREATE = `mutation($name: String!, $owner: String) {
  createRoom(name: $name, owner: $owner) { id name memberCount owner { username } }
}`;
const JOIN = "mutation($id: ID!) { joinRoom(id: $id) { id memberCount } }";
const onRoom = (field: string) => `mutation($id: ID!) { ${field}(id: $id) }`;
const SEND = `mutation($id: ID!, $text: String!) {
  sendMessage(to: { room: $id }, body: { text: { text: $text } }) { id }
}`;
const RECALL = "mutation($m: ID!) { recallMessage(id: $m) { id recalled } }";
const SET_ATTRIBUTES = `mutation($id: ID!, $a: JSON!, $over: Boolean) {
  setRoomAttributes(id: $id, attributes: $a, overwrite: $over)
}`;
const REMOVE_ATTRIBUTES = `mutation($id: ID!, $k: [String!]!, $over: Boolean) {
  removeRoomAttributes(id: $id, keys: $k, overwrite: $over)
}`;
const MUTE_ALL =
  "mutation($id: ID!, $m: Boolean!) { muteAllRoomMembers(id: $id, muted: $m) { id allMuted } }";

/** A fresh room owned by `owner`: admin (and admin2), member and target in it, `blocked` barred from it. */
async function fixture(row: Row): Promise<Fixture> {
  const name = uniqueName("perm ");
  const data = await as("app", CREATE, { name, owner: nameOf("owner") });
  const fx: Fixture = { id: data.createRoom.id, name };
  const admins: Person[] = ["admin", ...(row.room?.admin2 ? ["admin2" as const] : [])];
  await Promise.all(
    [...admins, "member" as const, "target" as const].map((person) => as(person, JOIN, { id: fx.id })),
  );
  await Promise.all([
    ...admins.map((person) => as("owner", onUser("addRoomAdmin"), { id: fx.id, u: nameOf(person) })),
    // Barred without having joined: blocking works on anyone.
    as("owner", onUsers("blockRoomMembers"), { id: fx.id, u: [nameOf("blocked")] }),
  ]);
  await row.setup?.(fx);
  return fx;
}

/** Only the owner and admins (and the app server). */
const MANAGERS: Record<Actor, Outcome> = {
  owner: "ok",
  admin: "ok",
  member: "FORBIDDEN",
  outsider: "NOT_MEMBER",
  blocked: "NOT_MEMBER",
  app: "ok",
};
/** Only the owner (and the app server, which acts with the owner's powers). */
const OWNER_ONLY: Record<Actor, Outcome> = { ...MANAGERS, admin: "FORBIDDEN" };
/** Acting on an admin: the owner and the app server, not another admin. */
const ABOVE_ADMINS: Record<Actor, Outcome> = { ...MANAGERS, admin: "FORBIDDEN" };
/** Any member acting for themself; the admin token is no user. */
const MEMBERS_AS_USERS: Record<Actor, Outcome> = {
  owner: "ok",
  admin: "ok",
  member: "ok",
  outsider: "NOT_MEMBER",
  blocked: "NOT_MEMBER",
  app: "FORBIDDEN",
};
/** Any member, and the app server. */
const MEMBERS_AND_APP: Record<Actor, Outcome> = { ...MEMBERS_AS_USERS, app: "ok" };
/** The app server only. */
const APP_ONLY: Record<Actor, Outcome> = {
  owner: "FORBIDDEN",
  admin: "FORBIDDEN",
  member: "FORBIDDEN",
  outsider: "FORBIDDEN",
  blocked: "FORBIDDEN",
  app: "ok",
};

const memberOf = (state: any, person: Person) => state.members[nameOf(person)];
/** A row whose operation only reads: nothing may change. */
const unchanged = (before: unknown, after: unknown) => assert.deepEqual(after, before);

const TABLE: Row[] = [
  {
    name: "createRoom (ROOM_CREATE_BY_USERS off)",
    noRoom: true,
    query: CREATE,
    vars: (fx) => ({ name: fx.name }),
    expect: { ...APP_ONLY },
    state: async (fx) => {
      const data = await as(
        "app",
        "query($s: String) { rooms(search: $s, first: 5) { edges { node { name } } } }",
        {
          s: fx.name,
        },
      );
      return data.rooms.edges.map((edge: any) => edge.node.name);
    },
    changed: (before, after, fx) => {
      assert.deepEqual(before, []);
      assert.deepEqual(after, [fx.name]);
    },
  },
  {
    name: "destroyRoom",
    query: onRoom("destroyRoom"),
    vars: (fx) => ({ id: fx.id }),
    expect: OWNER_ONLY,
    changed: (_before, after) => assert.deepEqual(after, { destroyed: true }),
  },
  {
    name: "updateRoom",
    query: "mutation($id: ID!, $name: String!) { updateRoom(id: $id, name: $name) { id name } }",
    vars: (fx) => ({ id: fx.id, name: `${fx.name} renamed` }),
    expect: MANAGERS,
    changed: (_before, after, fx) => assert.equal(after.room.name, `${fx.name} renamed`),
  },
  {
    name: "setRoomAnnouncement",
    query: "mutation($id: ID!, $t: String!) { setRoomAnnouncement(id: $id, text: $t) { id announcement } }",
    vars: (fx) => ({ id: fx.id, t: "read the rules" }),
    expect: MANAGERS,
    changed: (_before, after) => assert.equal(after.room.announcement, "read the rules"),
  },
  {
    name: "transferRoomOwnership",
    query: "mutation($id: ID!, $u: String!) { transferRoomOwnership(id: $id, username: $u) { id } }",
    vars: (fx) => ({ id: fx.id, u: nameOf("target") }),
    expect: OWNER_ONLY,
    changed: (_before, after) => {
      assert.equal(memberOf(after, "target").role, "OWNER");
      assert.equal(memberOf(after, "owner").role, "MEMBER");
      assert.equal(after.room.owner.username, nameOf("target"));
    },
  },
  {
    name: "addRoomAdmin",
    query: onUser("addRoomAdmin"),
    vars: (fx) => ({ id: fx.id, u: nameOf("target") }),
    expect: OWNER_ONLY,
    changed: (_before, after) => assert.equal(memberOf(after, "target").role, "ADMIN"),
  },
  {
    name: "removeRoomAdmin",
    room: { admin2: true },
    query: onUser("removeRoomAdmin"),
    vars: (fx) => ({ id: fx.id, u: nameOf("admin2") }),
    expect: OWNER_ONLY,
    changed: (_before, after) => assert.equal(memberOf(after, "admin2").role, "MEMBER"),
  },
  {
    name: "joinRoom",
    query: JOIN,
    vars: (fx) => ({ id: fx.id }),
    expect: {
      owner: "CONFLICT",
      admin: "CONFLICT",
      member: "CONFLICT",
      outsider: "ok",
      blocked: "BLOCKED",
      app: "FORBIDDEN",
    },
    changed: (before, after) => {
      assert.equal(memberOf(after, "outsider").role, "MEMBER");
      assert.equal(after.room.memberCount, before.room.memberCount + 1);
    },
  },
  {
    name: "leaveRoom",
    query: onRoom("leaveRoom"),
    vars: (fx) => ({ id: fx.id }),
    expect: { ...MEMBERS_AS_USERS, owner: "FORBIDDEN" },
    changed: (before, after, _fx, actor) => {
      assert.equal(memberOf(after, actor as Person), undefined);
      assert.equal(after.room.memberCount, before.room.memberCount - 1);
    },
  },
  {
    name: "removeRoomMembers (a member)",
    query: onUsers("removeRoomMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")] }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.equal(memberOf(after, "target"), undefined);
      assert.equal(after.room.memberCount, before.room.memberCount - 1);
      assert.deepEqual(after.blocked, before.blocked, "removing is not blocking");
    },
  },
  {
    name: "removeRoomMembers (an admin)",
    room: { admin2: true },
    query: onUsers("removeRoomMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("admin2")] }),
    expect: ABOVE_ADMINS,
    changed: (_before, after) => assert.equal(memberOf(after, "admin2"), undefined),
  },
  {
    name: "removeRoomMembers (the owner)",
    query: onUsers("removeRoomMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("owner")] }),
    // The owner acting on themself is BAD_USER_INPUT; nobody removes the owner.
    expect: { ...MANAGERS, owner: "BAD_USER_INPUT", admin: "FORBIDDEN", app: "FORBIDDEN" },
    changed: () => assert.fail("nobody may remove the owner"),
  },
  {
    name: "removeRoomMembers (yourself)",
    query: onUsers("removeRoomMembers"),
    vars: (fx, actor) => ({ id: fx.id, u: [nameOf(actor as Person)] }),
    // The app server is nobody in the room: it has no self to remove.
    expect: { ...MANAGERS, owner: "BAD_USER_INPUT", admin: "BAD_USER_INPUT", app: "skip" },
    changed: () => assert.fail("nobody removes themself"),
  },
  {
    name: "removeRoomMembers (not in the room)",
    query: onUsers("removeRoomMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("stranger")] }),
    expect: { ...MANAGERS, owner: "NOT_MEMBER", admin: "NOT_MEMBER", app: "NOT_MEMBER" },
    changed: () => assert.fail("a non-member cannot be removed"),
  },
  {
    name: "blockRoomMembers (a member)",
    query: onUsers("blockRoomMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")] }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.equal(memberOf(after, "target"), undefined);
      assert.equal(after.room.memberCount, before.room.memberCount - 1);
      assert.deepEqual(after.blocked, [nameOf("blocked"), nameOf("target")].sort());
    },
  },
  {
    name: "blockRoomMembers (not in the room)",
    query: onUsers("blockRoomMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("stranger")] }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.deepEqual(after.blocked, [nameOf("blocked"), nameOf("stranger")].sort());
      assert.deepEqual(after.members, before.members);
    },
  },
  {
    name: "blockRoomMembers (an admin)",
    room: { admin2: true },
    query: onUsers("blockRoomMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("admin2")] }),
    expect: ABOVE_ADMINS,
    changed: (_before, after) => {
      assert.equal(memberOf(after, "admin2"), undefined);
      assert.ok(after.blocked.includes(nameOf("admin2")));
    },
  },
  {
    name: "unblockRoomMembers",
    query: onUsers("unblockRoomMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("blocked")] }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.deepEqual(before.blocked, [nameOf("blocked")]);
      assert.deepEqual(after.blocked, []);
      assert.equal(memberOf(after, "blocked"), undefined, "unblocking does not add them back");
    },
  },
  {
    name: "muteRoomMembers (a member)",
    query: MUTE,
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")], s: 3600 }),
    expect: MANAGERS,
    changed: (_before, after) => {
      const until = Date.parse(memberOf(after, "target").mutedUntil);
      assert.ok(until > Date.now() + 3000 * 1000, `mutedUntil ${memberOf(after, "target").mutedUntil}`);
    },
  },
  {
    name: "muteRoomMembers (an admin)",
    room: { admin2: true },
    query: MUTE,
    vars: (fx) => ({ id: fx.id, u: [nameOf("admin2")], s: 3600 }),
    expect: ABOVE_ADMINS,
    changed: (_before, after) => assert.ok(memberOf(after, "admin2").mutedUntil),
  },
  {
    name: "unmuteRoomMembers",
    query: onUsers("unmuteRoomMembers"),
    setup: async (fx) => {
      await as("owner", MUTE, { id: fx.id, u: [nameOf("target")], s: 3600 });
    },
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")] }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.ok(memberOf(before, "target").mutedUntil);
      assert.equal(memberOf(after, "target").mutedUntil, null);
    },
  },
  {
    name: "muteAllRoomMembers",
    query: MUTE_ALL,
    vars: (fx) => ({ id: fx.id, m: true }),
    expect: MANAGERS,
    changed: (_before, after) => assert.equal(after.room.allMuted, true),
  },
  {
    name: "addToRoomAllowList",
    query: onUsers("addToRoomAllowList"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")] }),
    expect: MANAGERS,
    changed: (_before, after) => assert.equal(memberOf(after, "target").allowListed, true),
  },
  {
    name: "removeFromRoomAllowList",
    query: onUsers("removeFromRoomAllowList"),
    setup: async (fx) => {
      await as("owner", onUsers("addToRoomAllowList"), { id: fx.id, u: [nameOf("target")] });
    },
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")] }),
    expect: MANAGERS,
    changed: (_before, after) => assert.equal(memberOf(after, "target").allowListed, false),
  },
  {
    name: "sendMessage to { room }",
    query: SEND,
    vars: (fx, actor) => ({ id: fx.id, text: `hello from ${actor}` }),
    expect: MEMBERS_AS_USERS,
    state: withHistory,
    changed: (before, after, _fx, actor) => {
      assert.deepEqual(after.history, [...before.history, `${nameOf(actor as Person)}:hello from ${actor}`]);
    },
  },
  {
    name: "sendMessage to { room } (all muted)",
    query: SEND,
    setup: async (fx) => {
      await as("owner", MUTE_ALL, { id: fx.id, m: true });
    },
    vars: (fx, actor) => ({ id: fx.id, text: `hello from ${actor}` }),
    expect: { ...MEMBERS_AS_USERS, member: "MUTED" },
    state: withHistory,
    changed: (before, after, _fx, actor) => {
      assert.deepEqual(after.history, [...before.history, `${nameOf(actor as Person)}:hello from ${actor}`]);
    },
  },
  {
    name: "sendMessage to { room } (the member muted)",
    query: SEND,
    setup: async (fx) => {
      await as("owner", MUTE, { id: fx.id, u: [nameOf("member")], s: 3600 });
    },
    vars: (fx, actor) => ({ id: fx.id, text: `hello from ${actor}` }),
    expect: { ...MEMBERS_AS_USERS, member: "MUTED" },
    state: withHistory,
    changed: (before, after, _fx, actor) => {
      assert.deepEqual(after.history, [...before.history, `${nameOf(actor as Person)}:hello from ${actor}`]);
    },
  },
  {
    name: "sendMessage to { room } (all muted, the member allow-listed)",
    query: SEND,
    setup: async (fx) => {
      await as("owner", MUTE_ALL, { id: fx.id, m: true });
      await as("owner", onUsers("addToRoomAllowList"), { id: fx.id, u: [nameOf("member")] });
    },
    vars: (fx, actor) => ({ id: fx.id, text: `hello from ${actor}` }),
    expect: MEMBERS_AS_USERS,
    state: withHistory,
    changed: (before, after, _fx, actor) => {
      assert.deepEqual(after.history, [...before.history, `${nameOf(actor as Person)}:hello from ${actor}`]);
    },
  },
  {
    name: "adminSendMessage to { room } (from the member)",
    query: `mutation($id: ID!, $from: String!) {
      adminSendMessage(from: $from, to: { room: $id }, body: { text: { text: "on their behalf" } }) { id }
    }`,
    vars: (fx) => ({ id: fx.id, from: nameOf("member") }),
    expect: APP_ONLY,
    state: withHistory,
    changed: (before, after) => {
      assert.deepEqual(after.history, [...before.history, `${nameOf("member")}:on their behalf`]);
    },
  },
  {
    name: "recallMessage (the member's own message)",
    query: RECALL,
    setup: async (fx) => {
      fx.messageId = (await as("member", SEND, { id: fx.id, text: "to recall" })).sendMessage.id;
    },
    vars: (fx) => ({ m: fx.messageId }),
    // Outsiders cannot see the message, so for them it does not exist.
    expect: { ...MEMBERS_AND_APP, outsider: "NOT_FOUND", blocked: "NOT_FOUND" },
    state: (fx) => ownerHistory(fx.id),
    changed: (before, after) => {
      assert.deepEqual(before, [`${nameOf("member")}:to recall`]);
      assert.deepEqual(after, [`${nameOf("member")}:undefined`]);
    },
  },
  {
    name: "recallMessage (another member's message)",
    query: RECALL,
    setup: async (fx) => {
      fx.messageId = (await as("target", SEND, { id: fx.id, text: "to recall" })).sendMessage.id;
    },
    vars: (fx) => ({ m: fx.messageId }),
    expect: { ...MANAGERS, outsider: "NOT_FOUND", blocked: "NOT_FOUND" },
    state: (fx) => ownerHistory(fx.id),
    changed: (_before, after) => assert.deepEqual(after, [`${nameOf("target")}:undefined`]),
  },
  {
    name: "editMessage (the member's own message)",
    query: 'mutation($m: ID!) { editMessage(id: $m, body: { text: { text: "edited" } }) { id } }',
    setup: async (fx) => {
      fx.messageId = (await as("member", SEND, { id: fx.id, text: "first draft" })).sendMessage.id;
    },
    vars: (fx) => ({ m: fx.messageId }),
    // Only the sender edits; the app server is no user.
    expect: {
      owner: "FORBIDDEN",
      admin: "FORBIDDEN",
      member: "ok",
      outsider: "NOT_FOUND",
      blocked: "NOT_FOUND",
      app: "FORBIDDEN",
    },
    state: (fx) => ownerHistory(fx.id),
    changed: (_before, after) => assert.deepEqual(after, [`${nameOf("member")}:edited`]),
  },
  {
    name: "addReaction (a room message)",
    query: 'mutation($m: ID!) { addReaction(messageId: $m, reaction: "+1") { id } }',
    setup: async (fx) => {
      fx.messageId = (await as("target", SEND, { id: fx.id, text: "react?" })).sendMessage.id;
    },
    vars: (fx) => ({ m: fx.messageId }),
    // Room messages take no reactions; to outsiders the message does not exist.
    expect: {
      owner: "BAD_USER_INPUT",
      admin: "BAD_USER_INPUT",
      member: "BAD_USER_INPUT",
      outsider: "NOT_FOUND",
      blocked: "NOT_FOUND",
      app: "FORBIDDEN",
    },
    state: withHistory,
    changed: () => assert.fail("room messages take no reactions"),
  },
  {
    name: "sendTyping to { room }",
    query: "mutation($id: ID!) { sendTyping(conversation: { room: $id }) }",
    vars: (fx) => ({ id: fx.id }),
    // Rooms have no typing indicators, for anyone.
    expect: {
      owner: "BAD_USER_INPUT",
      admin: "BAD_USER_INPUT",
      member: "BAD_USER_INPUT",
      outsider: "BAD_USER_INPUT",
      blocked: "BAD_USER_INPUT",
      app: "FORBIDDEN",
    },
    changed: () => assert.fail("rooms have no typing indicators"),
  },
  {
    name: "setRoomAttributes (a free key)",
    query: SET_ATTRIBUTES,
    vars: (fx, actor) => ({ id: fx.id, a: { [`key.${actor}`]: actor } }),
    expect: MEMBERS_AND_APP,
    changed: (before, after, _fx, actor, data) => {
      assert.deepEqual(after.attributes, { ...before.attributes, [`key.${actor}`]: actor });
      assert.deepEqual(data.setRoomAttributes, after.attributes);
    },
  },
  {
    name: "setRoomAttributes (another member's key)",
    query: SET_ATTRIBUTES,
    setup: async (fx) => {
      await as("target", SET_ATTRIBUTES, { id: fx.id, a: { seat: "target" } });
    },
    vars: (fx, actor) => ({ id: fx.id, a: { seat: actor } }),
    expect: { ...MEMBERS_AND_APP, owner: "CONFLICT", admin: "CONFLICT", member: "CONFLICT", app: "CONFLICT" },
    changed: () => assert.fail("another's key needs overwrite"),
  },
  {
    name: "setRoomAttributes (another member's key, overwrite)",
    query: SET_ATTRIBUTES,
    setup: async (fx) => {
      await as("target", SET_ATTRIBUTES, { id: fx.id, a: { seat: "target" } });
    },
    vars: (fx, actor) => ({ id: fx.id, a: { seat: actor }, over: true }),
    expect: { ...MANAGERS },
    changed: (_before, after, _fx, actor) => assert.deepEqual(after.attributes, { seat: actor }),
  },
  {
    name: "removeRoomAttributes (another member's key)",
    query: REMOVE_ATTRIBUTES,
    setup: async (fx) => {
      await as("target", SET_ATTRIBUTES, { id: fx.id, a: { seat: "target" } });
    },
    vars: (fx) => ({ id: fx.id, k: ["seat"] }),
    expect: { ...MEMBERS_AND_APP, owner: "CONFLICT", admin: "CONFLICT", member: "CONFLICT", app: "CONFLICT" },
    changed: () => assert.fail("another's key needs overwrite"),
  },
  {
    name: "removeRoomAttributes (another member's key, overwrite)",
    query: REMOVE_ATTRIBUTES,
    setup: async (fx) => {
      await as("target", SET_ATTRIBUTES, { id: fx.id, a: { seat: "target", other: "x" } });
    },
    vars: (fx) => ({ id: fx.id, k: ["seat"], over: true }),
    expect: { ...MANAGERS },
    changed: (_before, after, _fx, _actor, data) => {
      assert.deepEqual(after.attributes, { other: "x" });
      assert.deepEqual(data.removeRoomAttributes, { other: "x" });
    },
  },
  {
    name: "adminBroadcastToRooms (this room)",
    query: 'mutation($id: ID!) { adminBroadcastToRooms(body: { text: { text: "to all" } }, rooms: [$id]) }',
    vars: (fx) => ({ id: fx.id }),
    expect: APP_ONLY,
    state: withHistory,
    changed: (before, after, _fx, _actor, data) => {
      assert.equal(data.adminBroadcastToRooms, 1);
      assert.equal(after.history.length, before.history.length + 1);
      assert.match(after.history.at(-1), /:to all$/);
    },
  },
  // Queries: nothing changes; "ok" cases check the answer.
  {
    name: "room",
    query: "query($id: ID!) { room(id: $id) { id memberCount myRole } }",
    vars: (fx) => ({ id: fx.id }),
    expect: { owner: "ok", admin: "ok", member: "ok", outsider: "ok", blocked: "ok", app: "ok" },
    changed: (before, after, fx, actor, data) => {
      unchanged(before, after);
      const roles: Record<Actor, string | null> = {
        owner: "OWNER",
        admin: "ADMIN",
        member: "MEMBER",
        outsider: null,
        blocked: null,
        app: null,
      };
      assert.deepEqual(data.room, { id: fx.id, memberCount: 4, myRole: roles[actor] });
    },
  },
  {
    name: "roomMembers",
    query:
      "query($id: ID!) { roomMembers(id: $id, first: 100) { edges { node { user { username } role } } } }",
    vars: (fx) => ({ id: fx.id }),
    expect: MEMBERS_AND_APP,
    changed: (before, after, _fx, _actor, data) => {
      unchanged(before, after);
      assert.deepEqual(
        data.roomMembers.edges.map((e: any) => `${e.node.user.username}:${e.node.role}`).sort(),
        [
          `${nameOf("owner")}:OWNER`,
          `${nameOf("admin")}:ADMIN`,
          `${nameOf("member")}:MEMBER`,
          `${nameOf("target")}:MEMBER`,
        ].sort(),
      );
    },
  },
  {
    name: "roomAttributes",
    query: "query($id: ID!) { roomAttributes(id: $id) }",
    setup: async (fx) => {
      await as("target", SET_ATTRIBUTES, { id: fx.id, a: { topic: "tea" } });
    },
    vars: (fx) => ({ id: fx.id }),
    expect: MEMBERS_AND_APP,
    changed: (before, after, _fx, _actor, data) => {
      unchanged(before, after);
      assert.deepEqual(data.roomAttributes, { topic: "tea" });
    },
  },
  {
    name: "roomBlockList",
    query: "query($id: ID!) { roomBlockList(id: $id) { username } }",
    vars: (fx) => ({ id: fx.id }),
    expect: MANAGERS,
    changed: (before, after, _fx, _actor, data) => {
      unchanged(before, after);
      assert.deepEqual(data.roomBlockList, [{ username: nameOf("blocked") }]);
    },
  },
  {
    name: "messages in { room }",
    query: HISTORY,
    setup: async (fx) => {
      await as("target", SEND, { id: fx.id, text: "for the record" });
    },
    vars: (fx) => ({ id: fx.id }),
    // Histories are read with user tokens (the app server reads none, as for groups).
    expect: { ...MEMBERS_AS_USERS, app: "skip" },
    changed: (before, after, _fx, _actor, data) => {
      unchanged(before, after);
      assert.deepEqual(
        data.messages.edges.map((e: any) => e.node.body.text),
        ["for the record"],
      );
    },
  },
];

function describeAnswer(result: GraphQLResponse): string {
  return result.errors
    ? result.errors.map((error) => `${error.extensions?.code}: ${error.message}`).join("; ")
    : `data ${JSON.stringify(result.data)}`;
}

/**
 * A refusal writes nothing (each case checks it), so the refused callers of one row share a fixture
 * and its starting state; every "ok" case gets a fresh room of its own.
 */
const sharedFixtures = new Map<string, Promise<{ fx: Fixture; before: unknown }>>();
function refusalFixture(row: Row, state: (fx: Fixture) => Promise<unknown>) {
  let shared = sharedFixtures.get(row.name);
  if (!shared) {
    shared = (async () => {
      const fx = row.noRoom ? { id: "", name: uniqueName("perm new ") } : await fixture(row);
      return { fx, before: await state(fx) };
    })();
    sharedFixtures.set(row.name, shared);
  }
  return shared;
}

async function runCase(row: Row, actor: Actor) {
  const state = row.state ?? ((f: Fixture) => roomState(f.id));
  const want = row.expect[actor];
  if (want === "ok") {
    const fx: Fixture = row.noRoom ? { id: "", name: uniqueName("perm new ") } : await fixture(row);
    const before = await state(fx);
    const result = await gql(url, row.query, row.vars(fx, actor), tokenOf(actor));
    assert.equal(result.errors, undefined, `expected ok, the server answered ${describeAnswer(result)}`);
    await row.changed(before, await state(fx), fx, actor, result.data);
  } else {
    const { fx, before } = await refusalFixture(row, state);
    const result = await gql(url, row.query, row.vars(fx, actor), tokenOf(actor));
    assert.equal(
      result.errors?.[0]?.extensions?.code,
      want,
      `expected ${want}, the server answered ${describeAnswer(result)}`,
    );
    assert.deepEqual(await state(fx), before, "a refused operation wrote something");
  }
}

before(async () => {
  // Members here join over HTTP with no device online (a long grace period keeps them in), and the
  // same people join every fixture.
  server = await startApp({ ROOM_LEAVE_GRACE_SECONDS: "86400", ROOM_MAX_JOINED: "10000" });
  url = server.url;
  app = await adminToken(url);
  const names = await createUsers(url, uniqueName("rp"), PEOPLE.length);
  await Promise.all(
    PEOPLE.map(async (person, i) => {
      const data = await ok(
        url,
        "mutation($u: String!) { adminIssueUserToken(username: $u) { token } }",
        { u: names[i] },
        app,
      );
      people[person] = { username: names[i]!, token: data.adminIssueUserToken.token };
    }),
  );
});
after(() => server.stop());

// A few at a time: every "ok" case has a room of its own, and the refused cases of a row share one
// that none of them may change.
describe("room permissions", { concurrency: 4 }, () => {
  for (const row of TABLE) {
    for (const actor of ACTORS) {
      const want = row.expect[actor];
      if (want === "skip") continue;
      it(`${row.name} as ${actor} → ${want}`, () => runCase(row, actor));
    }
  }
});
