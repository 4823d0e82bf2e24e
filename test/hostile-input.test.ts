import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type GraphQLInputType, getNamedType, isInputObjectType, isListType, isNonNullType } from "graphql";
import { ERROR_CODES } from "../src/errors.js";
import { schema } from "../src/schema/index.js";
import { startApp, type TestServer } from "./helpers/app.js";
import { ok } from "./helpers/client.js";
import { adminToken, type SignedIn, signUp } from "./helpers/factories.js";
import { OWNED_WORLD_ENV, type OwnedWorld, ownedWorld } from "./helpers/owned.js";
import {
  document,
  literalDocument,
  type Operation,
  type Plausible,
  type Position,
  plausibleValue,
  positions,
  rootFields,
  withValueAt,
} from "./helpers/schema-cases.js";

// Every query and mutation, generated from the schema, called with wrong types, missing and null
// arguments, huge strings, deep JSON, unicode edge cases, other users' ids and strings where files
// belong, as a stranger, as the app server and anonymously. None may answer INTERNAL or 5xx, and
// the server must still answer at the end. Then the document-level limits: alias floods, batches,
// oversize documents, fragment cycles.

let server: TestServer;
let url: string;
let world: OwnedWorld;
let stranger: SignedIn;
let admin: string;

before(async () => {
  server = await startApp(OWNED_WORLD_ENV);
  url = server.url;
  world = await ownedWorld(url);
  stranger = await signUp(url);
  admin = await adminToken(url);
});
after(() => server.stop());

interface Call {
  label: string;
  /** A JSON body, or a multipart form; made when sent, as some are megabytes. */
  body: () => string | FormData;
  token?: string;
}

interface Finding {
  label: string;
  detail: string;
}

const KNOWN_CODES = new Set<string>(ERROR_CODES);

/** Sends one call; returns what is wrong with its answer, if anything. */
async function check(call: Call): Promise<string | undefined> {
  let response: Response;
  const body = call.body();
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        ...(typeof body === "string" ? { "content-type": "application/json" } : {}),
        ...(call.token ? { authorization: `Bearer ${call.token}` } : {}),
      },
      body,
    });
  } catch (error) {
    return `no answer: ${(error as Error).message} ${String((error as Error).cause)}`;
  }
  const text = await response.text();
  if (response.status >= 500) return `HTTP ${response.status}: ${text.slice(0, 300)}`;
  if (response.status === 413) return undefined; // a body cap in front of GraphQL is a clear answer
  let result: { errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    result = JSON.parse(text);
  } catch {
    return `HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`;
  }
  for (const error of result.errors ?? []) {
    const code = error.extensions?.code;
    if (code === "INTERNAL" || typeof code !== "string" || !KNOWN_CODES.has(code)) {
      return `${code ?? "no code"}: ${error.message.slice(0, 300)}`;
    }
  }
  return undefined;
}

/** Runs every call, `concurrency` at a time; returns the failures. */
async function runAll(calls: Call[], concurrency = 8): Promise<Finding[]> {
  const findings: Finding[] = [];
  let next = 0;
  const worker = async () => {
    while (next < calls.length) {
      const call = calls[next++]!;
      const detail = await check(call);
      if (detail) findings.push({ label: call.label, detail });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return findings;
}

// --- hostile values -------------------------------------------------------------------------------

const MEGABYTE = "a".repeat(1024 * 1024);
const WIDE_UNICODE = "😀".repeat(100_000);
const UNICODE_EDGES: [string, string][] = [
  ["RTL override and zero-width", "\u202egnp.exe\ufeff\u200b\u2028"],
  ["ZWJ family and 4-byte emoji", "👨‍👩‍👧‍👦😀𝕏"],
  ["combining marks", `e${"\u0301".repeat(50)}`],
  ["non-NFC", "A\u030angstro\u0308m"],
];
const ID_EDGES: [string, string][] = [
  ["empty id", ""],
  ["word id", "nope"],
  ["huge numeric id", "99999999999999999999999999999"],
  ["NUL id", "1\u0000"],
];

/** Nesting too deep for JSON.stringify's stack: written into the body as text (see `json`). */
const DEEP = new Map<string, string>([
  ["\u0000deep-object", `${'{"nested":'.repeat(10_000)}{}${"}".repeat(10_000)}`],
  ["\u0000deep-list", `${"[".repeat(10_000)}${"]".repeat(10_000)}`],
]);
const [DEEP_JSON, DEEP_LIST] = [...DEEP.keys()];

function json(query: string, variables: Record<string, unknown>): string {
  let body = JSON.stringify({ query, variables });
  for (const [marker, text] of DEEP) body = body.replaceAll(JSON.stringify(marker), text);
  return body;
}
const WIDE_JSON = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]));

