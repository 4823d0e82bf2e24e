import { Repeater } from "@repeaterjs/repeater";
import type { Context } from "../context.js";
import type { SessionEndKind } from "../pubsub/topics.js";
import { requireUser } from "./access.js";

export interface SessionEventPayload {
  __typename: "SessionEvent";
  kind: SessionEndKind;
}

export type EventPayload = SessionEventPayload;

export interface EventEnvelope {
  /** Position in the user's durable stream; null for ephemeral events, which are never replayed. */
  cursor: string | null;
  createdAt: Date;
  event: EventPayload;
}

/**
 * The calling device's one stream. So far it carries the device's own session events: when the
 * session ends, a SessionEvent is the last thing delivered before the connection closes.
 */
export function deviceEvents(ctx: Context, _since: string | null | undefined): AsyncIterable<EventEnvelope> {
  const { device } = requireUser(ctx);
  const { connection, services } = ctx;
  return new Repeater<EventEnvelope>(async (push, stop) => {
    const delivered = connection?.trackStream();
    // Over graphql-ws the connection already watches the device; over SSE the stream watches it itself.
    const watch = connection ? undefined : services.pubsub.subscribe("sessionEnded", device.id);
    const ended = connection ? connection.sessionEnded : watch!.next().then((next) => next.value?.kind);
    try {
      const kind = await Promise.race([ended, stop.then(() => undefined)]);
      if (kind) {
        // Resolves once the client has taken the event, so closing the socket next cannot drop it.
        await push({ cursor: null, createdAt: new Date(), event: { __typename: "SessionEvent", kind } });
      }
    } finally {
      await watch?.return?.();
      delivered?.();
      stop();
    }
  });
}
