import assert from "node:assert/strict";
import { test } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { ADMIN, uniqueName } from "./helpers/env.js";
import { PASSWORD, signUp } from "./helpers/factories.js";
import { url, useTestServer } from "./helpers/test-server.js";

// The REST API driven from its own OpenAPI document: each call finds its operation there by
// operationId and builds the request from what the document says (path, parameters, body).

useTestServer({ LOGIN_MAX_FAILURES: "2" });

type Json = Record<string, any>;
let doc: Json;

/** The server's document, read once (after the server has started, so not in a before hook). */
async function loadDocument(): Promise<Json> {
  if (!doc) {
    const response = await fetch(`${origin()}/v1/openapi.json`);
    assert.equal(response.status, 200);
    doc = await response.json();
  }
  return doc;
}

interface Call {
  token?: string;
  params?: Record<string, string>;
  query?: Record<string, unknown>;
  body?: unknown;
  /** Sent as is, instead of body. */
  raw?: string;
}

const origin = () => new URL(url).origin;

function operation(operationId: string): { method: string; path: string; op: Json } {
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const [method, op] of Object.entries<Json>(item)) {
      if (op.operationId === operationId) return { method: method.toUpperCase(), path, op };
    }
  }
  throw new Error(`no operation ${operationId} in the document`);
}

/** Query parameters serialized as their `style` says: deepObject as name[key]=value, arrays repeated. */
function queryString(op: Json, values: Record<string, unknown>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    const parameter = (op.parameters ?? []).find((p: Json) => p.in === "query" && p.name === name);
    assert.ok(parameter, `the document has no query parameter ${name} for ${op.operationId}`);
    if (parameter.style === "deepObject") {
      for (const [key, inner] of Object.entries(value as Json))
        search.append(`${name}[${key}]`, String(inner));
    } else if (Array.isArray(value)) {
      for (const item of value) search.append(name, String(item));
    } else {
      search.append(name, String(value));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function call(operationId: string, options: Call = {}) {
  await loadDocument();
  const { method, path, op } = operation(operationId);
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = options.params?.[name];
    assert.ok(value !== undefined, `${operationId} needs path parameter ${name}`);
    return encodeURIComponent(value);
  });
  const target = `${origin()}${doc.servers[0].url}${filled}${queryString(op, options.query ?? {})}`;
  const response = await fetch(target, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined || options.raw ? { "content-type": "application/json" } : {}),
    },
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** Asserts the call failed with this HTTP status and API code; returns the error body. */
async function fails(status: number, code: string, operationId: string, options: Call = {}) {
  const result = await call(operationId, options);
  assert.equal(result.status, status, `${operationId}: ${JSON.stringify(result.body)}`);
  assert.equal(result.body.code, code, JSON.stringify(result.body));
  assert.equal(typeof result.body.message, "string");
  return result;
}

/** Where `value` breaks the document's schema (type, nullable, required, enum, $ref, allOf, oneOf). */
function mismatches(schema: Json, value: unknown, at = "$"): string[] {
  if (schema.$ref) return mismatches(doc.components.schemas[schema.$ref.split("/").pop()], value, at);
  if (value === null) return schema.nullable ? [] : [`${at} is null`];
  if (schema.allOf) return schema.allOf.flatMap((part: Json) => mismatches(part, value, at));
  if (schema.oneOf) {
    const fits = schema.oneOf.filter((part: Json) => mismatches(part, value, at).length === 0);
    return fits.length > 0 ? [] : [`${at} fits none of oneOf`];
  }
  if (schema.enum && !schema.enum.includes(value)) return [`${at}: ${String(value)} not in enum`];
  switch (schema.type) {
    case "string":
      return typeof value === "string" ? [] : [`${at} is not a string`];
    case "integer":
      return Number.isInteger(value) ? [] : [`${at} is not an integer`];
    case "number":
      return typeof value === "number" ? [] : [`${at} is not a number`];
    case "boolean":
      return typeof value === "boolean" ? [] : [`${at} is not a boolean`];
    case "array":
      return Array.isArray(value)
        ? value.flatMap((item, i) => mismatches(schema.items, item, `${at}[${i}]`))
        : [`${at} is not an array`];
    case "object": {
      if (typeof value !== "object" || Array.isArray(value)) return [`${at} is not an object`];
      const missing = (schema.required ?? []).filter((key: string) => !(key in (value as Json)));
      return [
        ...missing.map((key: string) => `${at}.${key} is missing`),
        ...Object.entries(value as Json).flatMap(([key, inner]) =>
          schema.properties?.[key] ? mismatches(schema.properties[key], inner, `${at}.${key}`) : [],
        ),
      ];
    }
    default:
      return [];
  }
}

