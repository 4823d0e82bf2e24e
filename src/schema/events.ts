import type { EventEnvelope, EventPayload } from "../resolvers/events.js";
import * as events from "../resolvers/events.js";
import { roomConversation } from "../resolvers/rooms/queries.js";
import { UserRef } from "./accounts.js";
import { builder, present, sameForEveryViewer, type Types } from "./builder.js";
import { ContactRef } from "./contacts.js";
import { ConversationRef, GroupRef, MessageRef, RoomRef, ThreadRef } from "./refs.js";

type Payload<Name extends EventPayload["__typename"]> = Extract<EventPayload, { __typename: Name }>;

function eventObject<Name extends EventPayload["__typename"]>(
  name: Name,
  description: string,
  options: { extensions?: Record<string, unknown> } = {},
) {
  return builder.objectRef<Payload<Name>>(name).implement({
    ...options,
    description,
    isTypeOf: (value) => (value as { __typename?: string }).__typename === name,
    fields: () => ({}),
  });
}

// Every event's `kind` has this one type: GraphQL refuses a document that selects `kind` from two
// union members when the types differ, and clients select every event in one subscription.
const EventKindRef = builder.enumType("EventKind", {
  description: "What happened; each event type uses the values listed for it.",
  values: {
    LOGGED_OUT: { description: "SessionEvent: logout or logoutDevice" },
    KICKED: {
      description: "SessionEvent: pushed out by a newer login on the same platform, or by adminForceLogout",
    },
    BANNED: { description: "SessionEvent: the account was banned" },
    PASSWORD_CHANGED: { description: "SessionEvent: the password was changed on another device" },
    USER_DELETED: { description: "SessionEvent: the account was deleted" },
    DELIVERED: { description: "ReceiptEvent: a device of the recipient has the messages" },
    READ: {
      description: "ReceiptEvent: the recipient read them. ConversationEvent: you read the conversation",
    },
    PINNED: { description: "ConversationEvent: pinned or unpinned" },
    MARKED: { description: "ConversationEvent: marks changed" },
    MUTED: { description: "ConversationEvent: muted or unmuted" },
    DELETED: { description: "ConversationEvent: deleted from your list" },
    HISTORY_CLEARED: { description: "ConversationEvent: your history of it was cleared" },
    REQUEST_RECEIVED: { description: "ContactEvent: user asked to become your contact" },
    REQUEST_SENT: { description: "ContactEvent: you asked user (from another of your devices)" },
    REQUEST_ACCEPTED: { description: "ContactEvent: you and user became contacts" },
    REQUEST_DECLINED: { description: "ContactEvent: a request between you and user was declined" },
    REMOVED: { description: "ContactEvent: you and user are no longer contacts" },
    BLOCKED: { description: "ContactEvent: you blocked user" },
    UNBLOCKED: { description: "ContactEvent: you unblocked user" },
    REMARK_CHANGED: { description: "ContactEvent: you changed your remark on user" },
    GROUP_CREATED: { description: "GroupEvent: the group was made; users are its first members" },
    GROUP_DESTROYED: { description: "GroupEvent: the owner destroyed the group; its conversation ends" },
    GROUP_UPDATED: { description: "GroupEvent: name, description, ext or settings changed" },
    ANNOUNCEMENT_CHANGED: { description: "GroupEvent, RoomEvent: the announcement changed" },
    MEMBER_JOINED: {
      description:
        "GroupEvent: users joined (or were approved, or accepted an invitation). ThreadEvent: users joined",
    },
    MEMBER_LEFT: {
      description:
        "GroupEvent, ThreadEvent: users left. RoomEvent: users left, or were gone past ROOM_LEAVE_GRACE_SECONDS",
    },
    MEMBER_REMOVED: { description: "GroupEvent, ThreadEvent, RoomEvent: users were removed by actor" },
    MEMBER_INVITED: {
      description: "GroupEvent: actor invited you (acceptGroupInvite or declineGroupInvite)",
    },
    INVITE_DECLINED: { description: "GroupEvent: an invitation was declined" },
    JOIN_REQUESTED: {
      description: "GroupEvent: actor asked to join (owner and admins, and the applicant's devices)",
    },
    JOIN_DECLINED: { description: "GroupEvent: a request to join was declined" },
    OWNER_CHANGED: { description: "GroupEvent, RoomEvent: users[0] is the new owner, users[1] the old one" },
    ADMIN_ADDED: { description: "GroupEvent, RoomEvent: users became admins" },
    ADMIN_REMOVED: { description: "GroupEvent, RoomEvent: users are no longer admins" },
    MEMBERS_MUTED: { description: "GroupEvent, RoomEvent: users were muted for a time" },
    MEMBERS_UNMUTED: { description: "GroupEvent, RoomEvent: users were unmuted" },
    ALL_MUTED: {
      description: "GroupEvent, RoomEvent: everyone but the owner, admins and the allow list is muted",
    },
    ALL_UNMUTED: { description: "GroupEvent, RoomEvent: mute-all was lifted" },
    ALLOW_LIST_ADDED: { description: "GroupEvent, RoomEvent: users may speak while all are muted" },
    ALLOW_LIST_REMOVED: { description: "GroupEvent, RoomEvent: users left the allow list" },
    MEMBERS_BLOCKED: { description: "GroupEvent, RoomEvent: users were removed and barred" },
    MEMBERS_UNBLOCKED: { description: "GroupEvent, RoomEvent: users may join again" },
    MEMBER_ATTRIBUTES_CHANGED: { description: "GroupEvent: a member's attributes changed" },
    MESSAGES_BLOCKED: {
      description: "GroupEvent: you stopped receiving the group's messages (blockGroupMessages)",
    },
    MESSAGES_UNBLOCKED: { description: "GroupEvent: you receive the group's messages again" },
    FILE_UPLOADED: { description: "GroupEvent: a file was shared" },
    FILE_DELETED: { description: "GroupEvent: a shared file was deleted" },
    THREAD_CREATED: { description: "ThreadEvent (to the group's members): a thread was started" },
    THREAD_UPDATED: { description: "ThreadEvent (to the group's members): the thread was renamed" },
    THREAD_DESTROYED: {
      description: "ThreadEvent (to the group's members): the thread was destroyed; its conversation ends",
    },
    ROOM_DESTROYED: { description: "RoomEvent: the room was destroyed" },
    ROOM_UPDATED: { description: "RoomEvent: name, description, ext or maxMembers changed" },
    ATTRIBUTES_CHANGED: { description: "RoomEvent: attributes were set or removed (see attributes)" },
    NEW_MESSAGES: {
      description:
        "ThreadEvent (to the group's members): new messages in the thread; see messageCount and lastMessage. Coalesced: at most one per THREAD_SUMMARY_SECONDS per thread",
    },
  } as const,
});

