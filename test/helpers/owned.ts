import { ok, uploaded } from "./client.js";
import { adminToken, type SignedIn, signUp } from "./factories.js";

/**
 * One user's private world, for tests that make another user reach for it: a direct chat with a
 * friend, a private group the owner is alone in, a group shared with the friend and a thread in it,
 * a room, a device, an attachment, a push token, a pending group invitation and contact request.
 */
export interface OwnedWorld {
  owner: SignedIn;
  /** The owner's correspondent: a member of everything shared; never the stranger. */
  friend: SignedIn;
  directMessageId: string;
  directConversationId: string;
  /** Private, the owner its only member. */
  aloneGroupId: string;
  aloneGroupMessageId: string;
  /** Private, the owner and the friend. */
  sharedGroupId: string;
  sharedGroupMessageId: string;
  threadId: string;
  threadMessageId: string;
  roomId: string;
  roomMessageId: string;
  attachmentId: string;
  attachmentUrl: string;
  pushToken: string;
  /** Every id above, for fields that take "some ID". */
  ids: string[];
}

/** The server settings ownedWorld needs: a push provider, so that a push token can be registered. */
export const OWNED_WORLD_ENV = {
  PUSH_WEBHOOK_URL: "http://127.0.0.1:9/push",
  WEBHOOK_SECRET: "owned-world-secret-0123456789",
};

const SEND = `mutation($to: ChatTarget!, $text: String!) {
  sendMessage(to: $to, body: { text: { text: $text } }) { id conversation { id } }
}`;
const CREATE_GROUP = `mutation($name: String!, $members: [String!]) {
  createGroup(name: $name, members: $members, isPublic: false, joinPolicy: INVITE_ONLY) { id }
}`;

export async function ownedWorld(url: string): Promise<OwnedWorld> {
  const [owner, friend] = [await signUp(url), await signUp(url)];
  const send = async (to: Record<string, string>, text: string) =>
    (await ok(url, SEND, { to, text }, owner.token)).sendMessage;
  const direct = await send({ user: friend.username }, "a direct secret");
  const aloneGroupId = (await ok(url, CREATE_GROUP, { name: "alone" }, owner.token)).createGroup.id;
  const aloneMessage = await send({ group: aloneGroupId }, "a note to self");
  const sharedGroupId = (
    await ok(url, CREATE_GROUP, { name: "shared", members: [friend.username] }, owner.token)
  ).createGroup.id;
  const sharedMessage = await send({ group: sharedGroupId }, "a group secret");
  const threadId = (
    await ok(
      url,
      'mutation($m: ID!) { createThread(parentMessageId: $m, name: "secret topic") { id } }',
      { m: sharedMessage.id },
      owner.token,
    )
  ).createThread.id;
  const threadMessage = await send({ thread: threadId }, "a thread secret");
  const admin = await adminToken(url);
  const roomId = (
    await ok(
      url,
      'mutation($o: String!) { createRoom(name: "owned", owner: $o) { id } }',
      { o: owner.username },
      admin,
    )
  ).createRoom.id;
  const roomMessage = await send({ room: roomId }, "a room secret");
  const attachment = await uploaded(url, owner.token, {
    bytes: Buffer.from("private bytes"),
    name: "secret.txt",
    type: "text/plain",
  });
  const pushToken = `push-${owner.username}`;
  await ok(
    url,
    "mutation($t: String!) { registerPushToken(provider: WEBHOOK, token: $t) { id } }",
    { t: pushToken },
    owner.token,
  );
  const world = {
    owner,
    friend,
    directMessageId: direct.id,
    directConversationId: direct.conversation.id,
    aloneGroupId,
    aloneGroupMessageId: aloneMessage.id,
    sharedGroupId,
    sharedGroupMessageId: sharedMessage.id,
    threadId,
    threadMessageId: threadMessage.id,
    roomId,
    roomMessageId: roomMessage.id,
    attachmentId: attachment.id,
    attachmentUrl: attachment.url,
    pushToken,
  };
  const ids = [
    world.directMessageId,
    world.directConversationId,
    aloneGroupId,
    world.aloneGroupMessageId,
    sharedGroupId,
    world.sharedGroupMessageId,
    threadId,
    world.threadMessageId,
    roomId,
    world.roomMessageId,
    world.attachmentId,
    owner.deviceId,
    owner.userId,
  ];
  return { ...world, ids };
}