type Variant = [label: string, value: unknown];

/** Hostile values for one argument position; `thorough` at the top level, a sample deeper down. */
function hostileValues(type: GraphQLInputType, thorough: boolean): Variant[] {
  const variants: Variant[] = [["null", null]];
  const nullable = isNonNullType(type) ? type.ofType : type;
  if (isListType(nullable)) {
    variants.push(["object for a list", { a: 1 }], ["list of null", [null]]);
    if (thorough) {
      const item = plausibleValue(nullable.ofType, "item", plausible());
      variants.push(["100k-item list", Array.from({ length: 100_000 }, () => item)]);
      for (const [label, value] of hostileValues(nullable.ofType, false).slice(1, 3)) {
        variants.push([`[${label}]`, [value]]);
      }
    }
    return variants;
  }
  const named = getNamedType(type);
  if (isInputObjectType(named)) {
    variants.push(["string for an object", "x"]);
    if (thorough)
      variants.push(["empty object", {}], ["list for an object", []], ["unknown field", { nope: 1 }]);
    return variants;
  }
  switch (named.name) {
    case "String":
      variants.push(
        ["number for a string", 42],
        ["object for a string", { a: 1 }],
        ["list for a string", ["x"]],
      );
      variants.push(["empty", ""], ["lone surrogate", "\ud800"], ["NUL", "a\u0000b"]);
      if (thorough) variants.push(["1 MB string", MEGABYTE], ["100k emoji", WIDE_UNICODE], ...UNICODE_EDGES);
      break;
    case "ID":
      variants.push(["float for an id", 1.5], ["object for an id", {}]);
      if (thorough) {
        variants.push(["1 MB id", MEGABYTE], ...ID_EDGES);
        for (const [kind, id] of Object.entries(othersIds())) variants.push([`another user's ${kind}`, id]);
      }
      break;
    case "Int":
      variants.push(["string for an int", "5"], ["float for an int", 1.5], ["2^31", 2 ** 31]);
      if (thorough)
        variants.push(["-2^31-1", -(2 ** 31) - 1], ["zero", 0], ["-1", -1], ["max int", 2 ** 31 - 1]);
      if (thorough) variants.push(["min int", -(2 ** 31)]);
      break;
    case "Float":
      variants.push(["string for a float", "x"], ["huge float", 1e308], ["negative huge float", -1e308]);
      break;
    case "Boolean":
      variants.push(["string for a boolean", "true"], ["number for a boolean", 1]);
      break;
    case "DateTime":
      variants.push(["not a date", "yesterday"], ["number for a date", 0], ["object for a date", {}]);
      if (thorough) {
        variants.push(["far future", "275760-09-13T00:00:00.000Z"], ["year zero", "0000-01-01T00:00:00Z"]);
        variants.push(
          ["February 30", "2026-02-30T00:00:00Z"],
          ["empty date", ""],
          ["date only", "2026-01-01"],
        );
      }
      break;
    case "JSON":
      variants.push(["deep JSON", DEEP_JSON], ["string for JSON", "x"], ["list for JSON", [1, 2]]);
      variants.push(["JSON with odd keys", { "\u0000": "\ud800", "": { __proto__: 1 }, constructor: "x" }]);
      if (thorough)
        variants.push(["deep JSON list", DEEP_LIST], ["wide JSON", WIDE_JSON], ["huge number", 1e308]);
      break;
    case "File":
      variants.push(["string for a file", "plain string"], ["object for a file", { name: "x" }]);
      break;
    default:
      if ("getValues" in named)
        variants.push(["unknown enum value", "NOT_A_VALUE"], ["number for an enum", 7]);
  }
  return variants;
}

