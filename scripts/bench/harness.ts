import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import { childProcesses, ROOT, spawnServer, type TestServer } from "../../test/helpers/app.js";
import { ADMIN, createTestDatabase, uniqueName } from "../../test/helpers/env.js";

// What the benchmark workloads share: a real server process on fresh storage, users, and clients.

export type StorageMode = "embedded" | "services";

export interface BenchServer {
  url: string;
  mode: StorageMode;
  /** "server" is this project (`npm start`); "relay" the reference relay (relay.ts). */
  system: "server" | "relay";
  /** The server process, for CPU and memory readings (`processUsage`, which adds its workers). */
  pid?: number;
  /** Services mode: the bench database, for PostgreSQL statistics. */
  databaseUrl?: string;
  stop(): Promise<void>;
}

/** Servers and relays still running, killed if the bench itself is stopped (a timeout, Ctrl-C). */
/** A bench measures the server's own speed: abuse limits (README.md, "Abuse limits") off. */
const UNLIMITED = { RATE_LIMITS: "off" };

const running = new Set<{ kill(signal: NodeJS.Signals): unknown }>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

/** Tracks a spawned process until it stops. */
function tracked<T extends { process: { kill(signal: NodeJS.Signals): unknown }; stop(): Promise<void> }>(
  child: T,
): T {
  running.add(child.process);
  const stop = child.stop.bind(child);
  return Object.assign(child, {
    stop: async () => {
      await stop();
      running.delete(child.process);
    },
  });
}

/** Built once per bench run: the server runs as `npm start` runs it, from dist/. */
let built = false;
function build() {
  if (built) return;
  execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
  built = true;
}

/** Where a bench server keeps its data: a data directory (embedded), or a database (services). */
export interface BenchStorage {
  dataDir?: string;
  databaseUrl?: string;
}

/**
 * `npm start`'s server in its own process: embedded on a fresh on-disk data directory, or on fresh
 * PostgreSQL + Redis with `WORKERS` workers (default: one per core, as in production). `prepare`
 * runs on the fresh storage before the server starts (embedded storage is the server's alone then).
 */
export async function startServer(
  mode: StorageMode,
  env: Record<string, string> = {},
  prepare?: (storage: BenchStorage) => Promise<void>,
): Promise<BenchServer> {
  build();
  let server: TestServer & { process: { pid?: number } };
  let cleanup: () => Promise<void>;
  let databaseUrl: string | undefined;
  if (mode === "embedded") {
    const dataDir = mkdtempSync(path.join(tmpdir(), "im-bench-"));
    await prepare?.({ dataDir });
    server = tracked(
      await spawnServer(
        { DATA_DIR: dataDir, DATABASE_URL: "", REDIS_URL: "", ...UNLIMITED, ...env },
        { compiled: true },
      ),
    );
    cleanup = async () => rmSync(dataDir, { recursive: true, force: true });
  } else {
    if (!process.env.DATABASE_URL || !process.env.REDIS_URL) {
      throw new Error("services mode needs DATABASE_URL and REDIS_URL");
    }
    const database = await createTestDatabase();
    databaseUrl = database.url;
    await prepare?.({ databaseUrl });
    server = tracked(
      await spawnServer(
        {
          DATABASE_URL: database.url,
          REDIS_URL: process.env.REDIS_URL,
          REDIS_PREFIX: `${uniqueName("bench")}:`,
          // Empty: the server's own default (a worker per core); the test helpers would say 1.
          WORKERS: process.env.WORKERS ?? "",
          ...UNLIMITED,
          ...env,
        },
        { compiled: true },
      ),
    );
    cleanup = () => database.drop();
  }
  return {
    url: server.url,
    mode,
    system: "server",
    pid: server.process.pid,
    databaseUrl,
    async stop() {
      await server.stop();
      await cleanup();
    },
  };
}

/** The reference relay (relay.ts) in its own process, `workers` processes on one port. */
export async function startRelay(mode: StorageMode, workers = 1): Promise<BenchServer> {
  const relay = tracked(
    await spawnServer({ RELAY_WORKERS: String(workers) }, { script: "scripts/bench/relay.ts" }),
  );
  return { url: relay.url, mode, system: "relay", pid: relay.process.pid, stop: () => relay.stop() };
}

export async function request(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  token?: string,
) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const result = (await response.json()) as { data?: any; errors?: { message: string }[] };
  if (result.errors) throw new Error(result.errors.map((e) => e.message).join("; "));
  return result.data;
}

export interface BenchUser {
  username: string;
  token: string;
}

export async function createUsers(url: string, count: number, prefix: string): Promise<BenchUser[]> {
  const users: BenchUser[] = [];
  for (let start = 0; start < count; start += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, count - start) }, async (_, i) => {
        const username = `${prefix}${start + i}-${uniqueName("")}`;
        const data = await request(
          url,
          `mutation($u: String!) { register(username: $u, password: "bench-password") { token } }`,
          { u: username },
        );
        return { username, token: data.register.token as string };
      }),
    );
    users.push(...batch);
  }
  return users;
}

