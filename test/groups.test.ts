import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer } from "./helpers/app.js";
import { fails, gql, ok, subscribe, uploaded } from "./helpers/client.js";
import { uniqueName } from "./helpers/env.js";
import { adminToken, createUsers, type SignedIn, signIn, signUp } from "./helpers/factories.js";
import { cursorOf, nextEvent, sendText } from "./helpers/messaging.js";
import { connect, url, useTestServer } from "./helpers/test-server.js";

// Groups over the real API: HTTP for queries and mutations, graphql-ws for each member's stream.

useTestServer();

const GROUP = `id name description isPublic joinPolicy allowMemberInvites maxMembers memberCount allMuted ext
  myRole destroyed owner { username }`;

const CREATE = `mutation($name: String!, $description: String, $isPublic: Boolean, $joinPolicy: GroupJoinPolicy,
    $allowMemberInvites: Boolean, $maxMembers: Int, $members: [String!], $ext: JSON) {
  createGroup(name: $name, description: $description, isPublic: $isPublic, joinPolicy: $joinPolicy,
    allowMemberInvites: $allowMemberInvites, maxMembers: $maxMembers, members: $members, ext: $ext) { ${GROUP} }
}`;
const GET = `query($id: ID!) { group(id: $id) { ${GROUP} } }`;
const JOIN = `mutation($id: ID!, $m: String) { joinGroup(id: $id, message: $m) { ${GROUP} } }`;
const LEAVE = "mutation($id: ID!) { leaveGroup(id: $id) }";
const DESTROY = "mutation($id: ID!) { destroyGroup(id: $id) }";
const TRANSFER = `mutation($id: ID!, $u: String!) { transferGroupOwnership(id: $id, username: $u) { ${GROUP} } }`;
const ACCEPT_INVITE = `mutation($id: ID!) { acceptGroupInvite(id: $id) { ${GROUP} } }`;
const DECLINE_INVITE = "mutation($id: ID!) { declineGroupInvite(id: $id) }";
const MUTE =
  "mutation($id: ID!, $u: [String!]!, $s: Int!) { muteGroupMembers(id: $id, usernames: $u, durationSeconds: $s) }";
const MUTE_ALL =
  "mutation($id: ID!, $m: Boolean!) { muteAllGroupMembers(id: $id, muted: $m) { id allMuted } }";