/** One id of each kind the owner has, none of them the stranger's. */
function othersIds(): Record<string, string> {
  return {
    "direct message": world.directMessageId,
    "group alone": world.aloneGroupId,
    "group message": world.sharedGroupMessageId,
    thread: world.threadId,
    room: world.roomId,
    attachment: world.attachmentId,
    device: world.owner.deviceId,
    "user id": world.owner.userId,
  };
}

function plausible(): Plausible {
  return {
    username: world.owner.username,
    id: world.aloneGroupId,
    messageId: world.directMessageId,
    deviceId: world.owner.deviceId,
    attachmentId: world.attachmentId,
  };
}

// --- the calls ------------------------------------------------------------------------------------

type Role = "stranger" | "admin" | "anonymous";

/** Every hostile call of one root field for one role. */
function callsFor(
  operation: Operation,
  field: (typeof fields)[number]["field"],
  role: Role,
  openToAnyone = new Set<string>(),
): Call[] {
  const token = role === "stranger" ? stranger.token : role === "admin" ? admin : undefined;
  const thorough = role === "stranger" || (role === "admin" && field.name.startsWith("admin"));
  const query = document(operation, field);
  const stand = plausible();
  const base = Object.fromEntries(
    field.args.map((arg) => [arg.name, plausibleValue(arg.type, arg.name, stand)]),
  );
  const label = (what: string) => `${role} ${field.name}: ${what}`;
  const body =
    (variables: Record<string, unknown>, q = query) =>
    () =>
      json(q, variables);
  const calls: Call[] = [{ label: label("plausible arguments"), body: body(base), token }];
  const required = field.args.filter((arg) => isNonNullType(arg.type));
  calls.push({
    label: label("required arguments only"),
    body: body(Object.fromEntries(required.map((arg) => [arg.name, base[arg.name]]))),
    token,
  });
  for (const arg of required) {
    const { [arg.name]: _, ...rest } = base;
    calls.push({ label: label(`${arg.name} not given`), body: body(rest), token });
    const literals = Object.fromEntries(
      required.filter((other) => other !== arg).map((other) => [other.name, "null"]),
    );
    calls.push({
      label: label(`${arg.name} left out of the document`),
      body: body({}, literalDocument(operation, field, literals)),
      token,
    });
  }
  for (const arg of field.args) {
    calls.push({
      label: label(`${arg.name} as an object literal`),
      body: body({}, literalDocument(operation, field, { [arg.name]: "{ a: 1 }" })),
      token,
    });
  }
  const all: Position[] = positions(field.args);
  for (const position of all) {
    const top = position.path.length === 1;
    for (const [what, value] of hostileValues(position.type, thorough && top)) {
      calls.push({
        label: label(`${position.path.join(".")} ${what}`),
        body: () => json(query, withValueAt(field.args, stand, position, value)),
        token,
      });
    }
  }
  // Anonymous callers are turned away before arguments matter, except where signing in.
  if (role === "anonymous" && !openToAnyone.has(field.name)) return calls.slice(0, 2);
  // The app server acts on anything: every variation on its own fields, the plain call elsewhere.
  if (role === "admin" && !field.name.startsWith("admin")) return calls.slice(0, 2);
  return calls;
}

const fields = rootFields(schema);

/** Where an anonymous caller gets past sign-in (authorization.test.ts checks every other field refuses). */
const OPEN_TO_ANYONE = new Set(["register", "login", "adminToken", "pushConfig"]);

