import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import { spawnServer, startApp, type TestServer, testStorage } from "./helpers/app.js";
import { eventually, gql, ok, wsUrl } from "./helpers/client.js";
import { servicesMode } from "./helpers/env.js";
import { type SignedIn, signIn, signUp } from "./helpers/factories.js";
import { CONVERSATION_FIELDS } from "./helpers/messaging.js";
import { ClientModel, random, toConversation, toGroupMessage, toModel } from "./helpers/model.js";

// Zulip's test_events, for our stream: random actions by several users on several devices, with
// devices dropping off and resuming from their cursors (on either instance when there are two).
// Each device keeps a model built only from the events it received; at the end every model must
// equal a fresh fetch of conversations and messages, and no device may have seen a gap or a repeat.

const CONVERSATION = `${CONVERSATION_FIELDS} mentionCount group { id }`;
const MESSAGE = `id type chatType editCount recalled status from { username }
  to { __typename ... on User { username } ... on Group { id } } targets { username }
  body { ... on TextBody { text } } conversation { ${CONVERSATION} }`;

const STREAM = `subscription($since: String) {
  events(since: $since) {
    cursor
    event {
      __typename
      ... on MessageEvent { message { ${MESSAGE} } }
      ... on MessageEditedEvent { message { ${MESSAGE} } }
      ... on MessageRecalledEvent { messageId conversation { ${CONVERSATION} } }
      ... on MessageDeletedEvent { messageIds conversation { ${CONVERSATION} } }
      ... on ReceiptEvent { kind messageIds conversation { chatType peer { username } group { id } } }
      ... on ConversationEvent { kind conversation { ${CONVERSATION} } }
      ... on ContactEvent { kind user { username } contact { remark } }
      ... on GroupEvent { kind group { id memberCount } actor { username } users { username } }
      ... on ReactionEvent { reaction added user { username }
        message { id chatType from { username } to { __typename ... on User { username } ... on Group { id } } } }
    }
  }
}`;

/**
 * A cursor is `<user>.<chat>`: an event of the user's own stream moves the first part on by one
 * (the second may have passed entries of the chat log this user does not read); a chat-log entry
 * (group events and messages) moves the second part forward and leaves the first.
 */
function cursorStep(before: string, after: string, event: any): string | null {
  const [u0, c0] = before.split(".").map(BigInt) as [bigint, bigint];
  const [u1, c1] = after.split(".").map(BigInt) as [bigint, bigint];
  const either = event.__typename === "GroupEvent" && EITHER_KINDS.has(event.kind);
  const inChatLog =
    (event.__typename === "GroupEvent" && !OUTSIDER_KINDS.has(event.kind)) ||
    ((event.__typename === "MessageEvent" || event.__typename === "ReactionEvent") &&
      event.message.chatType === "GROUP");
  if (u1 === u0 + 1n && c1 >= c0 && (!inChatLog || either)) return null;
  if (u1 === u0 && c1 > c0) return null;
  return `cursor ${after} after ${before} (${event.__typename} ${event.kind ?? ""})`;
}

/** Group events only ever told in the user's own stream. */
const OUTSIDER_KINDS = new Set(["MEMBER_INVITED", "INVITE_DECLINED", "JOIN_REQUESTED", "JOIN_DECLINED"]);
/** Members read these in the chat log; a user barred (or let back) from outside is told in their own stream. */
const EITHER_KINDS = new Set(["MEMBERS_BLOCKED", "MEMBERS_UNBLOCKED"]);

class Device {
  readonly model: ClientModel;
  cursor = "0.0";
  private client: Client | undefined;
  constructor(
    readonly session: SignedIn,
    private readonly problems: string[],
  ) {
    this.model = new ClientModel(session.username);
  }

  get online() {
    return this.client !== undefined;
  }

  async connect(url: string) {
    const label = `${this.session.username}/${this.session.deviceId.slice(0, 6)}`;
    const client = createClient({
      url: wsUrl(url),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      connectionParams: { authorization: `Bearer ${this.session.token}` },
      onNonLazyError: () => {},
    });
    this.client = client;
    let ready!: () => void;
    const started = new Promise<void>((resolve) => {
      ready = resolve;
    });
    client.on("connected", () => setTimeout(ready, 50));
    client.subscribe<any>(
      { query: STREAM, variables: { since: this.cursor } },
      {
        next: (result) => {
          if (this.client !== client) return; // a late event from a connection already cut
          if (result.errors) return void this.problems.push(`${label}: ${JSON.stringify(result.errors)}`);
          const { cursor, event } = result.data!.events;
          if (cursor === null) return;
          const problem = cursorStep(this.cursor, cursor, event);
          if (problem) this.problems.push(`${label}: ${problem}`);
          this.cursor = cursor;
          try {
            this.model.apply(event);
          } catch (error) {
            this.problems.push(`${label}: ${String(error)} applying ${JSON.stringify(event)}`);
          }
        },
        error: (error) => {
          if (this.client === client) this.problems.push(`${label}: stream error ${String(error)}`);
        },
        complete: () => {},
      },
    );
    await started;
  }

