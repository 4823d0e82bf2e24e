import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import pg from "pg";
import { loadConfig } from "../src/config.js";
import {
  ROOT,
  spawnServer,
  startApp,
  type TestServer,
  takeDatabaseDown,
  testStorage,
} from "./helpers/app.js";
import { connect, fails, gql, ok } from "./helpers/client.js";
import { servicesMode } from "./helpers/env.js";
import { adminToken, PASSWORD, signIn, signUp } from "./helpers/factories.js";
import { sendText } from "./helpers/messaging.js";

let server: TestServer;
let url: string;
before(async () => {
  server = await startApp();
  url = server.url;
});
after(() => server.stop());

const origin = () => new URL(url).origin;

describe("HTTP surface", () => {
  it("answers /healthz and /readyz", async () => {
    const health = await fetch(`${origin()}/healthz`);
    assert.equal(health.status, 200);
    const { version } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
    assert.deepEqual(await health.json(), { status: "ok", version });
    const ready = await fetch(`${origin()}/readyz`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as Record<string, unknown>;
    assert.equal(body.database, "ok");
    assert.equal(body.redis, servicesMode ? "ok" : "not configured");
  });

  it("carries X-Request-Id on every answer: the caller's, or a new one", async () => {
    const post = (headers: Record<string, string>) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
    assert.equal(
      (await post({ "x-request-id": "trace-42.a:b" })).headers.get("x-request-id"),
      "trace-42.a:b",
    );
    const made = (await post({})).headers.get("x-request-id");
    assert.match(made ?? "", /^[0-9a-f-]{36}$/);
    const junk = (await post({ "x-request-id": "no spaces or <tags>" })).headers.get("x-request-id");
    assert.match(junk ?? "", /^[0-9a-f-]{36}$/, "an unusable id is replaced");
    for (const path of ["/healthz", "/readyz", "/nowhere"]) {
      const answer = await fetch(`${origin()}${path}`, { headers: { "x-request-id": "probe-1" } });
      assert.equal(answer.headers.get("x-request-id"), "probe-1", path);
      await answer.body?.cancel();
    }
  });

  it("serves GraphiQL to browsers and GraphQL over GET", async () => {
    const page = await fetch(url, { headers: { accept: "text/html" } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /graphiql/i);
    assert.doesNotMatch(html, /unpkg\.com|cdn\.jsdelivr/, "GraphiQL must not depend on a CDN");
    const get = await fetch(`${url}?query=${encodeURIComponent("{ __typename }")}`);
    assert.deepEqual(await get.json(), { data: { __typename: "Query" } });
  });

  it("serves no GraphiQL page with GRAPHIQL=false, and GraphQL as before", async () => {
    const plain = await startApp({ GRAPHIQL: "false" });
    try {
      const page = await fetch(plain.url, { headers: { accept: "text/html" } });
      assert.doesNotMatch(await page.text(), /graphiql/i);
      const get = await fetch(`${plain.url}?query=${encodeURIComponent("{ __typename }")}`);
      assert.deepEqual(await get.json(), { data: { __typename: "Query" } });
    } finally {
      await plain.stop();
    }
  });

  it("keeps schema.graphql in step with the Pothos schema", async () => {
    const check = promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "scripts/print-schema.ts", "--check"],
      {
        cwd: ROOT,
      },
    );
    await assert.doesNotReject(check, "schema.graphql is stale: run npm run schema:print");
  });

  it("refuses queries that are too deep or too costly with LIMIT_EXCEEDED", async () => {
    const limited = await startApp({ MAX_QUERY_DEPTH: "2", MAX_QUERY_COST: "400" });
    try {
      const admin = await adminToken(limited.url);
      await ok(limited.url, "{ adminOnlineStatus(usernames: []) { online } }", {}, admin);
      const deep = "{ adminOnlineStatus(usernames: []) { devices { id } } }";
      assert.match(await fails("LIMIT_EXCEEDED", limited.url, deep, {}, admin), /depth/i);
      const aliases = Array.from(
        { length: 200 },
        (_, i) => `d${i}: adminOnlineStatus(usernames: []) { online }`,
      );
      assert.match(
        await fails("LIMIT_EXCEEDED", limited.url, `{ ${aliases.join(" ")} }`, {}, admin),
        /cost/i,
      );
    } finally {
      await limited.stop();
    }
  });
});

