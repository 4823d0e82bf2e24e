import cluster from "node:cluster";
import { reportToPrimary, superviseWorkers } from "./cluster.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { aggregateWorkerMetrics } from "./metrics/cluster.js";

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`Configuration error: ${error.message}\n`);
  process.exit(2);
}
const log = createLogger(config.logLevel);

if (config.workers > 1 && cluster.isPrimary) {
  if (config.metrics) aggregateWorkerMetrics();
  superviseWorkers(config.workers, log);
} else {
  // Imported here so the primary of several workers never loads the schema and database code.
  const { buildApp } = await import("./server.js");
  const app = await buildApp(config, log);
  await app.start();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    app.stop().then(
      () => process.exit(0),
      (error: Error) => {
        log.error("Shutdown failed", { error: error.message });
        process.exit(1);
      },
    );
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, stop);
  if (cluster.isWorker) {
    reportToPrimary(app.url, () => {
      if (!stopping) process.exit(1);
    });
  } else {
    // Machine-readable for supervisors and tests that start the server with PORT=0.
    process.stdout.write(`listening ${app.url}\n`);
  }
}
