import * as admin from "../resolvers/admin.js";
import { AuthPayloadRef, UserRef } from "./accounts.js";
import { builder } from "./builder.js";
import { PresenceRef } from "./presence.js";

const AdminTokenRef = builder.objectRef<{ token: string; expiresAt: Date }>("AdminToken").implement({
  fields: (t) => ({
    token: t.exposeString("token", { description: "Send as 'Authorization: Bearer <token>'." }),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
  }),
});

const AdminUserInput = builder.inputType("AdminUserInput", {
  fields: (t) => ({
    username: t.string({ required: true }),
    password: t.string({ required: true }),
    nickname: t.string(),
  }),
});

builder.mutationFields((t) => ({
  adminToken: t.field({
    type: AdminTokenRef,
    description: "Exchanges ADMIN_CLIENT_ID / ADMIN_CLIENT_SECRET for an admin token.",
    args: { clientId: t.arg.string({ required: true }), clientSecret: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => admin.adminToken(ctx, args),
  }),
  adminCreateUsers: t.field({
    type: [UserRef],
    authScopes: { admin: true },
    description: "Creates up to 60 users at once; all or none.",
    args: { users: t.arg({ type: [AdminUserInput], required: true }) },
    resolve: (_root, args, ctx) => admin.adminCreateUsers(ctx, args.users),
  }),
  adminIssueUserToken: t.field({
    type: AuthPayloadRef,
    authScopes: { admin: true },
    description: "Signs a user in without a password, for apps that keep their own login.",
    args: {
      username: t.arg.string({ required: true }),
      deviceName: t.arg.string(),
      platform: t.arg.string({ description: 'Defaults to "api".' }),
    },
    resolve: (_root, args, ctx) => admin.adminIssueUserToken(ctx, args),
  }),
  adminDeleteUser: t.boolean({
    authScopes: { admin: true },
    description: "Deletes the account: its sessions end and the username is free again.",
    args: { username: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => admin.adminDeleteUser(ctx, args.username),
  }),
  adminBanUser: t.boolean({
    authScopes: { admin: true },
    description: "Ends every session of the user and refuses new ones with USER_BANNED.",
    args: { username: t.arg.string({ required: true }), reason: t.arg.string() },
    resolve: (_root, args, ctx) => admin.adminBanUser(ctx, args),
  }),
  adminUnbanUser: t.boolean({
    authScopes: { admin: true },
    args: { username: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => admin.adminUnbanUser(ctx, args.username),
  }),
  adminForceLogout: t.boolean({
    authScopes: { admin: true },
    description:
      "Ends one device's session, or all of the user's when deviceId is omitted (SessionEvent KICKED).",
    args: { username: t.arg.string({ required: true }), deviceId: t.arg.id() },
    resolve: (_root, args, ctx) =>
      admin.adminForceLogout(ctx, { username: args.username, deviceId: args.deviceId?.toString() }),
  }),
}));

builder.queryFields((t) => ({
  adminOnlineStatus: t.field({
    type: [PresenceRef],
    authScopes: { admin: true },
    description: "Up to 100 users' presence with their signed-in devices; unknown names are left out.",
    args: { usernames: t.arg.stringList({ required: true }) },
    resolve: (_root, args, ctx) => admin.adminOnlineStatus(ctx, args.usernames),
  }),
}));
