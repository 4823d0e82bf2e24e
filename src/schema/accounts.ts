import * as accounts from "../resolvers/accounts.js";
import { builder, sameForEveryViewer } from "./builder.js";

export const UserRef = builder.prismaObject("User", {
  ...sameForEveryViewer,
  description: "A user's public profile.",
  fields: (t) => ({
    id: t.exposeID("id"),
    username: t.exposeString("username", { description: "Lower-case, unique; how users are addressed." }),
    nickname: t.exposeString("nickname"),
    avatarUrl: t.exposeString("avatarUrl", { nullable: true }),
    ext: t.expose("ext", { type: "JSON", description: "Custom attributes, a JSON object of at most 2 KB." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

export const DeviceRef = builder.prismaObject("Device", {
  description: "One signed-in session. Each login creates one; it has its own token.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    platform: t.exposeString("platform", {
      description: "Free text such as ios, android or web, lower-cased.",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When this session signed in." }),
    lastSeenAt: t.expose("lastSeenAt", { type: "DateTime" }),
    online: t.boolean({
      description: "Whether the device holds an open graphql-ws connection now.",
      resolve: (device, _args, ctx) => accounts.isDeviceOnline(ctx, device),
    }),
    current: t.boolean({
      description: "Whether this is the device making the request.",
      resolve: (device, _args, ctx) => ctx.viewer.kind === "user" && ctx.viewer.device.id === device.id,
    }),
  }),
});

export const AuthPayloadRef = builder.objectRef<accounts.AuthPayload>("AuthPayload").implement({
  fields: (t) => ({
    token: t.exposeString("token", { description: "Send as 'Authorization: Bearer <token>'." }),
    user: t.field({ type: UserRef, resolve: (payload) => payload.user }),
    device: t.field({ type: DeviceRef, resolve: (payload) => payload.device }),
  }),
});

builder.mutationFields((t) => ({
  register: t.field({
    type: AuthPayloadRef,
    description: "Creates an account and signs it in on a first device.",
    args: {
      username: t.arg.string({ required: true }),
      password: t.arg.string({ required: true }),
      nickname: t.arg.string({ description: "Defaults to the username." }),
      deviceName: t.arg.string({ description: "Shown in myDevices; defaults to the platform." }),
      platform: t.arg.string({
        description: "ios, android, web, ...: at most MAX_DEVICES_PER_PLATFORM sessions each.",
      }),
    },
    resolve: (_root, args, ctx) => accounts.register(ctx, args),
  }),
  login: t.field({
    type: AuthPayloadRef,
    description: "Signs in and creates a new Device with its own token.",
    args: {
      username: t.arg.string({ required: true }),
      password: t.arg.string({ required: true }),
      deviceName: t.arg.string({ description: "Shown in myDevices; defaults to the platform." }),
      platform: t.arg.string({
        description: "A new login ends this platform's oldest session beyond the limit.",
      }),
    },
    resolve: (_root, args, ctx) => accounts.login(ctx, args),
  }),
  updateProfile: t.field({
    type: UserRef,
    authScopes: { user: true },
    description: "Omitted arguments stay as they are; avatarUrl: null removes the avatar.",
    args: {
      nickname: t.arg.string(),
      avatarUrl: t.arg.string(),
      ext: t.arg({
        type: "JSON",
        description: "Replaces the custom attributes (a JSON object, at most 2 KB).",
      }),
    },
    resolve: (_root, args, ctx) => accounts.updateProfile(ctx, args),
  }),
  changePassword: t.boolean({
    authScopes: { user: true },
    description: "Ends every other session of the account (they get SessionEvent PASSWORD_CHANGED).",
    args: { old: t.arg.string({ required: true }), new: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => accounts.changePassword(ctx, args),
  }),
  logout: t.boolean({
    authScopes: { user: true },
    description: "Ends the calling device's session.",
    resolve: (_root, _args, ctx) => accounts.logout(ctx),
  }),
  logoutDevice: t.boolean({
    authScopes: { user: true },
    description: "Ends one of your sessions (SessionEvent LOGGED_OUT on that device).",
    args: { deviceId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => accounts.logoutDevice(ctx, String(args.deviceId)),
  }),
}));

builder.queryFields((t) => ({
  me: t.field({
    type: UserRef,
    authScopes: { user: true },
    resolve: (_root, _args, ctx) => accounts.me(ctx),
  }),
  user: t.field({
    type: UserRef,
    nullable: true,
    authScopes: { $any: { user: true, admin: true } },
    args: { username: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => accounts.findUser(ctx, args.username),
  }),
  users: t.field({
    type: [UserRef],
    authScopes: { $any: { user: true, admin: true } },
    description: "Up to 100 users, in the order asked; names that match no one are left out.",
    args: { usernames: t.arg.stringList({ required: true }) },
    resolve: (_root, args, ctx) => accounts.findUsers(ctx, args.usernames),
  }),
  myDevices: t.field({
    type: [DeviceRef],
    authScopes: { user: true },
    description: "Your signed-in sessions, oldest first.",
    resolve: (_root, _args, ctx) => accounts.myDevices(ctx),
  }),
}));
