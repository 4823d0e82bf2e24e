import assert from "node:assert/strict";
import { type GraphQLResponse, gql, ok, type Socket, subscribe } from "./client.js";
import { uniqueName } from "./env.js";
import { type SignedIn, signUp } from "./factories.js";

// Shared documents and helpers for the chat-room tests: rooms are live-only, so most checks watch
// what members' `events` streams receive.

export const ROOM =
  "id name description announcement maxMembers memberCount myRole allMuted destroyed ext owner { username }";

export const CREATE_ROOM = `mutation($name: String!, $description: String, $max: Int, $ext: JSON, $owner: String) {
  createRoom(name: $name, description: $description, maxMembers: $max, ext: $ext, owner: $owner) { ${ROOM} }
}`;
export const GET_ROOM = `query($id: ID!) { room(id: $id) { ${ROOM} } }`;
export const JOIN_ROOM = `mutation($id: ID!) { joinRoom(id: $id) { ${ROOM} } }`;
export const LEAVE_ROOM = "mutation($id: ID!) { leaveRoom(id: $id) }";
export const DESTROY_ROOM = "mutation($id: ID!) { destroyRoom(id: $id) }";
export const UPDATE_ROOM = `mutation($id: ID!, $name: String, $description: String, $ext: JSON, $max: Int) {
  updateRoom(id: $id, name: $name, description: $description, ext: $ext, maxMembers: $max) { ${ROOM} }
}`;
export const ANNOUNCE = `mutation($id: ID!, $t: String!) { setRoomAnnouncement(id: $id, text: $t) { ${ROOM} } }`;
export const TRANSFER = `mutation($id: ID!, $u: String!) { transferRoomOwnership(id: $id, username: $u) { ${ROOM} } }`;
export const MUTE =
  "mutation($id: ID!, $u: [String!]!, $s: Int!) { muteRoomMembers(id: $id, usernames: $u, durationSeconds: $s) }";
export const MUTE_ALL = `mutation($id: ID!, $m: Boolean!) { muteAllRoomMembers(id: $id, muted: $m) { ${ROOM} } }`;
/** `field(id, usernames)` returning Boolean. */
export const onUsers = (field: string) =>
  `mutation($id: ID!, $u: [String!]!) { ${field}(id: $id, usernames: $u) }`;
/** `field(id, username)` returning Boolean. */
export const onUser = (field: string) =>
  `mutation($id: ID!, $u: String!) { ${field}(id: $id, username: $u) }`;

export const MEMBERS = `query($id: ID!, $role: RoomRole, $first: Int, $after: String) {
  roomMembers(id: $id, role: $role, first: $first, after: $after) {
    edges { cursor node { user { username } role mutedUntil allowListed online } }
    pageInfo { hasNextPage endCursor }
  }
}`;
export const BLOCK_LIST = "query($id: ID!) { roomBlockList(id: $id) { username } }";
export const ROOMS = `query($first: Int, $after: String, $search: String) {
  rooms(first: $first, after: $after, search: $search) { edges { cursor node { ${ROOM} } } pageInfo { hasNextPage endCursor } }
}`;
export const MY_ROOMS = `query($first: Int, $after: String) {
  myRooms(first: $first, after: $after) { edges { cursor node { id name myRole } } pageInfo { hasNextPage endCursor } }
}`;

export const MESSAGE = `id clientMessageId chatType type editCount recalled ext
  from { username } to { __typename ... on Room { id } }
  body { __typename ... on TextBody { text } ... on CustomBody { event fields } }
  conversation { id chatType unreadCount room { id } }`;
export const SEND_ROOM = `mutation($id: ID!, $text: String!, $p: MessagePriority, $targets: [String!], $mentions: [String!],
    $rr: Boolean, $cid: String, $ext: JSON) {
  sendMessage(to: { room: $id }, body: { text: { text: $text } }, priority: $p, targets: $targets,
    mentions: $mentions, requestReadReceipts: $rr, clientMessageId: $cid, ext: $ext) { ${MESSAGE} }
}`;
export const ROOM_HISTORY = `query($id: ID!, $last: Int, $before: String) {
  messages(conversation: { room: $id }, last: $last, before: $before) {
    edges { cursor node { ${MESSAGE} } }
    pageInfo { hasPreviousPage startCursor }
  }
}`;
export const RECALL = "mutation($m: ID!) { recallMessage(id: $m) { id recalled } }";
export const EDIT = `mutation($m: ID!, $t: String!) { editMessage(id: $m, body: { text: { text: $t } }) { id editCount } }`;

