import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { PGlite } from "@electric-sql/pglite";
import { applyMigrations, type Migration, readMigrations, type SqlSession } from "../src/db/migrate.js";
import { createLogger } from "../src/logger.js";

const log = createLogger("silent");

function migration(name: string, sql: string): Migration {
  return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
}

async function session(): Promise<SqlSession & { pglite: PGlite }> {
  const pglite = new PGlite();
  return {
    pglite,
    query: async (sql, params) => (await pglite.query<Record<string, unknown>>(sql, params)).rows,
    exec: async (script) => {
      await pglite.exec(script);
    },
  };
}

const applied = async (db: SqlSession) =>
  (await db.query(`SELECT migration_name FROM "_prisma_migrations" ORDER BY 1`)).map((r) => r.migration_name);

describe("the migration runner", () => {
  it("applies the committed migrations once; a second run applies nothing", async () => {
    const db = await session();
    const names = readMigrations().map((m) => m.name);
    assert.deepEqual(await applyMigrations(db, readMigrations(), log), names);
    assert.deepEqual(await applyMigrations(db, readMigrations(), log), []);
    assert.deepEqual(await applied(db), names);
    await db.pglite.close();
  });

  it("rolls a failing migration back whole and records nothing of it", async () => {
    const db = await session();
    const good = migration("001_good", `CREATE TABLE "A" (id int);`);
    const bad = migration("002_bad", `CREATE TABLE "B" (id int); INSERT INTO "Missing" VALUES (1);`);
    await assert.rejects(applyMigrations(db, [good, bad], log), /002_bad failed and was rolled back/);
    assert.deepEqual(await applied(db), ["001_good"]);
    const tables = await db.query(`SELECT tablename FROM pg_tables WHERE tablename IN ('A', 'B')`);
    assert.deepEqual(
      tables.map((t) => t.tablename),
      ["A"],
    );
    await db.pglite.close();
  });

  it("runs a migration that manages its own transaction as written", async () => {
    const db = await session();
    const own = migration(
      "001_own",
      `BEGIN;\nCREATE TYPE "E" AS ENUM ('a');\nCOMMIT;\nCREATE TABLE "C" (e "E");`,
    );
    assert.deepEqual(await applyMigrations(db, [own], log), ["001_own"]);
    assert.deepEqual(await applied(db), ["001_own"]);
    await db.pglite.close();
  });
});
