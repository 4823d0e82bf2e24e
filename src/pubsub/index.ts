import { createRedisEventTarget } from "@graphql-yoga/redis-event-target";
import { createPubSub } from "graphql-yoga";
import type { RedisClients } from "./redis.js";
import type { Topics } from "./topics.js";

export type { Topics } from "./topics.js";

/**
 * Typed publish/subscribe between instances. It is a wake-up channel, not a store: anything a user
 * must not miss is in the database first, and readers recover from there.
 */
export interface PubSub {
  publish<T extends keyof Topics>(topic: T, id: Topics[T][0], payload: Topics[T][1]): void;
  subscribe<T extends keyof Topics>(topic: T, id: Topics[T][0]): AsyncIterableIterator<Topics[T][1]>;
}

type Routed = { [K in keyof Topics as string]: [string, unknown] };

/** In-process without Redis; over Redis channels (named `<prefix><topic>:<id>`) with it. */
export function createEventBus(redis: RedisClients | undefined, prefix: string): PubSub {
  const inner = createPubSub<Routed>(
    redis
      ? {
          eventTarget: createRedisEventTarget({
            publishClient: redis.command,
            subscribeClient: redis.subscriber,
          }),
        }
      : {},
  );
  return {
    publish(topic, id, payload) {
      inner.publish(prefix + topic, id, payload);
    },
    subscribe(topic, id) {
      return inner.subscribe(prefix + topic, id) as AsyncIterableIterator<never>;
    },
  };
}
