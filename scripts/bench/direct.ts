import {
  type BenchServer,
  createUsers,
  listen,
  percentile,
  processUsage,
  sender,
  sleep,
  type Transport,
} from "./harness.js";

// Pairs of users; each sender sends to its receiver at a share of the target rate (open loop: sends
// start on schedule whether or not earlier ones finished). Latency runs from the send call to the
// message arriving on the receiver's events stream. Senders send over their own graphql-ws
// connection, as chat apps do (--transport http sends each as an HTTP POST instead).

export interface DirectOptions {
  rate: number;
  seconds: number;
  pairs: number;
  transport: Transport;
}

export async function runDirect(server: BenchServer, options: DirectOptions) {
  const senders = await createUsers(server.url, options.pairs, "s");
  const receivers = await createUsers(server.url, options.pairs, "r");
  const started = new Map<string, number>();
  const latencies: number[] = [];
  const seen = new Set<string>();
  let duplicated = 0;
  const clients = await Promise.all(
    receivers.map((receiver) =>
      listen(server.url, receiver.token, undefined, (text) => {
        if (seen.has(text)) return void duplicated++;
        seen.add(text);
        const at = started.get(text);
        if (at !== undefined) latencies.push(performance.now() - at);
      }),
    ),
  );
  const sendFns = await Promise.all(senders.map((s) => sender(server.url, s.token, options.transport)));
  await sleep(500);

  const total = Math.round(options.rate * options.seconds);
  let failed = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const sends: Promise<void>[] = [];
  const usageBefore = processUsage(server.pid);
  const begin = performance.now();
  for (let i = 0; i < total; i++) {
    const due = begin + (i * 1000) / options.rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const pair = i % options.pairs;
    const text = `m${i}`;
    started.set(text, performance.now());
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    sends.push(
      sendFns[pair]!(receivers[pair]!.username, text)
        .catch(() => {
          failed++;
          started.delete(text);
        })
        .finally(() => {
          inFlight--;
        }),
    );
  }
  await Promise.all(sends);
  const sendSeconds = (performance.now() - begin) / 1000;
  // Whatever has not arrived 5 s after the last send returned counts as lost.
  const deadline = performance.now() + 5000;
  while (seen.size < total - failed && performance.now() < deadline) await sleep(20);
  const usageAfter = processUsage(server.pid);
  const seconds = (performance.now() - begin) / 1000;
  const cpuMs = usageBefore && usageAfter ? usageAfter.cpuMs - usageBefore.cpuMs : Number.NaN;
  await Promise.all(clients.map((client) => client.dispose()));
  await Promise.all(sendFns.map((send) => ("close" in send ? send.close() : undefined)));

  latencies.sort((a, b) => a - b);
  return {
    workload: "direct",
    mode: server.mode,
    system: server.system,
    transport: options.transport,
    targetRate: options.rate,
    pairs: options.pairs,
    sent: total - failed,
    failed,
    achievedRate: Math.round((total - failed) / sendSeconds),
    delivered: seen.size,
    lost: total - failed - seen.size,
    duplicated,
    maxInFlight,
    latencyMs: {
      p50: round(percentile(latencies, 50)),
      p90: round(percentile(latencies, 90)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies.at(-1) ?? Number.NaN),
    },
    // The server's processes only (not PostgreSQL or Redis), per message sent, the sender's copy included.
    serverCpuPercent: Math.round(cpuMs / seconds / 10),
    cpuUsPerMessage: round((cpuMs * 1000) / Math.max(1, total - failed)),
    rssMb: usageAfter?.rssMb,
  };
}

const round = (value: number) => Math.round(value * 10) / 10;
