import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db/client.js";
import { sql } from "../src/db/sql.js";
import { spawnServer } from "./helpers/app.js";
import { eventually, ok } from "./helpers/client.js";
import { serverEnv, servicesMode } from "./helpers/env.js";
import { type SignedIn, signUp } from "./helpers/factories.js";
import { cursorOf } from "./helpers/messaging.js";
import {
  type ReceivedMessage,
  ResumingReceiver,
  type SendOutcome,
  sendUntilAcknowledged,
} from "./helpers/resilient-clients.js";
import {
  type PostgresServer,
  type RedisServer,
  servicesMissing,
  startPostgres,
  startRedis,
} from "./helpers/services.js";

// The product's promise under failures: while two instances take a stream of sends, one instance is
// killed (kill -9) and later restarted, Redis is restarted (its pubsub loses whatever was in flight)
// and PostgreSQL is restarted (every connection drops, immediate mode: a crash and recovery). The
// senders and receivers behave like real apps (resilient-clients.ts). Afterwards every acknowledged
// message has reached each of its receivers exactly once, in its sender's order, and every receiver
// of the group saw the group in the same order.
//
// The test runs its own PostgreSQL and Redis on free ports (helpers/services.ts), so restarting them
// disturbs nothing else; it belongs to the services run, where those binaries are installed.

type Server = Awaited<ReturnType<typeof spawnServer>>;

/** An instance that can die and come back on the same port, so clients keep its URL. */
class Instance {
  constructor(
    public server: Server,
    readonly url: string,
  ) {}

  get port(): string {
    return new URL(this.url).port;
  }

