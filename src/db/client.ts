import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import type { Config } from "../config.js";
import { PrismaClient } from "../generated/prisma/client.js";
import type { Logger } from "../logger.js";
import { countDatabaseError } from "../metrics/registry.js";
import { isUniqueViolation } from "./errors.js";
import type { SqlSession } from "./migrate.js";
import { preparedRunner } from "./pglite-prepared.js";
import type { SqlStatement } from "./sql.js";

export type { PrismaClient };

/** The one storage interface: Prisma over PostgreSQL, or over PGlite embedded in this process. */
export interface Database {
  mode: "embedded" | "postgres";
  prisma: PrismaClient;
  /** Runs `fn` on a raw SQL session while holding the database-wide migration lock. */
  withMigrationLock<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Runs one statement on the driver itself, past Prisma's per-query cost (measured in
   * BENCHMARKS.md); only for the hot path. bigint columns come back as strings or bigints and
   * `timestamp` columns as UTC Dates.
   */
  query<Row>(statement: SqlStatement): Promise<Row[]>;
  /** Runs `work`'s statements (on the driver, as `query` does) in one transaction. */
  transaction<T>(work: (query: <Row>(statement: SqlStatement) => Promise<Row[]>) => Promise<T>): Promise<T>;
  /** SQL statements sent so far; tests use it to prove a request's query count is bounded. */
  readonly queryCount: number;
}

// Prisma stores DateTime as UTC in `timestamp` columns; pg would read them as local time.
const UTC_TIMESTAMP = 1114;
const parseUtc = (value: string) => new Date(`${value.replace(" ", "T")}Z`);
const driverTypes = {
  getTypeParser: (oid: number, format?: "text" | "binary") =>
    oid === UTC_TIMESTAMP ? parseUtc : pg.types.getTypeParser(oid, format as "text"),
};
const utcParsers = { [UTC_TIMESTAMP]: parseUtc };

/** A statement's failure, counted for /metrics unless it is a unique key's (a race the caller settles). */
function counted<T>(statement: Promise<T>): Promise<T> {
  return statement.catch((error: unknown) => {
    if (!isUniqueViolation(error)) countDatabaseError("query");
    throw error;
  });
}

/** A client over `adapter` that counts the statements it sends. */
function countingClient(adapter: SqlDriverAdapterFactory) {
  const prisma = new PrismaClient({ adapter, log: [{ emit: "event", level: "query" as const }] });
  const counter = { count: 0 };
  prisma.$on("query", () => {
    counter.count++;
  });
  return { prisma: prisma as PrismaClient, counter };
}

// An arbitrary constant shared by every instance: pg_advisory_lock keys are global to the database.
const MIGRATION_LOCK_KEY = 7_204_118_335;

export async function openDatabase(config: Config, log?: Logger): Promise<Database> {
  return config.databaseUrl
    ? openPostgres(config.databaseUrl, config.databasePoolSize, log)
    : openEmbedded(config.dataDir);
}

