import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isObjectType } from "graphql";
import { SAME_FOR_EVERY_VIEWER } from "../src/delivery/shared-render.js";
import { schema } from "../src/schema/index.js";
import { ok, subscribe, uploaded } from "./helpers/client.js";
import { adminToken, type SignedIn, signUp } from "./helpers/factories.js";
import { cursorOf, sendText, userPosition } from "./helpers/messaging.js";
import { connect, url, useTestServer } from "./helpers/test-server.js";

// A group message is rendered once per distinct selection on an instance and handed to every
// member's stream (delivery/shared-render.ts). What each member sees must still be their own: their
// cursor, their download links, their conversation.

useTestServer();

const SHARED_STREAM = `subscription($since: String, $withBody: Boolean!) {
  events(since: $since) {
    cursor
    at: createdAt
    event {
      __typename
      ... on MessageEvent {
        message { id from { username nickname } to { ... on Group { id name } } body @include(if: $withBody) { ... on TextBody { text } } }
      }
    }
  }
}`;

const PERSONAL_STREAM = `subscription($since: String) {
  events(since: $since) {
    cursor
    event {
      ... on MessageEvent {
        message { id body { ... on ImageBody { url } } conversation { unreadCount } }
      }
    }
  }
}`;

async function groupOf(owner: SignedIn, members: SignedIn[]): Promise<string> {
  const data = await ok(
    url,
    'mutation($m: [String!]) { createGroup(name: "shared", members: $m) { id } }',
    { m: members.map((member) => member.username) },
    owner.token,
  );
  return data.createGroup.id;
}

async function stream(user: SignedIn, query: string, variables: Record<string, unknown> = {}) {
  const socket = connect(user.token);
  await socket.connected;
  return subscribe(socket, query, { since: await cursorOf(url, user.token), ...variables });
}

async function next(events: ReturnType<typeof subscribe<Record<string, any>>>) {
  const result = await events.next();
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data!.events;
}

const sendToGroup = (sender: SignedIn, group: string, body: Record<string, unknown>) =>
  ok(
    url,
    "mutation($g: ID!, $b: MessageBodyInput!) { sendMessage(to: { group: $g }, body: $b) { id } }",
    {
      g: group,
      b: body,
    },
    sender.token,
  );

describe("one rendering of a group message for every member", () => {
  it("gives each member their own cursor, and renders by each one's variables", async () => {
    const [owner, a, b] = [await signUp(url), await signUp(url), await signUp(url)];
    const group = await groupOf(owner, [a, b]);
    // a's own stream is ahead of b's, so their cursors differ.
    await sendText(url, owner.token, a.username, "direct, before");
    const [aEvents, bEvents] = [
      await stream(a, SHARED_STREAM, { withBody: true }),
      await stream(b, SHARED_STREAM, { withBody: false }),
    ];
    const sent = (await sendToGroup(owner, group, { text: { text: "to all" } })).sendMessage;

    const [atA, atB] = [await next(aEvents), await next(bEvents)];
    assert.equal(atA.event.message.id, sent.id);
    assert.equal(atB.event.message.id, sent.id);
    assert.deepEqual(atA.event.message.from, { username: owner.username, nickname: owner.username });
    assert.equal(atA.event.message.to.id, group);
    assert.equal(atA.at, atB.at);
    assert.deepEqual(atA.event.message.body, { text: "to all" });
    assert.equal("body" in atB.event.message, false, "b's variables leave the body out");

    assert.notEqual(atA.cursor, atB.cursor);
    assert.equal(userPosition(atA.cursor), userPosition(await cursorOf(url, a.token)));
    assert.equal(userPosition(atB.cursor), userPosition(await cursorOf(url, b.token)));
    // Each cursor resumes its own member's stream right after the message.
    for (const [member, cursor] of [
      [a, atA.cursor],
      [b, atB.cursor],
    ] as const) {
      const page = await ok(
        url,
        "query($s: String) { sync(since: $s) { events { cursor } } }",
        { s: cursor },
        member.token,
      );
      assert.deepEqual(page.sync.events, [], `${member.username} has nothing after the cursor it got`);
    }
  });

  it("renders what depends on the viewer for each member: download links and their conversation", async () => {
    const [owner, a, b] = [await signUp(url), await signUp(url), await signUp(url)];
    const group = await groupOf(owner, [a, b]);
    await sendToGroup(owner, group, { text: { text: "read by a only" } });
    await ok(
      url,
      "mutation($g: ID!) { markConversationRead(conversation: { group: $g }) { id } }",
      { g: group },
      a.token,
    );
    const [aEvents, bEvents] = [await stream(a, PERSONAL_STREAM), await stream(b, PERSONAL_STREAM)];
    const picture = await uploaded(url, owner.token, {
      bytes: Buffer.from("a picture"),
      name: "p.png",
      type: "image/png",
    });
    await sendToGroup(owner, group, { image: { attachmentId: picture.id } });

    const [atA, atB] = [await next(aEvents), await next(bEvents)];
    assert.equal(atA.event.message.conversation.unreadCount, 1);
    assert.equal(atB.event.message.conversation.unreadCount, 2);
    const [linkA, linkB] = [atA.event.message.body.url, atB.event.message.body.url];
    assert.equal(new URL(linkA, url).searchParams.get("user"), a.userId);
    assert.equal(new URL(linkB, url).searchParams.get("user"), b.userId);
    for (const link of [linkA, linkB]) {
      const download = await fetch(new URL(link, url));
      assert.equal(download.status, 200);
      assert.equal(await download.text(), "a picture");
    }
  });
});

