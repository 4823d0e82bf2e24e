import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { takeDatabaseDown } from "./helpers/app.js";
import { type GraphQLResponse, wsUrl } from "./helpers/client.js";
import { type SignedIn, signUp } from "./helpers/factories.js";
import { lineWith, startLoggedApp } from "./helpers/logs.js";

// What an operator reads in the log about a failed request: one line with the request id the
// client got back, who, what, how long and the error code, and never a password or a token.

const CHANGE_PASSWORD =
  "mutation ChangeIt($old: String!, $new: String!) { changePassword(old: $old, new: $new) }";
const WRONG_OLD = "wrong-old-secret-4f1c9e";
const NEW_PASSWORD = "new-secret-8d2b7a";

let server: Awaited<ReturnType<typeof startLoggedApp>>;
let alice: SignedIn;
before(async () => {
  server = await startLoggedApp();
  alice = await signUp(server.url);
});
after(() => server.stop());

function assertNoSecrets(text: string) {
  for (const secret of [WRONG_OLD, NEW_PASSWORD, alice.token]) {
    assert.ok(!text.includes(secret), `the log holds a secret (${secret.slice(0, 6)}…):\n${text}`);
  }
}

describe("request logs", () => {
  it("logs a failed HTTP request with its request id, user, operation, duration and code, and no secrets", async () => {
    const answer = await fetch(server.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${alice.token}`,
        "x-request-id": "logs-http-1",
      },
      body: JSON.stringify({ query: CHANGE_PASSWORD, variables: { old: WRONG_OLD, new: NEW_PASSWORD } }),
    });
    assert.equal(answer.headers.get("x-request-id"), "logs-http-1");
    const result = (await answer.json()) as GraphQLResponse;
    assert.equal(result.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");

    const line = await lineWith(server, { requestId: "logs-http-1" });
    assert.equal(line.level, "info");
    assert.equal(line.method, "POST");
    assert.equal(line.path, "/graphql");
    assert.equal(line.status, 200);
    assert.equal(line.operationName, "ChangeIt");
    assert.equal(line.operationType, "mutation");
    assert.equal(line.user, alice.userId);
    assert.equal(line.outcome, "UNAUTHENTICATED");
    assert.equal(line.clientAddress, "127.0.0.1");
    assert.equal(typeof line.durationMs, "number");
    assert.equal(server.lines().filter((each) => each.requestId === "logs-http-1").length, 1);
    assertNoSecrets(server.text());
  });

  it("logs a request without an id under the one it made and sent back", async () => {
    const answer = await fetch(`${server.url}?query=${encodeURIComponent("query Probe { __typename }")}`);
    const made = answer.headers.get("x-request-id");
    assert.match(made ?? "", /^[0-9a-f-]{36}$/);
    await answer.body?.cancel();
    const line = await lineWith(server, { requestId: made });
    assert.equal(line.operationName, "Probe");
    assert.equal(line.method, "GET");
    assert.equal(line.user, "anonymous");
    assert.equal(line.outcome, "ok");
  });

  it("logs each graphql-ws operation under its connection's request id and its own id", async () => {
    // graphql-ws clients in Node can send headers with the upgrade request, as a proxy would.
    class Upgrade extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers: { "x-request-id": "logs-ws-1" } });
      }
    }
    const client = createClient({
      url: wsUrl(server.url),
      webSocketImpl: Upgrade,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${alice.token}` },
    });
    const result = await new Promise<GraphQLResponse>((resolve, reject) => {
      let received: GraphQLResponse = {};
      client.subscribe(
        { query: CHANGE_PASSWORD, variables: { old: WRONG_OLD, new: NEW_PASSWORD } },
        {
          next: (value) => {
            received = value as GraphQLResponse;
          },
          error: reject,
          complete: () => resolve(received),
        },
      );
    });
    assert.equal(result.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    await client.dispose();

    const line = await lineWith(server, { requestId: "logs-ws-1", message: "GraphQL operation" });
    assert.equal(typeof line.operationId, "string");
    assert.equal(line.operationName, "ChangeIt");
    assert.equal(line.operationType, "mutation");
    assert.equal(line.user, alice.userId);
    assert.equal(line.outcome, "UNAUTHENTICATED");
    assert.equal(typeof line.durationMs, "number");
    const closed = await lineWith(server, { requestId: "logs-ws-1", message: "WebSocket closed" });
    assert.equal(closed.user, alice.userId);
    assertNoSecrets(server.text());
  });

  it("logs an INTERNAL failure at error level with its cause on the request's one line", async () => {
    const broken = await startLoggedApp();
    after(() => broken.stop());
    const bob = await signUp(broken.url);
    await takeDatabaseDown(broken.app);
    const answer = await fetch(broken.url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "logs-internal-1" },
      body: JSON.stringify({
        query: "mutation LogIn($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
        variables: { u: alice.username, p: WRONG_OLD },
      }),
    });
    const result = (await answer.json()) as GraphQLResponse;
    assert.equal(result.errors?.[0]?.extensions?.code, "INTERNAL");

    const line = await lineWith(broken, { requestId: "logs-internal-1" });
    assert.equal(line.level, "error");
    assert.equal(line.outcome, "INTERNAL");
    assert.equal(line.operationName, "LogIn");
    assert.equal(typeof line.error, "string", "the cause is on the line");

    // An outage found before any resolver runs: looking up the caller's token.
    const me = await fetch(broken.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${bob.token}`,
        "x-request-id": "logs-internal-2",
      },
      body: JSON.stringify({ query: "query Me { me { id } }" }),
    });
    assert.equal(((await me.json()) as GraphQLResponse).errors?.[0]?.extensions?.code, "INTERNAL");
    const meLine = await lineWith(broken, { requestId: "logs-internal-2" });
    assert.equal(meLine.level, "error");
    assert.equal(typeof meLine.error, "string", "the cause is on the line");

    assert.equal(
      broken.lines().filter((each) => each.message === "Unexpected error").length,
      0,
      "no second line for the same failure",
    );
    assert.ok(!broken.text().includes(WRONG_OLD));
    assert.ok(!broken.text().includes(bob.token));
  });
});