const SessionEventRef = eventObject(
  "SessionEvent",
  "Sent to a device just before its connection is closed because its session ended.",
);
builder.objectFields(SessionEventRef, (t) => ({
  kind: t.field({ type: EventKindRef, resolve: (event) => event.kind }),
}));

const conversationField = <Event extends { chatId: string }>(
  t: PothosSchemaTypes.ObjectFieldBuilder<Types, Event>,
) =>
  t.field({
    type: ConversationRef,
    nullable: true,
    description: "The receiving user's conversation, as it is now.",
    resolve: (event, _args, ctx) => ctx.loaders.conversations.load(event.chatId),
  });

const MessageEventRef = eventObject(
  "MessageEvent",
  "A new message, received or sent from another of your devices.",
  sameForEveryViewer,
);
builder.objectFields(MessageEventRef, (t) => ({
  message: t.field({
    type: MessageRef,
    resolve: async (event, _args, ctx) =>
      event.message ?? (await ctx.loaders.messages.load(event.messageId))!,
  }),
}));

const MessageEditedEventRef = eventObject(
  "MessageEditedEvent",
  "A message was edited; message shows it now.",
  sameForEveryViewer,
);
builder.objectFields(MessageEditedEventRef, (t) => ({
  message: t.field({
    type: MessageRef,
    resolve: async (event, _args, ctx) => (await ctx.loaders.messages.load(event.messageId))!,
  }),
}));

