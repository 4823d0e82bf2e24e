import { Redis } from "ioredis";
import type { Logger } from "../logger.js";
import { countRedisError } from "../metrics/registry.js";

export interface RedisClients {
  /** Commands and PUBLISH. */
  command: Redis;
  /** A connection in subscriber mode can run nothing else, hence its own client. */
  subscriber: Redis;
  close(): Promise<void>;
}

export async function connectRedis(url: string, log: Logger): Promise<RedisClients> {
  const open = async (role: string) => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableAutoPipelining: true });
    client.on("error", (error) => {
      countRedisError(role);
      log.warn("Redis connection error", { role, error: error.message });
    });
    await client.connect();
    return client;
  };
  const command = await open("command");
  const subscriber = await open("subscriber");
  return {
    command,
    subscriber,
    async close() {
      await Promise.allSettled([command.quit(), subscriber.quit()]);
    },
  };
}
