import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer } from "./helpers/app.js";
import { type GraphQLResponse, gql, ok, uploaded } from "./helpers/client.js";
import { uniqueName } from "./helpers/env.js";
import { adminToken, createUsers } from "./helpers/factories.js";

// The group permission matrix: every group mutation, run by each kind of caller against a fresh
// group, generated from the one table below. "ok" cases check the visible change; refused ones
// check the error code and that nothing was written.

let server: TestServer;
let url: string;
let app: string;

/** The callers of the matrix. */
const ACTORS = ["owner", "admin", "member", "outsider", "blocked", "app"] as const;
type Actor = (typeof ACTORS)[number];
/** Everyone with a role in the fixtures: the actors, and the users they act on. */
const PEOPLE = [
  "owner",
  "admin",
  "admin2",
  "member",
  "target",
  "outsider",
  "blocked",
  "applicant",
  "invitee",
] as const;
type Person = (typeof PEOPLE)[number];
type Code = "FORBIDDEN" | "NOT_FOUND" | "NOT_MEMBER" | "BLOCKED" | "CONFLICT" | "BAD_USER_INPUT" | "MUTED";
type Outcome = "ok" | Code;
type Pass = "public" | "private";

interface User {
  username: string;
  token: string;
}
const people = {} as Record<Person, User>;
/** One attachment per person, uploaded once and shared into as many groups as needed. */
const attachments = {} as Record<Person, string>;

/** A fresh group and what its row set up in it. */
interface Fixture {
  id: string;
  pass: Pass;
  name: string;
  fileId?: string;
  messageId?: string;
  threadId?: string;
  /** Who started the thread: they read its history for the state. */
  threadCreator?: Person;
  cursor?: string;
}

interface Row {
  name: string;
  /** The mutation; its variables come from `vars`. */
  query: string;
  vars: (fx: Fixture, actor: Actor) => Record<string, unknown>;
  /** The outcome per actor on a PUBLIC group. */
  expect: Record<Actor, Outcome>;
  /** Outcomes on a PRIVATE group that differ from the public ones beyond NOT_MEMBER → NOT_FOUND for outsiders; `false` skips the private pass. */
  privately?: Partial<Record<Actor, Outcome>> | false;
  group?: {
    joinPolicy?: "OPEN" | "APPROVAL" | "INVITE_ONLY";
    allowMemberInvites?: boolean;
    admin2?: boolean;
  };
  /** Runs before `blocked` is blocked (so blocking can undo it), on a public group. */
  beforeBlock?: (fx: Fixture) => Promise<void>;
  /** Runs once the fixture is complete, before the group turns private for the private pass. */
  setup?: (fx: Fixture, actor: Actor) => Promise<void>;
  /** Visible state that the row's refusals must leave alone; defaults to the group's own state. */
  state?: (fx: Fixture) => Promise<unknown>;
  /** For "ok": what must have changed. */
  changed: (before: any, after: any, fx: Fixture, actor: Actor) => void | Promise<void>;
  /** No group fixture at all (createGroup). */
  noGroup?: boolean;
}

const tokenOf = (actor: Actor) => (actor === "app" ? app : people[actor].token);
const nameOf = (person: Person) => people[person].username;

async function call(query: string, variables: Record<string, unknown>, token: string) {
  return gql(url, query, variables, token);
}

const GROUP_STATE = `query($id: ID!) {
  group(id: $id) { name description announcement memberCount allMuted isPublic joinPolicy owner { username } }
  groupMembers(id: $id, first: 100) {
    edges { node { user { username } role mutedUntil allowListed attributes } }
  }
  groupBlockList(id: $id) { username }
  groupJoinRequests(id: $id) { edges { node { user { username } status } } }
  groupFiles(id: $id) { edges { node { id uploader { username } } } }
}`;

/** The group as the app server sees it: profile, roster with roles and mutes, block list, requests, files. */
async function groupState(id: string) {
  const result = await call(GROUP_STATE, { id }, app);
  if (result.errors?.[0]?.extensions?.code === "NOT_FOUND") return { destroyed: true };
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  const data = result.data!;
  const members: Record<string, any> = {};
  for (const edge of data.groupMembers.edges) {
    const { user, ...rest } = edge.node;
    members[user.username] = rest;
  }
  return {
    destroyed: false,
    group: data.group,
    members,
    blocked: data.groupBlockList.map((user: any) => user.username).sort(),
    requests: data.groupJoinRequests.edges.map(
      (edge: any) => `${edge.node.user.username}:${edge.node.status}`,
    ),
    files: data.groupFiles.edges.map((edge: any) => edge.node.id).sort(),
  };
}

const INVITES = "{ myGroupInvites(first: 100) { edges { node { status group { id } } } } }";
async function invitesTo(person: Person, groupId: string): Promise<string[]> {
  const data = await ok(url, INVITES, {}, people[person].token);
  return data.myGroupInvites.edges
    .filter((edge: any) => edge.node.group?.id === groupId)
    .map((edge: any) => edge.node.status);
}

