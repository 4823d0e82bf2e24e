import { parseArgs } from "node:util";
import { runConnections } from "./bench/connections.js";
import { runDirect } from "./bench/direct.js";
import { runGroup, type Selection } from "./bench/group.js";
import {
  type BenchServer,
  type StorageMode,
  startRelay,
  startServer,
  type Transport,
} from "./bench/harness.js";
import { runModeration } from "./bench/moderation.js";
import { runOffline } from "./bench/offline.js";
import { runPresence } from "./bench/presence.js";
import { ROOM_BENCH_ENV, runRoom } from "./bench/room.js";
import { prepareSearch, runSearch } from "./bench/search.js";

// npm run bench -- [--workload direct|offline|presence|group|room|connections|search|moderation|all] [--mode embedded|services|both]
//   [--rate 500,1000 (group: 10, room: 20,100)] [--seconds 10] [--pairs 50] [--messages 10000] [--transport ws|http]
//   [--users 1000] [--watched 100] [--members 500,3000 (default 500)] [--direct-rate 20] [--direct-pairs 4]
//   [--selection shared,personal (default shared)] [--room-members 2000] [--mix 0.1,0.45 (room: HIGH, LOW shares)]
//   [--connections 5000,20000] [--reference relay|none] [--stored 1000000 (search; embedded: 200000)]
//   [--repeat 10 (search: requests per case and user)] [--metrics on,off (default on)]
// `all` leaves out search, which first writes its store (minutes for a million messages), and moderation.
// Each run gets its own server process on fresh storage; results print as JSON lines. The direct and
// connections workloads first run against the reference relay (bench/relay.ts) in the same
// invocation, and the server's line carries its ratios to the relay's (`vsRelay`). With metrics on
// (METRICS=true, the default) /metrics is scraped every second during the run, as Prometheus would
// (more often); `--metrics on,off` runs each case both ways, for what metrics cost.

const { values } = parseArgs({
  options: {
    workload: { type: "string", default: "all" },
    mode: {
      type: "string",
      default: process.env.DATABASE_URL && process.env.REDIS_URL ? "both" : "embedded",
    },
    rate: { type: "string" },
    seconds: { type: "string", default: "10" },
    pairs: { type: "string", default: "50" },
    messages: { type: "string", default: "10000" },
    transport: { type: "string", default: "ws" },
    users: { type: "string", default: "1000" },
    watched: { type: "string", default: "100" },
    members: { type: "string", default: "500" },
    "direct-rate": { type: "string", default: "20" },
    "direct-pairs": { type: "string", default: "4" },
    selection: { type: "string", default: "shared" },
    "room-members": { type: "string", default: "2000" },
    mix: { type: "string", default: "0.1,0.45" },
    connections: { type: "string", default: "5000,20000" },
    reference: { type: "string", default: "relay" },
    stored: { type: "string" },
    repeat: { type: "string", default: "10" },
    metrics: { type: "string", default: "on" },
  },
});

// The moderation matcher needs no server: it runs in this process, once.
if (values.workload === "moderation") {
  console.log(JSON.stringify(runModeration()));
  process.exit(0);
}

const modes: StorageMode[] = values.mode === "both" ? ["embedded", "services"] : [values.mode as StorageMode];
const workloads =
  values.workload === "all"
    ? ["direct", "offline", "presence", "group", "room", "connections"]
    : [values.workload!];
const defaultRates: Record<string, string> = { direct: "500,1000", group: "10", room: "20,100" };
const [high, low] = values.mix!.split(",").map(Number);