const MessageRecalledEventRef = eventObject("MessageRecalledEvent", "A message was recalled: drop its body.");
builder.objectFields(MessageRecalledEventRef, (t) => ({
  messageId: t.id({ ...sameForEveryViewer, resolve: (event) => event.messageId.toString() }),
  conversation: t.field({
    type: ConversationRef,
    nullable: true,
    description: "The receiving user's conversation, as it is now.",
    resolve: (event, _args, ctx) =>
      event.inRoom ? roomConversation(ctx, event.chatId) : ctx.loaders.conversations.load(event.chatId),
  }),
  by: t.field({
    ...sameForEveryViewer,
    type: UserRef,
    nullable: true,
    description: "Null when the app server recalled it.",
    resolve: (event, _args, ctx) => (event.by ? ctx.loaders.users.load(event.by) : null),
  }),
}));

const MessageDeletedEventRef = eventObject(
  "MessageDeletedEvent",
  "You deleted messages from your history on one of your devices.",
);
builder.objectFields(MessageDeletedEventRef, (t) => ({
  messageIds: t.idList({ resolve: (event) => event.messageIds }),
  conversation: conversationField(t),
}));

const ReceiptEventRef = eventObject("ReceiptEvent", "Someone received or read your messages.");
builder.objectFields(ReceiptEventRef, (t) => ({
  kind: t.field({ type: EventKindRef, description: "DELIVERED or READ", resolve: (event) => event.kind }),
  by: t.field({
    type: UserRef,
    nullable: true,
    resolve: (event, _args, ctx) => ctx.loaders.users.load(event.by),
  }),
  conversation: conversationField(t),
  messageIds: t.idList({
    description: "The messages this receipt newly covers (READ: at most the last 500)",
    resolve: (event) => event.messageIds,
  }),
  upTo: t.id({
    nullable: true,
    description: "READ: everything up to this id is read",
    resolve: (event) => event.upTo,
  }),
}));

const ConversationEventRef = eventObject(
  "ConversationEvent",
  "One of your conversations changed, maybe on another device.",
);
builder.objectFields(ConversationEventRef, (t) => ({
  kind: t.field({
    type: EventKindRef,
    description: "READ, PINNED, MARKED, MUTED, DELETED or HISTORY_CLEARED; conversation shows the state now",
    resolve: (event) => event.kind,
  }),
  conversation: conversationField(t),
}));

// `user` is nullable on every event that has it: GraphQL needs one shape per field name across
// the union's members, and a user may be deleted before an event about them is delivered.
const userField = <Event extends { userId: string }>(
  t: PothosSchemaTypes.ObjectFieldBuilder<Types, Event>,
  description: string,
) =>
  t.field({
    type: UserRef,
    nullable: true,
    description,
    resolve: (event, _args, ctx) => ctx.loaders.users.load(event.userId),
  });

const ReactionEventRef = eventObject(
  "ReactionEvent",
  "A reaction was added to or removed from a message in one of your conversations (by you too, on another device).",
  sameForEveryViewer,
);
builder.objectFields(ReactionEventRef, (t) => ({
  message: t.field({
    type: MessageRef,
    description: "The message as it is now; its reactions show the current counts.",
    resolve: async (event, _args, ctx) => (await ctx.loaders.messages.load(event.messageId))!,
  }),
  reaction: t.string({ resolve: (event) => event.reaction }),
  user: userField(t, "Who reacted"),
  added: t.boolean({
    description: "True for a reaction added, false for one removed",
    resolve: (event) => event.added,
  }),
}));

