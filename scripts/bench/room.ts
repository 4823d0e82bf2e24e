import type { Selection } from "./group.js";
import {
  adminCreateUsers,
  adminToken,
  type BenchServer,
  connectClient,
  inBatches,
  processUsage,
  request,
  round,
  sleep,
  summary,
} from "./harness.js";

// One room of `members` users, every member online with an events stream; one member (not the
// owner, not allow-listed) sends text messages at `rate` a second for `seconds` seconds over its own
// graphql-ws connection. Past the room's budget (ROOM_MAX_MESSAGES_PER_SECOND, default 100) the
// sends carry a mix of priorities, and the server drops LOW, then NORMAL, never HIGH: the sender
// counts what it was told was dropped, the members what arrived. Latency runs from the send call to
// arrival on a member's stream. Memory per member is the server's resident memory with every member
// connected and in the room, less what it was before they connected, over the member count.

export interface RoomOptions {
  members: number;
  rate: number;
  seconds: number;
  /** Share of HIGH and LOW messages (the rest NORMAL); below the budget every message is NORMAL. */
  mix: { high: number; low: number };
  selection: Selection;
}

type Priority = "HIGH" | "NORMAL" | "LOW";
const PRIORITIES: Priority[] = ["HIGH", "NORMAL", "LOW"];

const ROOM_BUDGET = 100;
/** The bench's members connect after joining: keep them in the room meanwhile. */
export const ROOM_BENCH_ENV = { ROOM_LEAVE_GRACE_SECONDS: "3600", ROOM_MAX_JOINED: "10" };

const CREATE_ROOM = `mutation($name: String!, $owner: String) {
  createRoom(name: $name, owner: $owner) { id }
}`;
const JOIN_ROOM = "mutation($id: ID!) { joinRoom(id: $id) { id } }";
const SEND_ROOM = `mutation($r: ID!, $text: String!, $p: MessagePriority) {
  sendMessage(to: { room: $r }, body: { text: { text: $text } }, priority: $p) { id }
}`;
/**
 * What each member's stream selects: `shared` reads nothing of the member's own, so a room message
 * is rendered once and framed per connection; `personal` adds the member's conversation, which takes
 * each stream's ordinary path (the reference).
 */
const roomStream = (selection: Selection) => `subscription {
  events { cursor event { __typename ... on MessageEvent { message {
    id createdAt from { username } body { ... on TextBody { text } }
    ${selection === "personal" ? "conversation { id }" : ""}
  } } } }
}`;

const DRAIN_MS = 10_000;