/** Asserts a 200 answer of `operationId` is what its document entry says it is. */
function assertDescribed(operationId: string, body: unknown): void {
  const schema = operation(operationId).op.responses["200"].content["application/json"].schema;
  assert.deepEqual(mismatches(schema, body), [], `${operationId} answered ${JSON.stringify(body)}`);
}

async function adminToken(): Promise<string> {
  const result = await call("adminToken", { body: ADMIN });
  assert.equal(result.status, 200, JSON.stringify(result.body));
  return result.body.token;
}

test("is a valid OpenAPI 3 document whose references all resolve", async () => {
  await loadDocument();
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc));
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1)?.slice(0, 2000));
  assert.match(validator.version, /^3\./);
  assert.doesNotThrow(() => validator.resolveRefs());
});

test("describes GET /v1/me, bearer auth and the error body", async () => {
  await loadDocument();
  assert.equal(doc.servers[0].url, "/v1");
  assert.equal(operation("me").method, "GET");
  assert.equal(operation("me").path, "/me");
  assert.equal(doc.components.securitySchemes.bearerAuth.scheme, "bearer");
  const errorCodes = doc.components.schemas.ApiError.properties.code.enum;
  for (const code of ["UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "RATE_LIMITED", "USER_BANNED"]) {
    assert.ok(errorCodes.includes(code), code);
  }
  assert.deepEqual(
    operation("messages")
      .op.parameters.map((parameter: Json) => parameter.name)
      .sort(),
    ["before", "conversation", "from", "last", "types"],
  );
  for (const status of ["400", "401", "403", "404", "409", "413", "429", "500"]) {
    assert.ok(operation("adminBanUser").op.responses[status], status);
  }
});

test("leaves out subscriptions, uploads and sofa's webhooks", async () => {
  await loadDocument();
  const ids = Object.values<Json>(doc.paths).flatMap((item) =>
    Object.values<Json>(item).map((op) => op.operationId),
  );
  for (const absent of ["events", "uploadFile"]) assert.ok(!ids.includes(absent), absent);
  assert.ok(!Object.keys(doc.paths).some((path) => path.startsWith("/webhook")));
  const webhook = await fetch(`${origin()}/v1/webhook`, { method: "POST", body: "{}" });
  assert.equal(webhook.status, 404);
});

test("every operation's generated selection fits the depth and cost limits", async () => {
  await loadDocument();
  const admin = await adminToken();
  const user = await signUp(url);
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const [method, op] of Object.entries<Json>(item)) {
      const response = await fetch(`${origin()}/v1${path.replace(/\{\w+\}/g, "x")}`, {
        method: method.toUpperCase(),
        headers: { authorization: `Bearer ${op.tags[0] === "Admin" ? admin : user.token}` },
      });
      const body = await response.json();
      assert.ok(
        response.status < 500 && response.status !== 413,
        `${op.operationId}: ${JSON.stringify(body)}`,
      );
    }
  }
});

test("GET /v1/me is the signed-in user; no token is 401", async () => {
  const alice = await signUp(url);
  const me = await call("me", { token: alice.token });
  assert.equal(me.status, 200);
  assert.equal(me.body.username, alice.username);
  assert.equal(me.body.id, alice.userId);
  assertDescribed("me", me.body);
  await fails(401, "UNAUTHENTICATED", "me");
  await fails(401, "UNAUTHENTICATED", "me", { token: "not-a-token" });
});

test("a user by name; an unknown name is 404", async () => {
  const bob = await signUp(url);
  const found = await call("user", { token: bob.token, params: { username: bob.username } });
  assert.equal(found.status, 200);
  assert.equal(found.body.username, bob.username);
  await fails(404, "NOT_FOUND", "user", { token: bob.token, params: { username: uniqueName() } });
});

