import type { Client } from "graphql-ws";
import { type BenchServer, connectClient, createUsers, percentile, request } from "./harness.js";

// A reconnect storm, as when an instance restarts: `users` users connect at once, and `watched` of
// them have a subscriber (one user following them all). Reports how long until every connection is
// up, and when the subscriber heard each watched user come online, then the same for going offline.

export interface PresenceOptions {
  users: number;
  watched: number;
}

const PRESENCE_STREAM = `subscription { events { event { ... on PresenceEvent { user { username } online } } } }`;

export async function runPresence(server: BenchServer, options: PresenceOptions) {
  const users = await createUsers(server.url, options.users, "p");
  const [watcher] = await createUsers(server.url, 1, "watcher");
  const watched = users.slice(0, options.watched);
  for (let start = 0; start < watched.length; start += 100) {
    await request(
      server.url,
      "mutation($u: [String!]!) { subscribePresence(usernames: $u) { online } }",
      { u: watched.slice(start, start + 100).map((user) => user.username) },
      watcher!.token,
    );
  }
  const heard = { online: new Map<string, number>(), offline: new Map<string, number>() };
  let duplicated = 0;
  const stream = await connectClient(server.url, watcher!.token);
  stream.subscribe<any>(
    { query: PRESENCE_STREAM },
    {
      next: (result) => {
        const event = result.data?.events.event;
        if (!event?.user) return;
        const seen = event.online ? heard.online : heard.offline;
        if (seen.has(event.user.username)) duplicated++;
        else seen.set(event.user.username, performance.now());
      },
      error: (error) => console.error("stream error", error),
      complete: () => {},
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 500)); // the stream is live

  const waitFor = async (seen: Map<string, number>) => {
    const deadline = performance.now() + 60_000;
    while (seen.size < watched.length && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const summary = (seen: Map<string, number>, start: number) => {
    const latencies = [...seen.values()].map((at) => at - start).sort((a, b) => a - b);
    const round = (ms: number) => Math.round(ms * 10) / 10;
    return {
      heard: seen.size,
      lost: watched.length - seen.size,
      latencyMs: {
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies.at(-1) ?? Number.NaN),
      },
    };
  };

  const connectStart = performance.now();
  const clients: Client[] = await Promise.all(users.map((user) => connectClient(server.url, user.token)));
  const connectSeconds = (performance.now() - connectStart) / 1000;
  await waitFor(heard.online);
  const online = summary(heard.online, connectStart);

  const disconnectStart = performance.now();
  await Promise.all(clients.map((client) => client.dispose()));
  await waitFor(heard.offline);
  const offline = summary(heard.offline, disconnectStart);
  await stream.dispose();
  return {
    workload: "presence",
    mode: server.mode,
    users: options.users,
    watched: options.watched,
    connectSeconds: Math.round(connectSeconds * 1000) / 1000,
    online,
    offline,
    duplicated,
  };
}
