import { deviceEvents, type EventEnvelope, type SessionEventPayload } from "../resolvers/events.js";
import { builder } from "./builder.js";

const SessionEventKind = builder.enumType("SessionEventKind", {
  description: "Why a session ended.",
  values: {
    LOGGED_OUT: { description: "logout or logoutDevice" },
    KICKED: { description: "Pushed out by a newer login on the same platform, or by adminForceLogout" },
    BANNED: { description: "The account was banned" },
    PASSWORD_CHANGED: { description: "The password was changed on another device" },
    USER_DELETED: { description: "The account was deleted" },
  } as const,
});

const SessionEventRef = builder.objectRef<SessionEventPayload>("SessionEvent").implement({
  description: "Sent to a device just before its connection is closed because its session ended.",
  isTypeOf: (value) => (value as { __typename?: string }).__typename === "SessionEvent",
  fields: (t) => ({
    kind: t.field({ type: SessionEventKind, resolve: (event) => event.kind }),
  }),
});

const EventRef = builder.unionType("Event", {
  types: [SessionEventRef],
  resolveType: (event) => event.__typename,
});

const EventEnvelopeRef = builder.objectRef<EventEnvelope>("EventEnvelope").implement({
  fields: (t) => ({
    cursor: t.exposeString("cursor", {
      nullable: true,
      description: "Resume point for events(since:); null for ephemeral events, which are never replayed.",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    event: t.field({ type: EventRef, resolve: (envelope) => envelope.event }),
  }),
});

builder.subscriptionField("events", (t) =>
  t.field({
    type: EventEnvelopeRef,
    authScopes: { user: true },
    description:
      "The calling device's one event stream. With since, durable events after that cursor are replayed first.",
    args: { since: t.arg.string() },
    subscribe: (_root, args, ctx) => deviceEvents(ctx, args.since),
    resolve: (envelope) => envelope,
  }),
);