describe("a shared selection's stream", () => {
  it("delivers a burst to every member in order, once, and stops at a member's removal", async () => {
    const [owner, a, b] = [await signUp(url), await signUp(url), await signUp(url)];
    const group = await groupOf(owner, [a, b]);
    const [aEvents, bEvents] = [
      await stream(a, SHARED_STREAM, { withBody: true }),
      await stream(b, SHARED_STREAM, { withBody: true }),
    ];
    const texts = Array.from({ length: 30 }, (_, i) => `burst ${i}`);
    await Promise.all(texts.map((text) => sendToGroup(owner, group, { text: { text } })));
    await ok(
      url,
      "mutation($g: ID!, $u: [String!]!) { removeGroupMembers(id: $g, usernames: $u) }",
      { g: group, u: [b.username] },
      owner.token,
    );
    await sendToGroup(owner, group, { text: { text: "after b left" } });

    const heard = async (events: ReturnType<typeof subscribe<Record<string, any>>>, count: number) => {
      const got: string[] = [];
      while (got.length < count) {
        const envelope = await next(events);
        if (envelope.event.__typename === "MessageEvent") got.push(envelope.event.message.body.text);
      }
      return got;
    };
    const atA = await heard(aEvents, 31);
    const atB = await heard(bEvents, 30);
    // Sends racing each other are stored in some order; every member sees that same order.
    assert.deepEqual([...atA.slice(0, 30)].sort(), [...texts].sort());
    assert.deepEqual(atB, atA.slice(0, 30));
    assert.equal(atA[30], "after b left");
    // b reads its removal, then nothing more of the group.
    const removal = await next(bEvents);
    assert.equal(removal.event.__typename, "GroupEvent");
    await assert.rejects(bEvents.next(500), /no subscription result/);
  });

  it("refuses a cursor that is not one, with the API's code", async () => {
    const a = await signUp(url);
    const socket = connect(a.token);
    await socket.connected;
    const events = subscribe(socket, SHARED_STREAM, { since: "not-a-cursor", withBody: true });
    const result = await events.next();
    assert.equal(result.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(result));
  });
});

