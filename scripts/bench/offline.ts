import { type BenchServer, createUsers, listen, request, sender } from "./harness.js";

// One user offline while N messages arrive for them, then a device connects with its cursor; the
// catch-up time runs from subscribing to the N-th message delivered.

export interface OfflineOptions {
  messages: number;
}

export async function runOffline(server: BenchServer, options: OfflineOptions) {
  const [receiver] = await createUsers(server.url, 1, "offline");
  const senders = await createUsers(server.url, 8, "os");
  const since = (await request(server.url, "{ eventCursor }", {}, receiver!.token)).eventCursor as string;
  const sends = await Promise.all(senders.map((user) => sender(server.url, user.token, "ws")));
  const fillStart = performance.now();
  await Promise.all(
    sends.map(async (send, s) => {
      for (let i = s; i < options.messages; i += senders.length) await send(receiver!.username, `o${i}`);
    }),
  );
  const fillSeconds = (performance.now() - fillStart) / 1000;

  const seen = new Set<string>();
  let duplicated = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const begin = performance.now();
  const client = await listen(server.url, receiver!.token, since, (text) => {
    if (seen.has(text)) duplicated++;
    seen.add(text);
    if (seen.size === options.messages) done();
  });
  await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 120_000))]);
  const catchUpSeconds = (performance.now() - begin) / 1000;
  await client.dispose();
  await Promise.all(sends.map((send) => ("close" in send ? send.close() : undefined)));
  return {
    workload: "offline",
    mode: server.mode,
    messages: options.messages,
    storeRate: Math.round(options.messages / fillSeconds),
    delivered: seen.size,
    lost: options.messages - seen.size,
    duplicated,
    catchUpSeconds: Math.round(catchUpSeconds * 1000) / 1000,
    catchUpRate: Math.round(seen.size / catchUpSeconds),
  };
}