  kill(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.server.process.once("exit", () => resolve()));
    this.server.process.kill("SIGKILL");
    return exited;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Acknowledged sends each phase waits for, so every fault lands in the middle of the stream. */
const SENDS_PER_PHASE = 24;
/** Generous: the machine is shared and slow; the assertions do not depend on it. */
const PHASE_CAP_MS = 60_000;

describe("faults", {
  skip: servicesMode
    ? false
    : "services mode only (DATABASE_URL and REDIS_URL): it starts, kills and restarts its own PostgreSQL and Redis",
}, () => {
  let postgres: PostgresServer | undefined;
  let redis: RedisServer | undefined;
  let env: Record<string, string>;
  const instances: Instance[] = [];

  before(async () => {
    const missing = servicesMissing();
    if (missing) throw new Error(`The fault suite starts its own PostgreSQL and Redis: ${missing}`);
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    env = { DATABASE_URL: postgres.url, REDIS_URL: redis.url };
    // Together, on the fresh database: the migration lock lets one of them migrate.
    const servers = await Promise.all([spawnServer(env), spawnServer(env)]);
    instances.push(...servers.map((server) => new Instance(server, server.url)));
  });

  after(async () => {
    await Promise.allSettled(instances.map((instance) => instance.server.stop()));
    await Promise.allSettled([postgres?.stop(), redis?.stop()]);
  });

  it("delivers every acknowledged message exactly once through kill -9, a Redis restart and a PostgreSQL restart", {
    timeout: 300_000,
  }, async () => {
    const [a, b] = instances as [Instance, Instance];
    const endpoints = () => instances.map((instance) => instance.url);
    const [s0, s1, s2, r0, r1, r2] = (await Promise.all(
      Array.from({ length: 6 }, (_, i) => signUp((i % 2 ? b : a).url)),
    )) as SignedIn[] as [SignedIn, SignedIn, SignedIn, SignedIn, SignedIn, SignedIn];
    const group = (
      await ok(
        a.url,
        `mutation($m: [String!]) { createGroup(name: "faults", members: $m) { id } }`,
        { m: [s1, r0, r1, r2].map((user) => user.username) },
        s0.token,
      )
    ).createGroup.id as string;

    const receiverUsers = [r0, r1, r2];
    const receivers = await Promise.all(
      receiverUsers.map(
        async (user, i) =>
          new ResumingReceiver(
            user.username,
            user.token,
            endpoints,
            i % 2,
            await cursorOf(a.url, user.token),
          ),
      ),
    );
    const startCursors = new Map(receivers.map((receiver) => [receiver.username, receiver.cursor]));
    for (const receiver of receivers) receiver.start();

    // Each sender writes in turn to its conversations: direct chats and the group.
    const direct = (from: SignedIn, to: SignedIn) => ({
      to: { user: to.username },
      conversation: `direct:${from.username}`,
      receivers: [to.username],
    });
    const inGroup = {
      to: { group },
      conversation: `group:${group}`,
      receivers: receiverUsers.map((user) => user.username),
    };
    const plans = [
      { sender: s0, home: 0, targets: [direct(s0, r0), inGroup] },
      { sender: s1, home: 1, targets: [direct(s1, r1), inGroup] },
      { sender: s2, home: 0, targets: [direct(s2, r2), direct(s2, r0)] },
    ];
    const outcomes: SendOutcome[] = [];
    const failures: { at: Date; cid: string; instance: string; error: string }[] = [];
    const label = (url: string) => (url === a.url ? "A" : "B");
    let sending = true;
    let giveUpAt = Number.POSITIVE_INFINITY;
    const senders = plans.map(async ({ sender, home, targets }) => {
      for (let n = 0; sending; n++) {
        const target = targets[n % targets.length]!;
        const cid = `${sender.username}-${n}`;
        outcomes.push(
          await sendUntilAcknowledged(
            endpoints,
            home,
            sender.token,
            { ...target, cid },
            () => giveUpAt,
            (url, error) => failures.push({ at: new Date(), cid, instance: label(url), error }),
          ),
        );
        await sleep(20);
      }
    });
    const acknowledged = () => outcomes.filter((outcome) => outcome.acknowledged);
    const midStream = async (what: string) => {
      const target = acknowledged().length + SENDS_PER_PHASE;
      await eventually(
        async () => acknowledged().length >= target,
        PHASE_CAP_MS,
        `sends to go on ${what}`,
      ).catch((error) => {
        throw new Error(
          `${error.message}; last failures:\n${failures
            .slice(-12)
            .map(
              (failure) =>
                `${failure.at.toISOString()} ${failure.cid} via ${failure.instance}: ${failure.error}`,
            )
            .join("\n")}\n` +
            instances
              .map((instance) => `${instance.url}:\n${instance.server.stderr().slice(-3000)}`)
              .join("\n"),
        );
      });
    };

    const expected = (username: string) =>
      acknowledged().filter((outcome) => outcome.receivers.includes(username));
    const missing = (receiver: ResumingReceiver) => {
      const got = new Set(receiver.received.map((message) => message.cid));
      return expected(receiver.username).filter((outcome) => !got.has(outcome.cid));
    };
    const stopSending = async () => {
      sending = false;
      // A send under way keeps retrying a little longer; what is still not acknowledged then counts as such.
      giveUpAt = Math.min(giveUpAt, Date.now() + 30_000);
      await Promise.all(senders);
    };
    try {
      await midStream("before the faults");
      await a.kill();
      await midStream("with instance A killed");
      await redis!.restart();
      await midStream("after the Redis restart");
      await postgres!.restart("immediate");
      await midStream("after the PostgreSQL restart");
      a.server = await spawnServer({ ...env, PORT: a.port });
      const viaA = () => acknowledged().filter((outcome) => outcome.via === a.url).length;
      const viaABefore = viaA();
      await eventually(
        async () => viaA() >= viaABefore + SENDS_PER_PHASE / 2,
        PHASE_CAP_MS,
        "sends through the restarted A",
      );
      await stopSending();
      await eventually(
        async () => receivers.every((receiver) => missing(receiver).length === 0),
        PHASE_CAP_MS,
        "every acknowledged message to reach its receivers",
      ).catch((error) => {
        const report = receivers.map(
          (receiver) =>
            `${receiver.username} lacks ${missing(receiver)
              .map((outcome) => outcome.cid)
              .join(", ")}; its streams ended: ${receiver.interruptions.join(" | ")}`,
        );
        throw new Error(`${error.message}:\n${report.join("\n")}`);
      });
    } finally {
      await stopSending();
      await Promise.all(receivers.map((receiver) => receiver.stop()));
    }

    const retried = outcomes.filter((outcome) => outcome.retries > 0).length;
    const unacknowledged = outcomes.filter((outcome) => !outcome.acknowledged);
    const interruptions = receivers.flatMap((receiver) =>
      receiver.interruptions.map((why) => why.slice(0, 80)),
    );
    const failureKinds = new Map<string, number>();
    for (const { instance, error } of failures) {
      const kind = `via ${instance}: ${error.replace(/\d+/g, "N").slice(0, 120)}`;
      failureKinds.set(kind, (failureKinds.get(kind) ?? 0) + 1);
    }
    console.log(
      `faults: ${outcomes.length} sends, ${acknowledged().length} acknowledged, ${retried} retried, ` +
        `${unacknowledged.length} not acknowledged; receivers resumed ${interruptions.length} times (${[...new Set(interruptions)].join(" | ")}); failed attempts:\n${[...failureKinds].map(([kind, n]) => `  ${n} × ${kind}`).join("\n")}`,
    );

    const sendOrder = new Map(outcomes.map((outcome, i) => [outcome.cid, i]));
    const unacknowledgedCids = new Set(unacknowledged.map((outcome) => outcome.cid));
    const groupOrders: string[][] = [];
    for (const receiver of receivers) {
      const who = receiver.username;
      // Never twice: not an acknowledged message, not one whose send was given up.
      const seen = new Map<string, number>();
      for (const message of receiver.received) seen.set(message.cid, (seen.get(message.cid) ?? 0) + 1);
      const doubled = [...seen].filter(([, count]) => count > 1).map(([cid]) => cid);
      assert.deepEqual(doubled, [], `${who} received these more than once`);
      // Nothing it was not sent (an unacknowledged one may or may not be there).
      const mine = new Set(expected(who).map((outcome) => outcome.cid));
      const strangers = receiver.received.filter(
        (message) => !mine.has(message.cid) && !unacknowledgedCids.has(message.cid),
      );
      assert.deepEqual(strangers, [], `${who} received messages not addressed to it`);
      // In each sender's order, per conversation (a sender sends one message at a time).
      const byStream = new Map<string, number[]>();
      for (const message of receiver.received) {
        const key = `${message.conversation} from ${message.from}`;
        byStream.set(key, [...(byStream.get(key) ?? []), sendOrder.get(message.cid)!]);
      }
      for (const [key, order] of byStream) {
        assert.deepEqual(
          order,
          [...order].sort((x, y) => x - y),
          `${who}: ${key} out of order`,
        );
      }
      groupOrders.push(
        receiver.received
          .filter((message) => message.conversation === `group:${group}`)
          .map((message) => message.cid),
      );
      assert.deepEqual(
        receiver.streamErrors.filter((error) => error.code === "BAD_USER_INPUT"),
        [],
        `${who}'s cursor was refused`,
      );
    }
    // Every member saw the group in one order.
    assert.deepEqual(groupOrders[1], groupOrders[0]);
    assert.deepEqual(groupOrders[2], groupOrders[0]);

    // The durable log agrees with what the live streams delivered: a fresh device of each receiver,
    // replaying from where the test began, gets the same messages in the same order.
    for (const [i, receiver] of receivers.entries()) {
      const replay = new ResumingReceiver(
        receiver.username,
        receiverUsers[i]!.token,
        endpoints,
        1,
        startCursors.get(receiver.username)!,
      );
      replay.start();
      try {
        await eventually(
          async () => replay.received.length >= receiver.received.length,
          PHASE_CAP_MS,
          `${receiver.username}'s replay`,
        );
      } finally {
        await replay.stop();
      }
      // Per conversation: between a direct chat and a group the order is the stream's to choose.
      const byConversation = (received: ReceivedMessage[]) => {
        const conversations: Record<string, string[]> = {};
        for (const { conversation, cid } of received) {
          conversations[conversation] = [...(conversations[conversation] ?? []), cid];
        }
        return conversations;
      };
      assert.deepEqual(
        byConversation(replay.received),
        byConversation(receiver.received),
        `${receiver.username}: the replay differs from the live stream`,
      );
    }
  });

  it("a PostgreSQL restart in the middle of a transaction fails that transaction, not the process", async () => {
    const db = await openDatabase(loadConfig(serverEnv({ DATABASE_URL: postgres!.url })));
    try {
      const interrupted = db.transaction(async (query) => {
        await query(sql`SELECT 1`);
        await postgres!.restart("immediate");
        await query(sql`SELECT 1`);
      });
      await assert.rejects(interrupted);
      // The lost connection left the pool: the next statement gets a fresh one.
      assert.deepEqual(await db.query(sql`SELECT 1 AS one`), [{ one: 1 }]);
    } finally {
      await db.close();
    }
  });
});
