import { randomBytes } from "node:crypto";
import pg from "pg";

/** The services suite runs when both are set; otherwise everything runs embedded. */
export const servicesMode = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);

export const ADMIN = { clientId: "test-app-server", clientSecret: "test-secret-0123456789" };

export function uniqueName(prefix = "u"): string {
  return `${prefix}${randomBytes(5).toString("hex")}`;
}

/** A fresh, empty PostgreSQL database next to DATABASE_URL's; `drop` removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(process.env.DATABASE_URL!);
  const name = `im_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: base.toString() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    },
  };
}

const RELAXED_LIMITS = {
  RATE_LIMIT_SENDS_PER_SECOND: "1000000",
  RATE_LIMIT_SENDS_BURST: "1000000",
  RATE_LIMIT_UPLOADS_PER_MINUTE: "1000000",
  RATE_LIMIT_SEARCHES_PER_MINUTE: "1000000",
  RATE_LIMIT_REGISTRATIONS_PER_HOUR: "1000000",
  RATE_LIMIT_LOGINS_PER_MINUTE: "1000000",
  RATE_LIMIT_ADMIN_PER_SECOND: "1000000",
  RATE_LIMIT_ADMIN_BURST: "1000000",
};

/** Environment for a server under test: fast password hashing, quiet logs, admin credentials. */
export function serverEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    HOST: "127.0.0.1",
    PORT: "0",
    DATA_DIR: "memory://",
    LOG_LEVEL: "error",
    PASSWORD_HASH_COST: "1024",
    ADMIN_CLIENT_ID: ADMIN.clientId,
    ADMIN_CLIENT_SECRET: ADMIN.clientSecret,
    SHUTDOWN_TIMEOUT_MS: "3000",
    // One process per test server; test/workers.test.ts covers several.
    WORKERS: "1",
    // The suite signs many users up from 127.0.0.1 and sends in bursts: abuse limits out of reach,
    // but on (test/abuse-limits.test.ts sets its own). TYPING_RATE_LIMIT keeps its default, which
    // tests count on.
    ...RELAXED_LIMITS,
    ...overrides,
  };
}
