import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { loadConfig } from "../src/config.js";
import { connect, type GraphQLResponse, gql, ok, wsUrl } from "./helpers/client.js";
import { signUp } from "./helpers/factories.js";
import { lineWith, startLoggedApp } from "./helpers/logs.js";

// TRUST_PROXY, the request size caps, and what production turns off (GraphiQL, introspection).

type Server = Awaited<ReturnType<typeof startLoggedApp>>;
let plain: Server; // development defaults, small caps, no proxy trusted
let production: Server; // NODE_ENV=production behind a proxy on loopback
before(async () => {
  [plain, production] = await Promise.all([
    startLoggedApp({ MAX_MESSAGE_BYTES: "1024", MAX_REQUEST_BYTES: "20000", MAX_WS_MESSAGE_BYTES: "20000" }),
    startLoggedApp({ NODE_ENV: "production", TRUST_PROXY: "loopback" }),
  ]);
});
after(() => Promise.all([plain.stop(), production.stop()]));

const post = (url: string, body: BodyInit, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    duplex: "half",
  } as RequestInit);

/** The code the socket closes with. */
function closeCodeOf(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => socket.once("close", (code) => resolve(code)));
}

describe("TRUST_PROXY", () => {
  const forwarded = { "x-forwarded-for": "198.51.100.1, 203.0.113.7" };

  it("takes the client's address from X-Forwarded-For only from a trusted proxy", async () => {
    for (const server of [plain, production]) {
      const answer = await post(server.url, JSON.stringify({ query: "{ __typename }" }), {
        ...forwarded,
        "x-request-id": `xff-${server === plain ? "plain" : "trusted"}`,
      });
      await answer.body?.cancel();
    }
    assert.equal((await lineWith(plain, { requestId: "xff-plain" })).clientAddress, "127.0.0.1");
    // The proxy on loopback is trusted; the address it was given is the client's (the one before it is not vouched for).
    assert.equal((await lineWith(production, { requestId: "xff-trusted" })).clientAddress, "203.0.113.7");
  });

  it("applies to the graphql-ws upgrade request too", async () => {
    const socket = new WebSocket(wsUrl(production.url), "graphql-transport-ws", {
      headers: { ...forwarded, "x-request-id": "xff-ws" },
    });
    const closed = closeCodeOf(socket);
    socket.once("open", () => socket.close(1000));
    await closed;
    const line = await lineWith(production, { requestId: "xff-ws", message: "WebSocket closed" });
    assert.equal(line.clientAddress, "203.0.113.7");
  });

  it("takes what Express takes and refuses the rest", () => {
    assert.equal(loadConfig({ TRUST_PROXY: "" }).trustProxy, false);
    assert.equal(loadConfig({ TRUST_PROXY: "true" }).trustProxy, true);
    assert.equal(loadConfig({ TRUST_PROXY: "2" }).trustProxy, 2);
    assert.deepEqual(loadConfig({ TRUST_PROXY: "loopback, 10.0.0.0/8" }).trustProxy, [
      "loopback",
      "10.0.0.0/8",
    ]);
    assert.throws(() => loadConfig({ TRUST_PROXY: "10.0.0.0/33" }), /TRUST_PROXY/);
    assert.throws(() => loadConfig({ TRUST_PROXY: "proxy.example.com" }), /TRUST_PROXY/);
  });
});

describe("size caps", () => {
  const oversize = JSON.stringify({
    query: "query Big($s: String) { __typename }",
    variables: { s: "x".repeat(30_000) },
  });

  it("answers an oversize request body 413 LIMIT_EXCEEDED, with or without a Content-Length", async () => {
    const sized = await post(plain.url, oversize, { "x-request-id": "cap-sized" });
    assert.equal(sized.status, 413);
    const result = (await sized.json()) as GraphQLResponse;
    assert.equal(result.errors?.[0]?.extensions?.code, "LIMIT_EXCEEDED");
    assert.match(result.errors![0]!.message, /MAX_REQUEST_BYTES/);
    const line = await lineWith(plain, { requestId: "cap-sized" });
    assert.equal(line.status, 413);
    assert.equal(line.outcome, "LIMIT_EXCEEDED");

    const bytes = new TextEncoder().encode(oversize);
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 4096) controller.enqueue(bytes.slice(at, at + 4096));
        controller.close();
      },
    });
    const streamed = await post(plain.url, chunked);
    assert.equal(streamed.status, 413);
    assert.equal(
      ((await streamed.json()) as GraphQLResponse).errors?.[0]?.extensions?.code,
      "LIMIT_EXCEEDED",
    );

    const small = JSON.stringify({ query: `{ __typename } # ${"x".repeat(5000)}` });
    assert.deepEqual(await (await post(plain.url, small)).json(), { data: { __typename: "Query" } });
  });

  it("closes a WebSocket whose message passes MAX_WS_MESSAGE_BYTES with 1009", async () => {
    const socket = new WebSocket(wsUrl(plain.url), "graphql-transport-ws");
    const closed = closeCodeOf(socket);
    socket.once("open", () =>
      socket.send(JSON.stringify({ type: "connection_init", payload: { pad: "x".repeat(30_000) } })),
    );
    assert.equal(await closed, 1009);
  });

  it("refuses caps too small for a message at MAX_MESSAGE_BYTES", () => {
    assert.throws(
      () => loadConfig({ MAX_REQUEST_BYTES: "20000", MAX_MESSAGE_BYTES: "16384" }),
      /MAX_REQUEST_BYTES/,
    );
    assert.throws(() => loadConfig({ MAX_WS_MESSAGE_BYTES: "abc" }), /MAX_WS_MESSAGE_BYTES/);
    const config = loadConfig({ MAX_MESSAGE_BYTES: "1048576" });
    assert.ok(config.maxRequestBytes >= 2 * 1048576 && config.maxWsMessageBytes >= 2 * 1048576);
  });
});

describe("production defaults", () => {
  const INTROSPECT = "{ __schema { queryType { name } } }";
  const page = async (url: string) =>
    (await fetch(url, { headers: { accept: "text/html" } }).then((answer) => answer.text())).toLowerCase();

  it("serves no GraphiQL and refuses introspection over HTTP and graphql-ws, with a clear error", async () => {
    assert.ok(!(await page(production.url)).includes("graphiql"));
    const result = await gql(production.url, INTROSPECT);
    assert.match(result.errors?.[0]?.message ?? "", /introspection/i);
    assert.equal(result.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    await ok(production.url, "{ __typename }");

    const alice = await signUp(production.url);
    const socket = connect(production.url, alice.token);
    try {
      await socket.connected;
      const errors = await new Promise<unknown>((resolve) =>
        socket.client.subscribe(
          { query: INTROSPECT },
          { next: () => {}, error: resolve, complete: () => resolve(null) },
        ),
      );
      assert.match(JSON.stringify(errors), /introspection/i);
    } finally {
      await socket.dispose();
    }
  });

  it("turns both on in production when set", async () => {
    const open = await startLoggedApp({ NODE_ENV: "production", GRAPHIQL: "true", INTROSPECTION: "true" });
    try {
      assert.ok((await page(open.url)).includes("graphiql"));
      assert.equal((await ok(open.url, INTROSPECT)).__schema.queryType.name, "Query");
    } finally {
      await open.stop();
    }
    assert.equal(loadConfig({ NODE_ENV: "production" }).graphiql, false);
    assert.equal(loadConfig({}).introspection, true);
    assert.throws(() => loadConfig({ INTROSPECTION: "maybe" }), /INTROSPECTION/);
  });
});
