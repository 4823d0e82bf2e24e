import assert from "node:assert/strict";
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; [key: string]: unknown } }[];
}

/** One GraphQL request over HTTP POST, as any client would send it. */
export async function gql<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** Like gql, but fails the test on any error and returns data. */
export async function ok<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<T> {
  const result = await gql<T>(url, query, variables, token);
  assert.equal(result.errors, undefined, `unexpected errors: ${JSON.stringify(result.errors)}`);
  return result.data as T;
}

/** Asserts the request failed with exactly this API error code, and returns the error message. */
export async function fails(
  code: string,
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<string> {
  const result = await gql(url, query, variables, token);
  assert.ok(result.errors?.length, `expected ${code}, got data ${JSON.stringify(result.data)}`);
  assert.equal(
    result.errors[0]!.extensions?.code,
    code,
    `expected ${code}: ${JSON.stringify(result.errors)}`,
  );
  return result.errors[0]!.message;
}

/** A GraphQL multipart request (the spec apollo-upload-client and urql use) carrying one file. */
export async function upload(
  url: string,
  token: string | undefined,
  file: { bytes: Buffer; name: string; type: string },
): Promise<GraphQLResponse> {
  const form = new FormData();
  form.set(
    "operations",
    JSON.stringify({
      query: `mutation($file: File!) { uploadFile(file: $file) { id url name size mimeType sha256 } }`,
      variables: { file: null },
    }),
  );
  form.set("map", JSON.stringify({ 0: ["variables.file"] }));
  form.set("0", new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.name);
  const response = await fetch(url, {
    method: "POST",
    body: form,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return (await response.json()) as GraphQLResponse;
}

/** Uploads a file, failing the test on any error; returns the Attachment. */
export async function uploaded(
  url: string,
  token: string,
  file: { bytes: Buffer; name: string; type: string },
) {
  const result = await upload(url, token, file);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data!.uploadFile;
}

export const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, "ws");

export interface Socket {
  client: Client;
  /** Resolves on connection_ack; rejects if the server closes first. */
  connected: Promise<void>;
  /** Resolves with the close code and reason once the server (or the test) closes the socket. */
  closed: Promise<{ code: number; reason: string }>;
  dispose(): Promise<void>;
}

/** A real graphql-ws client connection, authenticated with connectionParams.authorization. */
export function connect(httpUrl: string, token?: string): Socket {
  let onConnected!: () => void;
  let onClosed!: (value: { code: number; reason: string }) => void;
  let failConnect!: (error: Error) => void;
  const connected = new Promise<void>((resolve, reject) => {
    onConnected = resolve;
    failConnect = reject;
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    onClosed = resolve;
  });
  connected.catch(() => {}); // callers that only look at `closed` need not handle this
  const client = createClient({
    url: wsUrl(httpUrl),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    onNonLazyError: () => {},
    on: {
      connected: () => onConnected(),
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        failConnect(new Error(`closed ${code} ${reason}`));
        onClosed({ code, reason: String(reason) });
      },
    },
  });
  return { client, connected, closed, dispose: () => client.dispose() as Promise<void> };
}

/** Collects what a subscription delivers; `next()` waits for the following item. */
export function subscribe<T = Record<string, any>>(
  socket: Socket,
  query: string,
  variables: Record<string, unknown> = {},
) {
  const received: GraphQLResponse<T>[] = [];
  const waiters: (() => void)[] = [];
  let completed = false;
  const done = new Promise<void>((resolve) => {
    socket.client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          received.push(value as GraphQLResponse<T>);
          for (const wake of waiters.splice(0)) wake();
        },
        error: (error) => {
          received.push({ errors: Array.isArray(error) ? error : [{ message: String(error) }] });
          completed = true;
          for (const wake of waiters.splice(0)) wake();
          resolve();
        },
        complete: () => {
          completed = true;
          for (const wake of waiters.splice(0)) wake();
          resolve();
        },
      },
    );
  });
  let read = 0;
  return {
    received,
    done,
    async next(timeoutMs = 5000): Promise<GraphQLResponse<T>> {
      const deadline = Date.now() + timeoutMs;
      while (read >= received.length) {
        if (completed) throw new Error("subscription completed without another result");
        if (Date.now() > deadline) throw new Error(`no subscription result within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return received[read++]!;
    },
  };
}

export const EVENTS = `subscription Events($since: String) {
  events(since: $since) { cursor createdAt event { __typename ... on SessionEvent { kind } } }
}`;

/** Polls until `check` passes or the time is up; for state that other processes change. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
