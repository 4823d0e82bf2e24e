import cluster from "node:cluster";
import type { Config } from "./config.js";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
type Level = Exclude<keyof typeof LEVELS, "silent">;

export type Logger = Record<Level, (message: string, fields?: Record<string, unknown>) => void>;

/** One JSON line per entry on stderr, so logs stay machine-readable behind any supervisor. */
export function createLogger(level: Config["logLevel"]): Logger {
  const threshold = LEVELS[level];
  // Which of several workers (WORKERS) wrote a line.
  const origin = cluster.isWorker ? { worker: cluster.worker?.id } : {};
  const write = (at: Level) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[at] < threshold) return;
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: at, message, ...origin, ...fields })}\n`,
    );
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}