export const SET_ATTRIBUTES = `mutation($id: ID!, $a: JSON!, $auto: Boolean, $over: Boolean) {
  setRoomAttributes(id: $id, attributes: $a, autoDelete: $auto, overwrite: $over)
}`;
export const REMOVE_ATTRIBUTES = `mutation($id: ID!, $k: [String!]!, $over: Boolean) {
  removeRoomAttributes(id: $id, keys: $k, overwrite: $over)
}`;
export const ATTRIBUTES = "query($id: ID!, $k: [String!]) { roomAttributes(id: $id, keys: $k) }";

export const BROADCAST = `mutation($text: String!, $rooms: [ID!], $p: MessagePriority, $from: String) {
  adminBroadcastToRooms(body: { text: { text: $text } }, rooms: $rooms, priority: $p, from: $from)
}`;

export const ROOM_STREAM = `subscription($since: String) {
  events(since: $since) {
    cursor createdAt
    event {
      __typename
      ... on MessageEvent { message { ${MESSAGE} } }
      ... on MessageEditedEvent { message { id editCount chatType body { ... on TextBody { text } } } }
      ... on MessageRecalledEvent { messageId by { username } conversation { id chatType room { id } } }
      ... on RoomEvent {
        kind actor { username } users { username } attributes
        room { id name announcement memberCount allMuted destroyed myRole }
      }
      ... on SessionEvent { kind }
    }
  }
}`;

export interface Envelope {
  cursor: string | null;
  createdAt: string;
  event: Record<string, any>;
}

type Subscription = ReturnType<typeof subscribe<Record<string, any>>>;

/** The room of an event on a stream: a room message's, or a RoomEvent's. */
export function roomOf(event: Record<string, any>): string | undefined {
  if (event.__typename === "RoomEvent") return event.room?.id;
  if (event.__typename === "MessageEvent")
    return event.message?.to?.__typename === "Room" ? event.message.to.id : undefined;
  if (event.__typename === "MessageRecalledEvent") return event.conversation?.room?.id;
  return undefined;
}

/** One device online: its socket and its `events` stream, read from a position that `next` moves. */
export class Live {
  private position = 0;

  constructor(
    readonly user: SignedIn,
    readonly socket: Socket,
    readonly subscription: Subscription,
  ) {}

  /** Everything the stream delivered so far (a GraphQL error fails the test). */
  get all(): Envelope[] {
    return this.subscription.received.map((result) => {
      assert.equal(result.errors, undefined, `the stream failed: ${JSON.stringify(result.errors)}`);
      return result.data!.events as Envelope;
    });
  }

  /** The room's messages delivered so far, as texts (null: no text body). */
  texts(roomId: string): (string | null)[] {
    return this.messages(roomId).map((e) => e.event.message.body?.text ?? null);
  }

  messages(roomId: string): Envelope[] {
    return this.all.filter((e) => e.event.__typename === "MessageEvent" && roomOf(e.event) === roomId);
  }

  roomEvents(roomId: string, kind?: string): Envelope[] {
    return this.all.filter(
      (e) =>
        e.event.__typename === "RoomEvent" && roomOf(e.event) === roomId && (!kind || e.event.kind === kind),
    );
  }

