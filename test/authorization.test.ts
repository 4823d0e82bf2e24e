import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isNonNullType } from "graphql";
import { schema } from "../src/schema/index.js";
import { startApp, type TestServer } from "./helpers/app.js";
import { type GraphQLResponse, gql, ok, upload } from "./helpers/client.js";
import { type SignedIn, signUp } from "./helpers/factories.js";
import { OWNED_WORLD_ENV, type OwnedWorld, ownedWorld } from "./helpers/owned.js";
import { document, plausibleValue, rootFields } from "./helpers/schema-cases.js";

// The authorization matrix: every path by which a stranger could reach another user's data, each
// asked by the owner (who must see it, so the row can fail) and by the stranger (who must be refused
// or get an answer without it). Then, generated: admin fields refuse users, user fields refuse
// anonymous callers. A new root field must be added to ROWS or to NO_OTHER_USERS_DATA.

let server: TestServer;
let url: string;
let world: OwnedWorld;
let stranger: SignedIn;
let strangersGroupId: string;

const REACTION = "👍";

before(async () => {
  server = await startApp(OWNED_WORLD_ENV);
  url = server.url;
  world = await ownedWorld(url);
  stranger = await signUp(url);
  const reaction = "mutation($m: ID!, $r: String!) { addReaction(messageId: $m, reaction: $r) { id } }";
  await ok(url, reaction, { m: world.directMessageId, r: REACTION }, world.friend.token);
  await ok(
    url,
    'mutation($u: String!) { sendContactRequest(username: $u, message: "private note") { status } }',
    { u: world.friend.username },
    world.owner.token,
  );
  strangersGroupId = (await ok(url, 'mutation { createGroup(name: "strangers") { id } }', {}, stranger.token))
    .createGroup.id;
});
after(() => server.stop());

/** Refusals that keep the data back. */
const REFUSED = new Set(["NOT_FOUND", "FORBIDDEN", "NOT_MEMBER", "BAD_USER_INPUT"]);

interface Row {
  /** The root field the path starts at. */
  field: string;
  /** What the path reaches, for the test's name. */
  what: string;
  query: string;
  /** The arguments; `asStranger` for paths where the stranger brings their own object (a group). */
  variables: (w: OwnedWorld, asStranger: boolean) => Record<string, unknown>;
  /** Text that is in the owner's answer and must never be in the stranger's. */
  secret: (w: OwnedWorld) => string;
  /** Who sees it rightfully; the owner unless said. */
  rightful?: "owner" | "friend";
}

const TEXT = "body { ... on TextBody { text } }";
const row = (
  field: string,
  what: string,
  query: string,
  variables: Row["variables"],
  secret: Row["secret"],
  rightful?: Row["rightful"],
): Row => ({ field, what, query, variables, secret, rightful });