const ContactEventRef = eventObject(
  "ContactEvent",
  "Your contacts or block list changed. Its message field is a String: alias it (requestMessage: message) when you also select MessageEvent.message.",
);
builder.objectFields(ContactEventRef, (t) => ({
  kind: t.field({
    type: EventKindRef,
    description:
      "REQUEST_RECEIVED, REQUEST_SENT, REQUEST_ACCEPTED, REQUEST_DECLINED, REMOVED, BLOCKED, UNBLOCKED or REMARK_CHANGED",
    resolve: (event) => event.kind,
  }),
  user: userField(t, "The other user"),
  message: t.string({
    nullable: true,
    description: "REQUEST_RECEIVED and REQUEST_SENT: the request's message",
    resolve: (event) => event.message,
  }),
  contact: t.field({
    type: ContactRef,
    nullable: true,
    description: "Your contact entry for user as it is now; null if they are not your contact",
    resolve: (event, _args, ctx) => ctx.loaders.contacts.load(event.userId),
  }),
}));

const GroupEventRef = eventObject(
  "GroupEvent",
  "A group you are in (or were just removed from, invited to or asked to join) changed.",
);
builder.objectFields(GroupEventRef, (t) => ({
  kind: t.field({ ...sameForEveryViewer, type: EventKindRef, resolve: (event) => event.kind }),
  group: t.field({
    ...sameForEveryViewer,
    type: GroupRef,
    nullable: true,
    description: "The group as it is now",
    resolve: (event, _args, ctx) => ctx.loaders.groups.load(event.groupId),
  }),
  actor: t.field({
    ...sameForEveryViewer,
    type: UserRef,
    nullable: true,
    description: "Who made the change; null for the app server",
    resolve: (event, _args, ctx) => (event.actor ? ctx.loaders.users.load(event.actor) : null),
  }),
  users: t.field({
    ...sameForEveryViewer,
    type: [UserRef],
    description: "The users the change is about",
    resolve: async (event, _args, ctx) => present(await ctx.loaders.users.loadMany(event.users)),
  }),
}));

const ThreadEventRef = eventObject(
  "ThreadEvent",
  "A thread changed: its group's members hear of its start, renames, end and new messages; its own members of joins and departures.",
  sameForEveryViewer,
);
builder.objectFields(ThreadEventRef, (t) => ({
  kind: t.field({ type: EventKindRef, resolve: (event) => event.kind }),
  thread: t.field({
    type: ThreadRef,
    description: "The thread as it is now",
    resolve: async (event, _args, ctx) => (await ctx.loaders.threads.load(event.threadId))!,
  }),
  actor: t.field({
    type: UserRef,
    nullable: true,
    description: "Who made the change; null for the app server and for NEW_MESSAGES",
    resolve: (event, _args, ctx) => (event.actor ? ctx.loaders.users.load(event.actor) : null),
  }),
  users: t.field({
    type: [UserRef],
    description: "The users the change is about: joins and departures, and the creator of THREAD_CREATED",
    resolve: async (event, _args, ctx) => present(await ctx.loaders.users.loadMany(event.users)),
  }),
}));

const RoomEventRef = eventObject(
  "RoomEvent",
  "A room changed (members, roles, mutes, attributes, its end). Live only: to the members online, with no cursor.",
  sameForEveryViewer,
);
builder.objectFields(RoomEventRef, (t) => ({
  kind: t.field({ type: EventKindRef, resolve: (event) => event.kind as never }),
  room: t.field({
    type: RoomRef,
    nullable: true,
    description: "The room as it is now",
    resolve: (event, _args, ctx) => ctx.loaders.rooms.load(event.roomId),
  }),
  actor: t.field({
    type: UserRef,
    nullable: true,
    description: "Who made the change; null for the app server and the server itself",
    resolve: (event, _args, ctx) => (event.actor ? ctx.loaders.users.load(event.actor) : null),
  }),
  users: t.field({
    type: [UserRef],
    description: "The users the change is about",
    resolve: async (event, _args, ctx) => present(await ctx.loaders.users.loadMany(event.users)),
  }),
  attributes: t.field({
    type: "JSON",
    nullable: true,
    description: "ATTRIBUTES_CHANGED: the keys changed, with their new values (null: removed)",
    resolve: (event) => event.attributes ?? null,
  }),
}));