  /** The next envelope (after the last one `next` returned) that matches; waits for it. */
  async next(
    match: (event: Record<string, any>) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<Envelope> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = this.all;
      while (this.position < all.length) {
        const envelope = all[this.position++]!;
        if (match(envelope.event)) return envelope;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${this.user.username} never got ${what}; the stream had: ${JSON.stringify(all.map((e) => summary(e.event)))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The next RoomEvent of this kind in this room. */
  nextRoomEvent(roomId: string, kind: string, timeoutMs?: number): Promise<Envelope> {
    return this.next(
      (e) => e.__typename === "RoomEvent" && roomOf(e) === roomId && e.kind === kind,
      `RoomEvent ${kind}`,
      timeoutMs,
    );
  }

  /** The next message in this room with this text. */
  nextMessage(roomId: string, text: string, timeoutMs?: number): Promise<Envelope> {
    return this.next(
      (e) => e.__typename === "MessageEvent" && roomOf(e) === roomId && e.message.body?.text === text,
      `the room message "${text}"`,
      timeoutMs,
    );
  }

  /** Waits until the stream has delivered `count` envelopes matching. */
  async until(
    match: (event: Record<string, any>) => boolean,
    count: number,
    what: string,
    timeoutMs = 15_000,
  ): Promise<Envelope[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.all.filter((e) => match(e.event));
      if (found.length >= count) return found;
      if (Date.now() > deadline) {
        throw new Error(`${this.user.username} got ${found.length} of ${count} ${what}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** A short description of an event, for failure messages. */
export function summary(event: Record<string, any>): string {
  switch (event.__typename) {
    case "MessageEvent":
      return `message(${event.message.chatType}:${event.message.body?.text ?? event.message.id})`;
    case "RoomEvent":
      return `RoomEvent(${event.kind} actor=${event.actor?.username ?? null} users=${event.users
        .map((u: any) => u.username)
        .join(",")})`;
    default:
      return event.__typename;
  }
}

const pingers = new Map<string, Promise<SignedIn>>();

/**
 * Puts a device of `user` online with an `events` stream, and waits until that stream is live: it
 * starts from the user's current cursor, and a direct message sent to the user afterwards must come
 * through (the stream delivers nothing before its room registration is done).
 */
export async function goOnline(
  url: string,
  user: SignedIn,
  open: (token: string) => Socket,
  query: string = ROOM_STREAM,
): Promise<Live> {
  const socket = open(user.token);
  await socket.connected;
  const since = (await ok(url, "{ eventCursor }", {}, user.token)).eventCursor;
  const live = new Live(user, socket, subscribe(socket, query, { since }));
  let pinger = pingers.get(url);
  if (!pinger) {
    pinger = signUp(url, { username: uniqueName("pinger") });
    pingers.set(url, pinger);
  }
  const marker = uniqueName("ready ");
  await ok(
    url,
    "mutation($u: String!, $t: String!) { sendMessage(to: { user: $u }, body: { text: { text: $t } }) { id } }",
    { u: user.username, t: marker },
    (await pinger).token,
  );
  await live.next(
    (e) => e.__typename === "MessageEvent" && e.message.body?.text === marker,
    "its readiness marker",
  );
  return live;
}

/**
 * Sends a marker direct message to `live`'s user and waits for it: everything the server had handed
 * that device's stream before has been delivered by then (give or take a moment: see settle).
 */
export async function marker(url: string, live: Live): Promise<void> {
  const pinger = await pingers.get(url)!;
  const text = uniqueName("marker ");
  await ok(
    url,
    "mutation($u: String!, $t: String!) { sendMessage(to: { user: $u }, body: { text: { text: $t } }) { id } }",
    { u: live.user.username, t: text },
    pinger.token,
  );
  await live.next((e) => e.__typename === "MessageEvent" && e.message.body?.text === text, "a marker");
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const usernames = (...users: { username: string }[]) => users.map((user) => user.username);
export const names = (event: Record<string, any>) => (event.users ?? []).map((u: any) => u.username).sort();

// --- The delivery budget ------------------------------------------------------------------------------

export type Priority = "LOW" | "NORMAL" | "HIGH";

/** One send during a flood, with the wall-clock interval in which the server counted it. */
export interface TimedSend {
  sender: string;
  text: string;
  priority: Priority;
  /** Allow-listed or the app server: never dropped by the budget. */
  exempt: boolean;
  start: number;
  end: number;
  result: GraphQLResponse;
}

/** Sends one room message, timing it; the answer is kept whatever it is. */
export async function timedSend(
  url: string,
  roomId: string,
  sender: { username: string; token: string },
  text: string,
  priority: Priority,
  exempt = false,
): Promise<TimedSend> {
  const start = Date.now();
  const result = await gql(url, SEND_ROOM, { id: roomId, text, p: priority }, sender.token);
  return { sender: sender.username, text, priority, exempt, start, end: Date.now(), result };
}

export const accepted = (send: TimedSend) =>
  !send.result.errors && Boolean((send.result.data?.sendMessage ?? send.result.data?.adminSendMessage)?.id);
export const wasDropped = (send: TimedSend) =>
  send.result.errors?.[0]?.extensions?.code === "RATE_LIMITED" &&
  send.result.errors[0].extensions.dropped === true;

/**
 * Checks every send of a flood against the budget rule (ROOM_MAX_MESSAGES_PER_SECOND per room and
 * wall-clock second, across instances): the count a send was judged by is bounded from its timing.
 * Every send the server counted in the same second and that finished before this one started was
 * counted before it (the lower bound); only sends that overlap that second and started before this one
 * ended can have been (the upper bound). A LOW send over half the budget by the lower bound must be
 * dropped, a NORMAL one over all of it too; one within the threshold by the upper bound must go
 * through; HIGH and exempt sends always go through. Sends straddling a second boundary are judged
 * by HIGH/exempt only. Returns the sends the timing pinned down, for the caller's evidence checks.
 */
export function checkBudget(sends: TimedSend[], budget: number) {
  const second = (t: number) => Math.floor(t / 1000);
  const pinned = {
    droppedLow: [] as TimedSend[],
    droppedNormal: [] as TimedSend[],
    keptLow: [] as TimedSend[],
    keptNormal: [] as TimedSend[],
  };
  for (const send of sends) {
    const answer = JSON.stringify(send.result.errors ?? send.result.data);
    if (send.result.errors && !wasDropped(send)) {
      assert.fail(`${send.text} (${send.priority}) failed otherwise than by the budget: ${answer}`);
    }
    if (wasDropped(send)) {
      assert.equal(send.result.errors![0]!.extensions!.code, "RATE_LIMITED");
    }
    if (send.priority === "HIGH" || send.exempt) {
      assert.ok(
        accepted(send),
        `${send.text} (${send.priority}${send.exempt ? ", exempt" : ""}) was refused: ${answer}`,
      );
      continue;
    }
    const s = second(send.start);
    if (second(send.end) !== s) continue;
    const from = s * 1000;
    const to = from + 1000;
    let lower = 1;
    let upper = 1;
    for (const other of sends) {
      if (other === send) continue;
      if (other.start >= from && other.end < to && other.end < send.start) lower++;
      if (other.end >= from && other.start < to && other.start <= send.end) upper++;
    }
    const threshold = send.priority === "LOW" ? budget / 2 : budget;
    if (lower > threshold) {
      assert.ok(
        wasDropped(send),
        `${send.text} (${send.priority}) was at least the ${lower}th send of its second, over ${threshold}, and went through: ${answer}`,
      );
      (send.priority === "LOW" ? pinned.droppedLow : pinned.droppedNormal).push(send);
    } else if (upper <= threshold) {
      assert.ok(
        accepted(send),
        `${send.text} (${send.priority}) was at most the ${upper}th send of its second, within ${threshold}, and was refused: ${answer}`,
      );
      (send.priority === "LOW" ? pinned.keptLow : pinned.keptNormal).push(send);
    }
  }
  return pinned;
}

/** Waits until the wall clock is early in a second, so a burst starts with a fresh budget. */
export async function startOfSecond(): Promise<void> {
  const into = Date.now() % 1000;
  await sleep(1000 - into + 5);
}

/**
 * Sends `count` HIGH messages to the room (texts `${prefix}0`...), first padding with filler messages
 * (up to `maxPadding`) so that the message ids of the last `window` of them cross a power of ten
 * (99 → 100, 999 → 1000): ids are numbers, and must be compared as numbers. Returns the texts sent.
 */
export async function sendAcrossPowerOfTen(
  url: string,
  roomId: string,
  sender: { token: string },
  count: number,
  window: number,
  prefix: string,
  maxPadding = 250,
): Promise<string[]> {
  const send = async (text: string) =>
    BigInt((await ok(url, SEND_ROOM, { id: roomId, text, p: "HIGH" }, sender.token)).sendMessage.id);
  const probe = await send(`${prefix}probe`);
  const boundary = 10n ** BigInt(probe.toString().length);
  // Other chats take ids meanwhile too, so aim a little below the middle of the window.
  const padding = Number(boundary - probe) - count + Math.floor(window / 2);
  for (let i = 0; i < Math.min(Math.max(padding, 0), maxPadding); i++) await send(`${prefix}filler ${i}`);
  const texts = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  for (const text of texts) await send(text);
  return texts;
}