const ROWS: Row[] = [
  row(
    "message",
    "a direct message",
    `query($id: ID!) { message(id: $id) { ${TEXT} } }`,
    (w) => ({ id: w.directMessageId }),
    () => "a direct secret",
  ),
  row(
    "message",
    "a message in a group they are alone in",
    `query($id: ID!) { message(id: $id) { ${TEXT} } }`,
    (w) => ({ id: w.aloneGroupMessageId }),
    () => "a note to self",
  ),
  row(
    "message",
    "a group message",
    `query($id: ID!) { message(id: $id) { ${TEXT} } }`,
    (w) => ({ id: w.sharedGroupMessageId }),
    () => "a group secret",
  ),
  row(
    "message",
    "a thread message",
    `query($id: ID!) { message(id: $id) { ${TEXT} } }`,
    (w) => ({ id: w.threadMessageId }),
    () => "a thread secret",
  ),
  row(
    "message",
    "a room message",
    `query($id: ID!) { message(id: $id) { ${TEXT} } }`,
    (w) => ({ id: w.roomMessageId }),
    () => "a room secret",
  ),
  row(
    "messages",
    "direct history",
    `query($u: String!) { messages(conversation: { user: $u }) { edges { node { ${TEXT} } } } }`,
    (w) => ({ u: w.owner.username }),
    () => "a direct secret",
    "friend",
  ),
  row(
    "messages",
    "a private group's history",
    `query($g: ID!) { messages(conversation: { group: $g }) { edges { node { ${TEXT} } } } }`,
    (w) => ({ g: w.aloneGroupId }),
    () => "a note to self",
  ),
  row(
    "messages",
    "a thread's history",
    `query($t: ID!) { messages(conversation: { thread: $t }) { edges { node { ${TEXT} } } } }`,
    (w) => ({ t: w.threadId }),
    () => "a thread secret",
  ),
  row(
    "messages",
    "a room's history",
    `query($r: ID!) { messages(conversation: { room: $r }) { edges { node { ${TEXT} } } } }`,
    (w) => ({ r: w.roomId }),
    () => "a room secret",
  ),
  row(
    "searchMessages",
    "message search",
    `{ searchMessages(query: "secret") { edges { node { ${TEXT} } } } }`,
    () => ({}),
    () => "a direct secret",
  ),
  row(
    "searchMessages",
    "message search in a group",
    `query($g: ID!) { searchMessages(query: "secret", conversation: { group: $g }) { edges { node { ${TEXT} } } } }`,
    (w) => ({ g: w.sharedGroupId }),
    () => "a group secret",
  ),
  row(
    "conversations",
    "conversations",
    "{ conversations { edges { node { id lastMessage { id } } } } }",
    () => ({}),
    (w) => w.directConversationId,
  ),
  row(
    "sync",
    "the event stream",
    "{ sync { events { event { __typename ... on MessageEvent { message { body { ... on TextBody { text } } } } } } } }",
    () => ({}),
    () => "a direct secret",
  ),
  row(
    "group",
    "a private group",
    "query($g: ID!) { group(id: $g) { id name } }",
    (w) => ({ g: w.aloneGroupId }),
    () => "alone",
  ),
  row(
    "groupMembers",
    "a private group's members",
    "query($g: ID!) { groupMembers(id: $g) { edges { node { user { username } } } } }",
    (w) => ({ g: w.sharedGroupId }),
    (w) => w.friend.username,
  ),
  row(
    "threads",
    "a private group's threads",
    "query($g: ID!) { threads(groupId: $g) { edges { node { name } } } }",
    (w) => ({ g: w.sharedGroupId }),
    () => "secret topic",
  ),
  row(
    "thread",
    "a thread",
    "query($t: ID!) { thread(id: $t) { name } }",
    (w) => ({ t: w.threadId }),
    () => "secret topic",
  ),
  row(
    "threadMembers",
    "a thread's members",
    "query($t: ID!) { threadMembers(id: $t) { edges { node { user { username } } } } }",
    (w) => ({ t: w.threadId }),
    (w) => w.owner.username,
  ),
  row(
    "reactionUsers",
    "who reacted to a direct message",
    "query($m: ID!, $r: String!) { reactionUsers(messageId: $m, reaction: $r) { edges { node { username } } } }",
    (w) => ({ m: w.directMessageId, r: REACTION }),
    (w) => w.friend.username,
  ),
  row(
    "myDevices",
    "devices",
    "{ myDevices { id } }",
    () => ({}),
    (w) => w.owner.deviceId,
  ),
  row(
    "pushTokens",
    "push tokens",
    "{ pushTokens { token } }",
    () => ({}),
    (w) => w.pushToken,
  ),
  row(
    "contactRequests",
    "contact requests and their notes",
    "{ contactRequests { edges { node { message } } } }",
    () => ({}),
    () => "private note",
  ),
  row(
    "addReaction",
    "a direct message, by reacting to it",
    `mutation($m: ID!) { addReaction(messageId: $m, reaction: "👀") { ${TEXT} } }`,
    (w) => ({ m: w.directMessageId }),
    () => "a direct secret",
  ),
  row(
    "createThread",
    "a group message, by starting a thread on it",
    `mutation($m: ID!) { createThread(parentMessageId: $m, name: "mine") { parentMessage { ${TEXT} } } }`,
    (w) => ({ m: w.aloneGroupMessageId }),
    () => "a note to self",
  ),
  row(
    "joinThread",
    "a private group's thread, by joining it",
    "mutation($t: ID!) { joinThread(id: $t) { name } }",
    (w) => ({ t: w.threadId }),
    () => "secret topic",
    "friend",
  ),
  row(
    "markConversationRead",
    "a private group's conversation",
    `mutation($g: ID!) { markConversationRead(conversation: { group: $g }) { lastMessage { ${TEXT} } } }`,
    (w) => ({ g: w.sharedGroupId }),
    () => "a group secret",
  ),
  row(
    "sendMessage",
    "another user's attachment, by sending it",
    `mutation($a: ID!, $u: String!) { sendMessage(to: { user: $u }, body: { file: { attachmentId: $a } }) { body { ... on FileBody { url attachment { name } } } } }`,
    (w) => ({ a: w.attachmentId, u: w.friend.username }),
    () => "secret.txt",
  ),
  row(
    "uploadGroupFile",
    "another user's attachment, by filing it in a group",
    "mutation($a: ID!, $g: ID!) { uploadGroupFile(attachmentId: $a, id: $g) { attachment { name } } }",
    (w, asStranger) => ({ a: w.attachmentId, g: asStranger ? strangersGroupId : w.sharedGroupId }),
    () => "secret.txt",
  ),
  // Last: it changes the message other rows read.
  row(
    "editMessage",
    "a message, by editing it",
    `mutation($m: ID!) { editMessage(id: $m, body: { text: { text: "edited secret" } }) { ${TEXT} } }`,
    (w) => ({ m: w.aloneGroupMessageId }),
    () => "edited secret",
  ),
];