/** `logout` would end the stranger's own session: it gets a throwaway user per call. */
const ENDS_OWN_SESSION = new Set(["logout"]);

const UPLOAD = "mutation($file: File!) { uploadFile(file: $file) { id name } }";
const NICKNAME = "mutation($n: String) { updateProfile(nickname: $n) { nickname } }";

/** GraphQL multipart requests with a plain string where the file belongs, and a file where a string does. */
function multipartCalls(): Call[] {
  const form = (operations: unknown, map: unknown, parts: Record<string, string | Blob>) => () => {
    const body = new FormData();
    body.set("operations", typeof operations === "string" ? operations : JSON.stringify(operations));
    body.set("map", typeof map === "string" ? map : JSON.stringify(map));
    for (const [name, part] of Object.entries(parts)) body.set(name, part);
    return body;
  };
  const file = new Blob(["bytes"], { type: "text/plain" });
  const upload = { query: UPLOAD, variables: { file: null } };
  const cases: [string, () => FormData][] = [
    ["a string part where the file belongs", form(upload, { 0: ["variables.file"] }, { 0: "plain string" })],
    ["the map names a missing part", form(upload, { 0: ["variables.file"] }, {})],
    ["the map points nowhere", form(upload, { 0: ["variables.nothing.deeper"] }, { 0: file })],
    ["a map that is not JSON", form(upload, "{nope", { 0: file })],
    ["operations that are not JSON", form("{nope", { 0: ["variables.file"] }, { 0: file })],
    ["the file left unmapped", form(upload, {}, { 0: file })],
    [
      "a file where a string belongs",
      form({ query: NICKNAME, variables: { n: null } }, { 0: ["variables.n"] }, { 0: file }),
    ],
    [
      "two files for one variable",
      form(upload, { 0: ["variables.file"], 1: ["variables.file"] }, { 0: file, 1: file }),
    ],
  ];
  return cases.map(([what, body]) => ({ label: `stranger multipart: ${what}`, body, token: stranger.token }));
}

describe("hostile input to every operation", () => {
  it("never answers INTERNAL or 5xx, and the server still answers afterwards", {
    timeout: 600_000,
  }, async () => {
    const findings: Finding[] = [];
    let count = 0;
    const throwaway: string[] = [];
    for (const _ of callsFor("mutation", schema.getMutationType()!.getFields().logout!, "stranger")) {
      throwaway.push((await signUp(url)).token);
    }
    for (const role of ["anonymous", "stranger", "admin"] as Role[]) {
      const calls: Call[] = [];
      for (const { operation, field } of fields) {
        const own = callsFor(operation, field, role, OPEN_TO_ANYONE);
        if (role === "stranger" && ENDS_OWN_SESSION.has(field.name)) {
          for (const call of own) call.token = throwaway.pop();
        }
        calls.push(...own);
      }
      if (role === "stranger") calls.push(...multipartCalls());
      count += calls.length;
      findings.push(...(await runAll(calls)));
    }
    console.log(`hostile-input: ${count} calls over ${fields.length} operations`);
    assert.deepEqual(
      findings.slice(0, 40).map((finding) => `${finding.label} -> ${finding.detail}`),
      [],
      `${findings.length} hostile calls were answered badly`,
    );
    const health = await fetch(new URL("/healthz", url));
    assert.equal(health.status, 200);
    const fresh = await signUp(url);
    assert.equal((await ok(url, "{ me { username } }", {}, fresh.token)).me.username, fresh.username);
  });
});