export async function runRoom(server: BenchServer, options: RoomOptions) {
  const users = await adminCreateUsers(server.url, options.members, "r");
  const owner = users[0]!;
  const speaker = users[1]!;
  const setupStart = performance.now();
  const room = (
    await request(
      server.url,
      CREATE_ROOM,
      { name: "bench", owner: owner.username },
      await adminToken(server.url),
    )
  ).createRoom as { id: string };
  await inBatches(users.slice(1), 20, (user) => request(server.url, JOIN_ROOM, { id: room.id }, user.token));
  const setupSeconds = (performance.now() - setupStart) / 1000;

  const total = Math.round(options.rate * options.seconds);
  const priorityOf = (i: number): Priority => {
    if (options.rate <= ROOM_BUDGET / 2) return "NORMAL";
    const x = ((i * 7919) % 1000) / 1000; // spread evenly, the same for every run
    return x < options.mix.high ? "HIGH" : x < options.mix.high + options.mix.low ? "LOW" : "NORMAL";
  };
  const startedAt = new Float64Array(total).fill(Number.NaN);
  const latencies: number[] = [];
  const receivedBy: Record<Priority, number> = { HIGH: 0, NORMAL: 0, LOW: 0 };
  let delivered = 0;
  let duplicated = 0;
  let streamErrors = 0;
  const onMessage = (seen: Set<string>, result: any) => {
    const event = result.data?.events?.event;
    if (event?.__typename !== "MessageEvent") return;
    const text: string | undefined = event.message?.body?.text;
    if (!text?.startsWith("r")) return;
    if (seen.has(event.message.id)) return void duplicated++;
    seen.add(event.message.id);
    const i = Number(text.slice(1));
    if (!(i >= 0 && i < total)) return;
    delivered++;
    receivedBy[priorityOf(i)]++;
    latencies.push(performance.now() - startedAt[i]!);
  };

  const rssBefore = processUsage(server.pid)?.rssMb;
  const connectStart = performance.now();
  const listeners = users.filter((user) => user !== speaker);
  const streams = await inBatches(listeners, 50, async (user) => {
    const client = await connectClient(server.url, user.token);
    const seen = new Set<string>();
    client.subscribe<any>(
      { query: roomStream(options.selection) },
      { next: (result) => onMessage(seen, result), error: () => void streamErrors++, complete: () => {} },
    );
    return client;
  });
  const connectSeconds = (performance.now() - connectStart) / 1000;
  await sleep(2000); // the streams are live, the joins' events delivered
  const rssConnected = processUsage(server.pid)?.rssMb;

  const speakerClient = await connectClient(server.url, speaker.token);
  const sentBy: Record<Priority, number> = { HIGH: 0, NORMAL: 0, LOW: 0 };
  const droppedBy: Record<Priority, number> = { HIGH: 0, NORMAL: 0, LOW: 0 };
  const failures = new Map<string, number>();
  const acks: number[] = [];
  const send = (i: number, priority: Priority) =>
    new Promise<void>((resolve) => {
      const at = performance.now();
      speakerClient.subscribe<any>(
        { query: SEND_ROOM, variables: { r: room.id, text: `r${i}`, p: priority } },
        {
          next: (result) => {
            const error = result.errors?.[0];
            if (!error) {
              sentBy[priority]++;
              acks.push(performance.now() - at);
            } else if (error.extensions?.dropped) droppedBy[priority]++;
            else
              failures.set(error.message.slice(0, 120), (failures.get(error.message.slice(0, 120)) ?? 0) + 1);
            resolve();
          },
          error: (error) => {
            failures.set(String(error).slice(0, 120), (failures.get(String(error).slice(0, 120)) ?? 0) + 1);
            resolve();
          },
          complete: () => resolve(),
        },
      );
    });

  const usageBefore = processUsage(server.pid);
  const generatorBefore = process.cpuUsage();
  let rssMaxMb = 0;
  const rssSampler = setInterval(() => {
    rssMaxMb = Math.max(rssMaxMb, processUsage(server.pid)?.rssMb ?? 0);
  }, 250);
  const begin = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = begin + (i * 1000) / options.rate - performance.now();
    if (wait > 1) await sleep(wait);
    startedAt[i] = performance.now();
    sends.push(send(i, priorityOf(i)));
  }
  await Promise.all(sends);
  const sent = sentBy.HIGH + sentBy.NORMAL + sentBy.LOW;
  const expected = sent * listeners.length;
  const drainStart = performance.now();
  let deadline = drainStart + DRAIN_MS;
  let progress = delivered;
  while (delivered < expected && performance.now() < deadline) {
    await sleep(20);
    if (delivered > progress) {
      progress = delivered;
      deadline = performance.now() + DRAIN_MS;
    }
  }
  const phaseSeconds = (performance.now() - begin) / 1000;
  const usageAfter = processUsage(server.pid);
  const generator = process.cpuUsage(generatorBefore);
  clearInterval(rssSampler);
  await Promise.all([...streams, speakerClient].map((client) => client.dispose()));

  latencies.sort((a, b) => a - b);
  acks.sort((a, b) => a - b);
  const perPriority = Object.fromEntries(
    PRIORITIES.map((p) => [
      p,
      {
        attempted: sentBy[p] + droppedBy[p],
        dropped: droppedBy[p],
        deliveries: receivedBy[p],
        lost: sentBy[p] * listeners.length - receivedBy[p],
      },
    ]),
  );
  return {
    workload: "room",
    mode: server.mode,
    selection: options.selection,
    members: options.members,
    targetRate: options.rate,
    seconds: options.seconds,
    setupSeconds: round(setupSeconds),
    connectSeconds: round(connectSeconds),
    attempted: total,
    sent,
    dropped: droppedBy.HIGH + droppedBy.NORMAL + droppedBy.LOW,
    ...(failures.size > 0 ? { failures: Object.fromEntries(failures) } : {}),
    byPriority: perPriority,
    expectedDeliveries: expected,
    delivered,
    lost: expected - delivered,
    duplicated,
    streamErrors,
    deliveriesPerSecond: round(delivered / phaseSeconds),
    latencyMs: summary(latencies),
    ackMs: summary(acks),
    server:
      usageBefore && usageAfter
        ? {
            cpuPercent: round(((usageAfter.cpuMs - usageBefore.cpuMs) / (phaseSeconds * 1000)) * 100),
            cpuUsPerDelivery: round(((usageAfter.cpuMs - usageBefore.cpuMs) * 1000) / Math.max(1, delivered)),
            rssMb: usageAfter.rssMb,
            rssMaxMb: Math.max(rssMaxMb, usageAfter.rssMb),
            memoryPerMemberKb:
              rssBefore !== undefined && rssConnected !== undefined
                ? round(((rssConnected - rssBefore) * 1024) / listeners.length)
                : undefined,
          }
        : undefined,
    // This process: every member's client and the sender; past one core it, not the server, sets the pace.
    loadGenerator: {
      cpuPercent: round(((generator.user + generator.system) / 1000 / (phaseSeconds * 1000)) * 100),
    },
  };
}