/**
 * Root fields that cannot return another user's private data: the caller's own settings and
 * lists, public profiles and public directories, and actions that answer with the caller's own
 * object or a Boolean. Admin fields are covered below, generated.
 */
const NO_OTHER_USERS_DATA = new Set([
  // the caller's own
  "me",
  "blockedUsers",
  "contacts",
  "eventCursor",
  "joinedGroupsCount",
  "myGroupInvites",
  "myGroups",
  "myRooms",
  "myThreads",
  "presenceSubscriptions",
  "pushConfig",
  "pushSettings",
  "totalUnread",
  // public by design: profiles (no email or phone), public groups, rooms anyone may join, presence
  // (what a user publishes to everyone)
  "user",
  "users",
  "publicGroups",
  "rooms",
  "room",
  "roomMembers",
  "roomAttributes",
  "presence",
  // a group's manager-only lists; a stranger is refused like any non-manager (group-permissions.test.ts)
  "groupBlockList",
  "groupFiles",
  "groupJoinRequests",
  "groupMemberAttributes",
  "roomBlockList",
  // signing in and the caller's own account
  "register",
  "login",
  "logout",
  "logoutDevice",
  "changePassword",
  "updateProfile",
  "publishPresence",
  "registerPushToken",
  "unregisterPushToken",
  "setPushSettings",
  "subscribePresence",
  "unsubscribePresence",
  "uploadFile",
  // contacts and blocks: answer with the caller's own relation
  "sendContactRequest",
  "acceptContactRequest",
  "declineContactRequest",
  "removeContact",
  "setContactRemark",
  "blockUser",
  "unblockUser",
  // acts on messages and conversations, answering with a Boolean or the caller's own conversation
  "recallMessage",
  "removeReaction",
  "deleteMessages",
  "markDelivered",
  "sendTyping",
  "clearConversationHistory",
  "deleteConversation",
  "markConversation",
  "muteConversation",
  "pinConversation",
  // groups: changes by managers (group-permissions.test.ts); answers are the caller's group
  "createGroup",
  "joinGroup",
  "updateGroup",
  "destroyGroup",
  "leaveGroup",
  "inviteToGroup",
  "acceptGroupInvite",
  "declineGroupInvite",
  "approveJoinRequest",
  "declineJoinRequest",
  "addGroupAdmin",
  "removeGroupAdmin",
  "removeGroupMembers",
  "transferGroupOwnership",
  "muteGroupMembers",
  "unmuteGroupMembers",
  "muteAllGroupMembers",
  "blockGroupMembers",
  "unblockGroupMembers",
  "blockGroupMessages",
  "addToGroupAllowList",
  "removeFromGroupAllowList",
  "setGroupAnnouncement",
  "setGroupMemberAttributes",
  "deleteGroupFile",
  // threads and rooms: changes by their managers (threads.test.ts, room-permissions.test.ts)
  "updateThreadName",
  "destroyThread",
  "leaveThread",
  "removeThreadMember",
  "createRoom",
  "updateRoom",
  "destroyRoom",
  "joinRoom",
  "leaveRoom",
  "addRoomAdmin",
  "removeRoomAdmin",
  "transferRoomOwnership",
  "removeRoomMembers",
  "muteRoomMembers",
  "unmuteRoomMembers",
  "muteAllRoomMembers",
  "blockRoomMembers",
  "unblockRoomMembers",
  "addToRoomAllowList",
  "removeFromRoomAllowList",
  "setRoomAnnouncement",
  "setRoomAttributes",
  "removeRoomAttributes",
]);

