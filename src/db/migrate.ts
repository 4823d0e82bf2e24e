import { createHash, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../logger.js";

/** A raw SQL connection: what applying migrations needs beyond Prisma (multi-statement scripts). */
export interface SqlSession {
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  exec(script: string): Promise<void>;
}

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(path.join(dir, entry.name, "migration.sql")))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

// The same bookkeeping table `prisma migrate deploy` keeps, so either tool can take over from the other.
const CREATE_HISTORY_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum"            VARCHAR(64) NOT NULL,
  "finished_at"         TIMESTAMPTZ,
  "migration_name"      VARCHAR(255) NOT NULL,
  "logs"                TEXT,
  "rolled_back_at"      TIMESTAMPTZ,
  "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

const OWN_TRANSACTION = /^\s*(BEGIN|COMMIT)\s*;/im;

/**
 * Applies the migrations the database has not seen yet, each in its own transaction, in name order.
 * The caller holds the migration lock, so instances starting together apply each migration once.
 */
export async function applyMigrations(
  session: SqlSession,
  migrations: Migration[],
  log: Logger,
): Promise<string[]> {
  await session.exec(CREATE_HISTORY_TABLE);
  const history = await session.query(
    `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
  );
  const unfinished = history.find((row) => row.finished_at === null);
  if (unfinished) {
    throw new Error(
      `Migration ${unfinished.migration_name} was started but never finished. Fix the database by hand, then ` +
        "mark it with `prisma migrate resolve` before starting the server.",
    );
  }
  const applied = new Map(history.map((row) => [String(row.migration_name), String(row.checksum)]));
  const newlyApplied: string[] = [];
  for (const migration of migrations) {
    const checksum = applied.get(migration.name);
    if (checksum !== undefined) {
      if (checksum !== migration.checksum) {
        log.warn("An applied migration was edited afterwards; the database keeps the applied version", {
          migration: migration.name,
        });
      }
      continue;
    }
    const record = () =>
      session.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), now(), 1)`,
        [randomUUID(), migration.checksum, migration.name],
      );
    if (OWN_TRANSACTION.test(migration.sql)) {
      // Some engine output (an enum rewrite) commits on its own; run it as prisma migrate deploy would.
      await session.exec(migration.sql);
      await record();
    } else {
      await session.exec("BEGIN");
      try {
        await session.exec(migration.sql);
        await record();
        await session.exec("COMMIT");
      } catch (error) {
        await session.exec("ROLLBACK");
        throw new Error(
          `Migration ${migration.name} failed and was rolled back: ${(error as Error).message}`,
        );
      }
    }
    newlyApplied.push(migration.name);
    log.info("Applied migration", { migration: migration.name });
  }
  return newlyApplied;
}
