import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { adminCreateUsers, type BenchServer, processUsage, round, sleep } from "./harness.js";

// Idle connections: N graphql-ws connections, each with an `events` stream, held by child processes
// (5,000 each). Memory per connection is the server's RSS (all its processes) with every stream
// open, less its RSS before they connected, over N; the idle RSS is read before any user exists.

const PER_HOLDER = 5000;

export interface ConnectionsOptions {
  connections: number;
}

export async function runConnections(server: BenchServer, options: ConnectionsOptions) {
  await sleep(2000);
  const idleRssMb = processUsage(server.pid)?.rssMb;
  const tokens =
    server.system === "relay"
      ? Array.from({ length: options.connections }, (_, i) => `c${i}`)
      : (await adminCreateUsers(server.url, options.connections, "c")).map((user) => user.token);
  await sleep(2000);
  const before = processUsage(server.pid)?.rssMb ?? Number.NaN;
  const connectStart = performance.now();
  const holders: ChildProcess[] = [];
  for (let start = 0; start < tokens.length; start += PER_HOLDER) {
    const holder = fork(new URL("./holder.ts", import.meta.url), { execArgv: ["--import", "tsx"] });
    holder.send({ url: server.url, tokens: tokens.slice(start, start + PER_HOLDER) });
    holders.push(holder);
  }
  try {
    await Promise.all(holders.map((holder) => once(holder, "message")));
    const connectSeconds = (performance.now() - connectStart) / 1000;
    await sleep(5000);
    const after = processUsage(server.pid)?.rssMb ?? Number.NaN;
    return {
      workload: "connections",
      mode: server.mode,
      system: server.system,
      connections: options.connections,
      connectSeconds: round(connectSeconds),
      idleRssMb,
      rssBeforeMb: before,
      rssConnectedMb: after,
      kbPerConnection: round(((after - before) * 1024) / options.connections),
    };
  } finally {
    for (const holder of holders) holder.kill();
  }
}
