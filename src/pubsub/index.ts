import type { Logger } from "../logger.js";
import type { RedisClients } from "./redis.js";
import type { Topics } from "./topics.js";

export type { Topics } from "./topics.js";

export type Listener<T> = (payload: T) => void;

/**
 * Typed publish/subscribe between instances. It is a wake-up channel, not a store: anything a user
 * must not miss is in the database first, and readers recover from there.
 */
export interface PubSub {
  publish<T extends keyof Topics>(topic: T, id: Topics[T][0], payload: Topics[T][1]): void;
  /**
   * Resolves once the subscription is active, so that everything published afterwards reaches the
   * listener; readers rely on that to close the gap between a database read and the live feed.
   * Returns the function that unsubscribes.
   */
  subscribe<T extends keyof Topics>(
    topic: T,
    id: Topics[T][0],
    listener: Listener<Topics[T][1]>,
  ): Promise<() => void>;
}

interface Channel {
  listeners: Set<Listener<unknown>>;
  /** Settles once the transport delivers this channel's messages. */
  ready: Promise<void>;
}

/** In-process without Redis; over Redis channels (named `<prefix><topic>:<id>`) with it. */
export function createEventBus(redis: RedisClients | undefined, prefix: string, log: Logger): PubSub {
  const channels = new Map<string, Channel>();
  const dispatch = (name: string, payload: unknown) => {
    const channel = channels.get(name);
    if (!channel) return;
    for (const listener of [...channel.listeners]) {
      try {
        listener(payload);
      } catch (error) {
        log.error("Pubsub listener failed", { channel: name, error: (error as Error).message });
      }
    }
  };
  redis?.subscriber.on("message", (name: string, raw: string) => dispatch(name, JSON.parse(raw)));

  return {
    publish(topic, id, payload) {
      const name = `${prefix}${topic}:${id}`;
      if (!redis) {
        // Delivered on a later tick, as over Redis, so publishers never run listeners inline.
        queueMicrotask(() => dispatch(name, payload));
        return;
      }
      redis.command.publish(name, JSON.stringify(payload)).catch((error: Error) => {
        log.warn("Redis publish failed; readers recover from the database", { error: error.message });
      });
    },
    async subscribe(topic, id, listener) {
      const name = `${prefix}${topic}:${id}`;
      let channel = channels.get(name);
      if (!channel) {
        const ready = redis ? redis.subscriber.subscribe(name).then(() => undefined) : Promise.resolve();
        channel = { listeners: new Set(), ready };
        channels.set(name, channel);
      }
      const current = channel;
      current.listeners.add(listener as Listener<unknown>);
      await current.ready;
      return () => {
        current.listeners.delete(listener as Listener<unknown>);
        if (current.listeners.size > 0 || channels.get(name) !== current) return;
        channels.delete(name);
        // A subscriber arriving meanwhile made a new entry and its SUBSCRIBE goes after this on the same connection.
        if (redis) {
          current.ready
            .then(() => (channels.has(name) ? undefined : redis.subscriber.unsubscribe(name)))
            .catch((error: Error) => log.warn("Redis unsubscribe failed", { error: error.message }));
        }
      };
    },
  };
}
