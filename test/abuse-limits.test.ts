import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { ConfigError, loadConfig } from "../src/config.js";
import { AppError } from "../src/errors.js";
import type { RedisClients } from "../src/pubsub/redis.js";
import { addressKey, createAbuseLimits } from "../src/security/abuse-limits.js";
import { startApp, type TestServer, testStorage } from "./helpers/app.js";
import { type GraphQLResponse, gql, ok, upload } from "./helpers/client.js";
import { servicesMode, uniqueName } from "./helpers/env.js";
import { adminToken, PASSWORD, type SignedIn, signUp } from "./helpers/factories.js";
import { historyTexts } from "./helpers/messaging.js";

// Abuse limits (README.md, "Abuse limits"), set low here; test/helpers/env.ts lifts them for the rest
// of the suite. The per-second budgets are probed by calling until refused (bounded), never by timing.

const SEND = `mutation($to: ChatTarget!, $text: String!) {
  sendMessage(to: $to, body: { text: { text: $text } }) { id }
}`;
const SEARCH = "query($q: String!) { searchMessages(query: $q) { edges { cursor } } }";
const TYPING = "mutation($u: String!) { sendTyping(conversation: { user: $u }) }";
const ADMIN_CALL = "query { adminOnlineStatus(usernames: []) { online } }";
const REGISTER = `mutation($u: String!, $p: String!) { register(username: $u, password: $p) { token } }`;
const LOGIN = `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }`;
const FILE = { bytes: Buffer.from("hello"), name: "hello.txt", type: "text/plain" };

/** The first error's code and retryAfterSeconds, or "ok". */
function outcome(result: GraphQLResponse): { code: string; retryAfterSeconds?: unknown; message?: string } {
  const error = result.errors?.[0];
  if (!error) return { code: "ok" };
  return {
    code: String(error.extensions?.code),
    retryAfterSeconds: error.extensions?.retryAfterSeconds,
    message: error.message,
  };
}

function assertRateLimited(result: GraphQLResponse, what: RegExp): void {
  const { code, retryAfterSeconds, message } = outcome(result);
  assert.equal(code, "RATE_LIMITED", JSON.stringify(result));
  assert.ok(
    Number.isInteger(retryAfterSeconds) && (retryAfterSeconds as number) >= 1,
    `retryAfterSeconds: ${retryAfterSeconds}`,
  );
  assert.match(message!, what);
}

/** Calls until the first refusal (at most `max` calls); returns how many went through and the refusal. */
async function callUntilRefused(
  call: (i: number) => Promise<GraphQLResponse>,
  max = 40,
): Promise<{ passed: number; refusal: GraphQLResponse }> {
  for (let i = 0; i < max; i++) {
    const result = await call(i);
    if (result.errors) return { passed: i, refusal: result };
  }
  assert.fail(`no refusal in ${max} calls`);
}