const HISTORY = `query($id: ID!) {
  messages(conversation: { group: $id }, last: 100) { edges { node { from { username } body { ... on TextBody { text } } } } }
}`;
async function ownerHistory(groupId: string): Promise<string[]> {
  const data = await ok(url, HISTORY, { id: groupId }, people.owner.token);
  return data.messages.edges.map((edge: any) => `${edge.node.from?.username}:${edge.node.body?.text}`);
}

const CREATE = `mutation($name: String!, $isPublic: Boolean, $joinPolicy: GroupJoinPolicy,
    $allowMemberInvites: Boolean, $members: [String!]) {
  createGroup(name: $name, isPublic: $isPublic, joinPolicy: $joinPolicy,
    allowMemberInvites: $allowMemberInvites, members: $members) { id name memberCount myRole isPublic }
}`;
const onUsers = (field: string) => `mutation($id: ID!, $u: [String!]!) { ${field}(id: $id, usernames: $u) }`;
const onUser = (field: string) => `mutation($id: ID!, $u: String!) { ${field}(id: $id, username: $u) }`;
const onGroup = (field: string) => `mutation($id: ID!) { ${field}(id: $id) }`;
const SEND = `mutation($id: ID!, $text: String!) {
  sendMessage(to: { group: $id }, body: { text: { text: $text } }) { id }
}`;
const RECALL = "mutation($m: ID!) { recallMessage(id: $m) { id recalled } }";
const CONVERSATIONS = "{ conversations(first: 100) { edges { node { group { id } unreadCount } } } }";
const UPLOAD_GROUP_FILE = "mutation($id: ID!, $a: ID!) { uploadGroupFile(id: $id, attachmentId: $a) { id } }";
const EVENT_CURSOR = "{ eventCursor }";
const SYNC = `query($since: String) {
  sync(since: $since, first: 1000) { events { event { __typename ... on GroupEvent { kind group { id } } } } }
}`;

const as = async (person: Person | "app", query: string, variables: Record<string, unknown>) =>
  ok(url, query, variables, person === "app" ? app : people[person].token);

/** A fresh group: owner, admin (and admin2), member, target, and `blocked` barred from it. */
async function fixture(row: Row, pass: Pass, actor: Actor): Promise<Fixture> {
  const name = uniqueName("perm ");
  // `blocked` is a member until blocked, unless the row invites them first (members cannot be invited).
  const members: Person[] = [
    "admin",
    "member",
    "target",
    ...(row.beforeBlock ? [] : ["blocked" as const]),
    ...(row.group?.admin2 ? ["admin2" as const] : []),
  ];
  // Rows whose setup needs outsiders to see the group (join requests) start public and turn private after.
  const data = await as("owner", CREATE, {
    name,
    isPublic: true,
    joinPolicy: row.group?.joinPolicy ?? "APPROVAL",
    allowMemberInvites: row.group?.allowMemberInvites ?? false,
    members: members.map(nameOf),
  });
  const fx: Fixture = { id: data.createGroup.id, pass, name };
  await as("owner", onUser("addGroupAdmin"), { id: fx.id, u: nameOf("admin") });
  if (row.group?.admin2) await as("owner", onUser("addGroupAdmin"), { id: fx.id, u: nameOf("admin2") });
  await row.beforeBlock?.(fx);
  await as("owner", onUsers("blockGroupMembers"), { id: fx.id, u: [nameOf("blocked")] });
  await row.setup?.(fx, actor);
  if (pass === "private") {
    await as("owner", "mutation($id: ID!) { updateGroup(id: $id, isPublic: false) { id } }", { id: fx.id });
  }
  return fx;
}

/** Refusals every management mutation shares: only the owner and admins (and the app server). */
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
/** Any member acting for themself; the admin token is no user. */
const MEMBERS_AS_USERS: Record<Actor, Outcome> = {
  owner: "ok",
  admin: "ok",
  member: "ok",
  outsider: "NOT_MEMBER",
  blocked: "NOT_MEMBER",
  app: "FORBIDDEN",
};

const memberOf = (state: any, person: Person) => state.members[nameOf(person)];

