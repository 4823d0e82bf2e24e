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
import {
  ClientModel,
  random,
  toConversation,
  toGroupMessage,
  toModel,
  toThreadMessage,
} from "./helpers/model.js";

// Zulip's test_events, for our stream: random actions by several users on several devices, with
// devices dropping off and resuming from their cursors (on either instance when there are two).
// Each device keeps a model built only from the events it received; at the end every model must
// equal a fresh fetch of conversations and messages, and no device may have seen a gap or a repeat.

const CONVERSATION = `${CONVERSATION_FIELDS} mentionCount group { id } thread { id }`;
const TO = "to { __typename ... on User { username } ... on Group { id } ... on Thread { id } }";
const MESSAGE = `id type chatType editCount recalled status from { username } ${TO} targets { username }
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
      ... on ThreadEvent { kind actor { username } users { username } thread { id group { id } parentMessage { id } } }
      ... on ReactionEvent { reaction added user { username } message { id chatType from { username } ${TO} } }
    }
  }
}`;

/**
 * A cursor is `<user>.<chat>`: an event of the user's own stream moves the first part on by one
 * (the second may have passed entries of the chat log this user does not read); a chat-log entry
 * (group and thread events and messages) moves the second part forward and leaves the first.
 */
function cursorStep(before: string, after: string, event: any): string | null {
  const [u0, c0] = before.split(".").map(BigInt) as [bigint, bigint];
  const [u1, c1] = after.split(".").map(BigInt) as [bigint, bigint];
  const either = event.__typename === "GroupEvent" && EITHER_KINDS.has(event.kind);
  const inChatLog =
    (event.__typename === "GroupEvent" && !OUTSIDER_KINDS.has(event.kind)) ||
    event.__typename === "ThreadEvent" ||
    ((event.__typename === "MessageEvent" || event.__typename === "ReactionEvent") &&
      (event.message.chatType === "GROUP" || event.message.chatType === "THREAD"));
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
    messages: { id: string; viewers: Set<string>; reactions: Set<string>; targeted: boolean }[];
  }
  const groups: GroupAim[] = [];
  let groupMessages = 0;
  // Threads as the actions know them, likewise; `floor` is, per member, the thread's newest message
  // at their latest join: their stream carries what comes after it, so their model holds that.
  interface ThreadMessageAim {
    id: string;
    from: string;
    recalled: boolean;
    edits: number;
    reactions: Set<string>;
    sentAt: number;
  }
  interface ThreadAim {
    id: string;
    group: GroupAim;
    creator: string;
    members: Set<string>;
    floor: Map<string, bigint>;
    destroyed: boolean;
    messages: ThreadMessageAim[];
  }
  const threads: ThreadAim[] = [];
  /** Group messages a thread was started from (a message has one thread, also after it ended). */
  const threadParents = new Set<string>();
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
      // Leaving the group leaves its threads.
      for (const thread of threads) if (thread.group === group) thread.members.delete(name);
    }
  };
  const GROUP_SEND = `mutation($g: ID!, $t: String!, $m: [String!], $all: Boolean, $tg: [String!]) {
    sendMessage(to: { group: $g }, body: { text: { text: $t } }, mentions: $m, mentionAll: $all, targets: $tg) { id } }`;
  /** A send's outcome for a member as far as mutes go: a timed mute silences all but the owner. */
  const muteOutcome = (group: GroupAim, me: string): string | null | (string | null)[] => {
    const until = group.mutedUntil.get(me) ?? 0;
    const now = Date.now();
    if (group.roles.get(me) === "OWNER") return null;
    if (until > now + 500) return "MUTED";
    if (until > now - 500) return [null, "MUTED"]; // lapsing about now
    return null;
  };
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
          group.mutedUntil.delete(who); // an owner is never muted: the transfer ends it
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
      const expected = role === undefined ? "NOT_MEMBER" : muteOutcome(group, me);
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
        group.messages.push({
          id: data.sendMessage.id,
          viewers: new Set(audience),
          reactions: new Set(),
          targeted: Boolean(targets?.length),
        });
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

  // Threads draw from a generator of their own as well. Each outcome is known from the aims: the
  // thread's state (ended), the actor's place in its group (outsiders of these public groups get
  // NOT_MEMBER) and in the thread, the message's state.
  const threading = random(seed + 2);
  let threadMessages = 0;
  let threadReactions = 0;
  let threadJoins = 0;
  const RANK: Record<string, number> = { OWNER: 3, ADMIN: 2, MEMBER: 1 };
  const runs = (thread: ThreadAim, name: string) => (RANK[thread.group.roles.get(name) ?? ""] ?? 0) >= 2;
  /** Destroyed: NOT_FOUND; outside its (public) group: NOT_MEMBER. */
  const threadRefusal = (thread: ThreadAim, me: string) =>
    thread.destroyed ? "NOT_FOUND" : thread.group.roles.has(me) ? null : "NOT_MEMBER";
  const newest = (thread: ThreadAim) =>
    thread.messages.reduce((top, m) => (BigInt(m.id) > top ? BigInt(m.id) : top), 0n);
  type Actor = { actor: SignedIn; me: string };
  /**
   * Someone and something to act on: mostly a pair where the action can succeed, now and then any
   * user and any of `all`, to see the refusals.
   */
  const aim = <T>(all: T[], fits: (item: T, me: string) => boolean): (Actor & { item: T }) | undefined => {
    if (all.length === 0) return undefined;
    const fitting = users.flatMap((actor) =>
      all.filter((item) => fits(item, actor.username)).map((item) => ({ actor, item })),
    );
    const { actor, item } =
      fitting.length > 0 && threading.chance(0.85)
        ? threading.pick(fitting)
        : { actor: threading.pick(users), item: threading.pick(all) };
    return { actor, me: actor.username, item };
  };
  const threadMessagesAll = () =>
    threads.flatMap((thread) => thread.messages.map((message) => ({ thread, message })));
  const THREAD_SEND = `mutation($th: ID!, $t: String!) {
    sendMessage(to: { thread: $th }, body: { text: { text: $t } }) { id } }`;
  const onThread = (field: string) => `mutation($id: ID!) { ${field}(id: $id) }`;
  /** Whether `me` may remove `name` from the thread: anyone outside the group, or of lower rank in it. */
  const outranks = (thread: ThreadAim, me: string, name: string) =>
    !thread.group.roles.has(name) ||
    RANK[thread.group.roles.get(me)!]! > RANK[thread.group.roles.get(name)!]!;
  const mayRename = (thread: ThreadAim, me: string) => thread.creator === me || runs(thread, me);

  const threadAction = async (step: number) => {
    const kind =
      threads.length === 0
        ? "create"
        : threading.pick([
            "create",
            "create",
            "join",
            "join",
            "join",
            "join",
            "leave",
            "remove",
            "rename",
            "destroy",
            "send",
            "send",
            "send",
            "send",
            "send",
            "send",
            "send",
            "send",
            "send",
            "recall",
            "edit",
            "react",
            "react",
            "react",
            "react",
            "react",
            "read",
          ] as const);
    if (kind === "create") {
      const aimed = aim(
        groups.flatMap((group) => group.messages.map((message) => ({ group, message }))),
        ({ message }, me) => message.viewers.has(me) && !message.targeted && !threadParents.has(message.id),
      );
      if (!aimed) return;
      const { actor, me, item } = aimed;
      const { group, message } = item;
      const data = await expect(
        actor,
        "createThread",
        `mutation($m: ID!, $n: String!) { createThread(parentMessageId: $m, name: $n) { id } }`,
        { m: message.id, n: `t${step}` },
        !message.viewers.has(me)
          ? "NOT_FOUND"
          : message.targeted
            ? "BAD_USER_INPUT"
            : threadParents.has(message.id)
              ? "CONFLICT"
              : null,
        threading,
      );
      if (data) {
        threadParents.add(message.id);
        threads.push({
          id: data.createThread.id,
          group,
          creator: me,
          members: new Set([me]),
          floor: new Map([[me, 0n]]),
          destroyed: false,
          messages: [],
        });
      }
      return;
    }
    if (kind === "join" || kind === "leave" || kind === "remove" || kind === "rename" || kind === "destroy") {
      const live = threads.filter((t) => !t.destroyed).length;
      const fits = {
        join: (t: ThreadAim, me: string) => !t.destroyed && t.group.roles.has(me) && !t.members.has(me),
        leave: (t: ThreadAim, me: string) => !t.destroyed && t.members.has(me),
        remove: (t: ThreadAim, me: string) =>
          !t.destroyed && runs(t, me) && [...t.members].some((name) => name !== me && outranks(t, me, name)),
        rename: (t: ThreadAim, me: string) => !t.destroyed && t.group.roles.has(me) && mayRename(t, me),
        // Not the last live threads, so there is something to talk in at the end.
        destroy: (t: ThreadAim, me: string) => !t.destroyed && runs(t, me) && live > 3,
      }[kind];
      const { actor, me, item: thread } = aim(threads, fits)!;
      const refusal = threadRefusal(thread, me);
      if (kind === "join") {
        const data = await expect(
          actor,
          "joinThread",
          `mutation($id: ID!) { joinThread(id: $id) { id } }`,
          { id: thread.id },
          refusal ?? (thread.members.has(me) ? "CONFLICT" : null),
          threading,
        );
        if (data) {
          threadJoins++;
          thread.members.add(me);
          thread.floor.set(me, newest(thread));
        }
      } else if (kind === "leave") {
        const data = await expect(
          actor,
          "leaveThread",
          onThread("leaveThread"),
          { id: thread.id },
          refusal ?? (thread.members.has(me) ? null : "NOT_MEMBER"),
          threading,
        );
        if (data) thread.members.delete(me);
      } else if (kind === "remove") {
        const inThread = [...thread.members].filter((name) => name !== me);
        const others = users.map((u) => u.username).filter((name) => name !== me);
        const who =
          inThread.length > 0 && threading.chance(0.85) ? threading.pick(inThread) : threading.pick(others);
        const data = await expect(
          actor,
          "removeThreadMember",
          "mutation($id: ID!, $u: String!) { removeThreadMember(id: $id, username: $u) }",
          { id: thread.id, u: who },
          refusal ??
            (!runs(thread, me) || !outranks(thread, me, who)
              ? "FORBIDDEN"
              : thread.members.has(who)
                ? null
                : "NOT_MEMBER"),
          threading,
        );
        if (data) thread.members.delete(who);
      } else if (kind === "rename") {
        await expect(
          actor,
          "updateThreadName",
          `mutation($id: ID!, $n: String!) { updateThreadName(id: $id, name: $n) { id } }`,
          { id: thread.id, n: `r${step}` },
          refusal ?? (mayRename(thread, me) ? null : "FORBIDDEN"),
          threading,
        );
      } else {
        const data = await expect(
          actor,
          "destroyThread",
          onThread("destroyThread"),
          { id: thread.id },
          refusal ?? (runs(thread, me) ? null : "FORBIDDEN"),
          threading,
        );
        if (data) {
          thread.destroyed = true;
          thread.members.clear();
        }
      }
      return;
    }
    if (kind === "send" || kind === "read") {
      const { actor, me, item: thread } = aim(threads, (t, me) => !t.destroyed && t.members.has(me))!;
      if (kind === "read") {
        await expect(
          actor,
          "readThread",
          "mutation($th: ID!) { markConversationRead(conversation: { thread: $th }) { id } }",
          { th: thread.id },
          thread.destroyed ? "NOT_FOUND" : thread.members.has(me) ? null : "NOT_MEMBER",
          threading,
        );
        return;
      }
      const data = await expect(
        actor,
        "sendThread",
        THREAD_SEND,
        { th: thread.id, t: `th step ${step}` },
        threadRefusal(thread, me) ?? (thread.members.has(me) ? muteOutcome(thread.group, me) : "NOT_MEMBER"),
        threading,
      );
      if (data) {
        threadMessages++;
        thread.messages.push({
          id: data.sendMessage.id,
          from: me,
          recalled: false,
          edits: 0,
          reactions: new Set(),
          sentAt: Date.now(),
        });
      }
      return;
    }
    if (kind === "recall") {
      // The sender while they see it (a member of the live thread); the group's owner and admins
      // always, joined or not.
      const aimed = aim(
        threadMessagesAll(),
        ({ thread: t, message: m }, me) =>
          !t.destroyed && !m.recalled && ((m.from === me && t.members.has(me)) || runs(t, me)),
      );
      if (!aimed) return;
      const { actor, me, item } = aimed;
      const { thread, message } = item;
      const sees = !thread.destroyed && thread.members.has(me);
      const manager = runs(thread, me);
      let expected: string | null | (string | null)[] = null;
      if (!sees && !manager) expected = "NOT_FOUND";
      else if (message.from !== me && !manager) expected = "FORBIDDEN";
      // A manager recalling in a thread that ended: not something the contract settles.
      else if (thread.destroyed) expected = [null, "NOT_FOUND"];
      // The sender's window (RECALL_WINDOW_SECONDS, 120) outlasts a scenario but for a very slow machine.
      else if (!manager && !message.recalled && Date.now() - message.sentAt > 100_000)
        expected = [null, "RECALL_WINDOW_EXPIRED"];
      const data = await expect(
        actor,
        "recallThread",
        `mutation($id: ID!) { recallMessage(id: $id) { id } }`,
        { id: message.id },
        expected,
        threading,
      );
      if (data) message.recalled = true;
      return;
    }
    if (kind === "edit") {
      const aimed = aim(
        threadMessagesAll(),
        ({ thread: t, message: m }, me) =>
          !t.destroyed && t.members.has(me) && m.from === me && !m.recalled && m.edits < 10,
      );
      if (!aimed) return;
      const { actor, me, item } = aimed;
      const { thread, message } = item;
      const data = await expect(
        actor,
        "editThread",
        `mutation($id: ID!, $t: String!) { editMessage(id: $id, body: { text: { text: $t } }) { id } }`,
        { id: message.id, t: `th edited ${step}` },
        thread.destroyed || !thread.members.has(me)
          ? "NOT_FOUND"
          : message.from !== me
            ? "FORBIDDEN"
            : message.recalled
              ? "BAD_USER_INPUT"
              : message.edits >= 10
                ? "LIMIT_EXCEEDED"
                : null,
        threading,
      );
      if (data) message.edits++;
      return;
    }
    const aimed = aim(
      threadMessagesAll(),
      ({ thread: t, message: m }, me) => !t.destroyed && t.members.has(me) && !m.recalled,
    );
    if (!aimed) return;
    const { actor, me, item } = aimed;
    const { thread, message } = item;
    const reaction = threading.pick(["👍", "❤️", "😂"]);
    const key = `${me} ${reaction}`;
    const adding = threading.chance(0.6);
    const refusal =
      thread.destroyed || !thread.members.has(me) ? "NOT_FOUND" : message.recalled ? "BAD_USER_INPUT" : null;
    const data = await expect(
      actor,
      adding ? "addReaction" : "removeReaction",
      adding ? ADD_REACTION : REMOVE_REACTION,
      { m: message.id, r: reaction },
      refusal ?? (adding === message.reactions.has(key) ? (adding ? "CONFLICT" : "NOT_FOUND") : null),
      threading,
    );
    if (data === undefined) return;
    threadReactions++;
    if (adding) message.reactions.add(key);
    else message.reactions.delete(key);
  };

  /**
   * Waits for the devices to take in everything so far, then compares each one's groups and threads
   * with a fresh fetch. The user's own stream must reach its head exactly; the chat log's part only
   * moves with the entries a user reads, so the group state is awaited instead.
   */
  const settle = async (which: Device[], when: string) => {
    for (const device of which) {
      const head = (await ok(urls[0]!, "{ eventCursor }", {}, device.session.token)).eventCursor;
      await eventually(
        async () => device.cursor.split(".")[0] === head.split(".")[0],
        15_000,
        `${device.session.username} to reach ${head} (at ${device.cursor}) ${when}`,
      );
    }
    for (const device of which) {
      let last: { local: unknown; server: unknown } | undefined;
      const deadline = Date.now() + 10_000;
      const floorOf = (threadId: string) =>
        threads.find((t) => t.id === threadId)?.floor.get(device.session.username) ?? 0n;
      for (;;) {
        const server = await fetchGroupState(urls[0]!, device.session, floorOf);
        const local = modelGroupState(device.model, server);
        last = { local, server: server.comparable };
        if (isDeepStrictEqual(local, server.comparable) || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      try {
        assert.deepEqual(last.local, last.server);
      } catch (error) {
        problems.push(
          `${device.session.username}/${device.session.deviceId.slice(0, 6)} groups differ ${when}: ${(error as Error).message}`,
        );
      }
    }
  };

  for (let step = 0; step < steps; step++) {
    // Halfway, the devices online then are compared too: a thread's life is short, and what ended
    // before the end would otherwise go unchecked.
    if (step === steps >> 1)
      await settle(
        devices.filter((device) => device.online),
        "halfway",
      );
    if (reacting.chance(0.4)) await reactionAction();
    if (threading.chance(0.45)) await threadAction(step);
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
  await settle(devices, "at the end");
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
  return {
    steps,
    messages: sent.length,
    groups: groups.length,
    groupMessages,
    reactionChanges,
    threads: threads.length,
    threadMessages,
    threadReactions,
    threadJoins,
  };
}

/**
 * What a fresh fetch says of the user's groups and threads, and the same shaped as the model can
 * know it. A thread's history is the whole thread; the model holds what came after the user's
 * latest join, whose newest message `floorOf` names (from what the actions did).
 */
async function fetchGroupState(url: string, session: SignedIn, floorOf: (threadId: string) => bigint) {
  const fetched = await ok(
    url,
    `{ myGroups(first: 100) { edges { node { id } } }
       myThreads(first: 100) { edges { node { id } } }
       conversations(first: 100) { edges { node {
         chatType unreadCount mentionCount group { id } thread { id } lastMessage { id } } } } }`,
    {},
    session.token,
  );
  const ids: string[] = fetched.myGroups.edges.map((e: any) => e.node.id).sort();
  const conversations: Record<string, unknown> = {};
  const threadUnread: Record<string, number> = {};
  for (const { node } of fetched.conversations.edges) {
    if (node.chatType === "THREAD") threadUnread[node.thread.id] = node.unreadCount;
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
          id from { username } body { ... on TextBody { text } } targets { username } thread { id } ${REACTIONS} } } } }`,
      { id },
      session.token,
    );
    rosters[id] = Object.fromEntries(
      data.groupMembers.edges.map((e: any) => [e.node.user.username, e.node.role]),
    );
    histories[id] = data.messages.edges.map((e: any) => toGroupMessage(e.node));
  }
  const threadIds: string[] = fetched.myThreads.edges.map((e: any) => e.node.id).sort();
  const threadRosters: Record<string, Record<string, boolean>> = {};
  const threadHistories: Record<string, unknown[]> = {};
  for (const id of threadIds) {
    const data = await ok(
      url,
      `query($id: ID!) {
        threadMembers(id: $id, first: 100) { edges { node { user { username } } } }
        messages(conversation: { thread: $id }, last: 100) { edges { node {
          id from { username } recalled editCount body { ... on TextBody { text } } ${REACTIONS} } } } }`,
      { id },
      session.token,
    );
    threadRosters[id] = Object.fromEntries(
      data.threadMembers.edges.map((e: any) => [e.node.user.username, true] as const).sort(),
    );
    const floor = floorOf(id);
    threadHistories[id] = data.messages.edges
      .map((e: any) => toThreadMessage(e.node))
      .filter((m: { id: string }) => BigInt(m.id) > floor);
  }
  return {
    ids,
    rosters,
    threadRosters,
    comparable: {
      groups: ids,
      conversations: Object.fromEntries(Object.entries(conversations).sort(([a], [b]) => a.localeCompare(b))),
      histories,
      rosters: Object.fromEntries(ids.map((id) => [id, rosters[id]!])),
      threads: threadIds,
      threadUnread,
      threadHistories,
      threadRosters,
    },
  };
}

/**
 * A roster the model saw from the start is compared whole; one it joined later, for the users its
 * events named (`absent` for someone known to have left), the rest taken from the server's.
 */
function seenRoster<Role>(
  complete: boolean,
  members: Record<string, Role>,
  absent: Role,
  server: Record<string, Role>,
): Record<string, Role> {
  const present = Object.entries(members).filter(([, role]) => role !== absent);
  if (complete) return Object.fromEntries(present);
  const roster = Object.fromEntries(Object.entries(server).filter(([name]) => !(name in members)));
  for (const [name, role] of present) roster[name] = role;
  return Object.fromEntries(Object.entries(roster).sort(([a], [b]) => a.localeCompare(b)));
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
    // The server's roster seen through what the model can know, so only those users differ.
    rosters[id] = seenRoster<string | null>(complete, members, null, server.rosters[id] ?? {});
  }
  const threadIds = model.threadIds();
  const threadRosters: Record<string, Record<string, boolean>> = {};
  for (const id of threadIds) {
    const { complete, members } = model.threadRoster(id);
    threadRosters[id] = seenRoster(complete, members, false, server.threadRosters[id] ?? {});
  }
  return {
    groups: ids,
    conversations: Object.fromEntries(ids.map((id) => [id, model.groupConversation(id)])),
    histories: Object.fromEntries(ids.map((id) => [id, model.groupHistory(id)])),
    rosters,
    threads: threadIds,
    threadUnread: Object.fromEntries(threadIds.map((id) => [id, model.threadUnread(id)])),
    threadHistories: Object.fromEntries(threadIds.map((id) => [id, model.threadHistory(id)])),
    threadRosters,
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

// The same for threads: a thread's messages go to its members only, once each and in id order, and
// leaving the group leaves its threads.
describe("the device model catches a broken thread stream", () => {
  const thread = (id = "t1") => ({ id, group: { id: "g1" }, parentMessage: { id: "1" } });
  const threadEvent = (kind: string, actor: string | null, users: string[] = [], id = "t1") => ({
    __typename: "ThreadEvent",
    kind,
    thread: thread(id),
    actor: actor ? { username: actor } : null,
    users: users.map((username) => ({ username })),
  });
  const groupEvent = (kind: string, actor: string, users: string[]) => ({
    __typename: "GroupEvent",
    kind,
    group: { id: "g1", memberCount: users.length },
    actor: { username: actor },
    users: users.map((username) => ({ username })),
  });
  const groupMessage = (id: string, from: string) => ({
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
      targets: [],
      body: { text: `m${id}` },
      conversation: null,
    },
  });
  const threadMessage = (id: string, from: string, threadId = "t1") => ({
    __typename: "MessageEvent",
    message: {
      id,
      type: "TEXT",
      chatType: "THREAD",
      editCount: 0,
      recalled: false,
      status: "SENT",
      from: { username: from },
      to: { __typename: "Thread", id: threadId },
      targets: [],
      body: { text: `t${id}` },
      conversation: null,
    },
  });
  /** ann in group g1 with bob and cid, message 1 in it, bob's thread t1 started from it. */
  const start = () => {
    const model = new ClientModel("ann");
    model.apply(groupEvent("GROUP_CREATED", "bob", ["ann", "bob", "cid"]));
    model.apply(groupMessage("1", "bob"));
    model.apply(threadEvent("THREAD_CREATED", "bob"));
    return model;
  };

  it("a group member outside the thread that receives its message records a problem", () => {
    const model = start();
    assert.equal(model.groupHistory("g1")[0]!.thread, "t1");
    assert.deepEqual(model.threadIds(), []);
    model.apply(threadEvent("NEW_MESSAGES", null)); // the group's summary is for every member
    assert.deepEqual(model.problems, []);
    model.apply(threadMessage("5", "bob"));
    assert.equal(model.problems.length, 1, JSON.stringify(model.problems));
    assert.match(model.problems[0]!, /MessageEvent 5 of thread t1, which the user is not a member of/);
  });

  it("a joiner holds what comes after the join; a message twice or out of order records a problem", () => {
    const model = start();
    model.apply(threadEvent("MEMBER_JOINED", "ann", ["ann"]));
    model.apply(threadMessage("5", "bob"));
    model.apply(threadMessage("7", "ann"));
    assert.deepEqual(
      model.threadHistory("t1").map((m) => m.id),
      ["5", "7"],
    );
    assert.equal(model.threadUnread("t1"), 1);
    model.apply({
      __typename: "ConversationEvent",
      kind: "READ",
      conversation: { chatType: "THREAD", thread: { id: "t1" }, readUpTo: "7" },
    });
    assert.equal(model.threadUnread("t1"), 0);
    assert.deepEqual(model.threadRoster("t1"), { complete: false, members: { ann: true } });
    assert.deepEqual(model.problems, []);
    model.apply(threadMessage("7", "ann"));
    model.apply(threadMessage("6", "bob"));
    assert.equal(model.problems.length, 2, JSON.stringify(model.problems));
    assert.match(model.problems[0]!, /message 7 received twice/);
    assert.match(model.problems[1]!, /message 6 received after 7, out of order/);
  });

  it("leaving the thread, or the group, ends its messages; the group's departures leave its threads", () => {
    const model = start();
    model.apply(threadEvent("MEMBER_JOINED", "ann", ["ann"]));
    model.apply(threadEvent("MEMBER_JOINED", "cid", ["cid"]));
    model.apply(groupEvent("MEMBER_REMOVED", "bob", ["cid"]));
    assert.deepEqual(model.threadRoster("t1").members, { ann: true, cid: false });
    model.apply(threadEvent("MEMBER_LEFT", "ann", ["ann"]));
    assert.deepEqual(model.threadIds(), []);
    model.apply(threadMessage("5", "bob"));
    assert.equal(model.problems.length, 1, JSON.stringify(model.problems));

    const again = start();
    again.apply(threadEvent("MEMBER_JOINED", "ann", ["ann"]));
    again.apply(groupEvent("MEMBER_LEFT", "ann", ["ann"]));
    assert.deepEqual(again.threadIds(), []);
    again.apply(threadMessage("5", "bob"));
    again.apply(threadEvent("MEMBER_JOINED", "cid", ["cid"]));
    again.apply(threadEvent("THREAD_UPDATED", "bob"));
    assert.equal(again.problems.length, 3, JSON.stringify(again.problems));
  });

  it("a thread's end leaves the parent message without it, and its members without the thread", () => {
    const model = start();
    model.apply(threadEvent("MEMBER_JOINED", "ann", ["ann"]));
    model.apply(threadEvent("THREAD_DESTROYED", "bob"));
    assert.deepEqual(model.threadIds(), []);
    assert.equal(model.groupHistory("g1")[0]!.thread, null);
    assert.deepEqual(model.problems, []);
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

  // SYNC_SEEDS=4,5,6 runs other seeds (a failure names its seed).
  const seeds = process.env.SYNC_SEEDS ? process.env.SYNC_SEEDS.split(",").map(Number) : [1, 2, 3];
  for (const seed of seeds) {
    it(`converges with seed ${seed}${servicesMode ? " on two instances" : ""}`, async (t) => {
      const result = await runScenario(
        servers.map((s) => s.url),
        seed * 7919,
        260,
      );
      t.diagnostic(JSON.stringify(result));
      assert.ok(result.messages > 15, JSON.stringify(result));
      assert.ok(result.groups >= 2 && result.groupMessages > 15, JSON.stringify(result));
      assert.ok(result.reactionChanges > 20, JSON.stringify(result));
      assert.ok(result.threads >= 2 && result.threadMessages >= 10, JSON.stringify(result));
      assert.ok(result.threadJoins >= 3 && result.threadReactions >= 3, JSON.stringify(result));
    });
  }
});