const PresenceEventRef = eventObject(
  "PresenceEvent",
  "A user whose presence you subscribed to came online, went offline or changed their status. Live only.",
);
builder.objectFields(PresenceEventRef, (t) => ({
  user: userField(t, "Whose presence changed"),
  online: t.boolean({ resolve: (event) => event.online }),
  status: t.string({ nullable: true, resolve: (event) => event.status }),
  ext: t.field({ type: "JSON", resolve: (event) => event.ext }),
  lastSeenAt: t.field({
    type: "DateTime",
    nullable: true,
    resolve: (event) => (event.lastSeenAt ? new Date(event.lastSeenAt) : null),
  }),
}));

const TypingEventRef = eventObject("TypingEvent", "The other side is typing. Live only.");
builder.objectFields(TypingEventRef, (t) => ({
  conversation: t.field({
    type: ConversationRef,
    nullable: true,
    description: "Your conversation with them; null before its first message.",
    resolve: (event, _args, ctx) => (event.chatId ? ctx.loaders.conversations.load(event.chatId) : null),
  }),
  user: userField(t, "Who is typing"),
}));

const EventRef = builder.unionType("Event", {
  types: [
    MessageEventRef,
    MessageEditedEventRef,
    MessageRecalledEventRef,
    MessageDeletedEventRef,
    ReceiptEventRef,
    ReactionEventRef,
    ConversationEventRef,
    ContactEventRef,
    GroupEventRef,
    ThreadEventRef,
    RoomEventRef,
    PresenceEventRef,
    TypingEventRef,
    SessionEventRef,
  ],
  resolveType: (event) => event.__typename,
});

const EventEnvelopeRef = builder.objectRef<EventEnvelope>("EventEnvelope").implement({
  fields: (t) => ({
    cursor: t.exposeString("cursor", {
      nullable: true,
      description:
        "Resume point for events(since:) and sync; null for live-only events, which are never replayed.",
    }),
    createdAt: t.expose("createdAt", { ...sameForEveryViewer, type: "DateTime" }),
    event: t.field({ ...sameForEveryViewer, type: EventRef, resolve: (envelope) => envelope.event }),
  }),
});

const SyncPageRef = builder.objectRef<events.SyncPage>("SyncPage").implement({
  fields: (t) => ({
    events: t.field({ type: [EventEnvelopeRef], resolve: (page) => page.events }),
    nextCursor: t.exposeString("nextCursor", { description: "Pass as since for the next page" }),
    hasMore: t.exposeBoolean("hasMore"),
  }),
});

builder.queryFields((t) => ({
  sync: t.field({
    type: SyncPageRef,
    authScopes: { user: true },
    description: "The durable events after since (from the oldest kept when omitted), oldest first.",
    args: { since: t.arg.string(), first: t.arg.int({ description: "Default 100, at most 1000" }) },
    resolve: (_root, args, ctx) => events.sync(ctx, args.since, args.first),
  }),
  eventCursor: t.string({
    authScopes: { user: true },
    description:
      "Your stream's newest position. Read it, fetch state, then subscribe with events(since: it): nothing falls in between.",
    resolve: (_root, _args, ctx) => events.eventCursor(ctx),
  }),
}));

builder.subscriptionField("events", (t) =>
  t.field({
    type: EventEnvelopeRef,
    authScopes: { user: true },
    description:
      "The calling device's one event stream. With since, durable events after that cursor are replayed first, then it goes live.",
    args: { since: t.arg.string() },
    subscribe: (_root, args, ctx) => events.deviceEvents(ctx, args.since),
    resolve: (envelope) => envelope,
  }),
);