const BLOCK_MESSAGES = "mutation($id: ID!, $b: Boolean!) { blockGroupMessages(id: $id, blocked: $b) }";
const SET_ATTRIBUTES = `mutation($id: ID!, $u: String!, $a: JSON!) {
  setGroupMemberAttributes(id: $id, username: $u, attributes: $a) { user { username } role attributes }
}`;
const ATTRIBUTES = `query($id: ID!, $u: [String!]!, $k: [String!]) {
  groupMemberAttributes(id: $id, usernames: $u, keys: $k) { user { username } attributes }
}`;
const MEMBERS = `query($id: ID!, $role: GroupRole, $first: Int, $after: String) {
  groupMembers(id: $id, role: $role, first: $first, after: $after) {
    edges { cursor node { user { username } role mutedUntil allowListed attributes } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const REQUESTS = `query($id: ID!) {
  groupJoinRequests(id: $id) { edges { node { id user { username } message status } } }
}`;
const INVITES = "{ myGroupInvites { edges { node { id status group { id } inviter { username } } } } }";
const FILES = `query($id: ID!) {
  groupFiles(id: $id) { edges { node { id url uploader { username } attachment { id name size } } } }
}`;
const UPLOAD_GROUP_FILE = `mutation($id: ID!, $a: ID!) {
  uploadGroupFile(id: $id, attachmentId: $a) { id url uploader { username } attachment { id name } }
}`;
const DELETE_GROUP_FILE = "mutation($id: ID!, $f: ID!) { deleteGroupFile(id: $id, fileId: $f) }";

/** `field(id, usernames)` returning Boolean. */
const onUsers = (field: string) => `mutation($id: ID!, $u: [String!]!) { ${field}(id: $id, usernames: $u) }`;
/** `field(id, username)` returning Boolean. */
const onUser = (field: string) => `mutation($id: ID!, $u: String!) { ${field}(id: $id, username: $u) }`;

const MESSAGE = `id chatType readCount recalled requestReadReceipts editCount
  from { username } to { __typename ... on Group { id } ... on User { username } }
  body { __typename ... on TextBody { text } } targets { username } mentions { username }`;
const SEND = `mutation($to: ChatTarget!, $body: MessageBodyInput!, $mentions: [String!], $mentionAll: Boolean,
    $targets: [String!], $rr: Boolean) {
  sendMessage(to: $to, body: $body, mentions: $mentions, mentionAll: $mentionAll, targets: $targets,
    requestReadReceipts: $rr) { ${MESSAGE} }
}`;
const HISTORY = `query($id: ID!) {
  messages(conversation: { group: $id }, last: 100) { edges { node { id recalled from { username } body { ... on TextBody { text } } } } }
}`;
const CONVERSATIONS =
  "{ conversations(first: 100) { edges { node { id unreadCount mentionCount group { id } } } } }";
const MARK_READ = `mutation($id: ID!) { markConversationRead(conversation: { group: $id }) { id unreadCount mentionCount } }`;
const TYPING = "mutation($id: ID!) { sendTyping(conversation: { group: $id }) }";

const STREAM = `subscription($since: String) {
  events(since: $since) {
    cursor
    event {
      __typename
      ... on GroupEvent { kind group { id } actor { username } users { username } }
      ... on MessageEvent { message { ${MESSAGE} } }
      ... on MessageEditedEvent { message { ${MESSAGE} } }
      ... on MessageRecalledEvent { messageId by { username } conversation { id group { id } } }
      ... on TypingEvent { user { username } conversation { id group { id } } }
      ... on ReceiptEvent { kind by { username } messageIds }
      ... on ConversationEvent { kind conversation { id unreadCount } }
    }
  }
}`;

type Stream = ReturnType<typeof subscribe<Record<string, any>>>;
interface GroupOptions {
  name?: string;
  description?: string;
  isPublic?: boolean;
  joinPolicy?: "OPEN" | "APPROVAL" | "INVITE_ONLY";
  allowMemberInvites?: boolean;
  maxMembers?: number;
  members?: string[];
  ext?: unknown;
}

async function createGroup(owner: SignedIn, options: GroupOptions = {}): Promise<Record<string, any>> {
  const data = await ok(url, CREATE, { name: uniqueName("group "), ...options }, owner.token);
  return data.createGroup;
}

const names = (...users: SignedIn[]) => users.map((user) => user.username);

async function users(count: number): Promise<SignedIn[]> {
  return Promise.all(Array.from({ length: count }, () => signUp(url)));
}

async function getGroup(user: SignedIn, id: string) {
  return (await ok(url, GET, { id }, user.token)).group;
}

async function say(user: SignedIn, groupId: string, text: string, extra: Record<string, unknown> = {}) {
  const data = await ok(
    url,
    SEND,
    { to: { group: groupId }, body: { text: { text } }, ...extra },
    user.token,
  );
  return data.sendMessage;
}

const sayVars = (groupId: string, text: string) => ({ to: { group: groupId }, body: { text: { text } } });

async function history(user: SignedIn, groupId: string): Promise<(string | null)[]> {
  const data = await ok(url, HISTORY, { id: groupId }, user.token);
  return data.messages.edges.map((edge: any) => edge.node.body?.text ?? null);
}

async function conversationOf(user: SignedIn, groupId: string) {
  const data = await ok(url, CONVERSATIONS, {}, user.token);
  return data.conversations.edges
    .map((edge: any) => edge.node)
    .find((node: any) => node.group?.id === groupId);
}

async function memberNames(user: SignedIn, id: string, role?: string): Promise<string[]> {
  const data = await ok(url, MEMBERS, { id, role, first: 100 }, user.token);
  return data.groupMembers.edges.map((edge: any) => edge.node.user.username).sort();
}

/** A device's stream from the user's current cursor (GroupEvent and messages selected). */
async function watch(user: SignedIn): Promise<Stream> {
  const socket = connect(user.token);
  await socket.connected;
  return subscribe(socket, STREAM, { since: await cursorOf(url, user.token) });
}

const describeEvent = (event: any) =>
  event.__typename === "GroupEvent"
    ? `GroupEvent ${event.kind}`
    : event.__typename === "MessageEvent"
      ? `MessageEvent "${event.message.body?.text}"`
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
    if (match(event)) return { event, before };
    before.push(event);
  }
}

const isGroupEvent = (kind: string) => (event: any) =>
  event.__typename === "GroupEvent" && event.kind === kind;
const isText = (text: string) => (event: any) =>
  event.__typename === "MessageEvent" && event.message.body?.text === text;

async function groupEvent(stream: Stream, kind: string) {
  return (await readUntil(stream, isGroupEvent(kind), `GroupEvent ${kind}`)).event;
}

describe("creating and finding groups", () => {
  it("createGroup puts the members in at once; private groups are hidden from outsiders, public ones listed", async () => {
    const [owner, a, b, outsider] = await users(4);
    const token = uniqueName("team");
    const hidden = await createGroup(owner!, {
      name: `${token} private`,
      description: "the inner circle",
      members: names(a!, b!),
      ext: { color: "blue" },
    });
    assert.equal(hidden.memberCount, 3);
    assert.equal(hidden.myRole, "OWNER");
    assert.equal(hidden.owner.username, owner!.username);
    assert.equal(hidden.isPublic, false);
    assert.equal(hidden.joinPolicy, "APPROVAL");
    assert.equal(hidden.maxMembers, 3000);
    assert.equal(hidden.destroyed, false);
    assert.deepEqual(hidden.ext, { color: "blue" });
    assert.equal(hidden.description, "the inner circle");

    const asMember = await getGroup(a!, hidden.id);
    assert.equal(asMember.myRole, "MEMBER");
    assert.equal(asMember.memberCount, 3);
    await fails("NOT_FOUND", url, GET, { id: hidden.id }, outsider!.token);
    await fails("NOT_FOUND", url, GET, { id: "00000000-0000-4000-8000-000000000000" }, owner!.token);
    await fails("NOT_FOUND", url, GET, { id: "not-an-id" }, owner!.token);

    const open = await createGroup(owner!, { name: `${token} public`, isPublic: true, members: names(a!) });
    const seen = await getGroup(outsider!, open.id);
    assert.equal(seen.name, `${token} public`);
    assert.equal(seen.myRole, null);
    assert.equal(seen.memberCount, 2);

    const PUBLIC = `query($s: String, $first: Int, $after: String) {
      publicGroups(search: $s, first: $first, after: $after) { edges { node { id name isPublic } } pageInfo { hasNextPage endCursor } }
    }`;
    const listed = (await ok(url, PUBLIC, { s: token.toUpperCase() }, outsider!.token)).publicGroups;
    assert.deepEqual(
      listed.edges.map((edge: any) => edge.node.id),
      [open.id],
      "search matches names case-insensitively and lists public groups only",
    );
    const all = (await ok(url, PUBLIC, { first: 100 }, outsider!.token)).publicGroups.edges;
    assert.ok(all.every((edge: any) => edge.node.isPublic));
    assert.ok(!all.some((edge: any) => edge.node.id === hidden.id));

    const MY = "{ myGroups(first: 50) { edges { node { id myRole } } } joinedGroupsCount }";
    const mine = await ok(url, MY, {}, a!.token);
    assert.deepEqual(
      mine.myGroups.edges.map((edge: any) => edge.node.id).sort(),
      [hidden.id, open.id].sort(),
    );
    assert.equal(mine.joinedGroupsCount, 2);
    const bs = await ok(url, MY, {}, b!.token);
    assert.deepEqual(
      bs.myGroups.edges.map((edge: any) => edge.node.id),
      [hidden.id],
    );
    assert.equal(bs.joinedGroupsCount, 1);
    assert.equal((await ok(url, MY, {}, outsider!.token)).joinedGroupsCount, 0);
  });

  it("the app server lists every group, private ones too, reads their members and destroys them", async () => {
    const [owner, member] = await users(2);
    const token = uniqueName("adm");
    const hidden = await createGroup(owner!, { name: `${token} private`, members: names(member!) });
    const open = await createGroup(owner!, { name: `${token} public`, isPublic: true });
    const admin = await adminToken(url);
    const ADMIN_GROUPS = `query($s: String, $first: Int, $after: String) {
      adminGroups(search: $s, first: $first, after: $after) { edges { node { id isPublic } } pageInfo { hasNextPage endCursor } }
    }`;
    const ids = (page: any) => page.edges.map((edge: any) => edge.node.id);
    const first = (await ok(url, ADMIN_GROUPS, { s: token.toUpperCase(), first: 1 }, admin)).adminGroups;
    assert.deepEqual(ids(first), [open.id], "newest first");
    assert.equal(first.pageInfo.hasNextPage, true);
    const next = { s: token, first: 1, after: first.pageInfo.endCursor };
    const second = (await ok(url, ADMIN_GROUPS, next, admin)).adminGroups;
    assert.deepEqual(ids(second), [hidden.id]);
    assert.equal(second.pageInfo.hasNextPage, false);
    await fails("FORBIDDEN", url, ADMIN_GROUPS, { s: token }, owner!.token);

    const members = (await ok(url, MEMBERS, { id: hidden.id }, admin)).groupMembers;
    assert.deepEqual(
      members.edges.map((edge: any) => edge.node.user.username).sort(),
      names(owner!, member!).sort(),
    );
    assert.equal((await ok(url, DESTROY, { id: hidden.id }, admin)).destroyGroup, true);
    assert.deepEqual(ids((await ok(url, ADMIN_GROUPS, { s: token }, admin)).adminGroups), [open.id]);
  });

  it("groupMembers filters by role and pages with first/after", async () => {
    const owner = await signUp(url);
    const crowd = await createUsers(url, uniqueName("crowd"), 5);
    const group = await createGroup(owner, { members: crowd });
    assert.equal(group.memberCount, 6);
    const admin = await signIn(url, crowd[0]!);
    await ok(url, onUser("addGroupAdmin"), { id: group.id, u: admin.username }, owner.token);

    assert.deepEqual(await memberNames(owner, group.id, "OWNER"), [owner.username]);
    assert.deepEqual(await memberNames(owner, group.id, "ADMIN"), [admin.username]);
    assert.deepEqual(await memberNames(admin, group.id, "MEMBER"), crowd.slice(1).sort());

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    for (;;) {
      const data: any = await ok(url, MEMBERS, { id: group.id, first: 2, after: cursor }, admin.token);
      const page = data.groupMembers;
      assert.ok(page.edges.length <= 2);
      seen.push(...page.edges.map((edge: any) => edge.node.user.username));
      pages++;
      if (!page.pageInfo.hasNextPage) break;
      cursor = page.pageInfo.endCursor;
      assert.equal(typeof cursor, "string");
      assert.ok(pages < 10, "pagination does not end");
    }
    assert.equal(pages, 3);
    assert.equal(seen.length, 6, `no member twice: ${seen}`);
    assert.deepEqual([...seen].sort(), [owner.username, ...crowd].sort());

    const outsider = await signUp(url);
    await fails("NOT_FOUND", url, MEMBERS, { id: group.id }, outsider.token);
  });

  it("enforces the limits on name, ext, members and maxMembers", async () => {
    const owner = await signUp(url);
    await fails("BAD_USER_INPUT", url, CREATE, { name: "n".repeat(129) }, owner.token);
    await fails("BAD_USER_INPUT", url, CREATE, { name: "   " }, owner.token);
    const longest = await createGroup(owner, { name: "n".repeat(128) });
    assert.equal(longest.name.length, 128);
    await fails(
      "LIMIT_EXCEEDED",
      url,
      CREATE,
      { name: "big ext", ext: { pad: "x".repeat(8200) } },
      owner.token,
    );
    await fails(
      "BAD_USER_INPUT",
      url,
      CREATE,
      { name: "long description", description: "d".repeat(513) },
      owner.token,
    );

    const many = await createUsers(url, uniqueName("many"), 101);
    await fails("LIMIT_EXCEEDED", url, CREATE, { name: "too many", members: many }, owner.token);
    const hundred = await createGroup(owner, { members: many.slice(0, 100) });
    assert.equal(hundred.memberCount, 101);

    await fails("LIMIT_EXCEEDED", url, CREATE, { name: "too big", maxMembers: 3001 }, owner.token);
    assert.equal((await createGroup(owner, { maxMembers: 3000 })).maxMembers, 3000);
    await fails(
      "LIMIT_EXCEEDED",
      url,
      CREATE,
      { name: "small", maxMembers: 3, members: many.slice(0, 3) },
      owner.token,
    );
    await fails("NOT_FOUND", url, CREATE, { name: "ghosts", members: ["nobody-by-that-name"] }, owner.token);
    await fails("UNAUTHENTICATED", url, CREATE, { name: "anonymous" });
  });
});

describe("limits on changes", () => {
  it("enforces the limits of updates, announcements, requests, invitations and admins", async () => {
    const owner = await signUp(url);
    const many = await createUsers(url, uniqueName("lim"), 101);
    const group = await createGroup(owner, {
      isPublic: true,
      joinPolicy: "APPROVAL",
      members: many.slice(0, 100),
    });
    const id = group.id;
    const UPDATE = `mutation($id: ID!, $ext: JSON, $max: Int) {
      updateGroup(id: $id, ext: $ext, maxMembers: $max) { id maxMembers ext }
    }`;
    const ANNOUNCE =
      "mutation($id: ID!, $t: String!) { setGroupAnnouncement(id: $id, text: $t) { announcement } }";
    await fails("LIMIT_EXCEEDED", url, UPDATE, { id, ext: { pad: "x".repeat(8200) } }, owner.token);
    await fails("LIMIT_EXCEEDED", url, UPDATE, { id, max: 100 }, owner.token);
    assert.equal((await ok(url, UPDATE, { id, max: 101 }, owner.token)).updateGroup.maxMembers, 101);
    await fails("BAD_USER_INPUT", url, ANNOUNCE, { id, t: "a".repeat(513) }, owner.token);
    assert.equal(
      (await ok(url, ANNOUNCE, { id, t: "a".repeat(512) }, owner.token)).setGroupAnnouncement.announcement
        .length,
      512,
    );

    const applicant = await signUp(url);
    await fails("BAD_USER_INPUT", url, JOIN, { id, m: "m".repeat(501) }, applicant.token);
    await fails("LIMIT_EXCEEDED", url, onUsers("inviteToGroup"), { id, u: many }, owner.token);

    // At most 100 admins.
    for (const name of many.slice(0, 100))
      await ok(url, onUser("addGroupAdmin"), { id, u: name }, owner.token);
    const [last] = await createUsers(url, uniqueName("lim"), 1);
    await ok(url, UPDATE, { id, max: 102 }, owner.token);
    await ok(url, onUsers("inviteToGroup"), { id, u: [last!] }, owner.token);
    const lastToken = (
      await ok(
        url,
        "mutation($u: String!) { adminIssueUserToken(username: $u) { token } }",
        { u: last },
        await adminToken(url),
      )
    ).adminIssueUserToken.token;
    await ok(url, ACCEPT_INVITE, { id }, lastToken);
    await fails("LIMIT_EXCEEDED", url, onUser("addGroupAdmin"), { id, u: last }, owner.token);
  });
});

describe("roles", () => {
  it("only the owner names admins; admins cannot remove admins or the owner; the owner cannot leave", async () => {
    const [owner, admin, m1, m2, m3] = await users(5);
    const group = await createGroup(owner!, { members: names(admin!, m1!, m2!, m3!) });
    const id = group.id;
    assert.equal(
      await ok(url, onUser("addGroupAdmin"), { id, u: admin!.username }, owner!.token).then(
        (d) => d.addGroupAdmin,
      ),
      true,
    );
    assert.equal((await getGroup(admin!, id)).myRole, "ADMIN");
    assert.deepEqual(await memberNames(m1!, id, "ADMIN"), [admin!.username]);

    await fails("FORBIDDEN", url, onUser("addGroupAdmin"), { id, u: m1!.username }, admin!.token);
    await fails("FORBIDDEN", url, onUser("addGroupAdmin"), { id, u: m1!.username }, m2!.token);
    await fails("FORBIDDEN", url, onUser("removeGroupAdmin"), { id, u: admin!.username }, admin!.token);
    await fails("FORBIDDEN", url, onUser("removeGroupAdmin"), { id, u: admin!.username }, m2!.token);

    await ok(url, onUser("addGroupAdmin"), { id, u: m3!.username }, owner!.token);
    await fails("FORBIDDEN", url, onUsers("removeGroupMembers"), { id, u: [owner!.username] }, admin!.token);
    await fails("FORBIDDEN", url, onUsers("removeGroupMembers"), { id, u: [m3!.username] }, admin!.token);
    await fails("FORBIDDEN", url, onUsers("removeGroupMembers"), { id, u: [m1!.username] }, m2!.token);
    assert.equal((await getGroup(owner!, id)).memberCount, 5, "refused removals remove nobody");

    // An admin removes a plain member; the owner removes anyone.
    await ok(url, onUsers("removeGroupMembers"), { id, u: [m2!.username] }, admin!.token);
    await fails("NOT_FOUND", url, GET, { id }, m2!.token);
    await ok(url, onUsers("removeGroupMembers"), { id, u: [m3!.username] }, owner!.token);
    await fails("NOT_FOUND", url, GET, { id }, m3!.token);
    assert.equal((await getGroup(owner!, id)).memberCount, 3);
    assert.deepEqual(await memberNames(owner!, id), names(owner!, admin!, m1!).sort());

    await fails("FORBIDDEN", url, LEAVE, { id }, owner!.token);
    assert.equal((await getGroup(owner!, id)).myRole, "OWNER");

    await ok(url, onUser("removeGroupAdmin"), { id, u: admin!.username }, owner!.token);
    assert.equal((await getGroup(admin!, id)).myRole, "MEMBER");
    await ok(url, onUser("addGroupAdmin"), { id, u: admin!.username }, owner!.token);
  });

  it("transferGroupOwnership hands over the group; then the old owner may leave", async () => {
    const [owner, heir, member] = await users(3);
    const group = await createGroup(owner!, { members: names(heir!, member!) });
    const id = group.id;
    await fails("FORBIDDEN", url, TRANSFER, { id, u: member!.username }, heir!.token);
    const stranger = await signUp(url);
    await fails("NOT_MEMBER", url, TRANSFER, { id, u: stranger.username }, owner!.token);

    const moved = (await ok(url, TRANSFER, { id, u: heir!.username }, owner!.token)).transferGroupOwnership;
    assert.equal(moved.owner.username, heir!.username);
    assert.equal((await getGroup(heir!, id)).myRole, "OWNER");
    assert.equal((await getGroup(owner!, id)).myRole, "MEMBER");
    assert.deepEqual(await memberNames(member!, id, "OWNER"), [heir!.username]);

    await fails("FORBIDDEN", url, LEAVE, { id }, heir!.token);
    assert.equal((await ok(url, LEAVE, { id }, owner!.token)).leaveGroup, true);
    await fails("NOT_FOUND", url, GET, { id }, owner!.token);
    assert.equal((await getGroup(heir!, id)).memberCount, 2);
    await fails("NOT_FOUND", url, LEAVE, { id }, owner!.token);
  });
});

describe("joining", () => {
  it("OPEN groups take joiners at once", async () => {
    const [owner, joiner] = await users(2);
    const group = await createGroup(owner!, { isPublic: true, joinPolicy: "OPEN" });
    const joined = (await ok(url, JOIN, { id: group.id }, joiner!.token)).joinGroup;
    assert.equal(joined.myRole, "MEMBER");
    assert.equal(joined.memberCount, 2);
    await fails("CONFLICT", url, JOIN, { id: group.id }, joiner!.token);
    assert.deepEqual(await memberNames(owner!, group.id), names(owner!, joiner!).sort());
  });

  it("APPROVAL groups file requests that the owner and admins answer, once", async () => {
    const [owner, admin, member, applicant, other] = await users(5);
    const group = await createGroup(owner!, {
      isPublic: true,
      joinPolicy: "APPROVAL",
      members: names(admin!, member!),
    });
    const id = group.id;
    await ok(url, onUser("addGroupAdmin"), { id, u: admin!.username }, owner!.token);
    const ownerStream = await watch(owner!);
    const applicantStream = await watch(applicant!);

    const filed = (await ok(url, JOIN, { id, m: "let me in" }, applicant!.token)).joinGroup;
    assert.equal(filed.myRole, null, "a request does not make a member");
    assert.equal(filed.memberCount, 3);
    const told = await groupEvent(ownerStream, "JOIN_REQUESTED");
    assert.equal(told.actor.username, applicant!.username);
    assert.equal(told.group.id, id);
    await groupEvent(applicantStream, "JOIN_REQUESTED");

    for (const manager of [owner!, admin!]) {
      const requests = (await ok(url, REQUESTS, { id }, manager.token)).groupJoinRequests.edges;
      assert.deepEqual(
        requests.map((edge: any) => [edge.node.user.username, edge.node.message, edge.node.status]),
        [[applicant!.username, "let me in", "PENDING"]],
      );
    }
    await fails("FORBIDDEN", url, REQUESTS, { id }, member!.token);
    await fails(
      "FORBIDDEN",
      url,
      onUser("approveJoinRequest"),
      { id, u: applicant!.username },
      member!.token,
    );

    await ok(url, onUser("approveJoinRequest"), { id, u: applicant!.username }, admin!.token);
    const joined = await groupEvent(applicantStream, "MEMBER_JOINED");
    assert.deepEqual(
      joined.users.map((user: any) => user.username),
      [applicant!.username],
    );
    assert.equal((await getGroup(applicant!, id)).myRole, "MEMBER");
    assert.equal((await getGroup(owner!, id)).memberCount, 4);
    await fails("CONFLICT", url, onUser("declineJoinRequest"), { id, u: applicant!.username }, owner!.token);
    await fails("CONFLICT", url, onUser("approveJoinRequest"), { id, u: applicant!.username }, owner!.token);
    assert.deepEqual((await ok(url, REQUESTS, { id }, owner!.token)).groupJoinRequests.edges, []);

    // A declined request: the applicant hears of it, and a late approval is a CONFLICT.
    const otherStream = await watch(other!);
    await ok(url, JOIN, { id }, other!.token);
    await ok(url, onUser("declineJoinRequest"), { id, u: other!.username }, owner!.token);
    await groupEvent(otherStream, "JOIN_DECLINED");
    await fails("CONFLICT", url, onUser("approveJoinRequest"), { id, u: other!.username }, admin!.token);
    assert.equal((await getGroup(other!, id)).myRole, null);
    await fails("NOT_FOUND", url, onUser("approveJoinRequest"), { id, u: member!.username }, owner!.token);
  });

  it("INVITE_ONLY groups take members by invitation; invitations are accepted or declined", async () => {
    const [owner, member, x, y] = await users(4);
    const group = await createGroup(owner!, {
      isPublic: true,
      joinPolicy: "INVITE_ONLY",
      members: names(member!),
    });
    const id = group.id;
    await fails("FORBIDDEN", url, JOIN, { id }, x!.token);
    await fails("FORBIDDEN", url, onUsers("inviteToGroup"), { id, u: [x!.username] }, member!.token);
    await fails("NOT_MEMBER", url, onUsers("inviteToGroup"), { id, u: [y!.username] }, x!.token);
    await fails("CONFLICT", url, onUsers("inviteToGroup"), { id, u: [member!.username] }, owner!.token);

    const xStream = await watch(x!);
    await ok(url, onUsers("inviteToGroup"), { id, u: names(x!, y!) }, owner!.token);
    const invited = await groupEvent(xStream, "MEMBER_INVITED");
    assert.equal(invited.actor.username, owner!.username);
    assert.equal(invited.group.id, id);
    const invites = (await ok(url, INVITES, {}, x!.token)).myGroupInvites.edges;
    assert.deepEqual(
      invites.map((edge: any) => [edge.node.group.id, edge.node.inviter.username, edge.node.status]),
      [[id, owner!.username, "PENDING"]],
    );

    const accepted = (await ok(url, ACCEPT_INVITE, { id }, x!.token)).acceptGroupInvite;
    assert.equal(accepted.myRole, "MEMBER");
    assert.equal(accepted.memberCount, 3);
    await groupEvent(xStream, "MEMBER_JOINED");
    assert.deepEqual((await ok(url, INVITES, {}, x!.token)).myGroupInvites.edges, []);
    await fails("NOT_FOUND", url, ACCEPT_INVITE, { id }, x!.token);

    assert.equal((await ok(url, DECLINE_INVITE, { id }, y!.token)).declineGroupInvite, true);
    assert.deepEqual((await ok(url, INVITES, {}, y!.token)).myGroupInvites.edges, []);
    await fails("NOT_FOUND", url, ACCEPT_INVITE, { id }, y!.token);
    assert.equal((await getGroup(y!, id)).myRole, null);
    assert.equal((await getGroup(owner!, id)).memberCount, 3);
  });

  it("members invite only when allowMemberInvites is on", async () => {
    const [owner, member, guest] = await users(3);
    const closed = await createGroup(owner!, { members: names(member!), allowMemberInvites: false });
    await fails(
      "FORBIDDEN",
      url,
      onUsers("inviteToGroup"),
      { id: closed.id, u: [guest!.username] },
      member!.token,
    );
    const friendly = await createGroup(owner!, {
      members: names(member!),
      allowMemberInvites: true,
      joinPolicy: "INVITE_ONLY",
    });
    assert.equal(friendly.allowMemberInvites, true);
    await ok(url, onUsers("inviteToGroup"), { id: friendly.id, u: [guest!.username] }, member!.token);
    const invites = (await ok(url, INVITES, {}, guest!.token)).myGroupInvites.edges;
    assert.equal(invites[0].node.inviter.username, member!.username);
    assert.equal(
      (await ok(url, ACCEPT_INVITE, { id: friendly.id }, guest!.token)).acceptGroupInvite.myRole,
      "MEMBER",
    );
  });

  it("maxMembers is enforced for joins and accepted invitations", async () => {
    const [owner, member, late, invitee] = await users(4);
    const group = await createGroup(owner!, {
      isPublic: true,
      joinPolicy: "OPEN",
      maxMembers: 2,
      members: names(member!),
    });
    await fails("LIMIT_EXCEEDED", url, JOIN, { id: group.id }, late!.token);
    await ok(url, onUsers("inviteToGroup"), { id: group.id, u: [invitee!.username] }, owner!.token);
    await fails("LIMIT_EXCEEDED", url, ACCEPT_INVITE, { id: group.id }, invitee!.token);
    assert.equal((await getGroup(owner!, group.id)).memberCount, 2);
    // A seat frees up when someone leaves.
    await ok(url, LEAVE, { id: group.id }, member!.token);
    assert.equal((await ok(url, JOIN, { id: group.id }, late!.token)).joinGroup.memberCount, 2);
  });

  it("two joins racing for the last seat admit exactly one", async () => {
    for (let round = 0; round < 3; round++) {
      const [owner, member, first, second] = await users(4);
      const group = await createGroup(owner!, {
        isPublic: true,
        joinPolicy: "OPEN",
        maxMembers: 3,
        members: names(member!),
      });
      const results = await Promise.all([
        gql(url, JOIN, { id: group.id }, first!.token),
        gql(url, JOIN, { id: group.id }, second!.token),
      ]);
      const admitted = results.filter((result) => !result.errors);
      const refused = results.filter((result) => result.errors);
      assert.equal(admitted.length, 1, `round ${round}: ${JSON.stringify(results)}`);
      assert.equal(refused[0]!.errors![0]!.extensions?.code, "LIMIT_EXCEEDED", JSON.stringify(refused));
      const now = await getGroup(owner!, group.id);
      assert.equal(now.memberCount, 3);
      assert.equal((await memberNames(owner!, group.id)).length, 3);
    }
  });
});

describe("speaking", () => {
  it("members speak, outsiders do not; mutes lapse; mute-all spares managers and the allow list", async () => {
    const [owner, admin, m, n, outsider] = await users(5);
    const group = await createGroup(owner!, {
      isPublic: true,
      joinPolicy: "OPEN",
      members: names(admin!, m!, n!),
    });
    const id = group.id;
    await ok(url, onUser("addGroupAdmin"), { id, u: admin!.username }, owner!.token);
    let stored = 0;

    const first = await say(m!, id, "hello group");
    stored++;
    assert.equal(first.chatType, "GROUP");
    assert.equal(first.from.username, m!.username);
    assert.deepEqual(first.to, { __typename: "Group", id });
    await fails("NOT_MEMBER", url, SEND, sayVars(id, "let me talk"), outsider!.token);

    await fails("FORBIDDEN", url, MUTE, { id, u: [owner!.username], s: 60 }, admin!.token);
    await fails("FORBIDDEN", url, MUTE, { id, u: [n!.username], s: 60 }, m!.token);
    assert.equal((await ok(url, MUTE, { id, u: [m!.username], s: 1 }, admin!.token)).muteGroupMembers, true);
    const muted = (await ok(url, MEMBERS, { id, role: "MEMBER" }, owner!.token)).groupMembers.edges.find(
      (edge: any) => edge.node.user.username === m!.username,
    );
    assert.ok(muted.node.mutedUntil, "mutedUntil is set while muted");
    await fails("MUTED", url, SEND, sayVars(id, "muted words"), m!.token);
    await say(n!, id, "n is not muted");
    stored++;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await say(m!, id, "free again");
    stored++;

    const all = (await ok(url, MUTE_ALL, { id, m: true }, admin!.token)).muteAllGroupMembers;
    assert.equal(all.allMuted, true);
    await fails("FORBIDDEN", url, MUTE_ALL, { id, m: false }, m!.token);
    await fails("MUTED", url, SEND, sayVars(id, "m under mute-all"), m!.token);
    await fails("MUTED", url, SEND, sayVars(id, "n under mute-all"), n!.token);
    await say(owner!, id, "owner still speaks");
    await say(admin!, id, "admin still speaks");
    stored += 2;
    await ok(url, onUsers("addToGroupAllowList"), { id, u: [n!.username] }, owner!.token);
    await say(n!, id, "n on the allow list");
    stored++;
    await fails("MUTED", url, SEND, sayVars(id, "m still muted"), m!.token);
    await ok(url, onUsers("removeFromGroupAllowList"), { id, u: [n!.username] }, owner!.token);
    await fails("MUTED", url, SEND, sayVars(id, "n off the list"), n!.token);
    await ok(url, MUTE_ALL, { id, m: false }, owner!.token);
    await say(m!, id, "mute-all lifted");
    stored++;

    const texts = await history(owner!, id);
    assert.equal(texts.length, stored, `refused sends are not stored: ${JSON.stringify(texts)}`);
    assert.deepEqual(texts, [
      "hello group",
      "n is not muted",
      "free again",
      "owner still speaks",
      "admin still speaks",
      "n on the allow list",
      "mute-all lifted",
    ]);
    assert.deepEqual(await history(m!, id), texts);
  });

  it("a private group's outsiders cannot send to it either, and learn nothing of its name", async () => {
    const [owner, outsider] = await users(2);
    const group = await createGroup(owner!, { name: "the secret society" });
    const message = await fails("NOT_MEMBER", url, SEND, sayVars(group.id, "hi"), outsider!.token);
    assert.ok(!message.includes("secret"), message);
    assert.deepEqual(await history(owner!, group.id), []);
  });

  it("a timed mute silences an admin too, set only by a higher rank; mute-all does not", async () => {
    const [owner, admin, admin2] = await users(3);
    const group = await createGroup(owner!, { members: names(admin!, admin2!) });
    const id = group.id;
    await ok(url, onUser("addGroupAdmin"), { id, u: admin!.username }, owner!.token);
    await ok(url, onUser("addGroupAdmin"), { id, u: admin2!.username }, owner!.token);
    await fails("FORBIDDEN", url, MUTE, { id, u: [admin2!.username], s: 60 }, admin!.token);
    await ok(url, MUTE, { id, u: [admin!.username], s: 60 }, owner!.token);
    await fails("MUTED", url, SEND, sayVars(id, "the muted admin"), admin!.token);
    await say(admin2!, id, "the other admin");
    await ok(url, onUsers("unmuteGroupMembers"), { id, u: [admin!.username] }, owner!.token);
    await ok(url, MUTE_ALL, { id, m: true }, owner!.token);
    await say(admin!, id, "unmuted, and mute-all spares admins");
    assert.deepEqual(await history(owner!, id), ["the other admin", "unmuted, and mute-all spares admins"]);
  });

  it("naming users in a send tells an outsider nothing of who is in the group", async () => {
    const [owner, member, outsider, stranger] = await users(4);
    for (const isPublic of [true, false]) {
      const group = await createGroup(owner!, { isPublic, members: names(member!) });
      for (const named of [member!, stranger!]) {
        for (const field of ["mentions", "targets"]) {
          await fails(
            "NOT_MEMBER",
            url,
            SEND,
            { ...sayVars(group.id, "who is here?"), [field]: [named.username] },
            outsider!.token,
          );
        }
      }
    }
  });

  it("blockGroupMembers removes and bars; unblockGroupMembers lets them back", async () => {
    const [owner, admin, admin2, m] = await users(4);
    const group = await createGroup(owner!, {
      isPublic: true,
      joinPolicy: "OPEN",
      members: names(admin!, admin2!, m!),
    });
    const id = group.id;
    await ok(url, onUser("addGroupAdmin"), { id, u: admin!.username }, owner!.token);
    await ok(url, onUser("addGroupAdmin"), { id, u: admin2!.username }, owner!.token);
    await fails("FORBIDDEN", url, onUsers("blockGroupMembers"), { id, u: [admin2!.username] }, admin!.token);
    await fails("FORBIDDEN", url, onUsers("blockGroupMembers"), { id, u: [owner!.username] }, admin!.token);
    await fails("FORBIDDEN", url, onUsers("blockGroupMembers"), { id, u: [admin!.username] }, m!.token);

    await ok(url, onUsers("blockGroupMembers"), { id, u: [m!.username] }, admin!.token);
    const outside = await getGroup(m!, id);
    assert.equal(outside.myRole, null);
    assert.equal(outside.memberCount, 3);
    await fails("NOT_MEMBER", url, SEND, sayVars(id, "still here?"), m!.token);
    await fails("BLOCKED", url, JOIN, { id }, m!.token);
    await fails("BLOCKED", url, onUsers("inviteToGroup"), { id, u: [m!.username] }, owner!.token);
    const barred = (
      await ok(url, `query($id: ID!) { groupBlockList(id: $id) { username } }`, { id }, owner!.token)
    ).groupBlockList;
    assert.deepEqual(
      barred.map((user: any) => user.username),
      [m!.username],
    );

    const mStream = await watch(m!);
    await ok(url, onUsers("unblockGroupMembers"), { id, u: [m!.username] }, owner!.token);
    assert.equal((await groupEvent(mStream, "MEMBERS_UNBLOCKED")).group.id, id, "the unblocked user is told");
    assert.equal((await ok(url, JOIN, { id }, m!.token)).joinGroup.myRole, "MEMBER");
    await say(m!, id, "back again");
    assert.deepEqual(await history(owner!, id), ["back again"]);

    // Someone outside the group is told of being barred too.
    const applicant = await signUp(url);
    const applicantStream = await watch(applicant);
    await ok(url, onUsers("blockGroupMembers"), { id, u: [applicant.username] }, owner!.token);
    const told = await groupEvent(applicantStream, "MEMBERS_BLOCKED");
    assert.deepEqual(
      told.users.map((user: any) => user.username),
      [applicant.username],
    );
    await fails("BLOCKED", url, JOIN, { id }, applicant.token);
  });
});

describe("group events and history", () => {
  it("members hear of joins; a removed member hears of the removal and nothing of the group after it", async () => {
    const [owner, m1, m2, joiner] = await users(4);
    const group = await createGroup(owner!, { isPublic: true, joinPolicy: "OPEN", members: names(m1!, m2!) });
    const id = group.id;
    const m1Stream = await watch(m1!);
    const m2Stream = await watch(m2!);

    await ok(url, JOIN, { id }, joiner!.token);
    const joined = await nextEvent(m1Stream, "GroupEvent");
    assert.equal(joined.kind, "MEMBER_JOINED");
    assert.equal(joined.group.id, id);
    assert.equal(joined.actor.username, joiner!.username);
    assert.deepEqual(
      joined.users.map((user: any) => user.username),
      [joiner!.username],
    );
    assert.equal(typeof joined.cursor, "string", "group events are durable");
    assert.equal((await nextEvent(m2Stream, "GroupEvent")).kind, "MEMBER_JOINED");

    await ok(url, onUsers("removeGroupMembers"), { id, u: [m1!.username] }, owner!.token);
    const removed = await nextEvent(m1Stream, "GroupEvent");
    assert.equal(removed.kind, "MEMBER_REMOVED");
    assert.equal(removed.actor.username, owner!.username);
    assert.deepEqual(
      removed.users.map((user: any) => user.username),
      [m1!.username],
    );
    const seenByOthers = await nextEvent(m2Stream, "GroupEvent");
    assert.equal(seenByOthers.kind, "MEMBER_REMOVED");

    await say(owner!, id, "after the removal");
    await readUntil(m2Stream, isText("after the removal"), "the remaining member gets the message");
    await sendText(url, joiner!.token, m1!.username, "a direct message");
    const next = await nextEvent(m1Stream, "MessageEvent");
    assert.equal(
      next.message.body.text,
      "a direct message",
      "the group's message did not reach the removed member",
    );
    assert.equal(next.message.chatType, "DIRECT");
    await fails("NOT_MEMBER", url, SEND, sayVars(id, "may I?"), m1!.token);
  });

  it("a new member reads only what was sent after joining", async () => {
    const [owner, member, late] = await users(3);
    const group = await createGroup(owner!, { isPublic: true, joinPolicy: "OPEN", members: names(member!) });
    const id = group.id;
    await say(owner!, id, "before 1");
    await say(member!, id, "before 2");
    const lateStream = await watch(late!);
    await ok(url, JOIN, { id }, late!.token);
    await groupEvent(lateStream, "MEMBER_JOINED");
    assert.deepEqual(await history(late!, id), []);
    const joinedConversation = await conversationOf(late!, id);
    assert.ok(joinedConversation, "the new member has the group's conversation");
    assert.equal(joinedConversation.unreadCount, 0, "earlier messages are not unread");

    await say(owner!, id, "after 1");
    const { before } = await readUntil(lateStream, isText("after 1"), "the new member gets new messages");
    assert.ok(!before.some((event) => event.__typename === "MessageEvent"), JSON.stringify(before));
    assert.deepEqual(await history(late!, id), ["after 1"]);
    assert.deepEqual(await history(owner!, id), ["before 1", "before 2", "after 1"]);
    assert.equal((await conversationOf(late!, id)).unreadCount, 1);
  });

  it("an edit, recall or reaction of a message from before the join does not show it to the newcomer", async () => {
    const [owner, late] = await users(2);
    const group = await createGroup(owner!, { isPublic: true, joinPolicy: "OPEN" });
    const id = group.id;
    const old = await say(owner!, id, "said before the join");
    const since = await cursorOf(url, late!.token);
    const lateStream = await watch(late!);
    await ok(url, JOIN, { id }, late!.token);
    await groupEvent(lateStream, "MEMBER_JOINED");
    await ok(
      url,
      'mutation($m: ID!) { editMessage(id: $m, body: { text: { text: "edited later" } }) { id } }',
      { m: old.id },
      owner!.token,
    );
    await ok(
      url,
      'mutation($m: ID!) { addReaction(messageId: $m, reaction: "👍") { id } }',
      { m: old.id },
      owner!.token,
    );
    await ok(url, "mutation($m: ID!) { recallMessage(id: $m) { id } }", { m: old.id }, owner!.token);
    await say(owner!, id, "after the join");
    const { before } = await readUntil(
      lateStream,
      isText("after the join"),
      "the newcomer gets new messages",
    );
    assert.deepEqual(
      before.map((event) => event.__typename),
      [],
      "nothing about the older message reaches the newcomer",
    );
    // Nor in a replay or a sync page.
    const page = await ok(
      url,
      "query($s: String) { sync(since: $s) { events { event { __typename } } } }",
      { s: since },
      late!.token,
    );
    assert.deepEqual(
      page.sync.events.map((e: any) => e.event.__typename),
      ["GroupEvent", "MessageEvent"],
    );
  });

  it("the first members hear of GROUP_CREATED; an offline member catches up with events(since)", async () => {
    const [owner, m1, m2] = await users(3);
    const s1 = await watch(m1!);
    const since = await cursorOf(url, m2!.token);
    const group = await createGroup(owner!, { members: names(m1!, m2!) });
    const created = await groupEvent(s1, "GROUP_CREATED");
    assert.equal(created.group.id, group.id);
    assert.equal(created.actor.username, owner!.username);
    assert.deepEqual(created.users.map((user: any) => user.username).sort(), names(owner!, m1!, m2!).sort());
    await say(owner!, group.id, "while m2 was away");

    // m2 was offline the whole time: the stream replays from the cursor.
    const socket = connect(m2!.token);
    await socket.connected;
    const replay = subscribe(socket, STREAM, { since });
    const first = await nextEvent(replay, "GroupEvent");
    assert.equal(first.kind, "GROUP_CREATED");
    const message = await nextEvent(replay, "MessageEvent");
    assert.equal(message.message.body.text, "while m2 was away");
    assert.deepEqual(message.message.to, { __typename: "Group", id: group.id });
  });

  it("replaying past a removal gives the removal and nothing of the group after it", async () => {
    const [owner, m1, other] = await users(3);
    const group = await createGroup(owner!, { members: names(m1!) });
    const id = group.id;
    const since = await cursorOf(url, m1!.token);
    await say(owner!, id, "before the removal");
    await ok(url, onUsers("removeGroupMembers"), { id, u: [m1!.username] }, owner!.token);
    await say(owner!, id, "after the removal");
    await sendText(url, other!.token, m1!.username, "direct after the removal");

    const socket = connect(m1!.token);
    await socket.connected;
    const replay = subscribe(socket, STREAM, { since });
    // The direct chat and the group are different conversations: only the order within each is fixed.
    const { before } = await readUntil(replay, isText("direct after the removal"), "the direct message");
    const events = [...before];
    if (!before.some(isGroupEvent("MEMBER_REMOVED"))) {
      const rest = await readUntil(replay, isGroupEvent("MEMBER_REMOVED"), "the removal");
      events.push(...rest.before, rest.event);
    }
    const inGroup = events
      .filter((event) => event.__typename !== "MessageEvent" || event.message.chatType === "GROUP")
      .map(describeEvent);
    assert.deepEqual(inGroup, ['MessageEvent "before the removal"', "GroupEvent MEMBER_REMOVED"]);
    await sendText(url, other!.token, m1!.username, "sentinel");
    const tail = await readUntil(replay, isText("sentinel"), "the sentinel");
    assert.deepEqual(tail.before.map(describeEvent), [], "nothing of the group after the removal");
    await fails("NOT_FOUND", url, HISTORY, { id }, m1!.token);
  });

  it("leaving and joining again: the time away is not in the history", async () => {
    const [owner, member] = await users(2);
    const group = await createGroup(owner!, { isPublic: true, joinPolicy: "OPEN", members: names(member!) });
    const id = group.id;
    await say(owner!, id, "one");
    await ok(url, LEAVE, { id }, member!.token);
    assert.equal((await ok(url, "{ joinedGroupsCount }", {}, member!.token)).joinedGroupsCount, 0);
    await fails("NOT_MEMBER", url, HISTORY, { id }, member!.token);
    await fails("NOT_MEMBER", url, SEND, sayVars(id, "hello?"), member!.token);
    await say(owner!, id, "two");
    const stream = await watch(member!);
    await ok(url, JOIN, { id }, member!.token);
    await say(owner!, id, "three");
    await readUntil(stream, isText("three"), "messages after rejoining");
    assert.deepEqual(await history(member!, id), ["three"]);
    assert.equal((await conversationOf(member!, id)).unreadCount, 1);
  });

  it("an approval and a decline racing for one request: exactly one wins", async () => {
    for (let round = 0; round < 3; round++) {
      const [owner, admin, applicant] = await users(3);
      const group = await createGroup(owner!, {
        isPublic: true,
        joinPolicy: "APPROVAL",
        members: names(admin!),
      });
      const id = group.id;
      await ok(url, onUser("addGroupAdmin"), { id, u: admin!.username }, owner!.token);
      await ok(url, JOIN, { id }, applicant!.token);
      const results = await Promise.all([
        gql(url, onUser("approveJoinRequest"), { id, u: applicant!.username }, owner!.token),
        gql(url, onUser("declineJoinRequest"), { id, u: applicant!.username }, admin!.token),
      ]);
      const won = results.filter((result) => !result.errors);
      assert.equal(won.length, 1, JSON.stringify(results));
      const lost = results.find((result) => result.errors)!;
      assert.equal(lost.errors![0]!.extensions?.code, "CONFLICT", JSON.stringify(lost));
      const approved = !results[0]!.errors;
      assert.equal((await getGroup(applicant!, id)).myRole, approved ? "MEMBER" : null);
      assert.equal((await getGroup(owner!, id)).memberCount, approved ? 3 : 2);
    }
  });
});

describe("group messages", () => {
  it("mentions count per member; unreadCount is derived and markConversationRead clears it", async () => {
    const [owner, m1, m2] = await users(3);
    const group = await createGroup(owner!, { members: names(m1!, m2!) });
    const id = group.id;
    const mention = await say(owner!, id, `hey @${m1!.username}`, { mentions: [m1!.username] });
    assert.deepEqual(
      mention.mentions.map((user: any) => user.username),
      [m1!.username],
    );
    await fails(
      "BAD_USER_INPUT",
      url,
      SEND,
      { ...sayVars(id, "hi"), mentions: [(await signUp(url)).username] },
      owner!.token,
    );

    let c1 = await conversationOf(m1!, id);
    let c2 = await conversationOf(m2!, id);
    assert.deepEqual([c1.unreadCount, c1.mentionCount], [1, 1]);
    assert.deepEqual([c2.unreadCount, c2.mentionCount], [1, 0]);
    const own = await conversationOf(owner!, id);
    assert.deepEqual([own.unreadCount, own.mentionCount], [0, 0], "your own messages are not unread");

    await say(owner!, id, "no mention");
    c1 = await conversationOf(m1!, id);
    assert.deepEqual([c1.unreadCount, c1.mentionCount], [2, 1]);

    const read = (await ok(url, MARK_READ, { id }, m1!.token)).markConversationRead;
    assert.equal(read.unreadCount, 0);
    c1 = await conversationOf(m1!, id);
    assert.deepEqual([c1.unreadCount, c1.mentionCount], [0, 0]);
    c2 = await conversationOf(m2!, id);
    assert.deepEqual([c2.unreadCount, c2.mentionCount], [2, 0], "reading is per member");

    await say(m1!, id, "everyone!", { mentionAll: true });
    c2 = await conversationOf(m2!, id);
    assert.deepEqual([c2.unreadCount, c2.mentionCount], [3, 1]);
    const ownerNow = await conversationOf(owner!, id);
    assert.deepEqual([ownerNow.unreadCount, ownerNow.mentionCount], [1, 1]);
  });

  it("a group message moves its conversation up the list; a deleted group conversation comes back with the next", async () => {
    const [owner, member, friend] = await users(3);
    const first = await createGroup(owner!, { members: names(member!) });
    const second = await createGroup(owner!, { members: names(member!) });
    await sendText(url, friend!.token, member!.username, "direct");
    const list = async () =>
      (
        await ok(url, "{ conversations { edges { node { id peer { username } } } } }", {}, member!.token)
      ).conversations.edges.map((edge: any) => edge.node);
    const order = async () => (await list()).map((node: any) => node.id);
    assert.equal(
      (await list())[0].peer?.username,
      friend!.username,
      "the direct message is the latest activity",
    );
    await say(owner!, first.id, "first moves up");
    assert.deepEqual((await order()).slice(0, 1), [first.id]);
    await say(owner!, second.id, "second moves up");
    assert.deepEqual((await order()).slice(0, 2), [second.id, first.id]);
    const paged = await ok(url, "{ conversations(first: 1) { pageInfo { endCursor } } }", {}, member!.token);
    const next = await ok(
      url,
      "query($a: String) { conversations(first: 1, after: $a) { edges { node { id } } } }",
      { a: paged.conversations.pageInfo.endCursor },
      member!.token,
    );
    assert.equal(next.conversations.edges[0].node.id, first.id, "pages follow the derived order");

    await ok(
      url,
      "mutation($id: ID!) { deleteConversation(conversation: { group: $id }) }",
      { id: second.id },
      member!.token,
    );
    assert.ok(!(await order()).includes(second.id), "deleted: out of the list");
    await say(owner!, second.id, "back again");
    assert.equal((await order())[0], second.id, "the next message brings it back, on top");
    const back = await conversationOf(member!, second.id);
    assert.equal(back.unreadCount, 1, "only the message after the deletion is unread");
  });

  it("targeted messages reach only their targets and the sender", async () => {
    const [owner, m1, m2, m3] = await users(4);
    const group = await createGroup(owner!, { members: names(m1!, m2!, m3!) });
    const id = group.id;
    const s1 = await watch(m1!);
    const s2 = await watch(m2!);
    const ownerOther = await watch(await signIn(url, owner!.username, "ios"));
    const sent = await say(owner!, id, "for m1 only", { targets: [m1!.username] });
    assert.deepEqual(
      sent.targets.map((user: any) => user.username),
      [m1!.username],
    );
    await say(owner!, id, "for everyone");

    const { before } = await readUntil(s1, isText("for everyone"), "m1 gets the public message");
    assert.ok(before.some(isText("for m1 only")), "the target gets the targeted message");
    const at2 = await readUntil(s2, isText("for everyone"), "m2 gets the public message");
    assert.ok(!at2.before.some(isText("for m1 only")), "others do not get it");
    const atSender = await readUntil(ownerOther, isText("for everyone"), "the sender's other device");
    assert.ok(atSender.before.some(isText("for m1 only")), "the sender's devices get the targeted message");

    // A targeted command (live only) reaches its targets and the sender's devices, no one else.
    await ok(
      url,
      SEND,
      { to: { group: id }, body: { command: { action: "for-m1" } }, targets: [m1!.username] },
      owner!.token,
    );
    await say(owner!, id, "after the command");
    const isCommand = (event: any) =>
      event.__typename === "MessageEvent" && event.message.body?.__typename === "CommandBody";
    const commandAt1 = await readUntil(s1, isText("after the command"), "m1 after the command");
    assert.ok(commandAt1.before.some(isCommand), "the target gets the command");
    const commandAt2 = await readUntil(s2, isText("after the command"), "m2 after the command");
    assert.ok(!commandAt2.before.some(isCommand), "others do not get the command");
    const commandAtSender = await readUntil(ownerOther, isText("after the command"), "the sender's device");
    assert.ok(commandAtSender.before.some(isCommand), "the sender's other device gets the command");

    assert.deepEqual(await history(owner!, id), ["for m1 only", "for everyone", "after the command"]);
    assert.deepEqual(await history(m1!, id), ["for m1 only", "for everyone", "after the command"]);
    assert.deepEqual(await history(m2!, id), ["for everyone", "after the command"]);
    assert.deepEqual(await history(m3!, id), ["for everyone", "after the command"]);
    assert.equal((await conversationOf(m2!, id)).unreadCount, 2);
    assert.equal((await conversationOf(m3!, id)).unreadCount, 2);
    await fails("NOT_FOUND", url, `query($id: ID!) { message(id: $id) { id } }`, { id: sent.id }, m2!.token);
  });

  it("a target or mention outside the group is BAD_USER_INPUT, with no unhandled rejection in the server", async () => {
    const [owner, member, outsider] = await users(3);
    const group = await createGroup(owner!, { members: names(member!) });
    const id = group.id;
    // The server runs in this process: a rejection it leaves unhandled shows up here (and kills a
    // real server process, which has no unhandledRejection handler).
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      await fails(
        "BAD_USER_INPUT",
        url,
        SEND,
        { ...sayVars(id, "x"), targets: [outsider!.username] },
        owner!.token,
      );
      await fails(
        "BAD_USER_INPUT",
        url,
        SEND,
        { ...sayVars(id, "x"), mentions: [outsider!.username] },
        owner!.token,
      );
      await fails(
        "BAD_USER_INPUT",
        url,
        SEND,
        { ...sayVars(id, "x"), targets: [outsider!.username], mentions: [member!.username] },
        owner!.token,
      );
      await ok(url, "{ me { id } }", {}, owner!.token);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    assert.deepEqual(unhandled.map(String), []);
    const many = Array.from({ length: 21 }, () => member!.username);
    await fails("LIMIT_EXCEEDED", url, SEND, { ...sayVars(id, "x"), targets: many }, owner!.token);
    assert.deepEqual(await history(owner!, id), []);
  });

  it("read receipts: readCount and readBy grow as members read, for the sender's eyes", async () => {
    const [owner, m1, m2] = await users(3);
    const group = await createGroup(owner!, { members: names(m1!, m2!) });
    const id = group.id;
    const sent = await say(owner!, id, "please confirm", { rr: true });
    assert.equal(sent.requestReadReceipts, true);
    assert.equal(sent.readCount, 0);
    const READS = `query($id: ID!) { message(id: $id) { readCount readBy(first: 10) { edges { node { username } } } } }`;

    await ok(url, MARK_READ, { id }, m1!.token);
    let seen = (await ok(url, READS, { id: sent.id }, owner!.token)).message;
    assert.equal(seen.readCount, 1);
    assert.deepEqual(
      seen.readBy.edges.map((edge: any) => edge.node.username),
      [m1!.username],
    );
    const byOther = (await ok(url, READS, { id: sent.id }, m2!.token)).message;
    assert.equal(byOther.readBy, null, "only the sender sees readBy");

    await ok(url, MARK_READ, { id }, m2!.token);
    seen = (await ok(url, READS, { id: sent.id }, owner!.token)).message;
    assert.equal(seen.readCount, 2);
    assert.deepEqual(seen.readBy.edges.map((edge: any) => edge.node.username).sort(), names(m1!, m2!).sort());

    // Someone who joined after it was sent never had it: their reading does not count.
    const late = await signUp(url);
    await ok(url, onUsers("inviteToGroup"), { id, u: [late.username] }, owner!.token);
    await ok(url, ACCEPT_INVITE, { id }, late.token);
    await ok(url, MARK_READ, { id }, late.token);
    assert.equal((await ok(url, READS, { id: sent.id }, owner!.token)).message.readCount, 2);

    const PAGE = `query($id: ID!, $after: String) {
      message(id: $id) { readBy(first: 1, after: $after) { edges { node { username } } pageInfo { hasNextPage endCursor } } }
    }`;
    const first = (await ok(url, PAGE, { id: sent.id }, owner!.token)).message.readBy;
    assert.equal(first.pageInfo.hasNextPage, true);
    const second = (await ok(url, PAGE, { id: sent.id, after: first.pageInfo.endCursor }, owner!.token))
      .message.readBy;
    assert.equal(second.pageInfo.hasNextPage, false);
    assert.deepEqual(
      [...first.edges, ...second.edges].map((edge: any) => edge.node.username),
      names(m1!, m2!).sort(),
    );
  });

  it("recall by the sender and by the owner; edits reach the members", async () => {
    const [owner, admin, m1, m2] = await users(4);
    const group = await createGroup(owner!, { members: names(admin!, m1!, m2!) });
    const id = group.id;
    await ok(url, onUser("addGroupAdmin"), { id, u: admin!.username }, owner!.token);
    const s2 = await watch(m2!);
    const RECALL = "mutation($id: ID!) { recallMessage(id: $id) { id recalled body { __typename } } }";
    const EDIT = `mutation($id: ID!, $t: String!) { editMessage(id: $id, body: { text: { text: $t } }) { id editCount body { ... on TextBody { text } } } }`;

    const oops = await say(m1!, id, "oops");
    const recalled = (await ok(url, RECALL, { id: oops.id }, m1!.token)).recallMessage;
    assert.equal(recalled.recalled, true);
    assert.equal(recalled.body, null);
    const event = (await readUntil(s2, (e) => e.__typename === "MessageRecalledEvent", "recall event")).event;
    assert.equal(event.messageId, oops.id);
    assert.equal(event.by.username, m1!.username);

    const rude = await say(m1!, id, "rude");
    await fails("FORBIDDEN", url, RECALL, { id: rude.id }, m2!.token);
    assert.equal((await ok(url, RECALL, { id: rude.id }, owner!.token)).recallMessage.recalled, true);
    const byOwner = (await readUntil(s2, (e) => e.__typename === "MessageRecalledEvent", "owner's recall"))
      .event;
    assert.equal(byOwner.by.username, owner!.username);
    const worse = await say(m2!, id, "worse");
    assert.equal((await ok(url, RECALL, { id: worse.id }, admin!.token)).recallMessage.recalled, true);

    const draft = await say(m1!, id, "draft");
    await fails("FORBIDDEN", url, EDIT, { id: draft.id, t: "not yours" }, owner!.token);
    const edited = (await ok(url, EDIT, { id: draft.id, t: "final" }, m1!.token)).editMessage;
    assert.equal(edited.editCount, 1);
    assert.equal(edited.body.text, "final");
    const editEvent = (
      await readUntil(s2, (e) => e.__typename === "MessageEditedEvent", "MessageEditedEvent to a member")
    ).event;
    assert.equal(editEvent.message.id, draft.id);
    assert.equal(editEvent.message.body.text, "final");

    const texts = await history(m2!, id);
    assert.deepEqual(texts, [null, null, null, "final"]);
  });

  it("typing reaches the other members, and outsiders may not send it", async () => {
    const [owner, m1, outsider] = await users(3);
    const group = await createGroup(owner!, { isPublic: true, joinPolicy: "OPEN", members: names(m1!) });
    const id = group.id;
    const ownerStream = await watch(owner!);
    // Typing is live only: first make sure the owner's stream is live and following the group.
    await say(m1!, id, "let me think");
    await readUntil(ownerStream, isText("let me think"), "the owner's stream is live");
    assert.equal((await ok(url, TYPING, { id }, m1!.token)).sendTyping, true);
    const typing = (await readUntil(ownerStream, (e) => e.__typename === "TypingEvent", "TypingEvent")).event;
    assert.equal(typing.user.username, m1!.username);
    assert.equal(typing.conversation?.group?.id, id);
    await fails("NOT_MEMBER", url, TYPING, { id }, outsider!.token);
    // TYPING_RATE_LIMIT (10 in 10 s) counts the notice above.
    for (let i = 1; i < 10; i++) await ok(url, TYPING, { id }, m1!.token);
    await fails("RATE_LIMITED", url, TYPING, { id }, m1!.token);
  });
});

describe("member settings and files", () => {
  it("setGroupMemberAttributes: yourself, or managers for anyone, within the limits", async () => {
    const [owner, admin, m1, m2] = await users(4);
    const group = await createGroup(owner!, { members: names(admin!, m1!, m2!) });
    const id = group.id;
    await ok(url, onUser("addGroupAdmin"), { id, u: admin!.username }, owner!.token);

    const own = (await ok(url, SET_ATTRIBUTES, { id, u: m1!.username, a: { nick: "em-one" } }, m1!.token))
      .setGroupMemberAttributes;
    assert.deepEqual(own.attributes, { nick: "em-one" });
    const byAdmin = (
      await ok(url, SET_ATTRIBUTES, { id, u: m1!.username, a: { title: "scribe" } }, admin!.token)
    ).setGroupMemberAttributes;
    assert.deepEqual(byAdmin.attributes, { nick: "em-one", title: "scribe" });
    await fails("FORBIDDEN", url, SET_ATTRIBUTES, { id, u: m1!.username, a: { nick: "hacked" } }, m2!.token);
    await fails(
      "BAD_USER_INPUT",
      url,
      SET_ATTRIBUTES,
      { id, u: m2!.username, a: { ["k".repeat(17)]: "v" } },
      m2!.token,
    );
    await fails(
      "LIMIT_EXCEEDED",
      url,
      SET_ATTRIBUTES,
      { id, u: m2!.username, a: { bio: "v".repeat(513) } },
      m2!.token,
    );
    await ok(
      url,
      SET_ATTRIBUTES,
      { id, u: m2!.username, a: { ["k".repeat(16)]: "v".repeat(512) } },
      m2!.token,
    );
    const outsider = await signUp(url);
    await fails(
      "NOT_FOUND",
      url,
      SET_ATTRIBUTES,
      { id, u: outsider.username, a: { a: "b" } },
      outsider.token,
    );

    const read = (await ok(url, ATTRIBUTES, { id, u: names(m1!, m2!), k: ["nick"] }, m2!.token))
      .groupMemberAttributes;
    const byUser = Object.fromEntries(read.map((entry: any) => [entry.user.username, entry.attributes]));
    assert.deepEqual(byUser, { [m1!.username]: { nick: "em-one" }, [m2!.username]: {} });
    await ok(url, SET_ATTRIBUTES, { id, u: m1!.username, a: { nick: null } }, m1!.token);
    const remaining = (await ok(url, ATTRIBUTES, { id, u: [m1!.username] }, owner!.token))
      .groupMemberAttributes;
    assert.deepEqual(remaining[0].attributes, { title: "scribe" });
  });

  it("blockGroupMessages stops the group's messages to the caller, who stays a member", async () => {
    const [owner, m1, m2] = await users(3);
    const group = await createGroup(owner!, { members: names(m1!, m2!) });
    const id = group.id;
    const s2 = await watch(m2!);
    assert.equal((await ok(url, BLOCK_MESSAGES, { id, b: true }, m2!.token)).blockGroupMessages, true);
    await say(owner!, id, "while blocked");
    await sendText(url, m1!.token, m2!.username, "direct while blocked");
    const { before } = await readUntil(s2, isText("direct while blocked"), "the direct message");
    assert.ok(!before.some(isText("while blocked")), `no group message: ${JSON.stringify(before)}`);
    assert.equal((await getGroup(m2!, id)).myRole, "MEMBER");

    await ok(url, BLOCK_MESSAGES, { id, b: false }, m2!.token);
    await say(owner!, id, "after unblocking");
    await readUntil(s2, isText("after unblocking"), "group messages flow again");
    assert.equal(
      (await conversationOf(m2!, id)).unreadCount,
      1,
      "what came while blocked is not left unread",
    );
  });

  it("shared files: members upload and list; uploader or managers delete", async () => {
    const [owner, admin, m1, m2, outsider] = await users(5);
    const group = await createGroup(owner!, { members: names(admin!, m1!, m2!) });
    const id = group.id;
    await ok(url, onUser("addGroupAdmin"), { id, u: admin!.username }, owner!.token);
    const doc = await uploaded(url, m1!.token, {
      bytes: Buffer.from("minutes of the meeting"),
      name: "minutes.txt",
      type: "text/plain",
    });
    const shared = (await ok(url, UPLOAD_GROUP_FILE, { id, a: doc.id }, m1!.token)).uploadGroupFile;
    assert.equal(shared.uploader.username, m1!.username);
    assert.equal(shared.attachment.id, doc.id);
    await fails("NOT_FOUND", url, UPLOAD_GROUP_FILE, { id, a: doc.id }, m2!.token);
    const theirs = await uploaded(url, outsider!.token, {
      bytes: Buffer.from("spam"),
      name: "spam.txt",
      type: "text/plain",
    });
    const refused = await gql(url, UPLOAD_GROUP_FILE, { id, a: theirs.id }, outsider!.token);
    assert.ok(
      ["NOT_FOUND", "NOT_MEMBER"].includes(String(refused.errors?.[0]?.extensions?.code)),
      JSON.stringify(refused),
    );

    const listed = (await ok(url, FILES, { id }, m2!.token)).groupFiles.edges;
    assert.deepEqual(
      listed.map((edge: any) => [edge.node.id, edge.node.attachment.name]),
      [[shared.id, "minutes.txt"]],
    );
    const download = await fetch(new URL(listed[0].node.url, url));
    assert.equal(download.status, 200);
    assert.equal(await download.text(), "minutes of the meeting");
    await fails("NOT_FOUND", url, FILES, { id }, outsider!.token);
    // A link stops working for a member who is removed.
    const m2Link = listed[0].node.url;
    await ok(url, onUsers("removeGroupMembers"), { id, u: [m2!.username] }, owner!.token);
    assert.equal((await fetch(new URL(m2Link, url))).status, 403);
    await ok(url, onUsers("inviteToGroup"), { id, u: [m2!.username] }, owner!.token);
    await ok(url, ACCEPT_INVITE, { id }, m2!.token);
    assert.equal((await fetch(new URL(m2Link, url))).status, 200, "and works again for a member");

    await fails("FORBIDDEN", url, DELETE_GROUP_FILE, { id, f: shared.id }, m2!.token);
    assert.equal(
      (await ok(url, DELETE_GROUP_FILE, { id, f: shared.id }, admin!.token)).deleteGroupFile,
      true,
    );
    assert.deepEqual((await ok(url, FILES, { id }, m1!.token)).groupFiles.edges, []);

    const mine = await uploaded(url, m2!.token, {
      bytes: Buffer.from("my notes"),
      name: "notes.txt",
      type: "text/plain",
    });
    const mineShared = (await ok(url, UPLOAD_GROUP_FILE, { id, a: mine.id }, m2!.token)).uploadGroupFile;
    assert.equal(
      (await ok(url, DELETE_GROUP_FILE, { id, f: mineShared.id }, m2!.token)).deleteGroupFile,
      true,
    );
    await fails("NOT_FOUND", url, DELETE_GROUP_FILE, { id, f: mineShared.id }, owner!.token);
  });
});

describe("destroying a group", () => {
  it("a deleted account leaves its groups, and the groups it owned are destroyed", async () => {
    const [owner, member, other] = await users(3);
    const owned = await createGroup(owner!, { members: names(member!, other!) });
    const joined = await createGroup(other!, { members: names(owner!, member!) });
    const stream = await watch(member!);
    const admin = await adminToken(url);
    await ok(url, "mutation($u: String!) { adminDeleteUser(username: $u) }", { u: owner!.username }, admin);
    // Two groups, two conversations: the events' order between them is not defined.
    const heard = new Set<string>();
    const isWanted = (event: any) =>
      event.__typename === "GroupEvent" && ["GROUP_DESTROYED", "MEMBER_LEFT"].includes(event.kind);
    while (heard.size < 2)
      heard.add((await readUntil(stream, isWanted, "the deleted owner's group events")).event.kind);
    assert.deepEqual([...heard].sort(), ["GROUP_DESTROYED", "MEMBER_LEFT"]);
    await fails("NOT_FOUND", url, GET, { id: owned.id }, member!.token);
    const left = (await ok(url, GET, { id: joined.id }, member!.token)).group;
    assert.equal(left.memberCount, 2, "the deleted owner of the first group is no longer in the second");
    const members = await ok(url, MEMBERS, { id: joined.id }, member!.token);
    assert.ok(!JSON.stringify(members).includes(owner!.userId));
  });

  it("only the owner destroys; members get GROUP_DESTROYED; the group is gone", async () => {
    const [owner, admin, m1] = await users(3);
    const group = await createGroup(owner!, {
      isPublic: true,
      joinPolicy: "OPEN",
      members: names(admin!, m1!),
    });
    const id = group.id;
    await ok(url, onUser("addGroupAdmin"), { id, u: admin!.username }, owner!.token);
    await say(m1!, id, "last words");
    const s1 = await watch(m1!);
    await fails("FORBIDDEN", url, DESTROY, { id }, admin!.token);
    await fails("FORBIDDEN", url, DESTROY, { id }, m1!.token);

    assert.equal((await ok(url, DESTROY, { id }, owner!.token)).destroyGroup, true);
    const destroyed = await groupEvent(s1, "GROUP_DESTROYED");
    assert.equal(destroyed.actor.username, owner!.username);
    if (destroyed.group) assert.equal(destroyed.group.id, id);

    await fails("NOT_FOUND", url, GET, { id }, owner!.token);
    await fails("NOT_FOUND", url, GET, { id }, m1!.token);
    await fails("NOT_FOUND", url, SEND, sayVars(id, "anyone?"), m1!.token);
    await fails("NOT_FOUND", url, SEND, sayVars(id, "anyone?"), owner!.token);
    await fails("NOT_FOUND", url, JOIN, { id }, (await signUp(url)).token);
    await fails("NOT_FOUND", url, DESTROY, { id }, owner!.token);
    assert.equal((await ok(url, "{ joinedGroupsCount }", {}, m1!.token)).joinedGroupsCount, 0);
    assert.equal(await conversationOf(m1!, id), undefined, "the conversation ends");
    const search = await ok(
      url,
      "query($s: String) { publicGroups(search: $s) { edges { node { id } } } }",
      {
        s: group.name,
      },
      m1!.token,
    );
    assert.deepEqual(search.publicGroups.edges, []);
  });
});

describe("a server with strict settings", () => {
  let strict: TestServer;
  before(async () => {
    strict = await startApp({ RECALL_WINDOW_SECONDS: "0", GROUP_READ_RECEIPT_MAX_MEMBERS: "2" });
  });
  after(() => strict.stop());

  it("the sender is too late, the owner and admins recall at any time", async () => {
    const signUpThere = () => signUp(strict.url);
    const [owner, admin, member] = await Promise.all([signUpThere(), signUpThere(), signUpThere()]);
    const created = await ok(
      strict.url,
      CREATE,
      { name: "strict", members: names(admin, member) },
      owner.token,
    );
    const id = created.createGroup.id;
    await ok(strict.url, onUser("addGroupAdmin"), { id, u: admin.username }, owner.token);
    const RECALL = "mutation($id: ID!) { recallMessage(id: $id) { id recalled } }";
    const send = async (text: string) =>
      (await ok(strict.url, SEND, sayVars(id, text), member.token)).sendMessage.id as string;
    const first = await send("one");
    await fails("RECALL_WINDOW_EXPIRED", strict.url, RECALL, { id: first }, member.token);
    assert.equal((await ok(strict.url, RECALL, { id: first }, owner.token)).recallMessage.recalled, true);
    const second = await send("two");
    assert.equal((await ok(strict.url, RECALL, { id: second }, admin.token)).recallMessage.recalled, true);
  });

  it("read receipts are for groups up to GROUP_READ_RECEIPT_MAX_MEMBERS", async () => {
    const [owner, member, third] = [
      await signUp(strict.url),
      await signUp(strict.url),
      await signUp(strict.url),
    ];
    const id = (await ok(strict.url, CREATE, { name: "pair", members: names(member) }, owner.token))
      .createGroup.id;
    const asking = { ...sayVars(id, "seen?"), rr: true };
    assert.equal((await ok(strict.url, SEND, asking, owner.token)).sendMessage.requestReadReceipts, true);
    await ok(strict.url, onUsers("inviteToGroup"), { id, u: [third.username] }, owner.token);
    await ok(strict.url, ACCEPT_INVITE, { id }, third.token);
    await fails("LIMIT_EXCEEDED", strict.url, SEND, asking, owner.token);
  });
});
