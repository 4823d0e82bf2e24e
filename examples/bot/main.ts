// Entry point: `npm run example:bot` (or `tsx examples/bot/main.ts`), configured by the environment.
import { type BotSettings, BotStopped, runBot } from "./echo-bot.js";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`${name} is required (see examples/bot/README.md)\n`);
    process.exit(2);
  }
  return value;
}

const stop = new AbortController();
for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => stop.abort());

const settings: BotSettings = {
  serverUrl: required("SERVER_URL"),
  username: required("BOT_USERNAME"),
  password: required("BOT_PASSWORD"),
  cursorFile: process.env.CURSOR_FILE ?? "echo-bot.cursor",
  log: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`),
};

try {
  await runBot(settings, stop.signal);
} catch (error) {
  if (!(error instanceof BotStopped)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exitCode = 1;
}
