import assert from "node:assert/strict";
import { it } from "node:test";
import { eventually, ok, subscribe } from "./helpers/client.js";
import { adminToken, createUsers } from "./helpers/factories.js";
import { cursorOf } from "./helpers/messaging.js";
import { connect, url, useTestServer } from "./helpers/test-server.js";

// Many writers at once into one group: 10 senders while members join and are removed. Every
// member's live stream must hold exactly what a fresh sync from the same cursor gives (the stream's
// live path and the database's visibility rule agree), in position order, with no repeat, and with
// the group's messages in id order.

useTestServer();

const STREAM = `subscription($since: String) { events(since: $since) { cursor event { __typename
  ... on MessageEvent { message { id chatType } }
  ... on GroupEvent { kind users { username } } } } }`;
const SYNC = `query($since: String) { sync(since: $since, first: 200) { events { cursor event { __typename
  ... on MessageEvent { message { id chatType } }
  ... on GroupEvent { kind users { username } } } } nextCursor hasMore } }`;

const SENDERS = 10;
const PER_SENDER = 15;

interface Member {
  username: string;
  token: string;
  since: string;
  stream: ReturnType<typeof subscribe<Record<string, any>>>;
}

/** What a delivered event is, as one comparable line. */
function line(event: any): string {
  return event.__typename === "MessageEvent"
    ? `message ${event.message.id}`
    : `${event.kind} ${event.users.map((u: any) => u.username).join(",")}`;
}

/**
 * Envelopes as "<log> <position> <event>" lines, each log in its own order: a cursor is a position
 * in the user's own stream and one in the chat log, and an event moves one of them. How the two
 * logs interleave is free (API.md orders events within a conversation only).
 */
function byLog(envelopes: { cursor: string; event: any }[], since: string): string[] {
  let [user, chat] = since.split(".");
  const lines = envelopes.map(({ cursor, event }) => {
    const [u, c] = cursor.split(".");
    const log = u !== user ? `user ${u}` : `chat ${c}`;
    [user, chat] = [u, c];
    return `${log} ${line(event)}`;
  });
  void chat;
  return [...lines.filter((l) => l.startsWith("user")), ...lines.filter((l) => l.startsWith("chat"))];
}

it("10 senders, joins and removals at once: every stream equals a fresh sync, gap-free and in order", async () => {
  const admin = await adminToken(url);
  const names = await createUsers(url, "conc", SENDERS + 12);
  const tokens = new Map<string, string>();
  for (const name of names) {
    const data = await ok(
      url,
      "mutation($u: String!) { adminIssueUserToken(username: $u) { token } }",
      { u: name },
      admin,
    );
    tokens.set(name, data.adminIssueUserToken.token);
  }
  const [owner, ...rest] = names;
  const senders = rest.slice(0, SENDERS);
  const removed = rest.slice(SENDERS, SENDERS + 3);
  const joiners = rest.slice(SENDERS + 3);
  const group = (
    await ok(
      url,
      'mutation($m: [String!]) { createGroup(name: "busy", isPublic: true, joinPolicy: OPEN, members: $m) { id } }',
      { m: [...senders, ...removed] },
      tokens.get(owner!),
    )
  ).createGroup.id;

  const members: Member[] = [];
  for (const username of names) {
    const token = tokens.get(username)!;
    const socket = connect(token);
    await socket.connected;
    const since = await cursorOf(url, token);
    members.push({ username, token, since, stream: subscribe(socket, STREAM, { since }) });
  }

  const send = (username: string, i: number) =>
    ok(
      url,
      "mutation($g: ID!, $t: String!) { sendMessage(to: { group: $g }, body: { text: { text: $t } }) { id } }",
      { g: group, t: `${username} ${i}` },
      tokens.get(username),
    );
  const sending = senders.map(async (username) => {
    for (let i = 0; i < PER_SENDER; i++) await send(username, i);
  });
  const churn = (async () => {
    for (const [i, username] of joiners.entries()) {
      await ok(url, "mutation($g: ID!) { joinGroup(id: $g) { id } }", { g: group }, tokens.get(username));
      const leaving = removed[i];
      if (leaving) {
        await ok(
          url,
          "mutation($g: ID!, $u: [String!]!) { removeGroupMembers(id: $g, usernames: $u) }",
          { g: group, u: [leaving] },
          tokens.get(owner!),
        );
      }
    }
  })();
  await Promise.all([...sending, churn]);

  for (const member of members) {
    // The durable truth for this user from the same cursor, read from the database.
    const truth: { cursor: string; event: unknown }[] = [];
    for (let since = member.since, more = true; more; ) {
      const page = (await ok(url, SYNC, { since }, member.token)).sync;
      truth.push(...page.events);
      [since, more] = [page.nextCursor, page.hasMore];
    }
    const expected = byLog(truth, member.since);
    await eventually(
      async () => member.stream.received.length >= expected.length,
      15_000,
      `${member.username}'s stream`,
    );
    const got = byLog(
      member.stream.received.map((result) => {
        assert.equal(result.errors, undefined, JSON.stringify(result.errors));
        return result.data!.events;
      }),
      member.since,
    );
    assert.deepEqual(got, expected, `${member.username}'s stream differs from a fresh sync`);
    const ids = got
      .filter((entry) => entry.includes(" message "))
      .map((entry) => BigInt(entry.split(" ").at(-1)!));
    assert.equal(new Set(ids).size, ids.length, `${member.username} got a message twice`);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      `${member.username}'s group messages are out of id order`,
    );
  }

  // Who should have what: current members every message since they joined; removed ones none after.
  const total = SENDERS * PER_SENDER;
  const countFor = (username: string) =>
    members
      .find((member) => member.username === username)!
      .stream.received.filter((result) => result.data?.events.event.__typename === "MessageEvent").length;
  for (const username of [owner!, ...senders]) assert.equal(countFor(username), total, username);
  for (const username of removed)
    assert.ok(countFor(username) < total, `${username} kept receiving after removal`);
  const history = await ok(
    url,
    "query($g: ID!) { messages(conversation: { group: $g }, last: 100) { edges { node { id } } pageInfo { hasPreviousPage } } }",
    { g: group },
    tokens.get(joiners.at(-1)!),
  );
  const joinerCount = countFor(joiners.at(-1)!);
  assert.ok(joinerCount <= total);
  if (!history.messages.pageInfo.hasPreviousPage) assert.equal(history.messages.edges.length, joinerCount);
});
