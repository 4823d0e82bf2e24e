import cluster from "node:cluster";
import { pino } from "pino";
import type { Config } from "./config.js";

type Level = "debug" | "info" | "warn" | "error";

export type Logger = Record<Level, (message: string, fields?: Record<string, unknown>) => void>;

/** Where lines go: stderr by default; a test passes its own to read them. */
export type LogDestination = { write(line: string): void };

// A safety net only: callers log chosen fields, never variables or headers wholesale. fast-redact
// paths match a key at the top or one level down.
const SECRET_KEYS = [
  "password",
  "oldPassword",
  "newPassword",
  "currentPassword",
  "token",
  "accessToken",
  "refreshToken",
  "authorization",
  "secret",
  "clientSecret",
  "apiKey",
  "privateKey",
  "cookie",
];
const REDACT_PATHS = SECRET_KEYS.flatMap((key) => [key, `*.${key}`]);

/**
 * One JSON line per entry (pino), on stderr, so logs stay machine-readable behind any supervisor:
 * `{"level":"info","time":"…","worker":2,"message":"…",…fields}`.
 */
export function createLogger(level: Config["logLevel"], destination?: LogDestination): Logger {
  const logger = pino(
    {
      level,
      messageKey: "message",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Which of several workers (WORKERS) wrote a line; pid and hostname are left to the supervisor.
      base: cluster.isWorker ? { worker: cluster.worker?.id } : {},
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    },
    // Synchronous, as stderr was before: a line written just before exit is not lost.
    destination ?? pino.destination({ dest: 2, sync: true }),
  );
  const write = (at: Level) => (message: string, fields?: Record<string, unknown>) =>
    fields ? logger[at](fields, message) : logger[at](message);
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}
