import type { Client } from "graphql-ws";
import pg from "pg";
import {
  adminCreateUsers,
  type BenchServer,
  connectClient,
  inBatches,
  listen,
  processUsage,
  request,
  round,
  sender,
  sleep,
  summary,
  type Transport,
} from "./harness.js";

// One group of `members` users, every member online with an events stream; the owner sends text
// messages to the group at `rate` a second for `seconds` seconds (open loop, over its own graphql-ws
// connection or HTTP). Latency runs from the send call to the message arriving on a member's stream;
// "last member" is, per message, until every other member had it. Meanwhile `directPairs` pairs of
// other users send direct messages at `directRate` a second in all, whose latency is reported apart
// (does a group's fan-out hold up direct traffic?). The sender's own device listens too; what it
// receives is reported apart and not counted as lost.
//
// Services mode also reports database rows written (inserts + updates + deletes, from
// pg_stat_user_tables on the bench database) per group message. With direct traffic on, a short
// direct-only phase first measures rows per direct message, which is subtracted.

export interface GroupOptions {
  members: number;
  rate: number;
  seconds: number;
  transport: Transport;
  directRate: number;
  directPairs: number;
  selection: Selection;
}

const CREATE_GROUP = `mutation($name: String!, $members: [String!]) {
  createGroup(name: $name, isPublic: true, joinPolicy: OPEN, members: $members) { id memberCount }
}`;
const JOIN_GROUP = "mutation($id: ID!) { joinGroup(id: $id) { id } }";
const SEND_GROUP = `mutation($g: ID!, $text: String!) {
  sendMessage(to: { group: $g }, body: { text: { text: $text } }) { id }
}`;
/**
 * What each member's stream selects. `shared` reads nothing of the member's own, so an instance
 * renders a message once for all its members; `personal` adds the member's unread count, which is
 * rendered for each member.
 */
export type Selection = "shared" | "personal";
const groupStream = (selection: Selection) => `subscription {
  events { cursor event { __typename ... on MessageEvent { message {
    id createdAt from { username } body { ... on TextBody { text } }
    ${selection === "personal" ? "conversation { unreadCount }" : ""}
  } } } }
}`;

/** PostgreSQL reports a backend's table counts at transaction end, but at most once a second; an idle backend with counts pending reports them within PGSTAT_IDLE_INTERVAL (10 s). */
const STATS_SETTLE_MS = 11_000;
/**
 * Whatever has not arrived this long after the last send returned, and after the last delivery that
 * did arrive (an overloaded server is late, not lossy), counts as lost; the wait ends at DRAIN_MAX_MS.
 */
const DRAIN_MS = 10_000;
const DRAIN_MAX_MS = 300_000;