async function openPostgres(connectionString: string, max: number, log?: Logger): Promise<Database> {
  // One pool, shared by Prisma and the hot-path statements.
  // Statements write now() into `timestamp` columns, which Prisma reads as UTC: the session must be
  // in UTC whatever the server's default time zone is.
  const pool = new pg.Pool({ connectionString, max, options: "-c TimeZone=UTC" });
  // An idle connection the server drops (a restart, a failover) is replaced on next use; without a
  // listener its error would end the process.
  pool.on("error", (error) => {
    countDatabaseError("connection");
    log?.warn("PostgreSQL connection lost", { error: error.message });
  });
  const { prisma, counter } = countingClient(new PrismaPg(pool));
  return {
    mode: "postgres",
    prisma,
    async query<Row>(statement: SqlStatement) {
      counter.count++;
      const result = await counted(pool.query({ ...statement, types: driverTypes }));
      return result.rows as Row[];
    },
    async transaction(work) {
      const client = await pool.connect();
      // The pool listens for errors only on idle connections: one lost mid-transaction (a restart,
      // a failover) would otherwise end the process. Its statements fail, and it leaves the pool.
      let lost: Error | undefined;
      const onLost = (error: Error) => {
        lost = error;
      };
      client.on("error", onLost);
      try {
        await client.query("BEGIN");
        const result = await work(async <Row>(statement: SqlStatement) => {
          counter.count++;
          const rows = await counted(client.query({ ...statement, types: driverTypes }));
          return rows.rows as Row[];
        });
        await client.query("COMMIT");
        return result;
      } catch (error) {
        if (!lost) await client.query("ROLLBACK").catch(() => {});
        throw error;
      } finally {
        client.off("error", onLost);
        client.release(lost);
      }
    },
    get queryCount() {
      return counter.count;
    },
    async withMigrationLock(fn) {
      const client = new pg.Client({ connectionString });
      // A connection lost while migrating fails the migration (its statements reject), not the process.
      client.on("error", (error) =>
        log?.warn("PostgreSQL connection lost while migrating", { error: error.message }),
      );
      await client.connect();
      try {
        await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
        return await fn({
          query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
          exec: async (script) => {
            await client.query(script);
          },
        });
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
        await client.end();
      }
    },
    async ping() {
      await prisma.$queryRaw`SELECT 1`;
    },
    async close() {
      await prisma.$disconnect();
      await pool.end().catch(() => {});
    },
  };
}

async function openEmbedded(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith("memory://");
  const releaseDirLock = inMemory ? () => {} : lockDataDir(dataDir);
  let pglite: PGlite;
  try {
    pglite = inMemory ? new PGlite() : new PGlite(path.resolve(dataDir));
    await pglite.waitReady;
  } catch (error) {
    releaseDirLock();
    throw error;
  }
  const { prisma, counter } = countingClient(new PrismaPGlite(pglite));
  const runPrepared = preparedRunner(pglite, utcParsers);
  return {
    mode: "embedded",
    prisma,
    // PGlite queues this behind any open transaction, so it never lands inside one.
    async query<Row>(statement: SqlStatement) {
      counter.count++;
      if (statement.name) return counted(runPrepared<Row>({ ...statement, name: statement.name }));
      return (await counted(pglite.query<Row>(statement.text, statement.values, { parsers: utcParsers })))
        .rows;
    },
    transaction: (work) =>
      pglite.transaction((tx) =>
        work(async <Row>(statement: SqlStatement) => {
          counter.count++;
          return (await counted(tx.query<Row>(statement.text, statement.values, { parsers: utcParsers })))
            .rows;
        }),
      ),
    get queryCount() {
      return counter.count;
    },
    // PGlite is one connection owned by this process (the data directory is locked), so no other
    // writer can race the migration.
    withMigrationLock: (fn) =>
      fn({
        query: async (sql, params) =>
          (await pglite.query<Record<string, unknown>>(sql, params as unknown[])).rows,
        exec: async (script) => {
          await pglite.exec(script);
        },
      }),
    async ping() {
      await pglite.query("SELECT 1");
    },
    async close() {
      await prisma.$disconnect();
      if (!pglite.closed) await pglite.close();
      releaseDirLock();
    },
  };
}

/**
 * PGlite is single-process: a second server opening the same directory would corrupt it. A pid file
 * refuses that with a clear message, and a stale one (its process gone) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lockFile = path.join(dataDir, "server.pid");
  try {
    const holder = Number(readFileSync(lockFile, "utf8"));
    if (holder && holder !== process.pid && isAlive(holder)) {
      throw new Error(
        `The data directory ${dataDir} is in use by process ${holder}. Embedded mode serves one instance; ` +
          "set DATABASE_URL (and REDIS_URL) to run several.",
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  writeFileSync(lockFile, String(process.pid));
  return () => rmSync(lockFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