const TABLE: Row[] = [
  {
    name: "createGroup",
    noGroup: true,
    privately: false,
    query: CREATE,
    vars: (fx) => ({ name: fx.name, isPublic: true }),
    expect: { owner: "ok", admin: "ok", member: "ok", outsider: "ok", blocked: "ok", app: "FORBIDDEN" },
    state: async (fx) => {
      const data = await as(
        "app",
        "query($s: String) { publicGroups(search: $s, first: 5) { edges { node { name } } } }",
        {
          s: fx.name,
        },
      );
      return data.publicGroups.edges.map((edge: any) => edge.node.name);
    },
    changed: (before, after, fx) => {
      assert.deepEqual(before, []);
      assert.deepEqual(after, [fx.name]);
    },
  },
  {
    name: "destroyGroup",
    query: onGroup("destroyGroup"),
    vars: (fx) => ({ id: fx.id }),
    expect: OWNER_ONLY,
    changed: (_before, after) => assert.deepEqual(after, { destroyed: true }),
  },
  {
    name: "updateGroup",
    query: "mutation($id: ID!, $name: String!) { updateGroup(id: $id, name: $name) { id name } }",
    vars: (fx) => ({ id: fx.id, name: `${fx.name} renamed` }),
    expect: MANAGERS,
    changed: (_before, after, fx) => assert.equal(after.group.name, `${fx.name} renamed`),
  },
  {
    name: "setGroupAnnouncement",
    query: "mutation($id: ID!, $t: String!) { setGroupAnnouncement(id: $id, text: $t) { id announcement } }",
    vars: (fx) => ({ id: fx.id, t: "read the rules" }),
    expect: MANAGERS,
    changed: (_before, after) => assert.equal(after.group.announcement, "read the rules"),
  },
  {
    name: "transferGroupOwnership",
    query: "mutation($id: ID!, $u: String!) { transferGroupOwnership(id: $id, username: $u) { id } }",
    vars: (fx) => ({ id: fx.id, u: nameOf("target") }),
    expect: OWNER_ONLY,
    changed: (_before, after) => {
      assert.equal(memberOf(after, "target").role, "OWNER");
      assert.equal(memberOf(after, "owner").role, "MEMBER");
      assert.equal(after.group.owner.username, nameOf("target"));
    },
  },
  {
    name: "addGroupAdmin",
    query: onUser("addGroupAdmin"),
    vars: (fx) => ({ id: fx.id, u: nameOf("target") }),
    expect: OWNER_ONLY,
    changed: (_before, after) => assert.equal(memberOf(after, "target").role, "ADMIN"),
  },
  {
    name: "removeGroupAdmin",
    group: { admin2: true },
    query: onUser("removeGroupAdmin"),
    vars: (fx) => ({ id: fx.id, u: nameOf("admin2") }),
    expect: OWNER_ONLY,
    changed: (_before, after) => assert.equal(memberOf(after, "admin2").role, "MEMBER"),
  },
  {
    name: "joinGroup (OPEN group)",
    group: { joinPolicy: "OPEN" },
    query: "mutation($id: ID!) { joinGroup(id: $id) { id memberCount } }",
    vars: (fx) => ({ id: fx.id }),
    expect: {
      owner: "CONFLICT",
      admin: "CONFLICT",
      member: "CONFLICT",
      outsider: "ok",
      blocked: "BLOCKED",
      app: "FORBIDDEN",
    },
    privately: { outsider: "NOT_FOUND", blocked: "NOT_FOUND" },
    changed: (before, after) => {
      assert.equal(memberOf(after, "outsider").role, "MEMBER");
      assert.equal(after.group.memberCount, before.group.memberCount + 1);
    },
  },
  {
    name: "joinGroup (APPROVAL group)",
    query: 'mutation($id: ID!) { joinGroup(id: $id, message: "let me in") { id } }',
    vars: (fx) => ({ id: fx.id }),
    expect: {
      owner: "CONFLICT",
      admin: "CONFLICT",
      member: "CONFLICT",
      outsider: "ok",
      blocked: "BLOCKED",
      app: "FORBIDDEN",
    },
    privately: { outsider: "NOT_FOUND", blocked: "NOT_FOUND" },
    changed: (before, after) => {
      assert.deepEqual(after.requests, [`${nameOf("outsider")}:PENDING`]);
      assert.equal(after.group.memberCount, before.group.memberCount);
    },
  },
  {
    name: "approveJoinRequest",
    query: onUser("approveJoinRequest"),
    setup: async (fx) => {
      await as("applicant", "mutation($id: ID!) { joinGroup(id: $id) { id } }", { id: fx.id });
    },
    vars: (fx) => ({ id: fx.id, u: nameOf("applicant") }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.equal(memberOf(after, "applicant").role, "MEMBER");
      assert.equal(after.group.memberCount, before.group.memberCount + 1);
      assert.deepEqual(after.requests, []);
    },
  },
  {
    name: "declineJoinRequest",
    query: onUser("declineJoinRequest"),
    setup: async (fx) => {
      await as("applicant", "mutation($id: ID!) { joinGroup(id: $id) { id } }", { id: fx.id });
    },
    vars: (fx) => ({ id: fx.id, u: nameOf("applicant") }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.deepEqual(before.requests, [`${nameOf("applicant")}:PENDING`]);
      assert.deepEqual(after.requests, []);
      assert.equal(memberOf(after, "applicant"), undefined);
    },
  },
  {
    name: "inviteToGroup",
    query: onUsers("inviteToGroup"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("invitee")] }),
    expect: MANAGERS,
    state: async (fx) => ({ group: await groupState(fx.id), invites: await invitesTo("invitee", fx.id) }),
    changed: (_before, after) => assert.deepEqual(after.invites, ["PENDING"]),
  },
  {
    name: "inviteToGroup (allowMemberInvites)",
    group: { allowMemberInvites: true },
    query: onUsers("inviteToGroup"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("invitee")] }),
    expect: { ...MANAGERS, member: "ok" },
    state: async (fx) => ({ group: await groupState(fx.id), invites: await invitesTo("invitee", fx.id) }),
    changed: (_before, after) => assert.deepEqual(after.invites, ["PENDING"]),
  },
  {
    name: "acceptGroupInvite",
    query: "mutation($id: ID!) { acceptGroupInvite(id: $id) { id memberCount } }",
    // `blocked` was invited too, but blocking declines a pending invitation.
    beforeBlock: async (fx) => {
      await as("owner", onUsers("inviteToGroup"), { id: fx.id, u: [nameOf("outsider"), nameOf("blocked")] });
    },
    vars: (fx) => ({ id: fx.id }),
    expect: {
      owner: "NOT_FOUND",
      admin: "NOT_FOUND",
      member: "NOT_FOUND",
      outsider: "ok",
      blocked: "NOT_FOUND",
      app: "FORBIDDEN",
    },
    // An invitation is how outsiders get into a private group.
    privately: { outsider: "ok" },
    changed: (before, after) => {
      assert.equal(memberOf(after, "outsider").role, "MEMBER");
      assert.equal(after.group.memberCount, before.group.memberCount + 1);
    },
  },
  {
    name: "declineGroupInvite",
    query: onGroup("declineGroupInvite"),
    beforeBlock: async (fx) => {
      await as("owner", onUsers("inviteToGroup"), { id: fx.id, u: [nameOf("outsider"), nameOf("blocked")] });
    },
    vars: (fx) => ({ id: fx.id }),
    expect: {
      owner: "NOT_FOUND",
      admin: "NOT_FOUND",
      member: "NOT_FOUND",
      outsider: "ok",
      blocked: "NOT_FOUND",
      app: "FORBIDDEN",
    },
    privately: { outsider: "ok" },
    state: async (fx) => ({ group: await groupState(fx.id), invites: await invitesTo("outsider", fx.id) }),
    changed: (before, after) => {
      assert.deepEqual(before.invites, ["PENDING"]);
      assert.deepEqual(after.invites, []);
      assert.deepEqual(after.group, before.group);
    },
  },
  {
    name: "leaveGroup",
    query: onGroup("leaveGroup"),
    vars: (fx) => ({ id: fx.id }),
    expect: { ...MEMBERS_AS_USERS, owner: "FORBIDDEN" },
    changed: (before, after, _fx, actor) => {
      assert.equal(after.members[nameOf(actor as Person)], undefined);
      assert.equal(after.group.memberCount, before.group.memberCount - 1);
    },
  },
  {
    name: "removeGroupMembers (a member)",
    query: onUsers("removeGroupMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")] }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.equal(memberOf(after, "target"), undefined);
      assert.equal(after.group.memberCount, before.group.memberCount - 1);
      assert.deepEqual(after.blocked, before.blocked);
    },
  },
  {
    name: "removeGroupMembers (an admin)",
    group: { admin2: true },
    query: onUsers("removeGroupMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("admin2")] }),
    expect: OWNER_ONLY,
    changed: (before, after) => {
      assert.equal(memberOf(after, "admin2"), undefined);
      assert.equal(after.group.memberCount, before.group.memberCount - 1);
    },
  },
  {
    name: "removeGroupMembers (the owner)",
    query: onUsers("removeGroupMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("owner")] }),
    expect: { ...OWNER_ONLY, owner: "BAD_USER_INPUT", app: "FORBIDDEN" },
    changed: () => assert.fail("nobody removes the owner"),
  },
  {
    name: "blockGroupMembers",
    query: onUsers("blockGroupMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")] }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.equal(memberOf(after, "target"), undefined);
      assert.equal(after.group.memberCount, before.group.memberCount - 1);
      assert.deepEqual(after.blocked, [nameOf("blocked"), nameOf("target")].sort());
    },
  },
  {
    name: "unblockGroupMembers",
    query: onUsers("unblockGroupMembers"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("blocked")] }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.deepEqual(before.blocked, [nameOf("blocked")]);
      assert.deepEqual(after.blocked, []);
    },
  },
  {
    name: "muteGroupMembers",
    query:
      "mutation($id: ID!, $u: [String!]!) { muteGroupMembers(id: $id, usernames: $u, durationSeconds: 3600) }",
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")] }),
    expect: MANAGERS,
    changed: (_before, after) => {
      const until = Date.parse(memberOf(after, "target").mutedUntil);
      assert.ok(until > Date.now() + 3000_000, `mutedUntil ${memberOf(after, "target").mutedUntil}`);
    },
  },
  {
    name: "unmuteGroupMembers",
    query: onUsers("unmuteGroupMembers"),
    setup: async (fx) => {
      await as(
        "owner",
        "mutation($id: ID!, $u: [String!]!) { muteGroupMembers(id: $id, usernames: $u, durationSeconds: 3600) }",
        {
          id: fx.id,
          u: [nameOf("target")],
        },
      );
    },
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")] }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.ok(memberOf(before, "target").mutedUntil);
      assert.equal(memberOf(after, "target").mutedUntil, null);
    },
  },
  {
    name: "muteAllGroupMembers",
    query: "mutation($id: ID!) { muteAllGroupMembers(id: $id, muted: true) { id allMuted } }",
    vars: (fx) => ({ id: fx.id }),
    expect: MANAGERS,
    changed: (_before, after) => assert.equal(after.group.allMuted, true),
  },
  {
    name: "addToGroupAllowList",
    query: onUsers("addToGroupAllowList"),
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")] }),
    expect: MANAGERS,
    changed: (_before, after) => assert.equal(memberOf(after, "target").allowListed, true),
  },
  {
    name: "removeFromGroupAllowList",
    query: onUsers("removeFromGroupAllowList"),
    setup: async (fx) => {
      await as("owner", onUsers("addToGroupAllowList"), { id: fx.id, u: [nameOf("target")] });
    },
    vars: (fx) => ({ id: fx.id, u: [nameOf("target")] }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.equal(memberOf(before, "target").allowListed, true);
      assert.equal(memberOf(after, "target").allowListed, false);
    },
  },
  {
    name: "setGroupMemberAttributes (another member)",
    query:
      'mutation($id: ID!, $u: String!) { setGroupMemberAttributes(id: $id, username: $u, attributes: { seat: "7" }) { role } }',
    vars: (fx) => ({ id: fx.id, u: nameOf("target") }),
    expect: MANAGERS,
    changed: (_before, after) => assert.deepEqual(memberOf(after, "target").attributes, { seat: "7" }),
  },
  {
    name: "setGroupMemberAttributes (themself; the app names `target`)",
    query:
      'mutation($id: ID!, $u: String!) { setGroupMemberAttributes(id: $id, username: $u, attributes: { seat: "7" }) { role } }',
    vars: (fx, actor) => ({ id: fx.id, u: nameOf(actor === "app" ? "target" : actor) }),
    expect: { ...MANAGERS, member: "ok" },
    changed: (_before, after, _fx, actor) =>
      assert.deepEqual(memberOf(after, actor === "app" ? "target" : actor).attributes, { seat: "7" }),
  },
  {
    name: "blockGroupMessages",
    query: "mutation($id: ID!) { blockGroupMessages(id: $id, blocked: true) }",
    setup: async (fx, actor) => {
      if (actor !== "app") fx.cursor = (await as(actor, EVENT_CURSOR, {})).eventCursor;
    },
    vars: (fx) => ({ id: fx.id }),
    expect: MEMBERS_AS_USERS,
    changed: async (_before, _after, fx, actor) => {
      // Not in the Group or GroupMember types: the caller's own stream says it.
      const data = await as(actor as Person, SYNC, { since: fx.cursor });
      const kinds = data.sync.events
        .map((envelope: any) => envelope.event)
        .filter((event: any) => event.__typename === "GroupEvent" && event.group?.id === fx.id)
        .map((event: any) => event.kind);
      assert.ok(kinds.includes("MESSAGES_BLOCKED"), `events: ${kinds.join(", ")}`);
    },
  },
  {
    name: "uploadGroupFile",
    query: UPLOAD_GROUP_FILE,
    vars: (fx, actor) => ({ id: fx.id, a: attachments[actor === "app" ? "owner" : actor] }),
    expect: MEMBERS_AS_USERS,
    changed: (before, after) => assert.equal(after.files.length, before.files.length + 1),
  },
  {
    name: "deleteGroupFile (another member's file)",
    query: "mutation($id: ID!, $f: ID!) { deleteGroupFile(id: $id, fileId: $f) }",
    setup: async (fx) => {
      const data = await as("target", UPLOAD_GROUP_FILE, { id: fx.id, a: attachments.target });
      fx.fileId = data.uploadGroupFile.id;
    },
    vars: (fx) => ({ id: fx.id, f: fx.fileId }),
    expect: MANAGERS,
    changed: (before, after) => {
      assert.equal(before.files.length, 1);
      assert.deepEqual(after.files, []);
    },
  },
  {
    name: "deleteGroupFile (the member's own file)",
    query: "mutation($id: ID!, $f: ID!) { deleteGroupFile(id: $id, fileId: $f) }",
    setup: async (fx) => {
      const data = await as("member", UPLOAD_GROUP_FILE, { id: fx.id, a: attachments.member });
      fx.fileId = data.uploadGroupFile.id;
    },
    vars: (fx) => ({ id: fx.id, f: fx.fileId }),
    expect: { ...MANAGERS, member: "ok" },
    changed: (before, after) => {
      assert.equal(before.files.length, 1);
      assert.deepEqual(after.files, []);
    },
  },
  {
    name: "sendMessage to { group }",
    query: SEND,
    // Sending tells any non-member NOT_MEMBER (API.md), private group or not; it names no private group.
    privately: { outsider: "NOT_MEMBER", blocked: "NOT_MEMBER" },
    vars: (fx, actor) => ({ id: fx.id, text: `hello from ${actor}` }),
    expect: MEMBERS_AS_USERS,
    state: async (fx) => ({ group: await groupState(fx.id), history: await ownerHistory(fx.id) }),
    changed: (before, after, _fx, actor) => {
      assert.deepEqual(after.history, [...before.history, `${nameOf(actor as Person)}:hello from ${actor}`]);
    },
  },
  {
    name: "sendMessage to { group } (all muted)",
    query: SEND,
    // Sending tells any non-member NOT_MEMBER (API.md), private group or not; it names no private group.
    privately: { outsider: "NOT_MEMBER", blocked: "NOT_MEMBER" },
    setup: async (fx) => {
      await as("owner", "mutation($id: ID!) { muteAllGroupMembers(id: $id, muted: true) { id } }", {
        id: fx.id,
      });
    },
    vars: (fx, actor) => ({ id: fx.id, text: `hello from ${actor}` }),
    expect: { ...MEMBERS_AS_USERS, member: "MUTED" },
    state: async (fx) => ({ group: await groupState(fx.id), history: await ownerHistory(fx.id) }),
    changed: (before, after, _fx, actor) => {
      assert.deepEqual(after.history, [...before.history, `${nameOf(actor as Person)}:hello from ${actor}`]);
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
    expect: { ...MEMBERS_AS_USERS, outsider: "NOT_FOUND", blocked: "NOT_FOUND", app: "ok" },
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
    name: "markConversationRead",
    query: "mutation($id: ID!) { markConversationRead(conversation: { group: $id }) { id unreadCount } }",
    setup: async (fx) => {
      await as("target", SEND, { id: fx.id, text: "unread by all but target" });
    },
    vars: (fx) => ({ id: fx.id }),
    expect: MEMBERS_AS_USERS,
    changed: async (_before, _after, fx, actor) => {
      const data = await ok(url, CONVERSATIONS, {}, tokenOf(actor));
      const mine = data.conversations.edges.find((edge: any) => edge.node.group?.id === fx.id);
      assert.equal(mine.node.unreadCount, 0);
    },
  },
  {
    name: "sendTyping to { group }",
    query: "mutation($id: ID!) { sendTyping(conversation: { group: $id }) }",
    // Like sending: any non-member is NOT_MEMBER, and it names no private group.
    privately: { outsider: "NOT_MEMBER", blocked: "NOT_MEMBER" },
    vars: (fx) => ({ id: fx.id }),
    expect: MEMBERS_AS_USERS,
    // Typing is live only: nothing to see afterwards but that nothing else changed.
    changed: (before, after) => assert.deepEqual(after, before),
  },
  {
    name: "deleteMessages in { group }",
    query: "mutation($id: ID!, $m: [ID!]!) { deleteMessages(conversation: { group: $id }, messageIds: $m) }",
    setup: async (fx) => {
      fx.messageId = (await as("target", SEND, { id: fx.id, text: "to delete" })).sendMessage.id;
    },
    vars: (fx) => ({ id: fx.id, m: [fx.messageId] }),
    expect: MEMBERS_AS_USERS,
    state: (fx) => ownerHistory(fx.id),
    changed: async (before, _after, fx, actor) => {
      // One-sided: gone from the caller's history only.
      const data = await ok(url, HISTORY, { id: fx.id }, tokenOf(actor));
      assert.deepEqual(data.messages.edges, []);
      if (actor !== "owner") assert.deepEqual(await ownerHistory(fx.id), before);
    },
  },
];

