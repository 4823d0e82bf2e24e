import type { Broadcast } from "../generated/prisma/client.js";
import * as broadcasts from "../resolvers/broadcasts.js";
import * as exports from "../resolvers/exports.js";
import * as imports from "../resolvers/imports.js";
import { UserRef } from "./accounts.js";
import { builder } from "./builder.js";
import { ChatTargetRef } from "./chats.js";
import { MessageBodyInputRef, MessageTypeRef } from "./messages.js";
import { byTime, connectionType } from "./pagination.js";
import { MessageRef } from "./refs.js";

// The app server's bulk tools: a broadcast to every user, history import, conversation export.

const BroadcastStatusRef = builder.enumType("BroadcastStatus", {
  values: {
    RUNNING: { description: "Being sent, a batch of users at a time." },
    DONE: { description: "Every user it was for has it." },
    CANCELLED: { description: "Stopped by adminCancelBroadcast; those it reached keep it." },
  },
});

const BroadcastRef = builder.objectRef<Broadcast>("Broadcast");
BroadcastRef.implement({
  description:
    "A message to every user (adminBroadcast), sent as a direct message from the BROADCAST_SENDER account.",
  fields: (t) => ({
    id: t.exposeID("id"),
    status: t.field({ type: BroadcastStatusRef, resolve: (broadcast) => broadcast.status }),
    from: t.field({
      type: UserRef,
      resolve: async (broadcast, _args, ctx) => (await ctx.loaders.users.load(broadcast.senderId))!,
    }),
    type: t.field({ type: MessageTypeRef, resolve: (broadcast) => broadcast.type }),
    body: t.field({
      type: "JSON",
      description: "The body as stored: the fields of its MessageBodyInput member.",
      resolve: (broadcast) => broadcast.body,
    }),
    ext: t.field({ type: "JSON", resolve: (broadcast) => broadcast.ext }),
    sentCount: t.exposeInt("sentCount", { description: "Users who have it so far." }),
    totalCount: t.exposeInt("totalCount", {
      description:
        "Users it is for: those who existed when it was made, neither deleted nor banned (some may be by the time it reaches them).",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
  }),
});

const BroadcastConnectionRef = connectionType("Broadcast", BroadcastRef);

const ImportMessageInputRef = builder.inputType("ImportMessageInput", {
  fields: (t) => ({
    from: t.string({ required: true, description: "The sender's username." }),
    to: t.field({ type: ChatTargetRef, required: true, description: "A user or a group." }),
    body: t.field({ type: MessageBodyInputRef, required: true }),
    sentAt: t.field({ type: "DateTime", required: true, description: "Becomes the message's createdAt." }),
    importId: t.string({
      required: true,
      description:
        "The message's id in the system it comes from (1-128 characters), stored as clientMessageId: the same sender and importId is stored once.",
    }),
    ext: t.field({ type: "JSON" }),
  }),
});

const MessageImportRef = builder.objectRef<imports.MessageImport>("MessageImport").implement({
  fields: (t) => ({
    messages: t.field({
      type: [MessageRef],
      description: "In the order given: each stored message, or the one an earlier import stored.",
      resolve: (result) => result.messages,
    }),
    importedCount: t.exposeInt("importedCount", { description: "Messages this call stored." }),
    existingCount: t.exposeInt("existingCount", { description: "Messages an earlier import had stored." }),
  }),
});

const ConversationExportRef = builder.objectRef<exports.ConversationExport>("ConversationExport").implement({
  fields: (t) => ({
    url: t.exposeString("url", {
      description:
        "GET it for the history as JSON lines (application/x-ndjson), oldest first; relative unless PUBLIC_URL is set.",
    }),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
  }),
});

builder.mutationFields((t) => ({
  adminBroadcast: t.field({
    type: BroadcastRef,
    authScopes: { admin: true },
    description:
      "A direct message from the BROADCAST_SENDER account to every user (not deleted or banned), delivered live and offline like any other; stored before this returns and sent in the background at BROADCAST_USERS_PER_SECOND.",
    args: { body: t.arg({ type: MessageBodyInputRef, required: true }), ext: t.arg({ type: "JSON" }) },
    resolve: (_root, args, ctx) => broadcasts.adminBroadcast(ctx, args),
  }),
  adminCancelBroadcast: t.field({
    type: BroadcastRef,
    authScopes: { admin: true },
    description: "Stops a running broadcast; the users it reached keep their message.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => broadcasts.adminCancelBroadcast(ctx, String(args.id)),
  }),
  adminImportMessages: t.field({
    type: MessageImportRef,
    authScopes: { admin: true },
    description: `Stores up to ${imports.MAX_IMPORT} messages of history, all or none, without delivering them: no events, no unread counts. Each keeps its sentAt; ids follow sentAt. Running the same import again stores nothing new.`,
    args: { messages: t.arg({ type: [ImportMessageInputRef], required: true }) },
    resolve: (_root, args, ctx) => imports.adminImportMessages(ctx, args.messages),
  }),
}));

builder.queryFields((t) => ({
  adminBroadcasts: t.field({
    type: BroadcastConnectionRef,
    authScopes: { admin: true },
    description: "Broadcasts, newest first.",
    args: { first: t.arg.int({ description: "Page size, default 20, at most 100" }), after: t.arg.string() },
    resolve: async (_root, args, ctx) =>
      byTime(await broadcasts.adminBroadcasts(ctx, args), args.after, (row) => [row.createdAt, row.id]),
  }),
  adminBroadcastStatus: t.field({
    type: BroadcastRef,
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => broadcasts.findBroadcast(ctx, String(args.id)),
  }),
  adminExportConversation: t.field({
    type: ConversationExportRef,
    authScopes: { admin: true },
    description:
      "A link, valid for 10 minutes, to a conversation's whole history as JSON lines: a group's, thread's or room's, or with user the direct chat between user and conversation.user.",
    args: {
      conversation: t.arg({ type: ChatTargetRef, required: true }),
      user: t.arg.string({ description: "Direct chats: the other side." }),
    },
    resolve: (_root, args, ctx) => exports.adminExportConversation(ctx, args),
  }),
}));
