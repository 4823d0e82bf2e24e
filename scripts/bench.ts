import { parseArgs } from "node:util";
import { runDirect } from "./bench/direct.js";
import { runGroup, type Selection } from "./bench/group.js";
import { type StorageMode, startServer, type Transport } from "./bench/harness.js";
import { runOffline } from "./bench/offline.js";
import { runPresence } from "./bench/presence.js";
import { ROOM_BENCH_ENV, runRoom } from "./bench/room.js";

// npm run bench -- [--workload direct|offline|presence|group|room|all] [--mode embedded|services|both]
//   [--rate 500,1000 (group: 10, room: 20,100)] [--seconds 10] [--pairs 50] [--messages 10000] [--transport ws|http]
//   [--users 1000] [--watched 100] [--members 500,3000 (default 500)] [--direct-rate 20] [--direct-pairs 4]
//   [--selection shared,personal (default shared)] [--room-members 2000] [--mix 0.1,0.45 (room: HIGH, LOW shares)]
// Each run gets its own server process on fresh storage; results print as JSON lines.

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
  },
});

const modes: StorageMode[] = values.mode === "both" ? ["embedded", "services"] : [values.mode as StorageMode];
const workloads =
  values.workload === "all" ? ["direct", "offline", "presence", "group", "room"] : [values.workload!];
const defaultRates: Record<string, string> = { direct: "500,1000", group: "10", room: "20,100" };
const [high, low] = values.mix!.split(",").map(Number);

for (const mode of modes) {
  for (const workload of workloads) {
    const rates = defaultRates[workload]
      ? (values.rate ?? defaultRates[workload]).split(",").map(Number)
      : [0];
    const sizes = workload === "group" ? values.members!.split(",").map(Number) : [0];
    const selections = (
      workload === "group" || workload === "room" ? values.selection!.split(",") : ["shared"]
    ) as Selection[];
    const runs = rates.flatMap((rate) =>
      sizes.flatMap((size) => selections.map((selection) => [rate, size, selection] as const)),
    );
    for (const [rate, members, selection] of runs) {
      const server = await startServer(mode, workload === "room" ? ROOM_BENCH_ENV : {});
      try {
        const result =
          workload === "room"
            ? await runRoom(server, {
                members: Number(values["room-members"]),
                rate,
                seconds: Number(values.seconds),
                mix: { high: high!, low: low! },
                selection,
              })
            : workload === "group"
              ? await runGroup(server, {
                  members,
                  rate,
                  seconds: Number(values.seconds),
                  transport: values.transport as Transport,
                  directRate: Number(values["direct-rate"]),
                  directPairs: Number(values["direct-pairs"]),
                  selection,
                })
              : workload === "direct"
                ? await runDirect(server, {
                    rate,
                    seconds: Number(values.seconds),
                    pairs: Number(values.pairs),
                    transport: values.transport as Transport,
                  })
                : workload === "offline"
                  ? await runOffline(server, { messages: Number(values.messages) })
                  : await runPresence(server, {
                      users: Number(values.users),
                      watched: Number(values.watched),
                    });
        console.log(JSON.stringify(result));
      } finally {
        await server.stop();
      }
    }
  }
}