const THREAD_STATE = `query($id: ID!) {
  thread(id: $id) { name memberCount }
  threadMembers(id: $id, first: 100) { edges { node { user { username } } } }
}`;
const THREAD_HISTORY = `query($id: ID!) {
  messages(conversation: { thread: $id }, last: 100) { edges { node { from { username } body { ... on TextBody { text } } } } }
}`;

/** The thread as the app server sees it, and what its creator reads in it. */
async function threadState(fx: Fixture) {
  const result = await call(THREAD_STATE, { id: fx.threadId }, app);
  if (result.errors?.[0]?.extensions?.code === "NOT_FOUND") return { destroyed: true };
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  const history = await ok(url, THREAD_HISTORY, { id: fx.threadId }, people[fx.threadCreator!].token);
  return {
    destroyed: false,
    thread: result.data!.thread,
    members: result.data!.threadMembers.edges.map((edge: any) => edge.node.user.username).sort(),
    history: history.messages.edges.map((edge: any) => `${edge.node.from?.username}:${edge.node.body?.text}`),
  };
}

/** A thread under a group message, started by `creator`, that `joined` joined too. */
const withThread =
  (creator: Person, joined: Person[] = []) =>
  async (fx: Fixture) => {
    const parent = (await as(creator, SEND, { id: fx.id, text: "a topic" })).sendMessage.id;
    const thread = await as(
      creator,
      'mutation($m: ID!) { createThread(parentMessageId: $m, name: "topic") { id } }',
      {
        m: parent,
      },
    );
    fx.threadId = thread.createThread.id;
    fx.threadCreator = creator;
    for (const person of joined)
      await as(person, "mutation($id: ID!) { joinThread(id: $id) { id } }", { id: fx.threadId });
  };