  disconnect() {
    this.client?.terminate();
    this.client = undefined;
  }
}

interface Sent {
  id: string;
  from: string;
  to: string;
  recalled: boolean;
  /** Who deleted or cleared it from their own history. */
  hiddenFor: Set<string>;
  /** "<username> <reaction>" for each reaction on it. */
  reactions: Set<string>;
}

/** Message.reactions with every user (the scenario's four users, at most). */
const REACTIONS = "reactions { reaction count reactedByMe users(first: 20) { username } }";
const ADD_REACTION = "mutation($m: ID!, $r: String!) { addReaction(messageId: $m, reaction: $r) { id } }";
const REMOVE_REACTION = "mutation($m: ID!, $r: String!) { removeReaction(messageId: $m, reaction: $r) }";

async function runScenario(urls: string[], seed: number, steps: number) {
  const rng = random(seed);
  const problems: string[] = [];
  const users = await Promise.all([0, 1, 2, 3].map(() => signUp(urls[0]!)));
  const devices: Device[] = [];
  for (const user of users) {
    devices.push(new Device(user, problems));
    devices.push(new Device(await signIn(urls[1 % urls.length]!, user.username, "ios"), problems));
  }
  for (const device of devices) await device.connect(rng.pick(urls));
  const sent: Sent[] = [];
  const log: string[] = [];

  /** Runs a mutation as `actor`; any error outside `allowed` is a finding. */
  const act = async (
    actor: SignedIn,
    name: string,
    query: string,
    variables: Record<string, unknown>,
    allowed: string[] = [],
  ) => {
    const result = await gql(rng.pick(urls), query, variables, actor.token);
    log.push(
      `${actor.username} ${name} ${JSON.stringify(variables)} → ${result.errors ? result.errors[0]!.extensions?.code : "ok"}`,
    );
    const code = result.errors?.[0]?.extensions?.code;
    if (code && !allowed.includes(code)) problems.push(`${name} failed: ${JSON.stringify(result.errors)}`);
    return result.data;
  };
  /** Runs a mutation whose outcome the actions know: `expected` is the error code, or null for success. */
  const expect = async (
    actor: SignedIn,
    name: string,
    query: string,
    variables: Record<string, unknown>,
    expected: string | null | (string | null)[],
    using = rng,
  ) => {
    const result = await gql(using.pick(urls), query, variables, actor.token);
    const code = (result.errors?.[0]?.extensions?.code as string | undefined) ?? null;
    log.push(`${actor.username} ${name} ${JSON.stringify(variables)} → ${code ?? "ok"}`);
    const allowed = Array.isArray(expected) ? expected : [expected];
    if (!allowed.includes(code)) {
      problems.push(
        `${name} ${JSON.stringify(variables)}: expected ${allowed.join("|")}, got ${JSON.stringify(result.errors ?? "ok")}`,
      );
    }
    return code === null ? result.data : undefined;
  };
  const peerOf = (actor: SignedIn) => rng.pick(users.filter((u) => u.username !== actor.username));
  const mineTo = (actor: SignedIn) => sent.filter((m) => m.from === actor.username);
  const between = (a: SignedIn, b: string) =>
    sent.filter((m) => (m.from === a.username && m.to === b) || (m.to === a.username && m.from === b));

  // Which requests are waiting and who are contacts, as far as the actions know: only to aim the
  // next action where it can succeed. What the devices must show comes from the server at the end.
  const waiting = new Set<string>(); // "from>to"
  const blocks = new Set<string>(); // "blocker>blocked"
  const friends = new Set<string>(); // "a|b", sorted
  const pair = (a: string, b: string) => [a, b].sort().join("|");
  const befriend = (a: string, b: string) => {
    friends.add(pair(a, b));
    waiting.delete(`${a}>${b}`);
    waiting.delete(`${b}>${a}`);
  };
  const contactAction = async (actor: SignedIn, randomPeer: SignedIn, step: number) => {
    const me = actor.username;
    const askers = [...waiting].filter((w) => w.endsWith(`>${me}`)).map((w) => w.split(">")[0]!);
    const mine = [...friends]
      .filter((f) => f.split("|").includes(me))
      .map((f) => f.replace(me, "").replace("|", ""));
    const kind = rng.pick(["request", "answer", "answer", "remove", "remark", "remark", "block"] as const);
    if (kind === "request") {
      const data = await act(
        actor,
        "request",
        `mutation($u: String!) { sendContactRequest(username: $u, message: "hi") { status } }`,
        { u: randomPeer.username },
        ["CONFLICT", "BLOCKED"],
      );
      if (data?.sendContactRequest.status === "ACCEPTED") befriend(me, randomPeer.username);
      else if (data) waiting.add(`${me}>${randomPeer.username}`);
    } else if (kind === "answer") {
      const u = askers.length > 0 ? rng.pick(askers) : randomPeer.username;
      const accept = rng.chance(0.7);
      const data = await act(
        actor,
        accept ? "accept" : "decline",
        accept
          ? "mutation($u: String!) { acceptContactRequest(username: $u) { createdAt } }"
          : "mutation($u: String!) { declineContactRequest(username: $u) { id } }",
        { u },
        ["NOT_FOUND"],
      );
      if (data && accept) befriend(me, u);
      else if (data) waiting.delete(`${u}>${me}`);
    } else if (kind === "remove") {
      const u = mine.length > 0 ? rng.pick(mine) : randomPeer.username;
      const data = await act(
        actor,
        "remove",
        "mutation($u: String!) { removeContact(username: $u) }",
        { u },
        ["NOT_FOUND"],
      );
      if (data) friends.delete(pair(me, u));
    } else if (kind === "remark") {
      await act(
        actor,
        "remark",
        "mutation($u: String!, $r: String) { setContactRemark(username: $u, remark: $r) { remark } }",
        { u: mine.length > 0 ? rng.pick(mine) : randomPeer.username, r: rng.chance(0.2) ? null : `r${step}` },
        ["NOT_FOUND"],
      );
    } else {
      const block = rng.chance(0.4);
      await act(
        actor,
        block ? "block" : "unblock",
        block
          ? "mutation($u: String!) { blockUser(username: $u) }"
          : "mutation($u: String!) { unblockUser(username: $u) }",
        { u: randomPeer.username },
      );
      if (block) blocks.add(`${me}>${randomPeer.username}`);
      else blocks.delete(`${me}>${randomPeer.username}`);
    }
  };

  // The groups as the actions know them, from their own results: only to aim the next action and
  // to know which failures are expected (MUTED, BLOCKED). What the devices show is checked against
  // the server at the end.
  interface GroupAim {
    id: string;
    roles: Map<string, string>;
    mutedUntil: Map<string, number>;
    barred: Set<string>;
    messages: { id: string; viewers: Set<string>; reactions: Set<string> }[];
  }
  const groups: GroupAim[] = [];
  let groupMessages = 0;
  const plainMembers = (group: GroupAim) =>
    [...group.roles].filter(([, role]) => role === "MEMBER").map(([name]) => name);
  const subordinatesOf = (group: GroupAim, actor: string) => {
    const mine = group.roles.get(actor);
    if (mine === "OWNER") return [...group.roles.keys()].filter((name) => name !== actor);
    if (mine === "ADMIN") return plainMembers(group);
    return [];
  };
  const release = (group: GroupAim, names: string[]) => {
    for (const name of names) {
      group.roles.delete(name);
      group.mutedUntil.delete(name);
      // History starts again at a rejoin: what was sent before is gone for them.
      for (const message of group.messages) message.viewers.delete(name);
    }
  };
  const GROUP_SEND = `mutation($g: ID!, $t: String!, $m: [String!], $all: Boolean, $tg: [String!]) {
    sendMessage(to: { group: $g }, body: { text: { text: $t } }, mentions: $m, mentionAll: $all, targets: $tg) { id } }`;
  const onUsers = (field: string) =>
    `mutation($id: ID!, $u: [String!]!) { ${field}(id: $id, usernames: $u) }`;
  const onUser = (field: string) =>
    `mutation($id: ID!, $u: String!) { ${field}(id: $id, username: $u) { id } }`;

  const groupAction = async (actor: SignedIn, step: number) => {
    const me = actor.username;
    const mine = groups.filter((g) => g.roles.has(me));
    const managed = groups.filter((g) => subordinatesOf(g, me).length > 0);
    const others = users.map((u) => u.username).filter((name) => name !== me);
    const kind =
      groups.length < 2
        ? "create"
        : rng.pick([
            "create",
            "join",
            "join",
            "leave",
            "remove",
            "mute",
            "unmute",
            "block",
            "unblock",
            "admin",
            "transfer",
            "send",
            "send",
            "send",
            "send",
            "send",
            "send",
            "read",
            "read",
          ] as const);
    if (kind === "create") {
      const members = others.filter(() => rng.chance(0.5));
      const data = await expect(
        actor,
        "createGroup",
        `mutation($n: String!, $m: [String!]) {
          createGroup(name: $n, isPublic: true, joinPolicy: OPEN, members: $m) { id } }`,
        { n: `g${step}`, m: members },
        null,
      );
      if (data) {
        const roles = new Map<string, string>([
          [me, "OWNER"],
          ...members.map((m): [string, string] => [m, "MEMBER"]),
        ]);
        groups.push({
          id: data.createGroup.id,
          roles,
          mutedUntil: new Map(),
          barred: new Set(),
          messages: [],
        });
      }
    } else if (kind === "join") {
      const outside = groups.filter((g) => !g.roles.has(me));
      if (outside.length === 0) return;
      const group = rng.pick(outside);
      const data = await expect(
        actor,
        "joinGroup",
        "mutation($id: ID!) { joinGroup(id: $id) { id myRole } }",
        { id: group.id },
        group.barred.has(me) ? "BLOCKED" : null,
      );
      if (data) group.roles.set(me, "MEMBER");
    } else if (kind === "leave") {
      const group = mine.length > 0 ? rng.pick(mine) : rng.pick(groups);
      const role = group.roles.get(me);
      const data = await expect(
        actor,
        "leaveGroup",
        "mutation($id: ID!) { leaveGroup(id: $id) }",
        { id: group.id },
        role === undefined ? "NOT_MEMBER" : role === "OWNER" ? "FORBIDDEN" : null,
      );
      if (data) release(group, [me]);
    } else if (kind === "remove" || kind === "block" || kind === "mute" || kind === "unmute") {
      if (managed.length === 0) return;
      const group = rng.pick(managed);
      const pool = subordinatesOf(group, me);
      if (kind === "block" && group.roles.get(me) === "OWNER") {
        // Blocking may name someone outside the group too: they are barred from joining.
        pool.push(...others.filter((name) => !group.roles.has(name)));
      }
      const who = rng.pick(pool);
      if (kind === "remove") {
        const data = await expect(
          actor,
          "removeGroupMembers",
          onUsers("removeGroupMembers"),
          { id: group.id, u: [who] },
          null,
        );
        if (data) release(group, [who]);
      } else if (kind === "block") {
        const data = await expect(
          actor,
          "blockGroupMembers",
          onUsers("blockGroupMembers"),
          { id: group.id, u: [who] },
          null,
        );
        if (data) {
          release(group, [who]);
          group.barred.add(who);
        }
      } else if (kind === "mute") {
        const seconds = rng.chance(0.3) ? 1 : 3600;
        const data = await expect(
          actor,
          "muteGroupMembers",
          "mutation($id: ID!, $u: [String!]!, $s: Int!) { muteGroupMembers(id: $id, usernames: $u, durationSeconds: $s) }",
          { id: group.id, u: [who], s: seconds },
          null,
        );
        if (data) group.mutedUntil.set(who, Date.now() + seconds * 1000);
      } else {
        const data = await expect(
          actor,
          "unmuteGroupMembers",
          onUsers("unmuteGroupMembers"),
          { id: group.id, u: [who] },
          null,
        );
        if (data) group.mutedUntil.delete(who);
      }
    } else if (kind === "unblock") {
      const owned = groups.filter((g) => g.roles.get(me) === "OWNER" && g.barred.size > 0);
      if (owned.length === 0) return;
      const group = rng.pick(owned);
      const who = rng.pick([...group.barred]);
      const data = await expect(
        actor,
        "unblockGroupMembers",
        onUsers("unblockGroupMembers"),
        { id: group.id, u: [who] },
        null,
      );
      if (data) group.barred.delete(who);
    } else if (kind === "admin" || kind === "transfer") {
      const owned = groups.filter((g) => g.roles.get(me) === "OWNER" && g.roles.size > 1);
      if (owned.length === 0) return;
      const group = rng.pick(owned);
      const who = rng.pick([...group.roles.keys()].filter((name) => name !== me));
      if (kind === "transfer") {
        const data = await expect(
          actor,
          "transferGroupOwnership",
          onUser("transferGroupOwnership"),
          { id: group.id, u: who },
          null,
        );
        if (data) {
          group.roles.set(who, "OWNER");
          group.roles.set(me, "MEMBER");
        }
      } else {
        const promote = group.roles.get(who) === "MEMBER";
        const data = await expect(
          actor,
          promote ? "addGroupAdmin" : "removeGroupAdmin",
          `mutation($id: ID!, $u: String!) { ${promote ? "addGroupAdmin" : "removeGroupAdmin"}(id: $id, username: $u) }`,
          { id: group.id, u: who },
          null,
        );
        if (data) group.roles.set(who, promote ? "ADMIN" : "MEMBER");
      }
    } else if (kind === "send") {
      // Mostly to a group of one's own; now and then to one the actor is not in.
      const group = mine.length > 0 && rng.chance(0.9) ? rng.pick(mine) : rng.pick(groups);
      const role = group.roles.get(me);
      const members = [...group.roles.keys()];
      const fellows = members.filter((name) => name !== me);
      const mentions = rng.chance(0.35) && fellows.length > 0 ? [rng.pick(fellows)] : undefined;
      const targets =
        rng.chance(0.25) && fellows.length > 0 ? fellows.filter(() => rng.chance(0.5)) : undefined;
      const until = group.mutedUntil.get(me) ?? 0;
      const now = Date.now();
      let expected: string | null | (string | null)[] = null;
      if (role === undefined) expected = "NOT_MEMBER";
      else if (role === "MEMBER" && until > now + 500) expected = "MUTED";
      else if (role === "MEMBER" && until > now - 500) expected = [null, "MUTED"]; // lapsing about now
      const data = await expect(
        actor,
        "sendGroup",
        GROUP_SEND,
        {
          g: group.id,
          t: `g step ${step}`,
          m: mentions,
          all: rng.chance(0.05),
          tg: targets?.length ? targets : undefined,
        },
        expected,
      );
      if (data) {
        groupMessages++;
        const audience = targets?.length ? [...targets, me] : [...group.roles.keys()];
        group.messages.push({ id: data.sendMessage.id, viewers: new Set(audience), reactions: new Set() });
      }
    } else {
      const group = mine.length > 0 ? rng.pick(mine) : rng.pick(groups);
      await expect(
        actor,
        "readGroup",
        "mutation($g: ID!) { markConversationRead(conversation: { group: $g }) { id unreadCount } }",
        { g: group.id },
        group.roles.has(me) ? null : ["NOT_MEMBER", "NOT_FOUND"],
      );
    }
  };

  // Reactions draw from their own generator, so every other action, and what it tests, stays as it
  // was. Each outcome is known: the message's state for the actor (unseen, recalled, blocked), else
  // CONFLICT or NOT_FOUND from what the actor already did, else success.
  const reacting = random(seed + 1);
  let reactionChanges = 0;
  const directRefusal = (message: Sent, me: string) => {
    const peer = message.from === me ? message.to : message.from;
    if (message.hiddenFor.has(me)) return "NOT_FOUND";
    if (message.recalled) return "BAD_USER_INPUT";
    return blocks.has(`${peer}>${me}`) ? "BLOCKED" : null;
  };
  const reactionAction = async () => {
    const actor = reacting.pick(users);
    const me = actor.username;
    const candidates = [
      ...sent
        .filter((m) => m.from === me || m.to === me)
        .map((message) => ({ message, refusal: directRefusal(message, me) })),
      ...groups
        .flatMap((g) => g.messages)
        .map((message) => ({ message, refusal: message.viewers.has(me) ? null : "NOT_FOUND" })),
    ];
    if (candidates.length === 0) return;
    const { message, refusal } = reacting.pick(candidates);
    const reaction = reacting.pick(["👍", "❤️", "😂"]);
    const key = `${me} ${reaction}`;
    const adding = reacting.chance(0.6);
    const data = await expect(
      actor,
      adding ? "addReaction" : "removeReaction",
      adding ? ADD_REACTION : REMOVE_REACTION,
      { m: message.id, r: reaction },
      refusal ?? (adding === message.reactions.has(key) ? (adding ? "CONFLICT" : "NOT_FOUND") : null),
      reacting,
    );
    if (data === undefined) return;
    reactionChanges++;
    if (adding) message.reactions.add(key);
    else message.reactions.delete(key);
  };

  for (let step = 0; step < steps; step++) {
    if (reacting.chance(0.4)) await reactionAction();
    const device = rng.pick(devices);
    const actor = device.session;
    const peer = peerOf(actor);
    const roll = rng.next();
    if (roll < 0.06) {
      if (device.online) device.disconnect();
      else await device.connect(rng.pick(urls));
      continue;
    }
    if (roll < 0.2) {
      await contactAction(actor, peer, step);
      continue;
    }
    if (rng.chance(0.45)) {
      await groupAction(actor, step);
      continue;
    }
    if (roll < 0.45) {
      const cid = rng.chance(0.2) && mineTo(actor).length > 0 ? `retry-${rng.int(3)}` : `c-${step}`;
      const data = await act(
        actor,
        "send",
        `mutation($to: String!, $t: String!, $cid: String) {
        sendMessage(to: { user: $to }, body: { text: { text: $t } }, clientMessageId: $cid) { id } }`,
        { to: peer.username, t: `step ${step}`, cid },
        ["BLOCKED"],
      );
      if (data && !sent.some((m) => m.id === data.sendMessage.id)) {
        sent.push({
          id: data.sendMessage.id,
          from: actor.username,
          to: peer.username,
          recalled: false,
          hiddenFor: new Set(),
          reactions: new Set(),
        });
      }
    } else if (roll < 0.52) {
      const mine = mineTo(actor);
      if (mine.length) {
        const message = rng.pick(mine);
        const data = await act(
          actor,
          "recall",
          `mutation($id: ID!) { recallMessage(id: $id) { id } }`,
          { id: message.id },
          ["NOT_FOUND"],
        );
        if (data) message.recalled = true;
      }
    } else if (roll < 0.6) {
      const mine = mineTo(actor);
      if (mine.length) {
        await act(
          actor,
          "edit",
          `mutation($id: ID!, $t: String!) { editMessage(id: $id, body: { text: { text: $t } }) { id } }`,
          { id: rng.pick(mine).id, t: `edited ${step}` },
          ["BAD_USER_INPUT", "LIMIT_EXCEEDED", "NOT_FOUND"],
        );
      }
    } else if (roll < 0.7) {
      await act(
        actor,
        "read",
        `mutation($u: String!) { markConversationRead(conversation: { user: $u }) { id } }`,
        { u: peer.username },
        ["NOT_FOUND"],
      );
    } else if (roll < 0.75) {
      const theirs = sent.filter((m) => m.to === actor.username);
      if (theirs.length)
        await act(
          actor,
          "delivered",
          `mutation($ids: [ID!]!) { markDelivered(messageIds: $ids) }`,
          { ids: [rng.pick(theirs).id] },
          ["NOT_FOUND"],
        );
    } else if (roll < 0.8) {
      await act(
        actor,
        "pin",
        `mutation($u: String!, $p: Boolean!) { pinConversation(conversation: { user: $u }, pinned: $p) { id } }`,
        { u: peer.username, p: rng.chance(0.6) },
        ["NOT_FOUND"],
      );
    } else if (roll < 0.85) {
      await act(
        actor,
        "mark",
        `mutation($u: String!, $a: [String!], $r: [String!]) { markConversation(conversation: { user: $u }, add: $a, remove: $r) { id } }`,
        {
          u: peer.username,
          a: [rng.pick(["work", "star", "later"])],
          r: [rng.pick(["work", "star", "later"])],
        },
        ["NOT_FOUND"],
      );
    } else if (roll < 0.88) {
      await act(
        actor,
        "mute",
        `mutation($u: String!, $m: Boolean!) { muteConversation(conversation: { user: $u }, muted: $m) { id } }`,
        { u: peer.username, m: rng.chance(0.5) },
        ["NOT_FOUND"],
      );
    } else if (roll < 0.94) {
      const chat = between(actor, peer.username);
      if (chat.length) {
        const message = rng.pick(chat);
        const data = await act(
          actor,
          "delete",
          `mutation($u: String!, $ids: [ID!]!) { deleteMessages(conversation: { user: $u }, messageIds: $ids) }`,
          { u: peer.username, ids: [message.id] },
          ["NOT_FOUND"],
        );
        if (data) message.hiddenFor.add(actor.username);
      }
    } else if (roll < 0.97) {
      const data = await act(
        actor,
        "clear",
        `mutation($u: String!) { clearConversationHistory(conversation: { user: $u }) }`,
        { u: peer.username },
        ["NOT_FOUND"],
      );
      if (data) for (const message of between(actor, peer.username)) message.hiddenFor.add(actor.username);
    } else {
      const deleteHistory = rng.chance(0.5);
      const data = await act(
        actor,
        "deleteConversation",
        `mutation($u: String!, $h: Boolean) { deleteConversation(conversation: { user: $u }, deleteHistory: $h) }`,
        { u: peer.username, h: deleteHistory },
        ["NOT_FOUND"],
      );
      if (data && deleteHistory) {
        for (const message of between(actor, peer.username)) message.hiddenFor.add(actor.username);
      }
    }
  }

  for (const device of devices) if (!device.online) await device.connect(rng.pick(urls));
  // The user's own stream must reach its head exactly; the chat log's part only moves with the
  // entries a user reads, so the group state is awaited below instead.
  for (const device of devices) {
    const head = (await ok(urls[0]!, "{ eventCursor }", {}, device.session.token)).eventCursor;
    await eventually(
      async () => device.cursor.split(".")[0] === head.split(".")[0],
      15_000,
      `${device.session.username} to reach ${head} (at ${device.cursor})`,
    );
  }
  for (const device of devices) {
    let last: { local: unknown; server: unknown } | undefined;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const server = await fetchGroupState(urls[0]!, device.session);
      const local = modelGroupState(device.model, server);
      last = { local, server: server.comparable };
      if (isDeepStrictEqual(local, server.comparable) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    try {
      assert.deepEqual(last.local, last.server);
    } catch (error) {
      problems.push(
        `${device.session.username}/${device.session.deviceId.slice(0, 6)} groups differ: ${(error as Error).message}`,
      );
    }
  }
  for (const device of devices) problems.push(...device.model.problems);
  const context = `seed ${seed}; problems: ${problems.slice(0, 5).join(" | ")}\n${log.slice(-25).join("\n")}`;
  assert.deepEqual(problems, [], context);

  for (const device of devices) {
    const { session, model } = device;
    const fetched = await ok(
      urls[0]!,
      `{ conversations(first: 100) { edges { node { ${CONVERSATION_FIELDS} } } } }`,
      {},
      session.token,
    );
    const server = Object.fromEntries(
      fetched.conversations.edges
        .filter((e: any) => e.node.chatType === "DIRECT")
        .map((e: any) => [e.node.peer.username, toConversation(e.node)] as const)
        .sort(([a]: [string], [b]: [string]) => a.localeCompare(b)),
    );
    assert.deepEqual(model.listed(), server, `${session.username}: conversations differ (${context})`);
    for (const peer of users.filter((u) => u.username !== session.username)) {
      const history = await ok(
        urls[0]!,
        `query($u: String!) { messages(conversation: { user: $u }, last: 100) { edges { node {
        id editCount recalled status from { username } body { ... on TextBody { text } } ${REACTIONS} } } } }`,
        { u: peer.username },
        session.token,
      );
      const server = history.messages.edges.map((e: any) => toModel(e.node));
      const local = model.history(peer.username);
      // Status is the sender's view; a recipient's copy is only as fresh as its last event.
      const comparable = (messages: typeof local) =>
        messages.map((m) => ({ ...m, status: m.from === session.username ? m.status : "-" }));
      assert.deepEqual(
        comparable(local),
        comparable(server),
        `${session.username} with ${peer.username} (${context})`,
      );
    }
  }
  for (const device of devices) {
    const { session, model } = device;
    const fetched = await ok(
      urls[0]!,
      `{ contacts(first: 100) { edges { node { user { username } remark } } }
         blockedUsers { username }
         contactRequests(status: PENDING, first: 100) { edges { node { direction from { username } to { username } } } } }`,
      {},
      session.token,
    );
    const requests = fetched.contactRequests.edges.map((e: any) => e.node);
    const names = (direction: string, side: "from" | "to") =>
      requests
        .filter((r: any) => r.direction === direction)
        .map((r: any) => r[side].username)
        .sort();
    assert.deepEqual(
      model.contactState(),
      {
        contacts: Object.fromEntries(
          fetched.contacts.edges.map((e: any) => [e.node.user.username, e.node.remark]),
        ),
        blocked: fetched.blockedUsers.map((u: any) => u.username).sort(),
        incoming: names("INCOMING", "from"),
        outgoing: names("OUTGOING", "to"),
      },
      `${session.username}: contacts differ (${context})`,
    );
  }
  for (const device of devices) device.disconnect();
  return { steps, messages: sent.length, groups: groups.length, groupMessages, reactionChanges };
}

/** What a fresh fetch says of the user's groups, and the same shaped as the model can know it. */
async function fetchGroupState(url: string, session: SignedIn) {
  const fetched = await ok(
    url,
    `{ myGroups(first: 100) { edges { node { id } } }
       conversations(first: 100) { edges { node { chatType unreadCount mentionCount group { id } lastMessage { id } } } } }`,
    {},
    session.token,
  );
  const ids: string[] = fetched.myGroups.edges.map((e: any) => e.node.id).sort();
  const conversations: Record<string, unknown> = {};
  for (const { node } of fetched.conversations.edges) {
    if (node.chatType !== "GROUP") continue;
    conversations[node.group.id] = {
      unreadCount: node.unreadCount,
      mentionCount: node.mentionCount,
      lastMessageId: node.lastMessage?.id ?? null,
    };
  }
  const rosters: Record<string, Record<string, string>> = {};
  const histories: Record<string, unknown[]> = {};
  for (const id of ids) {
    const data = await ok(
      url,
      `query($id: ID!) {
        groupMembers(id: $id, first: 100) { edges { node { role user { username } } } }
        messages(conversation: { group: $id }, last: 100) { edges { node {
          id from { username } body { ... on TextBody { text } } targets { username } ${REACTIONS} } } } }`,
      { id },
      session.token,
    );
    rosters[id] = Object.fromEntries(
      data.groupMembers.edges.map((e: any) => [e.node.user.username, e.node.role]),
    );
    histories[id] = data.messages.edges.map((e: any) => toGroupMessage(e.node));
  }
  return {
    ids,
    rosters,
    comparable: {
      groups: ids,
      conversations: Object.fromEntries(Object.entries(conversations).sort(([a], [b]) => a.localeCompare(b))),
      histories,
      rosters: Object.fromEntries(ids.map((id) => [id, rosters[id]!])),
    },
  };
}

/**
 * The model's side, in the fetch's shape. A roster the model saw from the group's creation is
 * compared whole; one it joined later, for the users its events named (null: not a member).
 */
function modelGroupState(model: ClientModel, server: Awaited<ReturnType<typeof fetchGroupState>>) {
  const ids = model.groupIds();
  const rosters: Record<string, Record<string, string | null>> = {};
  for (const id of ids) {
    const { complete, members } = model.roster(id);
    if (complete) {
      rosters[id] = Object.fromEntries(Object.entries(members).filter(([, role]) => role !== null));
    } else {
      const known = server.rosters[id] ?? {};
      // The server's roster seen through what the model can know, so only those users differ.
      rosters[id] = Object.fromEntries(Object.entries(known).filter(([name]) => !(name in members)));
      for (const [name, role] of Object.entries(members)) if (role !== null) rosters[id]![name] = role;
      rosters[id] = Object.fromEntries(Object.entries(rosters[id]!).sort(([a], [b]) => a.localeCompare(b)));
    }
  }
  return {
    groups: ids,
    conversations: Object.fromEntries(ids.map((id) => [id, model.groupConversation(id)])),
    histories: Object.fromEntries(ids.map((id) => [id, model.groupHistory(id)])),
    rosters,
  };
}

// The model's own checks, on crafted streams: they must fire when the server gets a group's order or
// audience wrong, whatever a fetch says afterwards.
describe("the device model catches a broken group stream", () => {
  const group = (kind: string, actor: string, users: string[]) => ({
    __typename: "GroupEvent",
    kind,
    group: { id: "g1", memberCount: users.length },
    actor: { username: actor },
    users: users.map((username) => ({ username })),
  });
  const message = (id: string, from: string, targets: string[] = []) => ({
    __typename: "MessageEvent",
    message: {
      id,
      type: "TEXT",
      chatType: "GROUP",
      editCount: 0,
      recalled: false,
      status: "SENT",
      from: { username: from },
      to: { __typename: "Group", id: "g1" },
      targets: targets.map((username) => ({ username })),
      body: { text: `m${id}` },
      conversation: { id: "c1", chatType: "GROUP", unreadCount: 1, mentionCount: 0, group: { id: "g1" } },
    },
  });

  it("a removed member that receives the group's next message records a problem", () => {
    const model = new ClientModel("ann");
    model.apply(group("GROUP_CREATED", "bob", ["ann", "bob", "cid"]));
    model.apply(message("1", "bob"));
    assert.deepEqual(model.problems, []);
    assert.deepEqual(model.roster("g1"), {
      complete: true,
      members: { ann: "MEMBER", bob: "OWNER", cid: "MEMBER" },
    });
    model.apply(group("MEMBER_REMOVED", "bob", ["ann"]));
    assert.deepEqual(model.groupIds(), []);
    model.apply(message("2", "bob")); // sent after the removal: must not reach ann
    assert.equal(model.problems.length, 1, JSON.stringify(model.problems));
    assert.match(model.problems[0]!, /MessageEvent 2 of group g1, which the user is not in/);
    model.apply(group("MEMBER_JOINED", "cid", ["cid"])); // nor any of the group's events
    assert.equal(model.problems.length, 2);
  });

  it("a rejoin starts history afresh; a message from before it would differ from the fetch", () => {
    const model = new ClientModel("ann");
    model.apply(group("GROUP_CREATED", "bob", ["ann", "bob"]));
    model.apply(message("1", "bob"));
    model.apply(group("MEMBER_LEFT", "ann", ["ann"]));
    model.apply(group("MEMBER_JOINED", "ann", ["ann"]));
    assert.deepEqual(model.groupHistory("g1"), []);
    assert.deepEqual(model.roster("g1"), { complete: false, members: { ann: "MEMBER" } });
    assert.deepEqual(model.problems, []);
  });

  it("a targeted message reaching someone it was not for records a problem", () => {
    const model = new ClientModel("ann");
    model.apply(group("GROUP_CREATED", "bob", ["ann", "bob", "cid"]));
    model.apply(message("1", "bob", ["ann"]));
    model.apply(message("2", "ann", ["cid"])); // ann's own message: hers to see
    assert.deepEqual(model.problems, []);
    model.apply(message("3", "bob", ["cid"]));
    assert.equal(model.problems.length, 1, JSON.stringify(model.problems));
    assert.match(model.problems[0]!, /targeted message 3 from bob for \[cid\] leaked to ann/);
  });
});

describe("randomized sync against a fresh fetch", () => {
  let servers: TestServer[] = [];
  let cleanup = async () => {};
  before(async () => {
    if (servicesMode) {
      const storage = await testStorage();
      servers = [await startApp(storage.env), await spawnServer(storage.env)];
      cleanup = storage.cleanup;
    } else {
      servers = [await startApp()];
    }
  });
  after(async () => {
    for (const server of servers) await server.stop();
    await cleanup();
  });

  for (const seed of [1, 2, 3]) {
    it(`converges with seed ${seed}${servicesMode ? " on two instances" : ""}`, async () => {
      const result = await runScenario(
        servers.map((s) => s.url),
        seed * 7919,
        260,
      );
      assert.ok(result.messages > 15, JSON.stringify(result));
      assert.ok(result.groups >= 2 && result.groupMessages > 15, JSON.stringify(result));
      assert.ok(result.reactionChanges > 20, JSON.stringify(result));
    });
  }
});