/**
 * Fields that can reach another user's data but that this matrix cannot show being read rightfully:
 * translateMessage needs a translation provider (TRANSLATE_URL); without one it refuses everyone
 * before it reads the message.
 */
const NOT_COVERED_HERE = new Set(["translateMessage"]);

/** Fields anyone may call without signing in. */
const OPEN_TO_ANYONE = new Set(["register", "login", "adminToken", "pushConfig"]);

const fields = rootFields(schema);
const isAdminField = (name: string) => name.startsWith("admin") && name !== "adminToken";
const codeOf = (result: GraphQLResponse) => result.errors?.[0]?.extensions?.code;

describe("authorization matrix", () => {
  it("covers every root field: in the matrix, an admin field, or listed as returning no other user's data", () => {
    const inMatrix = new Set(ROWS.map((r) => r.field));
    const unaccounted = fields
      .map(({ field }) => field.name)
      .filter(
        (name) =>
          !inMatrix.has(name) &&
          !isAdminField(name) &&
          !NO_OTHER_USERS_DATA.has(name) &&
          !NOT_COVERED_HERE.has(name) &&
          name !== "adminToken",
      );
    assert.deepEqual(
      unaccounted,
      [],
      "add these to ROWS or NO_OTHER_USERS_DATA in test/authorization.test.ts",
    );
  });

  for (const r of ROWS) {
    it(`${r.field}: a stranger cannot reach ${r.what}; its rightful reader can`, async () => {
      const rightful = r.rightful === "friend" ? world.friend : world.owner;
      const stranger_ = await gql(url, r.query, r.variables(world, true), stranger.token);
      const secret = r.secret(world);
      const code = codeOf(stranger_);
      if (code !== undefined)
        assert.ok(REFUSED.has(String(code)), `refused with ${code}: ${JSON.stringify(stranger_.errors)}`);
      assert.ok(!JSON.stringify(stranger_).includes(secret), `the stranger got ${JSON.stringify(stranger_)}`);
      const owner = await gql(url, r.query, r.variables(world, false), rightful.token);
      assert.ok(
        JSON.stringify(owner.data ?? null).includes(secret),
        `the rightful reader got ${JSON.stringify(owner)}`,
      );
    });
  }

  it("refuses every admin field to a user token with FORBIDDEN", async () => {
    const wrong: string[] = [];
    for (const { operation, field } of fields.filter(({ field }) => isAdminField(field.name))) {
      const variables = plausibleArgs(field);
      const result = await gql(url, document(operation, field, 1), variables, stranger.token);
      if (codeOf(result) !== "FORBIDDEN")
        wrong.push(`${field.name}: ${JSON.stringify(result).slice(0, 200)}`);
    }
    assert.deepEqual(wrong, []);
  });

  it("refuses every field that needs a user to an anonymous caller with UNAUTHENTICATED", async () => {
    const wrong: string[] = [];
    // A file argument is checked while the request is read, before sign-in: the multipart case below.
    const takesFile = (field: (typeof fields)[number]["field"]) =>
      field.args.some((arg) => String(arg.type).startsWith("File"));
    for (const { operation, field } of fields.filter(
      ({ field }) => !OPEN_TO_ANYONE.has(field.name) && !takesFile(field),
    )) {
      const result = await gql(url, document(operation, field, 1), plausibleArgs(field));
      if (codeOf(result) !== "UNAUTHENTICATED")
        wrong.push(`${field.name}: ${JSON.stringify(result).slice(0, 200)}`);
    }
    assert.deepEqual(wrong, []);
    const file = { bytes: Buffer.from("x"), name: "x.txt", type: "text/plain" };
    assert.equal(codeOf(await upload(url, undefined, file)), "UNAUTHENTICATED");
  });
});

function plausibleArgs(field: (typeof fields)[number]["field"]): Record<string, unknown> {
  const stand = {
    username: world.owner.username,
    id: world.aloneGroupId,
    messageId: world.directMessageId,
    deviceId: world.owner.deviceId,
    attachmentId: world.attachmentId,
  };
  return Object.fromEntries(
    field.args
      .filter((arg) => isNonNullType(arg.type))
      .map((arg) => [arg.name, plausibleValue(arg.type, arg.name, stand)]),
  );
}
