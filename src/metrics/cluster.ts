import cluster from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import { registry } from "./registry.js";

// Several workers behind one port (WORKERS, cluster.ts): a scrape reaches one of them, which asks
// the primary for every worker's metrics combined (prom-client's AggregatorRegistry: counters and
// histograms summed, each metric by its own aggregator), so one scrape shows the whole server.

interface ScrapeRequest {
  kind: "metrics-scrape";
  id: number;
}

interface ScrapeAnswer {
  kind: "metrics-scraped";
  id: number;
  text?: string;
  error?: string;
}

/** Longer than AggregatorRegistry's own 5 s wait for the workers, so its error is the one seen. */
const ANSWER_TIMEOUT_MS = 8000;

/** In the primary: answers each worker's scrape with all workers' metrics. */
export function aggregateWorkerMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on("message", (worker, message: ScrapeRequest) => {
    if (message?.kind !== "metrics-scrape") return;
    const answer = (reply: Omit<ScrapeAnswer, "kind" | "id">) => {
      if (worker.isConnected()) worker.send({ kind: "metrics-scraped", id: message.id, ...reply });
    };
    aggregator.clusterMetrics().then(
      (text) => answer({ text }),
      (error: Error) => answer({ error: error.message }),
    );
  });
}

const waiting = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
let nextId = 0;
let sharing = false;

/** In a worker: lets the primary read this worker's metrics, and take its answers to scrapes. */
export function shareWithPrimary(): void {
  if (!cluster.isWorker || sharing) return;
  sharing = true;
  new AggregatorRegistry(); // answers the primary's requests for this worker's metrics
  AggregatorRegistry.setRegistries([registry]);
  process.on("message", (message: ScrapeAnswer) => {
    if (message?.kind !== "metrics-scraped") return;
    const scrape = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.text !== undefined) scrape?.resolve(message.text);
    else scrape?.reject(new Error(message.error ?? "no metrics"));
  });
}

/** Every worker's metrics, combined by the primary. */
export function scrapeAllWorkers(): Promise<string> {
  const id = nextId++;
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error(`the primary did not answer within ${ANSWER_TIMEOUT_MS} ms`));
    }, ANSWER_TIMEOUT_MS);
    waiting.set(id, {
      resolve: (text) => {
        clearTimeout(timer);
        resolve(text);
      },
      reject: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    });
    process.send?.({ kind: "metrics-scrape", id } satisfies ScrapeRequest);
  });
}

/** Whether scrapes are answered for all workers (this process is one of several). */
export function inCluster(): boolean {
  return cluster.isWorker;
}
