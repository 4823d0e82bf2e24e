import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { type App, buildApp } from "../../src/server.js";
import { type TestServer, testStorage } from "./app.js";
import { serverEnv } from "./env.js";

export type LogLine = Record<string, unknown> & { level: string; message: string };

/** The real server in this process, its log (info and up, as pino writes it) kept for the test to read. */
export async function startLoggedApp(
  env: Record<string, string> = {},
): Promise<TestServer & { app: App; lines(): LogLine[]; text(): string }> {
  const storage = await testStorage();
  let written = "";
  const log = createLogger("info", {
    write: (line) => {
      written += line;
    },
  });
  const app = await buildApp(loadConfig(serverEnv({ ...storage.env, ...env })), log);
  await app.start();
  return {
    app,
    url: app.url,
    text: () => written,
    lines: () =>
      written
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as LogLine),
    async stop() {
      await app.stop();
      await storage.cleanup();
    },
  };
}

/** A log line with these fields, once it has been written. */
export async function lineWith(
  server: { lines(): LogLine[]; text(): string },
  fields: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = server
      .lines()
      .find((line) => Object.entries(fields).every(([key, value]) => line[key] === value));
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no log line with ${JSON.stringify(fields)} in:\n${server.text()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