/** A GraphQL POST from another loopback address (the server sees it as the client's address). */
function gqlFrom(
  localAddress: string,
  url: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<GraphQLResponse> {
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        localAddress,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => resolve(JSON.parse(text) as GraphQLResponse));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("per-user and per-admin-token limits", () => {
  let server: TestServer;
  let url: string;
  let alice: SignedIn;
  let bob: SignedIn;
  before(async () => {
    server = await startApp({
      RATE_LIMIT_SENDS_PER_SECOND: "1",
      RATE_LIMIT_SENDS_BURST: "2",
      RATE_LIMIT_UPLOADS_PER_MINUTE: "2",
      RATE_LIMIT_SEARCHES_PER_MINUTE: "2",
      TYPING_RATE_LIMIT: "2",
      RATE_LIMIT_ADMIN_PER_SECOND: "1",
      RATE_LIMIT_ADMIN_BURST: "2",
    });
    url = server.url;
    [alice, bob] = await Promise.all([signUp(url), signUp(url)]);
  });
  after(() => server?.stop());

  it("sends: a user past the budget for a kind of chat is refused; other users and kinds are not", async () => {
    const group = (
      await ok(
        url,
        'mutation($m: [String!]) { createGroup(name: "limits", members: $m) { id } }',
        {
          m: [bob.username],
        },
        alice.token,
      )
    ).createGroup;
    const { passed, refusal } = await callUntilRefused((i) =>
      gql(url, SEND, { to: { user: bob.username }, text: `burst ${i}` }, alice.token),
    );
    assert.ok(passed >= 2, `the burst let ${passed} through`);
    assertRateLimited(refusal, /direct messages: at most 1 a second \(bursts to 2\) per user; retry in/);
    // The refused message was not stored.
    assert.deepEqual(
      await historyTexts(url, alice.token, bob.username),
      Array.from({ length: passed }, (_, i) => `burst ${i}`),
    );

    assert.equal(
      outcome(await gql(url, SEND, { to: { user: alice.username }, text: "hi" }, bob.token)).code,
      "ok",
    );
    const toGroup = await gql(url, SEND, { to: { group: group.id }, text: "to the group" }, alice.token);
    assert.equal(outcome(toGroup).code, "ok", JSON.stringify(toGroup));
  });

  it("uploads: a user's third in a minute is refused; another user's is not", async () => {
    for (let i = 0; i < 2; i++) assert.equal(outcome(await upload(url, alice.token, FILE)).code, "ok");
    assertRateLimited(await upload(url, alice.token, FILE), /uploads: at most 2 a minute per user/);
    assert.equal(outcome(await upload(url, bob.token, FILE)).code, "ok");
  });

  it("searches: a user's third in a minute is refused; another user's is not", async () => {
    for (let i = 0; i < 2; i++) await ok(url, SEARCH, { q: "burst" }, alice.token);
    assertRateLimited(await gql(url, SEARCH, { q: "burst" }, alice.token), /searches: at most 2 a minute/);
    await ok(url, SEARCH, { q: "burst" }, bob.token);
  });

  it("typing: a user's third notice in 10 seconds is refused; another user's is not", async () => {
    for (let i = 0; i < 2; i++) await ok(url, TYPING, { u: bob.username }, alice.token);
    assertRateLimited(
      await gql(url, TYPING, { u: bob.username }, alice.token),
      /typing notices: at most 2 per 10 seconds per user/,
    );
    await ok(url, TYPING, { u: alice.username }, bob.token);
  });

  it("admin calls: a token past its budget is refused; another admin token is not", async () => {
    const [first, second] = [await adminToken(url), await adminToken(url)];
    const { passed, refusal } = await callUntilRefused(() => gql(url, ADMIN_CALL, {}, first));
    assert.ok(passed >= 2, `the burst let ${passed} through`);
    assertRateLimited(refusal, /admin calls: at most 1 a second \(bursts to 2\) per admin token/);
    await ok(url, ADMIN_CALL, {}, second);
  });
});

describe("per-address limits", () => {
  let server: TestServer;
  before(async () => {
    server = await startApp({ RATE_LIMIT_REGISTRATIONS_PER_HOUR: "2", RATE_LIMIT_LOGINS_PER_MINUTE: "2" });
  });
  after(() => server?.stop());

  it("register: an address's third sign-up in an hour is refused; another address's is not", async () => {
    const register = (from: string) => gqlFrom(from, server.url, REGISTER, { u: uniqueName(), p: PASSWORD });
    for (let i = 0; i < 2; i++) assert.equal(outcome(await register("127.0.0.2")).code, "ok");
    const refusal = await register("127.0.0.2");
    assertRateLimited(refusal, /sign-ups: at most 2 an hour per client address/);
    assert.ok((outcome(refusal).retryAfterSeconds as number) > 60, "the window is an hour");
    assert.equal(outcome(await register("127.0.0.3")).code, "ok");
  });

  it("login: an address's third attempt in a minute is refused, right password or not", async () => {
    const carol = await signUp(server.url);
    const login = (from: string, password: string) =>
      gqlFrom(from, server.url, LOGIN, { u: carol.username, p: password });
    assert.equal(outcome(await login("127.0.0.4", "wrong-password")).code, "UNAUTHENTICATED");
    assert.equal(outcome(await login("127.0.0.4", PASSWORD)).code, "ok");
    assertRateLimited(await login("127.0.0.4", PASSWORD), /sign-ins: at most 2 a minute per client address/);
    assert.equal(outcome(await login("127.0.0.5", PASSWORD)).code, "ok");
  });
});

describe("two instances sharing one Redis", {
  skip: servicesMode ? false : "needs DATABASE_URL and REDIS_URL",
}, () => {
  let storage: Awaited<ReturnType<typeof testStorage>>;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    storage = await testStorage();
    const env = {
      ...storage.env,
      RATE_LIMIT_REGISTRATIONS_PER_HOUR: "2",
      RATE_LIMIT_SEARCHES_PER_MINUTE: "2",
    };
    a = await startApp(env);
    b = await startApp(env);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await storage?.cleanup();
  });

  it("spend from one budget per address", async () => {
    const register = (via: TestServer) =>
      gqlFrom("127.0.0.6", via.url, REGISTER, { u: uniqueName(), p: PASSWORD });
    assert.equal(outcome(await register(a)).code, "ok");
    assert.equal(outcome(await register(b)).code, "ok");
    assertRateLimited(await register(a), /sign-ups/);
    assertRateLimited(await register(b), /sign-ups/);
  });

  it("spend from one budget per user", async () => {
    const dave = await signUp(a.url);
    await ok(a.url, SEARCH, { q: "x" }, dave.token);
    await ok(b.url, SEARCH, { q: "x" }, dave.token);
    assertRateLimited(await gql(a.url, SEARCH, { q: "x" }, dave.token), /searches/);
  });
});