describe("document limits", () => {
  /** The answer to a raw body: its HTTP status and first error code (413 from a body cap counts as a limit). */
  async function post(body: string, token = stranger.token) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body,
    });
    const text = await response.text();
    const result = response.status === 413 ? {} : JSON.parse(text);
    return { status: response.status, code: result.errors?.[0]?.extensions?.code, result };
  }
  const refusedAsLimit = ({ status, code }: { status: number; code?: string }) =>
    status === 413 || code === "LIMIT_EXCEEDED";

  it("refuses an alias flood with LIMIT_EXCEEDED", async () => {
    for (const field of ["me { id }", "__typename"]) {
      // 1,000 aliases: more than MAX_QUERY_ALIASES, fewer tokens than MAX_QUERY_TOKENS.
      const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: ${field}`).join(" ");
      const answer = await post(JSON.stringify({ query: `{ ${aliases} }` }));
      assert.equal(answer.code, "LIMIT_EXCEEDED", JSON.stringify(answer.result).slice(0, 300));
      assert.match(answer.result.errors[0].message, /alias/i);
    }
    const few = Array.from({ length: 20 }, (_, i) => `a${i}: me { id }`).join(" ");
    assert.equal((await post(JSON.stringify({ query: `{ ${few} }` }))).result.data.a19.id, stranger.userId);
  });

  it("refuses batched operations: a JSON array body, and several operations without a name", async () => {
    const batch = await post(JSON.stringify([{ query: "{ me { id } }" }, { query: "{ me { id } }" }]));
    assert.equal(batch.status, 400);
    assert.equal(batch.code, "BAD_USER_INPUT");
    const operations = Array.from({ length: 500 }, (_, i) => `query Q${i} { me { id } }`).join("\n");
    const many = await post(JSON.stringify({ query: operations }));
    assert.equal(many.code, "BAD_USER_INPUT", JSON.stringify(many.result).slice(0, 300));
    const named = await post(JSON.stringify({ query: operations, operationName: "Q7" }));
    assert.equal(named.result.data.me.id, stranger.userId, "one named operation of many runs alone");
  });

  it("refuses oversize documents: hundreds of thousands of tokens, and a multi-MB query", async () => {
    const tokens = await post(JSON.stringify({ query: `{ ${"__typename ".repeat(300_000)} }` }));
    assert.ok(refusedAsLimit(tokens), JSON.stringify(tokens.result).slice(0, 300));
    const padded = await post(JSON.stringify({ query: `{ me { id } } ${"#".repeat(4 * 1024 * 1024)}` }));
    assert.ok(padded.status < 500 && (refusedAsLimit(padded) || padded.result.data?.me), `${padded.status}`);
    const hugeLiteral = await post(
      JSON.stringify({ query: `{ user(username: "${"a".repeat(4 * 1024 * 1024)}") { id } }` }),
    );
    assert.ok(
      hugeLiteral.status < 500 && hugeLiteral.code !== "INTERNAL",
      JSON.stringify(hugeLiteral.result).slice(0, 300),
    );
  });

  it("refuses fragment cycles, deeply nested fragments and directive floods", async () => {
    const cycle = await post(
      JSON.stringify({ query: "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }" }),
    );
    assert.equal(cycle.code, "BAD_USER_INPUT");
    const chain = Array.from({ length: 500 }, (_, i) => `fragment F${i} on User { ...F${i + 1} }`).join(" ");
    const nested = await post(
      JSON.stringify({ query: `{ me { ...F0 } } ${chain} fragment F500 on User { id }` }),
    );
    assert.ok(
      ["LIMIT_EXCEEDED", "BAD_USER_INPUT"].includes(nested.code),
      JSON.stringify(nested.result).slice(0, 300),
    );
    const deep = `{ me { ${"...on User { ".repeat(2000)} id ${"} ".repeat(2000)} } }`;
    const inline = await post(JSON.stringify({ query: deep }));
    assert.ok(
      ["LIMIT_EXCEEDED", "BAD_USER_INPUT"].includes(inline.code),
      JSON.stringify(inline.result).slice(0, 300),
    );
    const directives = await post(
      JSON.stringify({ query: `{ me { id ${"@include(if: true) ".repeat(1000)} } }` }),
    );
    assert.equal(directives.code, "LIMIT_EXCEEDED");
    const health = await fetch(new URL("/healthz", url));
    assert.equal(health.status, 200);
  });
});
