import type { RedisClients } from "./redis.js";

/** Fixed-window counters, shared by all instances when Redis is configured. */
export interface RateLimiter {
  /** Hits in the current window. */
  count(key: string): Promise<number>;
  /** Adds one hit and returns the new count. */
  hit(key: string, windowSeconds: number): Promise<number>;
  /** Seconds until the key's window ends (0 when it has none). */
  retryAfter(key: string): Promise<number>;
  reset(key: string): Promise<void>;
}

export function createRateLimiter(redis: RedisClients | undefined, prefix: string): RateLimiter {
  return redis ? redisLimiter(redis, `${prefix}rate:`) : localLimiter();
}

function localLimiter(): RateLimiter {
  const windows = new Map<string, { count: number; endsAt: number }>();
  const live = (key: string) => {
    const window = windows.get(key);
    if (window && window.endsAt <= Date.now()) {
      windows.delete(key);
      return undefined;
    }
    return window;
  };
  return {
    async count(key) {
      return live(key)?.count ?? 0;
    },
    async hit(key, windowSeconds) {
      const window = live(key) ?? { count: 0, endsAt: Date.now() + windowSeconds * 1000 };
      window.count += 1;
      windows.set(key, window);
      return window.count;
    },
    async retryAfter(key) {
      const window = live(key);
      return window ? Math.ceil((window.endsAt - Date.now()) / 1000) : 0;
    },
    async reset(key) {
      windows.delete(key);
    },
  };
}

function redisLimiter(redis: RedisClients, prefix: string): RateLimiter {
  const { command } = redis;
  return {
    async count(key) {
      return Number((await command.get(prefix + key)) ?? 0);
    },
    async hit(key, windowSeconds) {
      const replies = await command
        .multi()
        .set(prefix + key, 0, "EX", windowSeconds, "NX")
        .incr(prefix + key)
        .exec();
      return Number(replies?.[1]?.[1] ?? 0);
    },
    async retryAfter(key) {
      return Math.max(0, await command.ttl(prefix + key));
    },
    async reset(key) {
      await command.del(prefix + key);
    },
  };
}
