import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { ROOT, startApp } from "./helpers/app.js";
import { ok, uploaded } from "./helpers/client.js";
import { createTestDatabase, servicesMode, uniqueName } from "./helpers/env.js";
import { signIn, signUp } from "./helpers/factories.js";
import { HISTORY, sendText } from "./helpers/messaging.js";

// README.md's "Backups and restore", command for command: each command below must appear there
// verbatim, and the test runs it with the same variables. A backup restored into a fresh database
// (or data directory) serves the history, the sign-ins and the files of the original.

const SERVICES = {
  backup: [
    `pg_dump --format=custom --file="$BACKUP/im.dump" "$DATABASE_URL"`,
    `tar -C "$ATTACHMENTS_DIR" -czf "$BACKUP/attachments.tar.gz" .`,
  ],
  restore: [
    `pg_restore --no-owner --exit-on-error --dbname="$DATABASE_URL" "$BACKUP/im.dump"`,
    `mkdir -p "$ATTACHMENTS_DIR" && tar -C "$ATTACHMENTS_DIR" -xzf "$BACKUP/attachments.tar.gz"`,
  ],
};
const EMBEDDED = {
  backup: [`cp -a "$DATA_DIR" "$BACKUP/data"`],
  restore: [`cp -a "$BACKUP/data" "$DATA_DIR"`],
};

const shell = promisify(execFile);
async function runAll(commands: string[], env: Record<string, string>) {
  for (const command of commands) await shell("sh", ["-c", command], { env: { ...process.env, ...env } });
}

const FILE = {
  bytes: Buffer.from("the minutes of the meeting\n".repeat(50)),
  name: "minutes.txt",
  type: "text/plain",
};

describe("backup and restore, as README.md documents them", () => {
  it("documents every command the test runs", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    for (const command of [...Object.values(SERVICES), ...Object.values(EMBEDDED)].flat()) {
      assert.ok(readme.includes(command), `README.md lacks: ${command}`);
    }
  });

  it(`restores users, history and files into a fresh ${servicesMode ? "database" : "data directory"}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "im-backup-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const backupDir = join(dir, "backup");
    await shell("mkdir", [backupDir]);
    const databases = servicesMode ? [await createTestDatabase(), await createTestDatabase()] : [];
    after(() => Promise.all(databases.map((database) => database.drop())));
    const storage = (i: number): Record<string, string> =>
      servicesMode
        ? {
            DATABASE_URL: databases[i]!.url,
            REDIS_URL: process.env.REDIS_URL!,
            REDIS_PREFIX: `${uniqueName("t")}:`,
            ATTACHMENTS_DIR: join(dir, `attachments-${i}`),
          }
        : { DATA_DIR: join(dir, `data-${i}`) };

    const original = await startApp(storage(0));
    const alice = await signUp(original.url);
    const bob = await signUp(original.url);
    await sendText(original.url, alice.token, bob.username, "before the backup");
    await sendText(original.url, bob.token, alice.username, "me too");
    const file = await uploaded(original.url, alice.token, FILE);
    await ok(
      original.url,
      "mutation($to: ChatTarget!, $body: MessageBodyInput!) { sendMessage(to: $to, body: $body) { id } }",
      { to: { user: bob.username }, body: { file: { attachmentId: file.id } } },
      alice.token,
    );

    if (servicesMode) {
      // Taken while the server runs: the dump is one snapshot; files copied after it cover every row in it.
      await runAll(SERVICES.backup, { ...storage(0), BACKUP: backupDir });
      await original.stop();
      await runAll(SERVICES.restore, { ...storage(1), BACKUP: backupDir });
    } else {
      await original.stop();
      await runAll(EMBEDDED.backup, { ...storage(0), BACKUP: backupDir });
      await runAll(EMBEDDED.restore, { ...storage(1), BACKUP: backupDir });
    }

    const restored = await startApp(storage(1));
    after(() => restored.stop());
    const again = await signIn(restored.url, bob.username);
    const history = await ok(restored.url, HISTORY, { with: alice.username, last: 10 }, again.token);
    const bodies = history.messages.edges.map((edge: any) => edge.node.body);
    assert.deepEqual(
      bodies.slice(0, 2).map((body: any) => body.text),
      ["before the backup", "me too"],
    );
    assert.equal(bodies[2].__typename, "FileBody");
    assert.equal(bodies[2].attachment.name, FILE.name);
    const download = await fetch(new URL(bodies[2].url, restored.url));
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), FILE.bytes);
  });
});