describe("limit settings", () => {
  it("refuse a burst below its rate", () => {
    assert.throws(
      () => loadConfig({ RATE_LIMIT_SENDS_PER_SECOND: "30", RATE_LIMIT_SENDS_BURST: "20" }),
      (error) => error instanceof ConfigError && /RATE_LIMIT_SENDS_BURST/.test(error.message),
    );
    assert.throws(() => loadConfig({ RATE_LIMITS: "maybe" }), ConfigError);
    const limits = loadConfig({ RATE_LIMIT_GROUP_SENDS_PER_SECOND: "5" }).limits;
    assert.deepEqual(limits.sends.GROUP, { perSecond: 5, burst: 50 });
    assert.deepEqual(limits.sends.DIRECT, { perSecond: 20, burst: 50 });
    assert.equal(limits.registrationsPerHour, 20);
  });

  it("RATE_LIMITS=off lifts every limit", async () => {
    const limits = createAbuseLimits(
      loadConfig({ RATE_LIMITS: "off", RATE_LIMIT_REGISTRATIONS_PER_HOUR: "1", TYPING_RATE_LIMIT: "1" }),
      undefined,
    );
    for (let i = 0; i < 3; i++) {
      await limits.consume("registrations", "127.0.0.1");
      await limits.consume("typing", "someone");
    }
  });

  it("go on counting, per instance, while Redis is unreachable", async () => {
    // Nothing listens on port 9 (discard): the client is never ready.
    const command = new Redis({ host: "127.0.0.1", port: 9, lazyConnect: true, enableOfflineQueue: false });
    try {
      const limits = createAbuseLimits(loadConfig({ RATE_LIMIT_SEARCHES_PER_MINUTE: "1" }), {
        command,
      } as unknown as RedisClients);
      await limits.consume("searches", "someone");
      await assert.rejects(
        limits.consume("searches", "someone"),
        (error) => error instanceof AppError && error.code === "RATE_LIMITED",
      );
      await limits.consume("searches", "someone else");
    } finally {
      command.disconnect();
    }
  });

  it("count an IPv6 client's /64 as one address", () => {
    assert.equal(addressKey("2001:db8:1:2:aaaa::1"), addressKey("2001:db8:1:2:bbbb:cccc:dddd:eeee"));
    assert.notEqual(addressKey("2001:db8:1:2::1"), addressKey("2001:db8:1:3::1"));
    assert.equal(addressKey("::ffff:192.0.2.7"), "192.0.2.7");
  });
});
