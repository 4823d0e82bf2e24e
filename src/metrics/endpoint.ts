import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "../config.js";
import type { Database } from "../db/client.js";
import { sendJson } from "../http/json.js";
import type { Logger } from "../logger.js";
import { parseBearer } from "../security/tokens.js";
import { inCluster, scrapeAllWorkers, shareWithPrimary } from "./cluster.js";
import { watchQueues } from "./queues.js";
import { countSockets, registry, startRecording } from "./registry.js";

// GET /metrics: Prometheus's text format, behind METRICS_TOKEN when it is set, absent with METRICS=false.

export const METRICS_PATH = "/metrics";

export interface MetricsEndpoint {
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Stops reporting this server's sockets and queues. */
  stop(): void;
}

interface Sources {
  db: Database;
  log: Logger;
  /** Open WebSocket connections. */
  openSockets: () => number;
}

const digest = (token: string) => createHash("sha256").update(token).digest();

export function createMetrics(
  config: Pick<Config, "metrics" | "metricsToken">,
  sources: Sources,
): MetricsEndpoint {
  if (!config.metrics) {
    return {
      serve: async (_req, res) => sendJson(res, 404, { error: "Not found: metrics are off (METRICS=false)" }),
      stop: () => {},
    };
  }
  startRecording();
  shareWithPrimary();
  const stops = [countSockets(sources.openSockets), watchQueues(sources.db, sources.log)];
  // Compared as digests: equal lengths, and a comparison that takes as long whatever the token.
  const expected = config.metricsToken === undefined ? undefined : digest(config.metricsToken);
  return {
    async serve(req, res) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("allow", "GET, HEAD");
        return sendJson(res, 405, { error: "Method not allowed: GET /metrics" });
      }
      if (expected) {
        const given = parseBearer(req.headers.authorization);
        if (!given || !timingSafeEqual(digest(given), expected)) {
          res.setHeader("www-authenticate", 'Bearer realm="metrics"');
          return sendJson(res, 401, { error: "Send Authorization: Bearer <METRICS_TOKEN>" });
        }
      }
      let text: string;
      try {
        text = inCluster() ? await scrapeAllWorkers() : await registry.metrics();
      } catch (error) {
        sources.log.error("Collecting metrics failed", { error: (error as Error).message });
        return sendJson(res, 503, { error: "Metrics are unavailable right now" });
      }
      res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : text);
    },
    stop() {
      for (const stop of stops) stop();
    },
  };
}
