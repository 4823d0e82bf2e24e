import type { Plugin } from "@envelop/core";
import {
  BurstyRateLimiter,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";
import type { Config, LimitConfig } from "../config.js";
import type { Context } from "../context.js";
import { AppError } from "../errors.js";
import type { RedisClients } from "../pubsub/redis.js";

// Abuse limits (README.md, "Abuse limits"): how often one user, one client address or one admin
// token may do what costs the server most or spams others. Each entry point spends one point with
// consumeLimit; past the budget it fails with RATE_LIMITED and retryAfterSeconds. In services mode
// the counts live in Redis, so all instances spend from one budget; embedded they live in memory.

export type ChatKind = keyof LimitConfig["sends"];

export type LimitName =
  | `sends.${Lowercase<ChatKind>}`
  | "uploads"
  | "searches"
  | "typing"
  | "registrations"
  | "logins"
  | "admin";

interface Limit {
  /** What is counted, for the message: "messages to groups". */
  what: string;
  /** Whose budget it is: "per user". */
  per: string;
  points: number;
  seconds: number;
  /** The most in one window while the burst reserve lasts; more than `points`. */
  burst?: number;
}

/** How long a spent burst reserve takes to come back, whole. */
const BURST_RESERVE_SECONDS = 10;

const SEND_TARGETS: Record<ChatKind, string> = {
  DIRECT: "direct messages",
  GROUP: "messages to groups",
  THREAD: "messages to threads",
  ROOM: "messages to rooms",
};

function limitTable(limits: LimitConfig): Record<LimitName, Limit> {
  const sends = (kind: ChatKind): Limit => ({
    what: SEND_TARGETS[kind],
    per: "per user",
    points: limits.sends[kind].perSecond,
    seconds: 1,
    burst: limits.sends[kind].burst,
  });
  return {
    "sends.direct": sends("DIRECT"),
    "sends.group": sends("GROUP"),
    "sends.thread": sends("THREAD"),
    "sends.room": sends("ROOM"),
    uploads: { what: "uploads", per: "per user", points: limits.uploadsPerMinute, seconds: 60 },
    searches: { what: "searches", per: "per user", points: limits.searchesPerMinute, seconds: 60 },
    typing: { what: "typing notices", per: "per user", points: limits.typingPer10Seconds, seconds: 10 },
    registrations: {
      what: "sign-ups",
      per: "per client address",
      points: limits.registrationsPerHour,
      seconds: 3600,
    },
    logins: { what: "sign-ins", per: "per client address", points: limits.loginsPerMinute, seconds: 60 },
    admin: {
      what: "admin calls",
      per: "per admin token",
      points: limits.admin.perSecond,
      seconds: 1,
      burst: limits.admin.burst,
    },
  };
}

export interface AbuseLimits {
  /** Spends one of `key`'s points on `name`; past the budget, throws RATE_LIMITED. */
  consume(name: LimitName, key: string): Promise<void>;
}

interface Limiter {
  consume(key: string): Promise<RateLimiterRes>;
}

export function createAbuseLimits(config: Config, redis: RedisClients | undefined): AbuseLimits {
  if (!config.limits.enabled) return { consume: async () => {} };
  const table = limitTable(config.limits);
  const limiters = new Map<LimitName, Limiter>();
  for (const [name, limit] of Object.entries(table) as [LimitName, Limit][]) {
    const store = (suffix: string, points: number, seconds: number) =>
      counter(`${name}${suffix}`, points, seconds, redis, config.redisPrefix);
    const steady = store("", limit.points, limit.seconds);
    limiters.set(
      name,
      limit.burst && limit.burst > limit.points
        ? new BurstyRateLimiter(steady, store(".burst", limit.burst - limit.points, BURST_RESERVE_SECONDS))
        : steady,
    );
  }
  return {
    async consume(name, key) {
      try {
        await limiters.get(name)!.consume(key);
      } catch (error) {
        if (!(error instanceof RateLimiterRes)) throw error;
        const retryAfterSeconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
        throw new AppError(
          "RATE_LIMITED",
          `Too many ${describe(table[name])}; retry in ${retryAfterSeconds} s`,
          { retryAfterSeconds },
        );
      }
    },
  };
}

/**
 * Fixed-window counts. In Redis they are shared by every instance; should Redis fail, each instance
 * counts in memory meanwhile (the insurance limiter): a budget per instance for a while is better
 * than every send failing, or waiting on Redis's reconnects, because a counter is out of reach.
 */
function counter(
  name: string,
  points: number,
  seconds: number,
  redis: RedisClients | undefined,
  prefix: string,
): RateLimiterMemory | RateLimiterRedis {
  const memory = new RateLimiterMemory({ keyPrefix: name, points, duration: seconds });
  if (!redis) return memory;
  return new RateLimiterRedis({
    storeClient: redis.command,
    keyPrefix: `${prefix}limit:${name}`,
    points,
    duration: seconds,
    insuranceLimiter: memory,
    rejectIfRedisNotReady: true,
  });
}

function describe(limit: Limit): string {
  const window =
    limit.seconds === 1
      ? "a second"
      : limit.seconds === 60
        ? "a minute"
        : limit.seconds === 3600
          ? "an hour"
          : `per ${limit.seconds} seconds`;
  const burst = limit.burst && limit.burst > limit.points ? ` (bursts to ${limit.burst})` : "";
  return `${limit.what}: at most ${limit.points} ${window}${burst} ${limit.per}`;
}

/** Spends one point of `key`'s budget for `name`, or fails with RATE_LIMITED and retryAfterSeconds. */
export function consumeLimit(
  ctx: { services: { abuseLimits: AbuseLimits } },
  name: LimitName,
  key: string,
): Promise<void> {
  return ctx.services.abuseLimits.consume(name, key);
}

/** The budget for a message to this kind of chat. */
export function sendLimit(kind: ChatKind): LimitName {
  return `sends.${kind.toLowerCase() as Lowercase<ChatKind>}`;
}

/**
 * The key a client address spends from. An IPv6 client is usually handed a whole /64, so the /64 is
 * one budget; an IPv4 address seen through an IPv6 socket (::ffff:a.b.c.d) is the IPv4 address.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(":")) return address;
  const [head = "", tail] = address.split("%")[0]!.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  const prefix = groups.slice(0, 4).map((group) => Number.parseInt(group || "0", 16).toString(16));
  return `${prefix.join(":")}::/64`;
}

/** Counts every operation an admin token runs (queries and mutations alike) against its budget. */
export function useAdminCallLimit(): Plugin<Context> {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue;
      if (ctx.viewer.kind !== "admin") return;
      try {
        await consumeLimit(ctx, "admin", ctx.viewer.tokenId);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        setResultAndStopExecution({ errors: [error] });
      }
    },
  };
}
