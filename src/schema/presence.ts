import * as presence from "../resolvers/presence.js";
import type { PresenceView } from "../resolvers/presence-view.js";
import * as typing from "../resolvers/typing.js";
import { DeviceRef, UserRef } from "./accounts.js";
import { builder } from "./builder.js";
import { ChatTargetRef } from "./chats.js";
import { connectionType } from "./pagination.js";

export const PresenceRef = builder.objectRef<PresenceView>("Presence").implement({
  description:
    "Whether a user is online (any device with an open graphql-ws connection) and their custom status. Someone you blocked always looks offline to you.",
  fields: (t) => ({
    user: t.field({ type: UserRef, resolve: (view) => view.user }),
    online: t.exposeBoolean("online"),
    status: t.exposeString("status", { nullable: true, description: "Set by publishPresence" }),
    ext: t.expose("ext", { type: "JSON", nullable: true, description: "Set by publishPresence" }),
    lastSeenAt: t.expose("lastSeenAt", {
      type: "DateTime",
      nullable: true,
      description: "When one of the user's devices was last connected or active",
    }),
    devices: t.field({
      type: [DeviceRef],
      nullable: true,
      description: "Each signed-in device: yours only (and everyone's for the app server); null for others.",
      resolve: (view) => view.devices,
    }),
  }),
});

const PresenceSubscriptionRef = builder.objectRef<presence.PresenceSubscriptionView>("PresenceSubscription");
PresenceSubscriptionRef.implement({
  fields: (t) => ({
    user: t.field({ type: UserRef, resolve: (subscription) => subscription.target }),
    presence: t.field({
      type: PresenceRef,
      resolve: (subscription, _args, ctx) => ctx.loaders.presence.load(subscription.target.id),
    }),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
  }),
});

const PresenceSubscriptionConnectionRef = connectionType("PresenceSubscription", PresenceSubscriptionRef);

builder.queryFields((t) => ({
  presence: t.field({
    type: [PresenceRef],
    authScopes: { user: true },
    description: "Up to 100 users' presence, in the order asked; names that match no one are left out.",
    args: { usernames: t.arg.stringList({ required: true }) },
    resolve: (_root, args, ctx) => presence.presence(ctx, args.usernames),
  }),
  presenceSubscriptions: t.field({
    type: PresenceSubscriptionConnectionRef,
    authScopes: { user: true },
    description: "The users whose presence you follow (subscribePresence), by username.",
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      const page = await presence.presenceSubscriptions(ctx, args);
      return { ...page, cursorOf: presence.subscriptionCursor, hasPreviousPage: args.after != null };
    },
  }),
}));

builder.mutationFields((t) => ({
  publishPresence: t.field({
    type: PresenceRef,
    authScopes: { user: true },
    description:
      "Sets your custom status (at most 64 characters; null or empty clears it) and tells your subscribers.",
    args: { status: t.arg.string(), ext: t.arg({ type: "JSON", description: "At most 1 KB" }) },
    resolve: (_root, args, ctx) => presence.publishPresence(ctx, args),
  }),
  subscribePresence: t.field({
    type: [PresenceRef],
    authScopes: { user: true },
    description:
      "Follow these users' presence (PresenceEvent on each change) for expirySeconds; returns their presence now. At most 100 per call and 3,000 in all; subscribing again renews the expiry.",
    args: {
      usernames: t.arg.stringList({ required: true }),
      expirySeconds: t.arg.int({ description: "1 to 2,592,000 (30 days, the default)" }),
    },
    resolve: (_root, args, ctx) => presence.subscribePresence(ctx, args),
  }),
  unsubscribePresence: t.boolean({
    authScopes: { user: true },
    args: { usernames: t.arg.stringList({ required: true }) },
    resolve: (_root, args, ctx) => presence.unsubscribePresence(ctx, args.usernames),
  }),
  sendTyping: t.boolean({
    authScopes: { user: true },
    description:
      "Shows the other side that you are typing (a TypingEvent, live only). Limited to TYPING_RATE_LIMIT calls per 10 seconds.",
    args: { conversation: t.arg({ type: ChatTargetRef, required: true }) },
    resolve: (_root, args, ctx) => typing.sendTyping(ctx, args.conversation),
  }),
}));
