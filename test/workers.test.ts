import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { childProcesses, ROOT, spawnServer, testStorage } from "./helpers/app.js";
import { connect, eventually } from "./helpers/client.js";
import { servicesMode } from "./helpers/env.js";
import { signUp } from "./helpers/factories.js";
import { follow, nextEvent, sendText, streamEvents } from "./helpers/messaging.js";

const PACKAGE_VERSION = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;

// `npm start` as production runs it: the compiled build, one worker process per core sharing the port.

describe("several workers", { skip: servicesMode ? false : "needs DATABASE_URL and REDIS_URL" }, () => {
  it("spreads connections over the workers, delivers across them, replaces a dead one and drains on SIGTERM", async () => {
    await promisify(execFile)("npm", ["run", "build", "--silent"], { cwd: ROOT });
    const storage = await testStorage();
    after(() => storage.cleanup());
    const running = await spawnServer({ ...storage.env, WORKERS: "2" }, { compiled: true });
    after(() => running.stop());
    const primary = running.process.pid!;
    const workers = childProcesses(primary);
    assert.equal(workers.length, 2, running.stderr());
    // The compiled code finds package.json from dist/ too.
    const health = (await (await fetch(new URL("/healthz", running.url))).json()) as { version: string };
    assert.equal(health.version, PACKAGE_VERSION);

    const users = await Promise.all(Array.from({ length: 6 }, () => signUp(running.url)));
    const devices = await Promise.all(users.map((user) => follow(running.url, user)));
    const ring = (i: number) => (i + 1) % users.length;
    await Promise.all(
      users.map((user, i) => sendText(running.url, user.token, users[ring(i)]!.username, `hi ${i}`)),
    );
    // Each device gets its user's own send and the one from the previous user in the ring.
    const cursors = await Promise.all(
      devices.map(async ({ events }, i) => {
        const [first, second] = [
          await nextEvent(events, "MessageEvent"),
          await nextEvent(events, "MessageEvent"),
        ];
        const texts = [first.message.body.text, second.message.body.text].sort();
        assert.deepEqual(texts, [`hi ${i}`, `hi ${(i + users.length - 1) % users.length}`].sort());
        return second.cursor as string;
      }),
    );

    // Killing one worker cuts the connections it held, and only those; the primary starts another.
    process.kill(workers[0]!, "SIGKILL");
    const closed = new Set<number>();
    for (const [i, { socket }] of devices.entries()) socket.closed.then(() => closed.add(i));
    await eventually(async () => closed.size > 0, 10_000, "a socket of the killed worker to close");
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(closed.size < users.length, "every connection was on the killed worker");
    await eventually(
      async () => childProcesses(primary).filter((pid) => pid !== workers[0]).length === 2,
      30_000,
      "a replacement worker",
    );

    // A cut device resumes from its cursor and gets what was sent while it was away.
    const cut = [...closed][0]!;
    const from = users[(cut + users.length - 1) % users.length]!;
    await sendText(running.url, from.token, users[cut]!.username, "while away");
    const socket = connect(running.url, users[cut]!.token);
    await socket.connected;
    const resumed = streamEvents(socket, cursors[cut]);
    assert.equal((await nextEvent(resumed, "MessageEvent")).message.body.text, "while away");

    await Promise.all([socket, ...devices.map((device) => device.socket)].map((open) => open.dispose()));
    const serving = childProcesses(primary);
    await running.stop();
    assert.equal(running.process.exitCode, 0, running.stderr());
    for (const pid of serving) assert.equal(existsSync(`/proc/${pid}`), false);
  });
});

describe("the WORKERS setting", () => {
  it("refuses more than one worker on embedded storage, which has a single writer", async () => {
    await assert.rejects(
      spawnServer({ DATABASE_URL: "", REDIS_URL: "", WORKERS: "2" }),
      /exited with 2[\s\S]*WORKERS above 1 needs DATABASE_URL and REDIS_URL/,
    );
  });
});