const onThread = (field: string) => `mutation($id: ID!) { ${field}(id: $id) }`;
const inThread = (state: any, person: Person) => state.members.includes(nameOf(person));

/**
 * Threads: seen by the group's members (outsiders are told as for the group itself), joined by any
 * of them; run by the thread's creator (renames) and the group's owner and admins.
 */
TABLE.push(
  {
    name: "createThread",
    query: 'mutation($m: ID!) { createThread(parentMessageId: $m, name: "new topic") { id } }',
    setup: async (fx) => {
      fx.messageId = (await as("target", SEND, { id: fx.id, text: "start here" })).sendMessage.id;
    },
    vars: (fx) => ({ m: fx.messageId }),
    // Outsiders cannot see the message, so for them it does not exist; the app server is no user.
    expect: { ...MEMBERS_AS_USERS, outsider: "NOT_FOUND", blocked: "NOT_FOUND" },
    state: async (fx) =>
      (
        await ok(
          url,
          "query($g: ID!) { threads(groupId: $g) { edges { node { name } } } }",
          { g: fx.id },
          app,
        )
      ).threads.edges,
    changed: (before, after) => {
      assert.deepEqual(before, []);
      assert.deepEqual(after, [{ node: { name: "new topic" } }]);
    },
  },
  {
    name: "updateThreadName (another member's thread)",
    query: 'mutation($id: ID!) { updateThreadName(id: $id, name: "renamed") { id } }',
    setup: withThread("target"),
    vars: (fx) => ({ id: fx.threadId }),
    expect: MANAGERS,
    state: threadState,
    changed: (_before, after) => assert.equal(after.thread.name, "renamed"),
  },
  {
    name: "updateThreadName (the member's own thread)",
    query: 'mutation($id: ID!) { updateThreadName(id: $id, name: "renamed") { id } }',
    setup: withThread("member"),
    vars: (fx) => ({ id: fx.threadId }),
    expect: { ...MANAGERS, member: "ok" },
    state: threadState,
    changed: (_before, after) => assert.equal(after.thread.name, "renamed"),
  },
  {
    name: "destroyThread",
    query: onThread("destroyThread"),
    setup: withThread("member"),
    vars: (fx) => ({ id: fx.threadId }),
    expect: MANAGERS,
    state: threadState,
    changed: (_before, after) => assert.deepEqual(after, { destroyed: true }),
  },
  {
    name: "joinThread",
    query: "mutation($id: ID!) { joinThread(id: $id) { id } }",
    setup: withThread("target"),
    vars: (fx) => ({ id: fx.threadId }),
    expect: MEMBERS_AS_USERS,
    state: threadState,
    changed: (before, after, _fx, actor) => {
      assert.equal(inThread(before, actor as Person), false);
      assert.equal(inThread(after, actor as Person), true);
      assert.equal(after.thread.memberCount, before.thread.memberCount + 1);
    },
  },
  {
    name: "leaveThread",
    query: onThread("leaveThread"),
    setup: withThread("target", ["owner", "admin", "member"]),
    vars: (fx) => ({ id: fx.threadId }),
    expect: MEMBERS_AS_USERS,
    state: threadState,
    changed: (_before, after, _fx, actor) => assert.equal(inThread(after, actor as Person), false),
  },
  {
    name: "removeThreadMember (a member)",
    query: onUser("removeThreadMember"),
    setup: withThread("member", ["target"]),
    vars: (fx) => ({ id: fx.threadId, u: nameOf("target") }),
    expect: MANAGERS,
    state: threadState,
    changed: (_before, after) => assert.equal(inThread(after, "target"), false),
  },
  {
    name: "sendMessage to { thread }",
    query:
      "mutation($id: ID!, $text: String!) { sendMessage(to: { thread: $id }, body: { text: { text: $text } }) { id } }",
    setup: withThread("target", ["owner", "admin", "member"]),
    // As for groups: any non-member is NOT_MEMBER, and it names no private group.
    privately: { outsider: "NOT_MEMBER", blocked: "NOT_MEMBER" },
    vars: (fx, actor) => ({ id: fx.threadId, text: `hello from ${actor}` }),
    expect: MEMBERS_AS_USERS,
    state: threadState,
    changed: (before, after, _fx, actor) => {
      assert.deepEqual(after.history, [...before.history, `${nameOf(actor as Person)}:hello from ${actor}`]);
    },
  },
  {
    name: "recallMessage in { thread } (another member's message)",
    query: RECALL,
    setup: async (fx) => {
      await withThread("target")(fx);
      const sent = await as(
        "target",
        'mutation($id: ID!) { sendMessage(to: { thread: $id }, body: { text: { text: "to recall" } }) { id } }',
        {
          id: fx.threadId,
        },
      );
      fx.messageId = sent.sendMessage.id;
    },
    vars: (fx) => ({ m: fx.messageId }),
    // The group's owner and admins moderate its threads without joining them.
    expect: { ...MANAGERS, outsider: "NOT_FOUND", blocked: "NOT_FOUND", member: "NOT_FOUND" },
    state: threadState,
    changed: (_before, after) => assert.deepEqual(after.history, [`${nameOf("target")}:undefined`]),
  },
);