for (const mode of modes) {
  for (const workload of workloads) {
    const rates = defaultRates[workload]
      ? (values.rate ?? defaultRates[workload]).split(",").map(Number)
      : [0];
    const sizes =
      workload === "group"
        ? values.members!.split(",").map(Number)
        : workload === "connections"
          ? values.connections!.split(",").map(Number)
          : [0];
    const selections = (
      workload === "group" || workload === "room" ? values.selection!.split(",") : ["shared"]
    ) as Selection[];
    const metricsSettings = values.metrics!.split(",").map((setting) => setting === "on");
    const runs = rates.flatMap((rate) =>
      sizes.flatMap((size) =>
        selections.flatMap((selection) =>
          metricsSettings.map((metrics) => [rate, size, selection, metrics] as const),
        ),
      ),
    );
    for (const [rate, size, selection, metrics] of runs) {
      const searchOptions = {
        messages: Number(values.stored ?? (mode === "embedded" ? 200_000 : 1_000_000)),
        repeat: Number(values.repeat),
      };
      const searchers: Parameters<typeof runSearch>[2] = [];
      const run = async (server: BenchServer): Promise<Figures> => {
        switch (workload) {
          case "search":
            return runSearch(server, searchOptions, searchers);
          case "room":
            return runRoom(server, {
              members: Number(values["room-members"]),
              rate,
              seconds: Number(values.seconds),
              mix: { high: high!, low: low! },
              selection,
            });
          case "group":
            return runGroup(server, {
              members: size,
              rate,
              seconds: Number(values.seconds),
              transport: values.transport as Transport,
              directRate: Number(values["direct-rate"]),
              directPairs: Number(values["direct-pairs"]),
              selection,
            });
          case "direct":
            return runDirect(server, {
              rate,
              seconds: Number(values.seconds),
              pairs: Number(values.pairs),
              transport: values.transport as Transport,
            });
          case "offline":
            return runOffline(server, { messages: Number(values.messages) });
          case "connections":
            return runConnections(server, { connections: size });
          default:
            return runPresence(server, { users: Number(values.users), watched: Number(values.watched) });
        }
      };
      let reference: Figures | undefined;
      if (values.reference === "relay" && (workload === "direct" || workload === "connections")) {
        // One relay process holds at most `ulimit -n` sockets.
        const relay = await startRelay(mode, workload === "connections" && size > 15_000 ? 2 : 1);
        try {
          reference = await run(relay);
          console.log(JSON.stringify(reference));
        } finally {
          await relay.stop();
        }
      }
      const server = await startServer(
        mode,
        { ...(workload === "room" ? ROOM_BENCH_ENV : {}), METRICS: String(metrics) },
        workload === "search" ? prepareSearch(searchOptions, searchers) : undefined,
      );
      const scraper = metrics ? scrapeEverySecond(server.url) : undefined;
      try {
        const result: Figures & { vsRelay?: unknown } = await run(server);
        if (reference) result.vsRelay = ratios(result, reference);
        result.metrics = scraper ? { on: true, ...scraper.stop() } : { on: false };
        console.log(JSON.stringify(result));
      } finally {
        scraper?.stop();
        await server.stop();
      }
    }
  }
}

/** Scrapes /metrics once a second, one scrape at a time; `stop` says how many answered. */
function scrapeEverySecond(serverUrl: string) {
  const counts = { scrapes: 0, failedScrapes: 0 };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    fetch(new URL("/metrics", serverUrl))
      .then(async (response) => {
        await response.text();
        if (response.ok) counts.scrapes++;
        else counts.failedScrapes++;
      })
      .catch(() => counts.failedScrapes++)
      .finally(() => {
        busy = false;
      });
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      return counts;
    },
  };
}

/** What a workload prints that the relay prints too. */
interface Figures {
  [figure: string]: unknown;
  latencyMs?: { p50: number; p99: number };
  cpuUsPerMessage?: number;
  kbPerConnection?: number;
  idleRssMb?: number;
}

/** The server's figures over the relay's, for the figures both print. */
function ratios(server: Figures, relay: Figures) {
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b > 0 ? Math.round((a / b) * 10) / 10 : undefined;
  return {
    p50: ratio(server.latencyMs?.p50, relay.latencyMs?.p50),
    p99: ratio(server.latencyMs?.p99, relay.latencyMs?.p99),
    cpuUsPerMessage: ratio(server.cpuUsPerMessage, relay.cpuUsPerMessage),
    kbPerConnection: ratio(server.kbPerConnection, relay.kbPerConnection),
    idleRssMb: ratio(server.idleRssMb, relay.idleRssMb),
  };
}
