// Applies pending migrations to the configured database (DATABASE_URL, or the embedded one in
// DATA_DIR) and exits. The server does the same at start; this is for deploy pipelines.
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db/client.js";
import { applyMigrations, readMigrations } from "../src/db/migrate.js";
import { createLogger } from "../src/logger.js";

const config = loadConfig();
const log = createLogger(config.logLevel);
const db = await openDatabase(config);
try {
  const applied = await db.withMigrationLock((session) => applyMigrations(session, readMigrations(), log));
  process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "database is up to date\n");
} finally {
  await db.close();
}
