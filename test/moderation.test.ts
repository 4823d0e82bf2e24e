import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startApp, type TestServer, testStorage } from "./helpers/app.js";
import { eventually, fails, ok } from "./helpers/client.js";
import { servicesMode } from "./helpers/env.js";
import { adminToken, signUp } from "./helpers/factories.js";
import { HISTORY, SEND, sendText } from "./helpers/messaging.js";

let server: TestServer;
let url: string;
let admin: string;
before(async () => {
  server = await startApp();
  url = server.url;
  admin = await adminToken(url);
});
after(() => server.stop());

const RULE = "id pattern kind action scopes";
const CREATE = `mutation($pattern: String!, $kind: ModerationPatternKind!, $action: ModerationAction!, $scopes: [ModerationScope!]) {
  adminCreateModerationRule(pattern: $pattern, kind: $kind, action: $action, scopes: $scopes) { ${RULE} }
}`;
const CREATE_MANY = `mutation($patterns: [String!]!, $action: ModerationAction!) {
  adminCreateModerationRules(patterns: $patterns, kind: KEYWORD, action: $action) { id }
}`;
const RECORDS = `query($rule: ID, $action: ModerationAction, $user: String, $from: DateTime, $first: Int, $after: String) {
  adminModerationRecords(rule: $rule, action: $action, user: $user, from: $from, first: $first, after: $after) {
    edges { cursor node { id pattern action scope username chatId messageId matched content rule { id } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** Words no other test uses: the rules apply to the whole server. */
let counter = 0;
const latinWord = () => `zq${Date.now().toString(36)}${counter++}x`;
const chineseWord = () =>
  Array.from({ length: 3 }, () => String.fromCodePoint(0x4e00 + Math.floor(Math.random() * 20000))).join("");

async function rule(pattern: string, action: string, kind = "KEYWORD", scopes?: string[]) {
  return (await ok(url, CREATE, { pattern, kind, action, scopes }, admin)).adminCreateModerationRule;
}

async function records(filter: Record<string, unknown>) {
  return (await ok(url, RECORDS, filter, admin)).adminModerationRecords.edges.map((edge: any) => edge.node);
}

async function history(token: string, peer: string): Promise<string[]> {
  const data = await ok(url, HISTORY, { with: peer, last: 100 }, token);
  return data.messages.edges.map((edge: any) => edge.node.body.text);
}

describe("moderation rules", () => {
  it("BLOCK refuses the send with CONTENT_REJECTED, stores nothing and records it; Chinese and English, any width and case", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const latin = latinWord();
    const chinese = chineseWord();
    const blockLatin = await rule(latin, "BLOCK");
    await rule(chinese, "BLOCK");
    // Full-width capitals of the keyword: NFKC and case folding make them the same word.
    const fullWidth = [...latin.toUpperCase()]
      .map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0))
      .join("");
    for (const text of [
      `hello ${latin}!`,
      `HeLLo ${latin.toUpperCase()}`,
      `x${fullWidth}y`,
      `你好${chinese}吗`,
    ]) {
      await fails(
        "CONTENT_REJECTED",
        url,
        SEND,
        { to: { user: bob.username }, body: { text: { text } } },
        alice.token,
      );
    }
    assert.deepEqual(await history(bob.token, alice.username), [], "nothing was stored");
    await sendText(url, alice.token, bob.username, "a clean message");
    assert.deepEqual(await history(bob.token, alice.username), ["a clean message"]);

    const blocked = await records({ rule: blockLatin.id });
    assert.equal(blocked.length, 3);
    assert.deepEqual(
      blocked.map((record: any) => [record.action, record.scope, record.username, record.messageId]),
      Array(3).fill(["BLOCK", "DIRECT", alice.username, null]),
    );
    assert.equal(blocked[0].content, `x${fullWidth}y`, "newest first, as written");
    assert.equal(blocked[0].matched, fullWidth);
  });

  it("REPLACE masks each match with '*', REVIEW delivers as written and records the stored message", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const [rude, chinese, watched] = [latinWord(), chineseWord(), latinWord()];
    await rule(rude, "REPLACE");
    await rule(chinese, "REPLACE");
    const review = await rule(watched, "REVIEW");
    const sent = await sendText(url, alice.token, bob.username, `${rude.toUpperCase()} and ${chinese}!`);
    assert.equal(sent.body.text, `${"*".repeat(rude.length)} and ***!`);
    const kept = await sendText(url, alice.token, bob.username, `about ${watched}`);
    assert.equal(kept.body.text, `about ${watched}`);
    assert.deepEqual(await history(bob.token, alice.username), [sent.body.text, `about ${watched}`]);

    const [reviewed] = await records({ rule: review.id });
    assert.equal(reviewed.messageId, kept.id);
    assert.equal(reviewed.content, `about ${watched}`);
    const replaced = await records({ user: alice.username, action: "REPLACE" });
    assert.equal(replaced.length, 2);
    assert.ok(replaced.every((record: any) => record.messageId === sent.id));
  });

  it("applies only in a rule's scopes: group text, custom fields and ext, nicknames, group names and announcements", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const [groupOnly, custom, name] = [latinWord(), chineseWord(), latinWord()];
    await rule(groupOnly, "BLOCK", "KEYWORD", ["GROUP"]);
    await rule(custom, "REPLACE", "KEYWORD", ["CUSTOM_FIELDS"]);
    await rule(name, "REPLACE", "KEYWORD", ["NICKNAME", "GROUP_PROFILE"]);

    // A group-only rule lets the same words through in a direct chat.
    await sendText(url, alice.token, bob.username, `direct ${groupOnly}`);
    const group = (
      await ok(
        url,
        `mutation($m: [String!]) { createGroup(name: "g", members: $m) { id } }`,
        { m: [bob.username] },
        alice.token,
      )
    ).createGroup;
    const toGroup = { to: { group: group.id } };
    await fails(
      "CONTENT_REJECTED",
      url,
      SEND,
      { ...toGroup, body: { text: { text: `in ${groupOnly}` } } },
      alice.token,
    );
    const customSent = (
      await ok(
        url,
        SEND,
        {
          ...toGroup,
          body: { custom: { event: "gift", fields: { note: `a${custom}b` } } },
          ext: { tags: [custom] },
        },
        alice.token,
      )
    ).sendMessage;
    assert.deepEqual(customSent.body.fields, { note: "a***b" });
    assert.deepEqual(customSent.ext, { tags: ["***"] });
    // Text is not a custom field.
    assert.equal((await sendText(url, alice.token, bob.username, custom)).body.text, custom);

    const profile = await ok(
      url,
      `mutation($n: String!) { updateProfile(nickname: $n) { nickname } }`,
      { n: `I am ${name}` },
      alice.token,
    );
    assert.equal(profile.updateProfile.nickname, `I am ${"*".repeat(name.length)}`);
    const renamed = await ok(
      url,
      `mutation($id: ID!, $n: String!) { updateGroup(id: $id, name: $n) { name } }`,
      { id: group.id, n: `${name} club` },
      alice.token,
    );
    assert.equal(renamed.updateGroup.name, `${"*".repeat(name.length)} club`);
    const announced = await ok(
      url,
      `mutation($id: ID!, $t: String!) { setGroupAnnouncement(id: $id, text: $t) { announcement } }`,
      { id: group.id, t: `hi ${name}` },
      alice.token,
    );
    assert.equal(announced.setGroupAnnouncement.announcement, `hi ${"*".repeat(name.length)}`);
    // The app server's own writes are not moderated.
    const byAdmin = await ok(
      url,
      `mutation($id: ID!, $t: String!) { setGroupAnnouncement(id: $id, text: $t) { announcement } }`,
      { id: group.id, t: `hi ${name}` },
      admin,
    );
    assert.equal(byAdmin.setGroupAnnouncement.announcement, `hi ${name}`);
  });

  it("edits are moderated like sends", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const word = latinWord();
    await rule(word, "REPLACE");
    const sent = await sendText(url, alice.token, bob.username, "first");
    const edited = await ok(
      url,
      `mutation($id: ID!, $t: String!) { editMessage(id: $id, body: { text: { text: $t } }) { body { ... on TextBody { text } } } }`,
      { id: sent.id, t: `now ${word}` },
      alice.token,
    );
    assert.equal(edited.editMessage.body.text, `now ${"*".repeat(word.length)}`);
  });

  it("regular expressions: masked where they match; one that could backtrack catastrophically is refused", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const marker = latinWord();
    await rule(`${marker}-\\d{4,}`, "REPLACE", "REGEX");
    const sent = await sendText(url, alice.token, bob.username, `call ${marker.toUpperCase()}-123456 now`);
    assert.equal(sent.body.text, `call ${"*".repeat(marker.length + 7)} now`);
    for (const pattern of ["(a+)+$", "(x|xx)*y", "^(\\w+\\s?)*$"]) {
      const message = await fails(
        "BAD_USER_INPUT",
        url,
        CREATE,
        { pattern, kind: "REGEX", action: "BLOCK" },
        admin,
      );
      assert.match(message, /backtrack/);
    }
    assert.match(
      await fails("BAD_USER_INPUT", url, CREATE, { pattern: "([a-z", kind: "REGEX", action: "BLOCK" }, admin),
      /not a valid regular expression/,
    );
  });

  it("10,000 keywords: every one of them is found, and masks overlap correctly", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const prefix = latinWord();
    const words = Array.from({ length: 10_000 }, (_, i) => `${prefix}k${i}q`);
    for (let start = 0; start < words.length; start += 1000) {
      await ok(url, CREATE_MANY, { patterns: words.slice(start, start + 1000), action: "REPLACE" }, admin);
    }
    const pick = [words[0]!, words[4321]!, words[9999]!];
    const sent = await sendText(url, alice.token, bob.username, `${pick[0]} / ${pick[1]} / ${pick[2]}`);
    assert.equal(sent.body.text, pick.map((word) => "*".repeat(word.length)).join(" / "));
    // k1q and k12q both appear inside "k12q"; only whole matches are masked.
    const overlapping = await sendText(url, alice.token, bob.username, `${prefix}k12q5`);
    assert.equal(overlapping.body.text, `${"*".repeat(`${prefix}k12q`.length)}5`);
    const clean = await sendText(url, alice.token, bob.username, `${prefix}k10000q`);
    assert.equal(clean.body.text, `${prefix}k10000q`);
  });

  it("a deleted rule stops applying, an updated one applies as changed; users cannot touch rules or records", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const word = latinWord();
    const created = await rule(word, "BLOCK");
    await fails(
      "CONTENT_REJECTED",
      url,
      SEND,
      { to: { user: bob.username }, body: { text: { text: word } } },
      alice.token,
    );
    await ok(
      url,
      `mutation($id: ID!) { adminUpdateModerationRule(id: $id, action: REPLACE) { id } }`,
      { id: created.id },
      admin,
    );
    assert.equal((await sendText(url, alice.token, bob.username, word)).body.text, "*".repeat(word.length));
    await ok(url, `mutation($id: ID!) { adminDeleteModerationRule(id: $id) }`, { id: created.id }, admin);
    assert.equal((await sendText(url, alice.token, bob.username, word)).body.text, word);
    const [record] = await records({ user: alice.username, action: "BLOCK" });
    assert.equal(record.rule, null, "a deleted rule's records stay, with its pattern");
    assert.equal(record.pattern, word);

    await fails("FORBIDDEN", url, CREATE, { pattern: "x", kind: "KEYWORD", action: "BLOCK" }, alice.token);
    await fails("FORBIDDEN", url, RECORDS, {}, alice.token);
    await fails("BAD_USER_INPUT", url, CREATE, { pattern: "  ", kind: "KEYWORD", action: "BLOCK" }, admin);
    await fails(
      "BAD_USER_INPUT",
      url,
      CREATE,
      { pattern: "x", kind: "KEYWORD", action: "BLOCK", scopes: [] },
      admin,
    );
    await fails(
      "NOT_FOUND",
      url,
      `mutation { adminDeleteModerationRule(id: "00000000-0000-0000-0000-000000000000") }`,
      {},
      admin,
    );
  });

  it("adminModerationStats counts records by day and action; records page newest first", async () => {
    const stats = async () =>
      (
        await ok(
          url,
          `query($d: DateTime!) { adminModerationStats(from: $d, to: $d) { day action count } }`,
          { d: new Date().toISOString() },
          admin,
        )
      ).adminModerationStats as { day: string; action: string; count: number }[];
    const count = (all: { action: string; count: number }[], action: string) =>
      all.find((stat) => stat.action === action)?.count ?? 0;
    const before = await stats();
    const [alice, bob] = [await signUp(url), await signUp(url)];
    const word = latinWord();
    await rule(word, "REVIEW");
    for (let i = 0; i < 3; i++) await sendText(url, alice.token, bob.username, `${word} ${i}`);
    const afterwards = await stats();
    assert.equal(count(afterwards, "REVIEW"), count(before, "REVIEW") + 3);
    assert.ok(afterwards.every((stat) => stat.day === new Date().toISOString().slice(0, 10)));

    const first = (await ok(url, RECORDS, { user: alice.username, first: 2 }, admin)).adminModerationRecords;
    assert.equal(first.edges.length, 2);
    assert.equal(first.pageInfo.hasNextPage, true);
    const rest = (
      await ok(url, RECORDS, { user: alice.username, first: 2, after: first.pageInfo.endCursor }, admin)
    ).adminModerationRecords;
    assert.deepEqual(
      [...first.edges, ...rest.edges].map((edge: any) => edge.node.content),
      [`${word} 2`, `${word} 1`, `${word} 0`],
    );
  });
});

describe("moderation across instances", { skip: !servicesMode && "needs PostgreSQL and Redis" }, () => {
  it("a rule created on one instance applies on another at once", async () => {
    const storage = await testStorage();
    const [a, b] = [await startApp(storage.env), await startApp(storage.env)];
    try {
      const [alice, bob] = [await signUp(a.url), await signUp(a.url)];
      const word = latinWord();
      // b has compiled its (empty) rules before the change.
      await ok(b.url, SEND, { to: { user: bob.username }, body: { text: { text: word } } }, alice.token);
      const token = await adminToken(a.url);
      await ok(a.url, CREATE, { pattern: word, kind: "KEYWORD", action: "BLOCK" }, token);
      await eventually(
        async () => {
          const result = await fetch(b.url, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
            body: JSON.stringify({
              query: SEND,
              variables: { to: { user: bob.username }, body: { text: { text: word } } },
            }),
          }).then((response) => response.json());
          return result.errors?.[0]?.extensions?.code === "CONTENT_REJECTED";
        },
        1000,
        "the rule on the other instance",
      );
    } finally {
      await a.stop();
      await b.stop();
      await storage.cleanup();
    }
  });
});