/** The outcome on this pass: a private group is NOT_FOUND, not NOT_MEMBER, to those outside it. */
function expected(row: Row, pass: Pass, actor: Actor): Outcome {
  const outcome = row.expect[actor];
  if (pass === "public") return outcome;
  const override = row.privately ? row.privately[actor] : undefined;
  if (override) return override;
  if ((actor === "outsider" || actor === "blocked") && outcome === "NOT_MEMBER") return "NOT_FOUND";
  return outcome;
}

function describeAnswer(result: GraphQLResponse): string {
  return result.errors
    ? result.errors.map((error) => `${error.extensions?.code}: ${error.message}`).join("; ")
    : `data ${JSON.stringify(result.data)}`;
}

/**
 * A refusal writes nothing (each case checks it), so the refused callers of one row and pass share a
 * fixture and its starting state; every "ok" case gets a fresh group of its own.
 */
const sharedFixtures = new Map<string, Promise<{ fx: Fixture; before: unknown }>>();
function refusalFixture(row: Row, pass: Pass, state: (fx: Fixture) => Promise<unknown>) {
  const key = `${row.name}|${pass}`;
  let shared = sharedFixtures.get(key);
  if (!shared) {
    shared = (async () => {
      const fx = row.noGroup
        ? { id: "", pass, name: uniqueName("perm new ") }
        : await fixture(row, pass, "app");
      return { fx, before: await state(fx) };
    })();
    sharedFixtures.set(key, shared);
  }
  return shared;
}

