// The example client in examples/bot, run as its users would run it: a child process against the
// real server, stopped and restarted, answering from the cursor it saved.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ROOT, startApp, type TestServer } from "./helpers/app.js";
import { eventually, ok } from "./helpers/client.js";
import { PASSWORD, type SignedIn, signUp } from "./helpers/factories.js";
import { sendText } from "./helpers/messaging.js";

// Starting tsx and signing in takes seconds on a busy machine; these are limits, not expectations.
const BOT_WAIT_MS = 60_000;

let server: TestServer;
let workDir: string;
before(async () => {
  server = await startApp();
  workDir = await mkdtemp(join(tmpdir(), "example-bot-"));
});
after(async () => {
  // A failed assertion leaves its bot running, and its pipes would keep this file's process alive.
  for (const bot of running) {
    if (bot.process.exitCode === null && bot.process.signalCode === null) bot.process.kill("SIGKILL");
  }
  await server.stop();
  await rm(workDir, { recursive: true, force: true });
});

interface RunningBot {
  process: ChildProcess;
  /** What the bot printed so far: its log, one line per action. */
  output(): string;
}

const running: RunningBot[] = [];

function startBot(bot: SignedIn, cursorFile: string, password = PASSWORD): RunningBot {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/bot/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      SERVER_URL: server.url,
      BOT_USERNAME: bot.username,
      BOT_PASSWORD: password,
      CURSOR_FILE: cursorFile,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr!.on("data", (chunk) => {
    output += chunk;
  });
  const started = { process: child, output: () => output };
  running.push(started);
  return started;
}

async function stopBot(bot: RunningBot, signal: "SIGTERM" | "SIGKILL") {
  const exited = once(bot.process, "exit");
  bot.process.kill(signal);
  const [code, signalName] = await exited;
  return { code, signal: signalName };
}

const HISTORY = `query($with: String!) {
  messages(conversation: { user: $with }, last: 100) {
    edges { node { id from { username } body { ... on TextBody { text } } } }
  }
}`;

interface ChatLine {
  id: string;
  from: string;
  text: string;
}

/** The direct chat with the bot as the human sees it, oldest first. */
async function chat(human: SignedIn, bot: SignedIn): Promise<ChatLine[]> {
  const data = await ok(server.url, HISTORY, { with: bot.username }, human.token);
  return data.messages.edges.map(({ node }: any) => ({
    id: node.id as string,
    from: node.from.username as string,
    text: node.body?.text as string,
  }));
}

async function echoes(human: SignedIn, bot: SignedIn): Promise<string[]> {
  return (await chat(human, bot)).filter((message) => message.from === bot.username).map((line) => line.text);
}

/** The bot's log line for answering `message` (the API promises ids unique within a conversation). */
const answered = (message: Record<string, any>, from: SignedIn) =>
  new RegExp(`answered ${message.id} from ${from.username}\n`);

async function waitForEcho(human: SignedIn, bot: SignedIn, running: RunningBot, text: string) {
  await eventually(
    async () => (await echoes(human, bot)).includes(`echo: ${text}`),
    BOT_WAIT_MS,
    `"echo: ${text}"; the bot's log:\n${running.output()}`,
  );
}

describe("the example bot (examples/bot)", () => {
  it("has its generated documents up to date with schema.graphql and its operations", async () => {
    // The same check as `npm run codegen:check`: a schema change that breaks the bot's operations,
    // or an edit to them without regenerating, fails here.
    const codegen = join(ROOT, "node_modules", ".bin", "graphql-codegen");
    const check = await promisify(execFile)(
      codegen,
      ["--config", "examples/bot/codegen.ts", "--check", "--silent"],
      { cwd: ROOT },
    ).then(
      () => ({ stale: false, output: "" }),
      (error: { stdout?: string; stderr?: string }) => ({
        stale: true,
        output: `${error.stdout ?? ""}${error.stderr ?? ""}`,
      }),
    );
    assert.equal(check.stale, false, `run \`npm run codegen\` and commit the result:\n${check.output}`);
  });

  it("answers once per message across a SIGTERM and a SIGKILL, resuming from its saved cursor", async () => {
    const bot = await signUp(server.url);
    const human = await signUp(server.url);
    const cursorFile = join(workDir, `${bot.username}.cursor`);

    // First run: no cursor file, so it starts from now and saves that position at once.
    const first = startBot(bot, cursorFile);
    await eventually(async () => existsSync(cursorFile), BOT_WAIT_MS, `the cursor file:\n${first.output()}`);
    const one = await sendText(server.url, human.token, bot.username, "one");
    await waitForEcho(human, bot, first, "one");
    assert.deepEqual(await stopBot(first, "SIGTERM"), { code: 0, signal: null }, first.output());

    // While it is down: answered when it comes back, from the stream's replay.
    const two = await sendText(server.url, human.token, bot.username, "two");
    await sendText(server.url, human.token, bot.username, "three");
    const second = startBot(bot, cursorFile);
    await waitForEcho(human, bot, second, "three");
    // It handles events in order, so anything it would repeat from before comes before this echo.
    assert.deepEqual(await echoes(human, bot), ["echo: one", "echo: two", "echo: three"]);
    assert.match(second.output(), answered(two, human));
    assert.doesNotMatch(second.output(), answered(one, human), "resumed after its saved cursor");

    // Killed with no chance to finish: at most the last event is replayed, and the server's
    // clientMessageId idempotency keeps that from showing as a second answer.
    await stopBot(second, "SIGKILL");
    await sendText(server.url, human.token, bot.username, "four");
    await sendText(server.url, human.token, bot.username, "five");
    const third = startBot(bot, cursorFile);
    await waitForEcho(human, bot, third, "five");
    await stopBot(third, "SIGTERM");
    assert.deepEqual(await echoes(human, bot), [
      "echo: one",
      "echo: two",
      "echo: three",
      "echo: four",
      "echo: five",
    ]);
    for (const earlier of [one, two]) {
      assert.doesNotMatch(third.output(), answered(earlier, human), "resumed near the kill");
    }
    assert.deepEqual(
      (await chat(human, bot)).map((message) => message.text),
      [
        "one",
        "echo: one",
        "two",
        "three",
        "echo: two",
        "echo: three",
        "four",
        "five",
        "echo: four",
        "echo: five",
      ],
    );
  });

  it("stops with a message saying what to fix when the server refuses its password or its cursor", async () => {
    const bot = await signUp(server.url);
    const wrongPassword = startBot(bot, join(workDir, `${bot.username}-a.cursor`), "not-the-password");
    const badCursorFile = join(workDir, `${bot.username}-b.cursor`);
    await writeFile(badCursorFile, "not a cursor\n");
    const badCursor = startBot(bot, badCursorFile);
    const [[passwordExit], [cursorExit]] = await Promise.all([
      once(wrongPassword.process, "exit"),
      once(badCursor.process, "exit"),
    ]);
    assert.equal(passwordExit, 1, wrongPassword.output());
    assert.match(wrongPassword.output(), new RegExp(`cannot sign in as ${bot.username}: `));
    assert.equal(cursorExit, 1, badCursor.output());
    assert.match(badCursor.output(), /the server refuses the cursor in .*-b\.cursor: since must be a cursor/);
  });
});
