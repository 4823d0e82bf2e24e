import type { PushToken } from "../generated/prisma/client.js";
import * as push from "../resolvers/push.js";
import { builder } from "./builder.js";

const ProviderRef = builder.enumType("PushProvider", {
  values: {
    FCM: { description: "Firebase Cloud Messaging (HTTP v1); the token is the FCM registration token." },
    APNS: { description: "Apple Push Notification service; the token is the device token in hex." },
    WEB_PUSH: {
      description:
        "Web Push with VAPID (see pushConfig); the token is the browser's PushSubscription as JSON.",
    },
    WEBHOOK: { description: "Posted to the app server's PUSH_WEBHOOK_URL with the token, signed." },
  } as const,
});

const DisplayStyleRef = builder.enumType("PushDisplayStyle", {
  values: {
    SUMMARY: { description: "'New message' (or how many), nothing of the content." },
    CONTENT: { description: "The sender's push name (or nickname) and the text." },
  } as const,
});

const PushTokenRef = builder.objectRef<PushToken>("PushToken").implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    provider: t.field({ type: ProviderRef, resolve: (token) => token.provider }),
    token: t.exposeString("token"),
    deviceId: t.exposeID("deviceId"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const QuietHoursRef = builder.objectRef<{ start: string; end: string }>("DoNotDisturb").implement({
  description: "Quiet hours in UTC, HH:MM; the window may wrap midnight (22:00-07:00).",
  fields: (t) => ({ start: t.exposeString("start"), end: t.exposeString("end") }),
});

const QuietHoursInput = builder.inputType("DoNotDisturbInput", {
  description: "Quiet hours in UTC as HH:MM, from start up to end; start after end wraps midnight.",
  fields: (t) => ({ start: t.string({ required: true }), end: t.string({ required: true }) }),
});

const PushSettingsRef = builder.objectRef<push.PushSettingsView>("PushSettings").implement({
  fields: (t) => ({
    displayStyle: t.field({ type: DisplayStyleRef, resolve: (settings) => settings.displayStyle }),
    doNotDisturb: t.field({
      type: QuietHoursRef,
      nullable: true,
      description: "No pushes in this window (messages still wait on the event stream).",
      resolve: (settings) => settings.doNotDisturb,
    }),
    pushName: t.exposeString("pushName", {
      nullable: true,
      description: "The name others' pushes show for you; null: your nickname.",
    }),
  }),
});

const PushConfigRef = builder.objectRef<ReturnType<typeof push.pushConfig>>("PushConfig").implement({
  fields: (t) => ({
    providers: t.field({ type: [ProviderRef], resolve: (config) => config.providers }),
    vapidPublicKey: t.exposeString("vapidPublicKey", {
      nullable: true,
      description: "The applicationServerKey for PushManager.subscribe, when WEB_PUSH is on.",
    }),
  }),
});

builder.queryFields((t) => ({
  pushConfig: t.field({
    type: PushConfigRef,
    authScopes: { user: true },
    description: "The push providers this server sends through, and its VAPID public key.",
    resolve: (_root, _args, ctx) => push.pushConfig(ctx),
  }),
  pushSettings: t.field({
    type: PushSettingsRef,
    authScopes: { user: true },
    resolve: (_root, _args, ctx) => push.pushSettings(ctx),
  }),
  pushTokens: t.field({
    type: [PushTokenRef],
    authScopes: { user: true },
    description: "Your registered push tokens, of all your devices.",
    resolve: (_root, _args, ctx) => push.myPushTokens(ctx),
  }),
}));

builder.mutationFields((t) => ({
  registerPushToken: t.field({
    type: PushTokenRef,
    authScopes: { user: true },
    description:
      "Where one of your devices (default: this one) gets pushes while none of your devices is online. One token per provider and device; registering again replaces it.",
    args: {
      provider: t.arg({ type: ProviderRef, required: true }),
      token: t.arg.string({ required: true }),
      deviceId: t.arg.id(),
    },
    resolve: (_root, args, ctx) =>
      push.registerPushToken(ctx, {
        provider: args.provider,
        token: args.token,
        deviceId: args.deviceId ?? null,
      }),
  }),
  unregisterPushToken: t.boolean({
    authScopes: { user: true },
    description: "Removes one of your tokens; false when you had no such token.",
    args: { provider: t.arg({ type: ProviderRef, required: true }), token: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => push.unregisterPushToken(ctx, args),
  }),
  setPushSettings: t.field({
    type: PushSettingsRef,
    authScopes: { user: true },
    description:
      "Changes what is given: doNotDisturb null ends quiet hours; pushName null or empty goes back to your nickname (at most 64 characters).",
    args: {
      displayStyle: t.arg({ type: DisplayStyleRef }),
      doNotDisturb: t.arg({ type: QuietHoursInput }),
      pushName: t.arg.string(),
    },
    resolve: (_root, args, ctx) => push.setPushSettings(ctx, args),
  }),
}));
