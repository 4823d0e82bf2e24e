import cluster, { type Worker } from "node:cluster";
import type { Logger } from "./logger.js";

// Several server processes on one port (node:cluster), so a machine's cores all serve. Each worker
// is a whole instance, exactly as separate machines behind a load balancer are: PostgreSQL and
// Redis are what they share, so nothing a user sees depends on the worker that holds their socket.

/** What a worker tells the primary once it accepts connections. */
type WorkerReady = { kind: "listening"; url: string };

/**
 * The primary: starts `count` workers, prints `listening <url>` once all of them listen, replaces a
 * worker that dies while serving, and on SIGTERM/SIGINT drains them all before exiting.
 */
export function superviseWorkers(count: number, log: Logger): void {
  let stopping = false;
  let started = false;
  const ready = new Set<Worker>();

  const fork = () => {
    const worker = cluster.fork();
    worker.on("message", (message: WorkerReady) => {
      if (message?.kind !== "listening") return;
      ready.add(worker);
      if (!started && ready.size === count) {
        started = true;
        process.stdout.write(`listening ${message.url}\n`);
      }
    });
    worker.on("exit", (code, signal) => {
      ready.delete(worker);
      if (stopping) return;
      // A worker that cannot start (bad settings, no database) would fail the same way again.
      if (!started) {
        log.error("A worker failed to start; stopping", { code, signal });
        stopAll(1);
        return;
      }
      log.error("A worker died; starting another", { code, signal });
      fork();
    });
  };

  const stopAll = (exitCode: number) => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
    let remaining = workers.length;
    if (remaining === 0) process.exit(exitCode);
    for (const worker of workers) {
      // One still starting has no handler yet, so the signal itself ends it: that is a clean stop too.
      worker.once("exit", (code, signal) => {
        if (code !== 0 && signal !== "SIGTERM") exitCode ||= 1;
        if (--remaining === 0) process.exit(exitCode);
      });
      worker.process.kill("SIGTERM");
    }
  };

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (!stopping) stopAll(0);
    });
  }
  for (let i = 0; i < count; i++) fork();
}

/** In a worker: tells the primary it listens, and exits if the primary goes away (its port went with it). */
export function reportToPrimary(url: string, onOrphaned: () => void): void {
  if (!cluster.isWorker) return;
  process.send?.({ kind: "listening", url } satisfies WorkerReady);
  process.on("disconnect", onOrphaned);
}
