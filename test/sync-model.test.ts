import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import { spawnServer, startApp, type TestServer, testStorage } from "./helpers/app.js";
import { eventually, gql, ok, wsUrl } from "./helpers/client.js";
import { servicesMode } from "./helpers/env.js";
import { type SignedIn, signIn, signUp } from "./helpers/factories.js";
import { CONVERSATION_FIELDS, userPosition } from "./helpers/messaging.js";
import { ClientModel, random, toConversation, toModel } from "./helpers/model.js";

// Zulip's test_events, for our stream: random actions by several users on several devices, with
// devices dropping off and resuming from their cursors (on either instance when there are two).
// Each device keeps a model built only from the events it received; at the end every model must
// equal a fresh fetch of conversations and messages, and no device may have seen a gap or a repeat.

const MESSAGE = `id type editCount recalled status from { username } to { ... on User { username } }
  body { ... on TextBody { text } } conversation { ${CONVERSATION_FIELDS} }`;

const STREAM = `subscription($since: String) {
  events(since: $since) {
    cursor
    event {
      __typename
      ... on MessageEvent { message { ${MESSAGE} } }
      ... on MessageEditedEvent { message { ${MESSAGE} } }
      ... on MessageRecalledEvent { messageId conversation { ${CONVERSATION_FIELDS} } }
      ... on MessageDeletedEvent { messageIds conversation { ${CONVERSATION_FIELDS} } }
      ... on ReceiptEvent { kind messageIds conversation { peer { username } } }
      ... on ConversationEvent { kind conversation { ${CONVERSATION_FIELDS} } }
      ... on ContactEvent { kind user { username } contact { remark } }
    }
  }
}`;

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
          if (userPosition(cursor) !== userPosition(this.cursor) + 1n) {
            this.problems.push(`${label}: cursor ${cursor} after ${this.cursor}`);
          }
          this.cursor = cursor;
          this.model.apply(event);
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
}

async function runScenario(urls: string[], seed: number, steps: number) {
  const rng = random(seed);
  const problems: string[] = [];
  const users = await Promise.all([0, 1, 2].map(() => signUp(urls[0]!)));
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
  const peerOf = (actor: SignedIn) => rng.pick(users.filter((u) => u.username !== actor.username));
  const mineTo = (actor: SignedIn) => sent.filter((m) => m.from === actor.username);
  const between = (a: SignedIn, b: string) =>
    sent.filter((m) => (m.from === a.username && m.to === b) || (m.to === a.username && m.from === b));

  // Which requests are waiting and who are contacts, as far as the actions know: only to aim the
  // next action where it can succeed. What the devices must show comes from the server at the end.
  const waiting = new Set<string>(); // "from>to"
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
    }
  };

  for (let step = 0; step < steps; step++) {
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
      if (data && !sent.some((m) => m.id === data.sendMessage.id))
        sent.push({ id: data.sendMessage.id, from: actor.username, to: peer.username });
    } else if (roll < 0.52) {
      const mine = mineTo(actor);
      if (mine.length)
        await act(
          actor,
          "recall",
          `mutation($id: ID!) { recallMessage(id: $id) { id } }`,
          { id: rng.pick(mine).id },
          ["NOT_FOUND"],
        );
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
        await act(
          actor,
          "delete",
          `mutation($u: String!, $ids: [ID!]!) { deleteMessages(conversation: { user: $u }, messageIds: $ids) }`,
          { u: peer.username, ids: [rng.pick(chat).id] },
          ["NOT_FOUND"],
        );
      }
    } else if (roll < 0.97) {
      await act(
        actor,
        "clear",
        `mutation($u: String!) { clearConversationHistory(conversation: { user: $u }) }`,
        { u: peer.username },
        ["NOT_FOUND"],
      );
    } else {
      await act(
        actor,
        "deleteConversation",
        `mutation($u: String!, $h: Boolean) { deleteConversation(conversation: { user: $u }, deleteHistory: $h) }`,
        { u: peer.username, h: rng.chance(0.5) },
        ["NOT_FOUND"],
      );
    }
  }

  for (const device of devices) if (!device.online) await device.connect(rng.pick(urls));
  for (const device of devices) {
    const head = (await ok(urls[0]!, "{ eventCursor }", {}, device.session.token)).eventCursor;
    await eventually(
      async () => device.cursor === head,
      15_000,
      `${device.session.username} to reach ${head} (at ${device.cursor})`,
    );
  }
  const context = `seed ${seed}; problems: ${problems.slice(0, 5).join(" | ")}\n${log.slice(-15).join("\n")}`;
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
        .map((e: any) => [e.node.peer.username, toConversation(e.node)] as const)
        .sort(([a]: [string], [b]: [string]) => a.localeCompare(b)),
    );
    assert.deepEqual(model.listed(), server, `${session.username}: conversations differ (${context})`);
    for (const peer of users.filter((u) => u.username !== session.username)) {
      const history = await ok(
        urls[0]!,
        `query($u: String!) { messages(conversation: { user: $u }, last: 100) { edges { node {
        id editCount recalled status from { username } body { ... on TextBody { text } } } } } }`,
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
  return { steps, messages: sent.length };
}

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
        160,
      );
      assert.ok(result.messages > 30);
    });
  }
});