test("register and log in over REST; wrong passwords end in 429 with Retry-After", async () => {
  const username = uniqueName();
  const registered = await call("register", { body: { username, password: PASSWORD, platform: "web" } });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  assert.equal(registered.body.user.username, username);
  await fails(409, "CONFLICT", "register", { body: { username, password: PASSWORD } });
  const login = await call("login", { body: { username, password: PASSWORD } });
  assert.equal(login.status, 200);
  assert.equal((await call("me", { token: login.body.token })).body.username, username);

  await fails(401, "UNAUTHENTICATED", "login", { body: { username, password: "wrong-password" } });
  await fails(401, "UNAUTHENTICATED", "login", { body: { username, password: "wrong-password" } });
  const limited = await fails(429, "RATE_LIMITED", "login", { body: { username, password: PASSWORD } });
  assert.ok(limited.body.retryAfterSeconds > 0);
  assert.equal(limited.headers.get("retry-after"), String(limited.body.retryAfterSeconds));
});

test("bad input is 400 with the API code", async () => {
  const carol = await signUp(url);
  const admin = await adminToken();
  await fails(400, "BAD_USER_INPUT", "users", { token: carol.token });
  await fails(400, "BAD_USER_INPUT", "register", { raw: "{not json" });
  const stats = await fails(400, "BAD_USER_INPUT", "adminMessageStats", {
    token: admin,
    query: { from: "yesterday", to: "2026-01-02T00:00:00Z" },
  });
  assert.match(stats.body.message, /ISO-8601/);
});