export async function runGroup(server: BenchServer, options: GroupOptions) {
  const directPairs = options.directRate > 0 ? Math.max(1, options.directPairs) : 0;
  const users = await adminCreateUsers(server.url, options.members + 2 * directPairs, "g");
  const members = users.slice(0, options.members);
  const owner = members[0]!;
  const directSenders = users.slice(options.members, options.members + directPairs);
  const directReceivers = users.slice(options.members + directPairs);

  // The group: the first 100 members in at once, the rest join (OPEN).
  const setupStart = performance.now();
  const group = (
    await request(
      server.url,
      CREATE_GROUP,
      { name: "bench", members: members.slice(1, 101).map((user) => user.username) },
      owner.token,
    )
  ).createGroup as { id: string };
  await inBatches(members.slice(101), 10, (user) =>
    request(server.url, JOIN_GROUP, { id: group.id }, user.token),
  );
  const memberCount = (
    await request(
      server.url,
      "query($id: ID!) { group(id: $id) { memberCount } }",
      { id: group.id },
      owner.token,
    )
  ).group.memberCount as number;
  const setupSeconds = (performance.now() - setupStart) / 1000;

  // Every member's stream. Messages are `g<i>`; index i keys the per-message tallies.
  const total = Math.round(options.rate * options.seconds);
  const others = members.length - 1;
  const startedAt = new Float64Array(total).fill(Number.NaN);
  const arrivals = new Uint32Array(total);
  const lastArrival = new Float64Array(total);
  const latencies: number[] = [];
  let delivered = 0;
  let duplicated = 0;
  let streamErrors = 0;
  let senderEcho = 0;
  let senderEchoDuplicated = 0;
  const onMessage = (isSender: boolean, seen: Set<string>, result: any) => {
    const event = result.data?.events?.event;
    if (event?.__typename !== "MessageEvent") return;
    const message = event.message;
    const text: string | undefined = message?.body?.text;
    if (!text?.startsWith("g")) return;
    const now = performance.now();
    if (seen.has(message.id)) {
      if (isSender) senderEchoDuplicated++;
      else duplicated++;
      return;
    }
    seen.add(message.id);
    if (isSender) return void senderEcho++;
    delivered++;
    const i = Number(text.slice(1));
    if (!(i >= 0 && i < total)) return;
    latencies.push(now - startedAt[i]!);
    arrivals[i]!++;
    lastArrival[i] = Math.max(lastArrival[i]!, now);
  };
  const connectStart = performance.now();
  const streams = await inBatches(members, 50, async (user, index) => {
    const client = await connectClient(server.url, user.token);
    const seen = new Set<string>();
    client.subscribe<any>(
      { query: groupStream(options.selection) },
      {
        next: (result) => onMessage(index === 0, seen, result),
        error: () => void streamErrors++,
        complete: () => {},
      },
    );
    return client;
  });
  const connectSeconds = (performance.now() - connectStart) / 1000;

  // Background direct traffic: its own listeners, keyed by text `d<n>`.
  const directStarted = new Map<string, number>();
  const directLatencies: number[] = [];
  const directSeen = new Set<string>();
  let directDuplicated = 0;
  const directClients = await Promise.all(
    directReceivers.map((receiver) =>
      listen(server.url, receiver.token, undefined, (text) => {
        if (!text.startsWith("d")) return;
        if (directSeen.has(text)) return void directDuplicated++;
        directSeen.add(text);
        const at = directStarted.get(text);
        if (at !== undefined) directLatencies.push(performance.now() - at);
      }),
    ),
  );
  const directSendFns = await Promise.all(directSenders.map((s) => sender(server.url, s.token, "ws")));
  let directNext = 0;
  let directFailed = 0;
  const directTraffic = async (seconds: number) => {
    if (directPairs === 0) return 0;
    const count = Math.round(options.directRate * seconds);
    const begin = performance.now();
    const sends: Promise<void>[] = [];
    for (let k = 0; k < count; k++) {
      const wait = begin + (k * 1000) / options.directRate - performance.now();
      if (wait > 1) await sleep(wait);
      const n = directNext++;
      const text = `d${n}`;
      directStarted.set(text, performance.now());
      sends.push(
        directSendFns[n % directPairs]!(directReceivers[n % directPairs]!.username, text).catch(() => {
          directFailed++;
          directStarted.delete(text);
        }),
      );
    }
    await Promise.all(sends);
    return count;
  };

  const sendGroup = await groupSender(server.url, owner.token, options.transport, group.id);
  await sleep(1000); // the streams are live

  // Database rows: settle, (direct-only calibration), settle, group phase, settle.
  const stats = server.databaseUrl ? new pg.Client({ connectionString: server.databaseUrl }) : undefined;
  await stats?.connect();
  const rowsWritten = async () => {
    if (!stats) return 0;
    await sleep(STATS_SETTLE_MS);
    await stats.query("SELECT pg_stat_clear_snapshot()");
    const { rows } = await stats.query(
      "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint AS n FROM pg_stat_user_tables",
    );
    return Number(rows[0].n);
  };
  let rowsPerDirect = 0;
  let rowsBefore = await rowsWritten();
  if (stats && directPairs > 0) {
    const failedBefore = directFailed;
    const calibrationSent = (await directTraffic(3)) - (directFailed - failedBefore);
    const rowsMid = await rowsWritten();
    rowsPerDirect = calibrationSent > 0 ? (rowsMid - rowsBefore) / calibrationSent : 0;
    rowsBefore = rowsMid;
  }

  // The group phase.
  const directFailedBefore = directFailed;
  const directLatencyStart = directLatencies.length;
  const directSentBefore = directNext;
  const acks: number[] = [];
  let failed = 0;
  const failures = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  let rssMaxMb = 0;
  const rssSampler = setInterval(() => {
    rssMaxMb = Math.max(rssMaxMb, processUsage(server.pid)?.rssMb ?? 0);
  }, 250);
  const usageBefore = processUsage(server.pid);
  const generatorBefore = process.cpuUsage();
  const begin = performance.now();
  const background = directTraffic(options.seconds);
  const sends: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = begin + (i * 1000) / options.rate - performance.now();
    if (wait > 1) await sleep(wait);
    const at = performance.now();
    startedAt[i] = at;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    sends.push(
      sendGroup(`g${i}`)
        .then(() => void acks.push(performance.now() - at))
        .catch((error: unknown) => {
          failed++;
          const reason = String(error instanceof Error ? error.message : error).slice(0, 120);
          failures.set(reason, (failures.get(reason) ?? 0) + 1);
        })
        .finally(() => {
          inFlight--;
        }),
    );
  }
  await Promise.all(sends);
  const sendSeconds = (performance.now() - begin) / 1000;
  await background;
  const sent = total - failed;
  const directSent = directNext - directSentBefore - (directFailed - directFailedBefore);
  const drainStart = performance.now();
  let deadline = drainStart + DRAIN_MS;
  let progress = delivered + directSeen.size;
  while (
    (delivered < others * sent || directSeen.size < directNext - directFailed) &&
    performance.now() < Math.min(deadline, drainStart + DRAIN_MAX_MS)
  ) {
    await sleep(20);
    if (delivered + directSeen.size > progress) {
      progress = delivered + directSeen.size;
      deadline = performance.now() + DRAIN_MS;
    }
  }
  const phaseSeconds = (performance.now() - begin) / 1000;
  const usageAfter = processUsage(server.pid);
  const generator = process.cpuUsage(generatorBefore);
  clearInterval(rssSampler);
  const rowsAfter = await rowsWritten();
  await stats?.end();

  await Promise.all([...streams, ...directClients].map((client: Client) => client.dispose()));
  await Promise.all(directSendFns.map((send) => ("close" in send ? send.close() : undefined)));
  await sendGroup.close();

  const untilLast: number[] = [];
  let incomplete = 0;
  for (let i = 0; i < total; i++) {
    if (Number.isNaN(startedAt[i]!)) continue;
    if (arrivals[i] === others) untilLast.push(lastArrival[i]! - startedAt[i]!);
    else incomplete++;
  }
  latencies.sort((a, b) => a - b);
  untilLast.sort((a, b) => a - b);
  acks.sort((a, b) => a - b);
  const direct = directLatencies.slice(directLatencyStart).sort((a, b) => a - b);
  const groupRows = rowsAfter - rowsBefore - rowsPerDirect * directSent;
  return {
    workload: "group",
    mode: server.mode,
    transport: options.transport,
    selection: options.selection,
    members: options.members,
    memberCount,
    targetRate: options.rate,
    seconds: options.seconds,
    setupSeconds: round(setupSeconds),
    connectSeconds: round(connectSeconds),
    sent,
    failed,
    ...(failures.size > 0 ? { failures: Object.fromEntries(failures) } : {}),
    achievedRate: round(sent / sendSeconds),
    maxInFlight,
    expectedDeliveries: others * sent,
    delivered,
    lost: others * sent - delivered,
    duplicated,
    streamErrors,
    senderDevice: { received: senderEcho, lost: sent - senderEcho, duplicated: senderEchoDuplicated },
    latencyMs: summary(latencies),
    untilLastMemberMs: { ...summary(untilLast), incompleteMessages: incomplete },
    ackMs: summary(acks),
    direct: {
      targetRate: options.directRate,
      pairs: directPairs,
      sent: directSent,
      failed: directFailed - directFailedBefore,
      lost: directNext - directFailed - directSeen.size,
      duplicated: directDuplicated,
      latencyMs: summary(direct),
    },
    server:
      usageBefore && usageAfter
        ? {
            cpuPercent: round(((usageAfter.cpuMs - usageBefore.cpuMs) / (phaseSeconds * 1000)) * 100),
            // Every event a socket got in the phase: members, the sender's own device, direct traffic (both sides).
            cpuUsPerDelivery: round(
              ((usageAfter.cpuMs - usageBefore.cpuMs) * 1000) / (delivered + senderEcho + 2 * directSent),
            ),
            rssMb: usageAfter.rssMb,
            rssMaxMb: Math.max(rssMaxMb, usageAfter.rssMb),
          }
        : undefined,
    // This process: every member's client, the senders and the tallies.
    loadGenerator: {
      cpuPercent: round(((generator.user + generator.system) / 1000 / (phaseSeconds * 1000)) * 100),
    },
    db: stats
      ? {
          rowsWritten: rowsAfter - rowsBefore,
          rowsPerDirectMessage: round(rowsPerDirect),
          rowsPerGroupMessage: sent > 0 ? round(groupRows / sent) : Number.NaN,
        }
      : undefined,
  };
}

/** Sends a text to the group as `token`'s user, over its own graphql-ws connection or HTTP. */
async function groupSender(url: string, token: string, transport: Transport, groupId: string) {
  if (transport === "http") {
    const send = (text: string) =>
      request(url, SEND_GROUP, { g: groupId, text }, token).then(() => undefined);
    return Object.assign(send, { close: async () => {} });
  }
  const client = await connectClient(url, token);
  const send = (text: string) =>
    new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: SEND_GROUP, variables: { g: groupId, text } },
        {
          next: (result) => (result.errors ? reject(new Error(JSON.stringify(result.errors))) : resolve()),
          error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
          complete: () => {},
        },
      );
    });
  return Object.assign(send, { close: () => client.dispose() });
}
