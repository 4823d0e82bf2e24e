import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { loadConfig } from "../../src/config.js";
import { type App, buildApp } from "../../src/server.js";
import { createTestDatabase, serverEnv, servicesMode, uniqueName } from "./env.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface TestServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * The storage a test's servers share: embedded PGlite in memory, or in services mode a fresh
 * PostgreSQL database and its own Redis key prefix.
 */
export async function testStorage(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
  if (!servicesMode) return { env: {}, cleanup: async () => {} };
  const database = await createTestDatabase();
  return {
    env: {
      DATABASE_URL: database.url,
      REDIS_URL: process.env.REDIS_URL!,
      REDIS_PREFIX: `${uniqueName("t")}:`,
    },
    cleanup: () => database.drop(),
  };
}

/** The real server in this process, on a free port. */
export async function startApp(env: Record<string, string> = {}): Promise<TestServer & { app: App }> {
  const storage = Object.keys(env).some((key) => key === "DATABASE_URL" || key === "DATA_DIR")
    ? { env: {}, cleanup: async () => {} }
    : await testStorage();
  const app = await buildApp(loadConfig(serverEnv({ ...storage.env, ...env })));
  await app.start();
  return {
    app,
    url: app.url,
    async stop() {
      await app.stop();
      await storage.cleanup();
    },
  };
}

/**
 * The fewest SQL statements one call of `run` issued, over `times` calls. The server's own timers
 * (thread summaries, room upkeep, retention) share the counter and can only add to it.
 */
export async function fewestStatements(app: App, run: () => Promise<void>, times = 3): Promise<number> {
  let fewest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < times; i++) {
    const before = app.services.db.queryCount;
    await run();
    fewest = Math.min(fewest, app.services.db.queryCount - before);
  }
  return fewest;
}

/** The child processes of `pid` (a server's workers), from /proc (Linux). */
export function childProcesses(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
  return children === "" ? [] : children.split(" ").map(Number);
}

const SPAWN_TIMEOUT_MS = 60_000;

/** The real server as its own process (`npm start`'s entry point), for restarts, signals and several instances. */
export async function spawnServer(
  env: Record<string, string>,
  options: { compiled?: boolean; script?: string } = {},
): Promise<TestServer & { process: ChildProcess; stderr(): string }> {
  // SERVER_NODE_ARGS adds node flags to the server alone, e.g. "--cpu-prof" for a profile of a bench run.
  const nodeArgs = process.env.SERVER_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  // compiled: what `npm start` runs (dist/, from `npm run build`); otherwise the sources through tsx,
  // or another script that prints `listening <url>` (the bench's reference relay).
  const entry = options.compiled ? ["dist/main.js"] : ["--import", "tsx", options.script ?? "src/main.ts"];
  // As `npm start` runs it: NODE_ENV=production turns off graphql-js's development checks.
  const production = options.compiled ? { NODE_ENV: "production" } : {};
  const child = spawn(process.execPath, [...nodeArgs, ...entry], {
    cwd: ROOT,
    env: { ...process.env, ...production, ...serverEnv(env) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => {
    stderr += chunk;
    // SERVER_STDERR=1 shows the server's own errors, e.g. during a bench run.
    if (process.env.SERVER_STDERR) process.stderr.write(chunk);
  });
  let startTimer: NodeJS.Timeout | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout!.on("data", (chunk) => {
      stdout += chunk;
      const match = stdout.match(/listening (\S+)/);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) =>
      reject(new Error(`server exited with ${code} before listening:\n${stderr}`)),
    );
    startTimer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server did not start within ${SPAWN_TIMEOUT_MS} ms:\n${stderr}`));
    }, SPAWN_TIMEOUT_MS);
    startTimer.unref();
  });
  // Started: the start-up deadline must not kill a server that runs longer than it (a bench run).
  clearTimeout(startTimer);
  return {
    url,
    process: child,
    /** What the server wrote to stderr so far (its log): for a failing assertion's message. */
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

/** Embedded: close PGlite. Services: refuse and cut every connection to the test database. */
export async function takeDatabaseDown(app: App) {
  if (app.services.db.mode === "embedded") return app.services.db.close();
  const name = new URL(app.services.config.databaseUrl!).pathname.slice(1);
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
  await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
  await admin.end();
}