test("create users, issue a token, ban and unban", async () => {
  const admin = await adminToken();
  const names = [uniqueName(), uniqueName()];
  const created = await call("adminCreateUsers", {
    token: admin,
    body: { users: names.map((username) => ({ username, password: PASSWORD })) },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.deepEqual(created.body.map((user: Json) => user.username).sort(), [...names].sort());
  await fails(409, "CONFLICT", "adminCreateUsers", {
    token: admin,
    body: { users: [{ username: names[0], password: PASSWORD }] },
  });

  const issued = await call("adminIssueUserToken", { token: admin, params: { username: names[0]! } });
  assert.equal(issued.status, 200);
  assert.equal((await call("me", { token: issued.body.token })).body.username, names[0]);

  const banned = await call("adminBanUser", { token: admin, params: { username: names[0]! }, body: {} });
  assert.equal(banned.status, 200);
  assert.equal(banned.body, true);
  await fails(403, "USER_BANNED", "login", { body: { username: names[0], password: PASSWORD } });
  await fails(401, "UNAUTHENTICATED", "me", { token: issued.body.token });
  assert.equal((await call("adminUnbanUser", { token: admin, params: { username: names[0]! } })).body, true);
  assert.equal((await call("login", { body: { username: names[0], password: PASSWORD } })).status, 200);

  await fails(404, "NOT_FOUND", "adminBanUser", {
    token: admin,
    params: { username: uniqueName() },
    body: {},
  });
});

test("a user's token on an admin route is 403", async () => {
  const dave = await signUp(url);
  await fails(403, "FORBIDDEN", "adminCreateUsers", {
    token: dave.token,
    body: { users: [{ username: uniqueName(), password: PASSWORD }] },
  });
  await fails(403, "FORBIDDEN", "adminOnlineStatus", {
    token: dave.token,
    query: { usernames: [dave.username] },
  });
  await fails(401, "UNAUTHENTICATED", "adminToken", {
    body: { ...ADMIN, clientSecret: "wrong-secret-0123456789" },
  });
});

test("send as a user, then read the history on both sides", async () => {
  const admin = await adminToken();
  const [alice, bob] = [await signUp(url), await signUp(url)];
  const sent = await call("adminSendMessage", {
    token: admin,
    body: { from: alice.username, to: { user: bob.username }, body: { text: { text: "hello over REST" } } },
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  assert.equal(sent.body.from.username, alice.username);
  assert.equal(sent.body.body.text, "hello over REST");
  assertDescribed("adminSendMessage", sent.body);

  const history = await call("messages", {
    token: bob.token,
    query: { conversation: { user: alice.username } },
  });
  assert.equal(history.status, 200, JSON.stringify(history.body));
  assert.deepEqual(
    history.body.edges.map((edge: Json) => [edge.node.id, edge.node.body.text]),
    [[sent.body.id, "hello over REST"]],
  );
  assertDescribed("messages", history.body);
  const conversations = await call("conversations", { token: bob.token });
  assert.equal(conversations.body.edges[0].node.peer.username, alice.username);
  assertDescribed("conversations", conversations.body);
  const reply = await call("sendMessage", {
    token: bob.token,
    body: { to: { user: alice.username }, body: { text: { text: "hi back" } } },
  });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const aliceSide = await call("messages", {
    token: alice.token,
    query: { conversation: { user: bob.username } },
  });
  assert.deepEqual(
    aliceSide.body.edges.map((edge: Json) => edge.node.body.text),
    ["hello over REST", "hi back"],
  );
  const online = await call("adminOnlineStatus", { token: admin, query: { usernames: [alice.username] } });
  assert.equal(online.status, 200);
  assert.equal(online.body[0].user.username, alice.username);
  assert.equal(online.body[0].online, false);
  assertDescribed("adminOnlineStatus", online.body);

  await fails(413, "LIMIT_EXCEEDED", "sendMessage", {
    token: bob.token,
    body: { to: { user: alice.username }, body: { text: { text: "x".repeat(5001) } } },
  });
  await fails(404, "NOT_FOUND", "adminSendMessage", {
    token: admin,
    body: { from: uniqueName(), to: { user: bob.username }, body: { text: { text: "nobody" } } },
  });
});

test("groups and rooms admin: update, list and destroy through PATCH, GET and DELETE", async () => {
  const admin = await adminToken();
  const [owner, member] = [await signUp(url), await signUp(url)];
  const group = await call("createGroup", {
    token: owner.token,
    body: { name: "rest team", members: [member.username] },
  });
  assert.equal(group.status, 200, JSON.stringify(group.body));
  const renamed = await call("updateGroup", {
    token: admin,
    params: { id: group.body.id },
    body: { name: "renamed" },
  });
  assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  assert.equal(renamed.body.name, "renamed");
  const members = await call("groupMembers", { token: admin, params: { id: group.body.id } });
  assert.deepEqual(
    members.body.edges.map((edge: Json) => edge.node.user.username).sort(),
    [owner.username, member.username].sort(),
  );
  assertDescribed("groupMembers", members.body);
  assertDescribed("updateGroup", renamed.body);
  await fails(403, "FORBIDDEN", "destroyGroup", { token: member.token, params: { id: group.body.id } });
  assert.equal((await call("destroyGroup", { token: admin, params: { id: group.body.id } })).body, true);
  await fails(404, "NOT_FOUND", "group", { token: owner.token, params: { id: group.body.id } });

  const room = await call("createRoom", { token: admin, body: { name: "rest lobby" } });
  assert.equal(room.status, 200, JSON.stringify(room.body));
  const announced = await call("setRoomAnnouncement", {
    token: admin,
    params: { id: room.body.id },
    body: { text: "welcome" },
  });
  assert.equal(announced.body.announcement, "welcome");
  assert.equal((await call("destroyRoom", { token: admin, params: { id: room.body.id } })).body, true);
});

test("an unknown route under /v1 is a JSON 404", async () => {
  const response = await fetch(`${origin()}/v1/no-such-thing`);
  assert.equal(response.status, 404);
  assert.equal((await response.json()).code, "NOT_FOUND");
});

test("the docs page and its files are served by the server itself", async () => {
  const page = await fetch(`${origin()}/v1/docs`);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /swagger-ui-bundle\.js/);
  assert.doesNotMatch(html, /https?:\/\//, "no CDN");
  const bundle = await fetch(`${origin()}/v1/docs/swagger-ui-bundle.js`);
  assert.equal(bundle.status, 200);
  assert.match(bundle.headers.get("content-type") ?? "", /javascript/);
  assert.ok((await bundle.arrayBuffer()).byteLength > 100_000);
  assert.equal((await fetch(`${origin()}/v1/docs/init.js`)).status, 200);
  assert.equal((await fetch(`${origin()}/v1/docs/../../etc/passwd`)).status, 404);
});

test("answers carry X-Request-Id and CORS headers like /graphql", async () => {
  const response = await fetch(`${origin()}/v1/openapi.json`, {
    headers: { origin: "https://app.example.com" },
  });
  assert.ok(response.headers.get("x-request-id"));
  assert.ok(response.headers.get("access-control-allow-origin"));
});