export const SEND = `mutation($to: String!, $text: String!) {
  sendMessage(to: { user: $to }, body: { text: { text: $text } }) { id }
}`;

export const STREAM = `subscription($since: String) {
  events(since: $since) { cursor event { ... on MessageEvent { message { id body { ... on TextBody { text } } } } } }
}`;

/** An open graphql-ws connection, as an app holds one. */
export async function connectClient(url: string, token: string): Promise<Client> {
  const client = createClient({
    url: url.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  await new Promise<void>((resolve, reject) => {
    client.on("connected", () => resolve());
    client.on("closed", (event) => reject(new Error(`closed: ${JSON.stringify(event)}`)));
  });
  return client;
}

export type Transport = "ws" | "http";

/** A function that sends a text message as `token`'s user, over the app's socket or over HTTP. */
export async function sender(url: string, token: string, transport: Transport) {
  if (transport === "http") {
    return (to: string, text: string) => request(url, SEND, { to, text }, token).then(() => undefined);
  }
  const client = await connectClient(url, token);
  const send = (to: string, text: string) =>
    new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: SEND, variables: { to, text } },
        {
          next: (result) => (result.errors ? reject(new Error(JSON.stringify(result.errors))) : resolve()),
          error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
          complete: () => {},
        },
      );
    });
  return Object.assign(send, { close: () => client.dispose() });
}

/** Opens a graphql-ws connection and an events stream; `onText` sees every message text delivered. */
export async function listen(
  url: string,
  token: string,
  since: string | undefined,
  onText: (text: string) => void,
): Promise<Client> {
  const client = await connectClient(url, token);
  client.subscribe<any>(
    { query: STREAM, variables: since === undefined ? {} : { since } },
    {
      next: (result) => {
        const text = result.data?.events.event.message?.body?.text;
        if (text !== undefined) onText(text);
      },
      error: (error) => console.error("stream error", error),
      complete: () => {},
    },
  );
  return client;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The app server's token, from the credentials every bench server is started with. */
export async function adminToken(url: string): Promise<string> {
  const data = await request(
    url,
    "mutation($i: String!, $s: String!) { adminToken(clientId: $i, clientSecret: $s) { token } }",
    { i: ADMIN.clientId, s: ADMIN.clientSecret },
  );
  return data.adminToken.token as string;
}

/** Users made through the admin API (60 a call), each signed in on one device with adminIssueUserToken. */
export async function adminCreateUsers(url: string, count: number, prefix: string): Promise<BenchUser[]> {
  const admin = await adminToken(url);
  const run = uniqueName("");
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i}-${run}`);
  for (let start = 0; start < count; start += 60) {
    await request(
      url,
      "mutation($u: [AdminUserInput!]!) { adminCreateUsers(users: $u) { id } }",
      { u: names.slice(start, start + 60).map((username) => ({ username, password: "bench-password" })) },
      admin,
    );
  }
  const users: BenchUser[] = [];
  for (let start = 0; start < count; start += 20) {
    const batch = await Promise.all(
      names.slice(start, start + 20).map(async (username) => {
        const data = await request(
          url,
          `mutation($u: String!) { adminIssueUserToken(username: $u, deviceName: "bench") { token } }`,
          { u: username },
          admin,
        );
        return { username, token: data.adminIssueUserToken.token as string };
      }),
    );
    users.push(...batch);
  }
  return users;
}

/**
 * CPU time (ms, user + system) and resident memory (MB) of a process and its children (the
 * workers), from /proc (Linux); undefined elsewhere.
 */
export function processUsage(pid: number | undefined): { cpuMs: number; rssMb: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    let cpuMs = 0;
    let rssKb = 0;
    for (const each of [pid, ...childProcesses(pid)]) {
      const stat = readFileSync(`/proc/${each}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields 14 and 15 (utime, stime) in clock ticks of 1/100 s; fields[0] is field 3.
      cpuMs += (Number(fields[11]) + Number(fields[12])) * 10;
      rssKb += Number(readFileSync(`/proc/${each}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1]);
    }
    return { cpuMs, rssMb: Math.round(rssKb / 102.4) / 10 };
  } catch {
    return undefined;
  }
}

/** Runs `fn` over `items`, `size` at a time; results in order. */
export async function inBatches<T, R>(
  items: T[],
  size: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += size) {
    results.push(
      ...(await Promise.all(items.slice(start, start + size).map((item, i) => fn(item, start + i)))),
    );
  }
  return results;
}

export function summary(sorted: number[]) {
  return {
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
}

export const round = (value: number) => Math.round(value * 10) / 10;