describe("network settings", () => {
  const preflight = (target: string, from: string) =>
    fetch(target, {
      method: "OPTIONS",
      headers: {
        origin: from,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });

  it("lets any origin call without credentials by default (auth is a bearer token)", async () => {
    const answer = await preflight(url, "https://any.example");
    // Yoga answers "*" with the caller's origin itself, which means the same without credentials.
    assert.ok(["*", "https://any.example"].includes(answer.headers.get("access-control-allow-origin")!));
    assert.notEqual(answer.headers.get("access-control-allow-credentials"), "true");
    assert.match(answer.headers.get("access-control-allow-headers") ?? "", /authorization/);
  });

  it("CORS_ORIGINS allows the listed origins only; REGISTRATION=closed leaves accounts to the app server", async () => {
    const strict = await startApp({
      CORS_ORIGINS: "https://app.example.com, http://localhost:5173",
      REGISTRATION: "closed",
    });
    try {
      const allowed = await preflight(strict.url, "https://app.example.com");
      assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example.com");
      const refused = await preflight(strict.url, "https://evil.example");
      assert.notEqual(refused.headers.get("access-control-allow-origin"), "https://evil.example");
      assert.notEqual(refused.headers.get("access-control-allow-origin"), "*");

      const register =
        "mutation($u: String!, $p: String!) { register(username: $u, password: $p) { token } }";
      assert.match(await fails("FORBIDDEN", strict.url, register, { u: "newcomer", p: PASSWORD }), /closed/);
      const admin = await adminToken(strict.url);
      await ok(
        strict.url,
        "mutation($u: [AdminUserInput!]!) { adminCreateUsers(users: $u) { id } }",
        { u: [{ username: "made-by-app", password: PASSWORD }] },
        admin,
      );
      await signIn(strict.url, "made-by-app");
    } finally {
      await strict.stop();
    }
    assert.throws(() => loadConfig({ CORS_ORIGINS: "app.example.com" }), /CORS_ORIGINS/);
    assert.throws(() => loadConfig({ REGISTRATION: "invite" }), /REGISTRATION/);
  });
});

describe("failures", () => {
  it("masks unexpected errors as INTERNAL without internals, and /readyz reports the outage", async () => {
    const broken = await startApp();
    after(() => broken.stop());
    const alice = await signUp(broken.url);
    await takeDatabaseDown(broken.app); // the database goes away under a running server
    const result = await gql(broken.url, "{ me { id } }", {}, alice.token);
    const error = result.errors?.[0];
    assert.equal(error?.extensions?.code, "INTERNAL");
    assert.equal(error?.message, "Internal server error");
    assert.doesNotMatch(JSON.stringify(result), /prisma|pglite|sql|stack|closed/i);
    const ready = await fetch(`${new URL(broken.url).origin}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(((await ready.json()) as { database: string }).database, /failing/);
  });
});

describe("PostgreSQL dropping connections", { skip: servicesMode ? false : "needs DATABASE_URL" }, () => {
  it("keeps serving when the database ends its connections, as on a restart or failover", async () => {
    const storage = await testStorage();
    const app = await startApp(storage.env);
    try {
      const alice = await signUp(app.url);
      const bob = await signUp(app.url);
      await sendText(app.url, alice.token, bob.username, "before");
      const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await admin.connect();
      const database = new URL(storage.env.DATABASE_URL!).pathname.slice(1);
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [
        database,
      ]);
      await admin.end();
      await new Promise((resolve) => setTimeout(resolve, 200));
      // The pool replaces the lost connections; the process is still up and answers.
      await sendText(app.url, alice.token, bob.username, "after");
      assert.equal((await ok(app.url, "{ me { username } }", {}, alice.token)).me.username, alice.username);
    } finally {
      await app.stop();
      await storage.cleanup();
    }
  });
});

describe("PostgreSQL in another time zone", { skip: servicesMode ? false : "needs DATABASE_URL" }, () => {
  it("stores and reports times in UTC when the database's own time zone is not", async () => {
    const storage = await testStorage();
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    const database = new URL(storage.env.DATABASE_URL!).pathname.slice(1);
    await admin.query(`ALTER DATABASE "${database}" SET timezone = 'Asia/Shanghai'`);
    await admin.end();
    const app = await startApp(storage.env);
    try {
      const [alice, bob] = [await signUp(app.url), await signUp(app.url)];
      const before = Date.now();
      const sent = await sendText(app.url, alice.token, bob.username, "what time is it");
      // Written by the server's own statement (now()), not by Prisma: eight hours off without UTC sessions.
      assert.ok(Math.abs(Date.parse(sent.createdAt) - before) < 60_000, `createdAt ${sent.createdAt}`);
    } finally {
      await app.stop();
      await storage.cleanup();
    }
  });
});

describe("the server process", () => {
  it("keeps embedded data across a restart, and refuses a second server on the same data directory", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "im-data-"));
    try {
      const embedded = { DATA_DIR: dataDir, DATABASE_URL: "", REDIS_URL: "" };
      const first = await spawnServer(embedded);
      const alice = await signUp(first.url);
      await assert.rejects(spawnServer(embedded), /in use by process/);
      await first.stop();
      assert.equal(first.process.exitCode, 0, first.stderr());

      const second = await spawnServer(embedded);
      await ok(second.url, "{ me { id } }", {}, alice.token); // sessions survive too
      const again = await signIn(second.url, alice.username);
      assert.equal(again.userId, alice.userId);
      await fails(
        "CONFLICT",
        second.url,
        "mutation($u: String!, $p: String!) { register(username: $u, password: $p) { token } }",
        {
          u: alice.username,
          p: PASSWORD,
        },
      );
      await second.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("drains on SIGTERM: a request in flight still gets its answer", async () => {
    const storage = await testStorage();
    after(() => storage.cleanup());
    // A costly password hash keeps the register request busy while the signal arrives; the drain
    // deadline is generous, since on a loaded machine the hash alone can take seconds.
    const running = await spawnServer({
      ...storage.env,
      PASSWORD_HASH_COST: "262144",
      SHUTDOWN_TIMEOUT_MS: "60000",
    });
    const started = Date.now();
    const inFlight = gql(
      running.url,
      "mutation($u: String!, $p: String!) { register(username: $u, password: $p) { user { username } } }",
      { u: "slow-one", p: PASSWORD },
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    await running.stop();
    const result = await inFlight;
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    assert.equal(result.data?.register.user.username, "slow-one");
    assert.ok(Date.now() - started >= 50);
    assert.equal(running.process.exitCode, 0, running.stderr());
  });

  it("drains on SIGTERM: open WebSockets are closed with 1001 and the process exits cleanly", async () => {
    const storage = await testStorage();
    after(() => storage.cleanup());
    const running = await spawnServer(storage.env);
    const alice = await signUp(running.url);
    const socket = connect(running.url, alice.token);
    await socket.connected;
    await running.stop();
    assert.equal((await socket.closed).code, 1001);
    assert.equal(running.process.exitCode, 0, running.stderr());
  });
});
