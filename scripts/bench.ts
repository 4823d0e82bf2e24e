import { parseArgs } from "node:util";
import { runDirect } from "./bench/direct.js";
import { type StorageMode, startServer, type Transport } from "./bench/harness.js";
import { runOffline } from "./bench/offline.js";
import { runPresence } from "./bench/presence.js";

// npm run bench -- [--workload direct|offline|presence|all] [--mode embedded|services|both] [--rate 500,1000]
//   [--seconds 10] [--pairs 50] [--messages 10000] [--transport ws|http] [--users 1000] [--watched 100]
// Each run gets its own server process on fresh storage; results print as JSON lines.

const { values } = parseArgs({
  options: {
    workload: { type: "string", default: "all" },
    mode: {
      type: "string",
      default: process.env.DATABASE_URL && process.env.REDIS_URL ? "both" : "embedded",
    },
    rate: { type: "string", default: "500,1000" },
    seconds: { type: "string", default: "10" },
    pairs: { type: "string", default: "50" },
    messages: { type: "string", default: "10000" },
    transport: { type: "string", default: "ws" },
    users: { type: "string", default: "1000" },
    watched: { type: "string", default: "100" },
  },
});

const modes: StorageMode[] = values.mode === "both" ? ["embedded", "services"] : [values.mode as StorageMode];
const workloads = values.workload === "all" ? ["direct", "offline", "presence"] : [values.workload!];

for (const mode of modes) {
  for (const workload of workloads) {
    const rates = workload === "direct" ? values.rate!.split(",").map(Number) : [0];
    for (const rate of rates) {
      const server = await startServer(mode);
      try {
        const result =
          workload === "direct"
            ? await runDirect(server, {
                rate,
                seconds: Number(values.seconds),
                pairs: Number(values.pairs),
                transport: values.transport as Transport,
              })
            : workload === "offline"
              ? await runOffline(server, { messages: Number(values.messages) })
              : await runPresence(server, { users: Number(values.users), watched: Number(values.watched) });
        console.log(JSON.stringify(result));
      } finally {
        await server.stop();
      }
    }
  }
}
