import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { buildApp } from "./server.js";

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`Configuration error: ${error.message}\n`);
  process.exit(2);
}
const log = createLogger(config.logLevel);
const app = await buildApp(config, log);
await app.start();
// Machine-readable for supervisors and tests that start the server with PORT=0.
process.stdout.write(`listening ${app.url}\n`);

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    app.stop().then(
      () => process.exit(0),
      (error: Error) => {
        log.error("Shutdown failed", { error: error.message });
        process.exit(1);
      },
    );
  });
}