describe("room traffic on a shared selection", () => {
  it("goes straight to each connection with that operation's id, the same payload for all, and in order", async () => {
    const [owner, a, b, c] = [await signUp(url), await signUp(url), await signUp(url), await signUp(url)];
    const app = await adminToken(url);
    const room = (
      await ok(
        url,
        'mutation($o: String) { createRoom(name: "shared", owner: $o) { id } }',
        { o: owner.username },
        app,
      )
    ).createRoom.id;
    for (const member of [a, b, c])
      await ok(url, "mutation($r: ID!) { joinRoom(id: $r) { id } }", { r: room }, member.token);
    // a and b select the same, shared fields (one rendering, framed per connection); c also asks
    // for its own conversation, which takes the ordinary path.
    const shared = `subscription {
      events { cursor event { __typename ... on MessageEvent { message { id from { username } body { ... on TextBody { text } } } } } }
    }`;
    const personal = `subscription {
      events { cursor event { __typename ... on MessageEvent { message { id body { ... on TextBody { text } } conversation { room { id } } } } } }
    }`;
    const streams = [];
    for (const [member, query] of [
      [a, shared],
      [b, shared],
      [c, personal],
    ] as const) {
      const socket = connect(member.token);
      await socket.connected;
      streams.push(subscribe(socket, query, {}));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const texts = ["one", "two", "three", "four", "five"];
    for (const text of texts) {
      await ok(
        url,
        "mutation($r: ID!, $t: String!) { sendMessage(to: { room: $r }, body: { text: { text: $t } }) { id } }",
        { r: room, t: text },
        owner.token,
      );
    }
    for (const [i, events] of streams.entries()) {
      const got = [];
      for (const _ of texts) got.push(await next(events));
      assert.deepEqual(
        got.map((envelope) => envelope.event.message.body.text),
        texts,
      );
      assert.ok(got.every((envelope) => envelope.cursor === null));
      if (i < 2) assert.deepEqual(got[0].event.message.from, { username: owner.username });
      else assert.equal(got[0].event.message.conversation.room.id, room);
    }
  });
});

describe("the schema's shared fields", () => {
  // A field marked here is rendered once for every reader of an event. Adding one, or a field to a
  // type marked as a whole, is a decision about what one member may see of another's rendering.
  it("are exactly these", () => {
    const shared: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith("__") || !isObjectType(type)) continue;
      for (const field of Object.values(type.getFields())) {
        const marked =
          (field.extensions as Record<string, unknown>)[SAME_FOR_EVERY_VIEWER] ??
          type.extensions[SAME_FOR_EVERY_VIEWER];
        if (marked === true) shared.push(`${type.name}.${field.name}`);
      }
    }
    assert.deepEqual(shared.sort(), [
      "Attachment.createdAt",
      "Attachment.id",
      "Attachment.mimeType",
      "Attachment.name",
      "Attachment.sha256",
      "Attachment.size",
      "CombinedBody.messageIds",
      "CombinedBody.summary",
      "CombinedBody.title",
      "CommandBody.action",
      "CommandBody.params",
      "CustomBody.event",
      "CustomBody.fields",
      "EventEnvelope.createdAt",
      "EventEnvelope.event",
      "FileBody.attachment",
      "FileBody.attachmentId",
      "Group.allMuted",
      "Group.allowMemberInvites",
      "Group.announcement",
      "Group.createdAt",
      "Group.description",
      "Group.destroyed",
      "Group.ext",
      "Group.id",
      "Group.isPublic",
      "Group.joinPolicy",
      "Group.maxMembers",
      "Group.memberCount",
      "Group.name",
      "Group.owner",
      "Group.updatedAt",
      "GroupEvent.actor",
      "GroupEvent.group",
      "GroupEvent.kind",
      "GroupEvent.users",
      "ImageBody.attachment",
      "ImageBody.attachmentId",
      "ImageBody.height",
      "ImageBody.width",
      "LocationBody.address",
      "LocationBody.latitude",
      "LocationBody.longitude",
      "Message.body",
      "Message.chatType",
      "Message.clientMessageId",
      "Message.createdAt",
      "Message.deliveredAt",
      "Message.editCount",
      "Message.editedAt",
      "Message.ext",
      "Message.from",
      "Message.id",
      "Message.mentionAll",
      "Message.mentions",
      "Message.readAt",
      "Message.readCount",
      "Message.recalled",
      "Message.recalledAt",
      "Message.requestReadReceipts",
      "Message.status",
      "Message.targets",
      "Message.thread",
      "Message.to",
      "Message.type",
      "MessageEditedEvent.message",
      "MessageEvent.message",
      "MessageRecalledEvent.by",
      "MessageRecalledEvent.messageId",
      "ReactionEvent.added",
      "ReactionEvent.message",
      "ReactionEvent.reaction",
      "ReactionEvent.user",
      "Room.allMuted",
      "Room.announcement",
      "Room.createdAt",
      "Room.description",
      "Room.destroyed",
      "Room.ext",
      "Room.id",
      "Room.maxMembers",
      "Room.memberCount",
      "Room.name",
      "Room.owner",
      "Room.updatedAt",
      "RoomEvent.actor",
      "RoomEvent.attributes",
      "RoomEvent.kind",
      "RoomEvent.room",
      "RoomEvent.users",
      "TextBody.text",
      "Thread.createdAt",
      "Thread.creator",
      "Thread.destroyed",
      "Thread.group",
      "Thread.id",
      "Thread.lastMessage",
      "Thread.memberCount",
      "Thread.messageCount",
      "Thread.name",
      "Thread.parentMessage",
      "Thread.updatedAt",
      "ThreadEvent.actor",
      "ThreadEvent.kind",
      "ThreadEvent.thread",
      "ThreadEvent.users",
      "User.avatarUrl",
      "User.createdAt",
      "User.ext",
      "User.id",
      "User.nickname",
      "User.username",
      "VideoBody.attachment",
      "VideoBody.attachmentId",
      "VideoBody.duration",
      "VideoBody.height",
      "VideoBody.width",
      "VoiceBody.attachment",
      "VoiceBody.attachmentId",
      "VoiceBody.duration",
    ]);
  });
});