async function runCase(row: Row, pass: Pass, actor: Actor) {
  const state = row.state ?? ((f: Fixture) => groupState(f.id));
  const want = expected(row, pass, actor);
  if (want === "ok") {
    const fx: Fixture = row.noGroup
      ? { id: "", pass, name: uniqueName("perm new ") }
      : await fixture(row, pass, actor);
    const before = await state(fx);
    const result = await call(row.query, row.vars(fx, actor), tokenOf(actor));
    assert.equal(result.errors, undefined, `expected ok, the server answered ${describeAnswer(result)}`);
    await row.changed(before, await state(fx), fx, actor);
  } else {
    const { fx, before } = await refusalFixture(row, pass, state);
    const result = await call(row.query, row.vars(fx, actor), tokenOf(actor));
    assert.equal(
      result.errors?.[0]?.extensions?.code,
      want,
      `expected ${want}, the server answered ${describeAnswer(result)}`,
    );
    assert.deepEqual(await state(fx), before, "a refused mutation wrote something");
  }
}

before(async () => {
  server = await startApp();
  url = server.url;
  app = await adminToken(url);
  const names = await createUsers(url, uniqueName("gp"), PEOPLE.length);
  await Promise.all(
    PEOPLE.map(async (person, i) => {
      const data = await ok(
        url,
        "mutation($u: String!) { adminIssueUserToken(username: $u) { token } }",
        { u: names[i] },
        app,
      );
      people[person] = { username: names[i]!, token: data.adminIssueUserToken.token };
      attachments[person] = (
        await uploaded(url, data.adminIssueUserToken.token, {
          bytes: Buffer.from(`the file ${person}`),
          name: `${person}.txt`,
          type: "text/plain",
        })
      ).id;
    }),
  );
});
after(() => server.stop());

/**
 * Whether a group is private changes only what non-members are told (viewGroup), so the private pass
 * runs the non-members; members and the app server take the same path on both.
 */
const PASS_ACTORS: Record<Pass, readonly Actor[]> = { public: ACTORS, private: ["outsider", "blocked"] };

// In order: refused cases of a row share its fixture, and the embedded database is one thread anyway.
for (const pass of ["public", "private"] as const) {
  describe(`group permissions on a ${pass} group`, () => {
    for (const row of TABLE) {
      if (pass === "private" && row.privately === false) continue;
      for (const actor of PASS_ACTORS[pass]) {
        const want = expected(row, pass, actor);
        it(`${row.name} as ${actor} → ${want}`, () => runCase(row, pass, actor));
      }
    }
  });
}
