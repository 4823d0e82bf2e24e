import type { User } from "../generated/prisma/client.js";
import { downloadUrl } from "../resolvers/attachments.js";
import { onChatLog } from "../resolvers/chat-kinds.js";
import type { MessageRecord } from "../resolvers/messages.js";
import * as messages from "../resolvers/messages.js";
import * as receipts from "../resolvers/receipts.js";
import { roomConversation } from "../resolvers/rooms/queries.js";
import { UserRef } from "./accounts.js";
import { AttachmentRef } from "./attachments.js";
import { builder, perViewer, present, sameForEveryViewer, type Types } from "./builder.js";
import { ChatTargetRef, ChatTypeRef } from "./chats.js";
import { connectionType } from "./pagination.js";
import { ConversationRef, GroupRef, MessageRef, RoomRef, ThreadRef } from "./refs.js";

export const MessageTypeRef = builder.enumType("MessageType", {
  values: ["TEXT", "IMAGE", "VOICE", "VIDEO", "FILE", "LOCATION", "COMMAND", "CUSTOM", "COMBINED"] as const,
});

const MessageStatusRef = builder.enumType("MessageStatus", {
  description: "The sender's view of a message.",
  values: {
    SENT: { description: "Stored; the recipient has not confirmed it yet" },
    DELIVERED: { description: "A device of the recipient confirmed it (markDelivered)" },
    READ: { description: "The recipient read it (markConversationRead)" },
  } as const,
});

export const MessagePriorityRef = builder.enumType("MessagePriority", {
  description: "For room messages under load: LOW is dropped first, HIGH never.",
  values: ["HIGH", "NORMAL", "LOW"] as const,
});

// --- Bodies ---------------------------------------------------------------------------------------

/** What a body field resolves from: the stored body, and the message (for download URLs). */
interface BodySource {
  message: MessageRecord;
  body: Record<string, unknown>;
}

const str = (source: BodySource, key: string) => (source.body[key] as string | null | undefined) ?? null;
const int = (source: BodySource, key: string) => (source.body[key] as number | null | undefined) ?? null;

function bodyObject(name: string, type: string, description: string) {
  return builder.objectRef<BodySource>(name).implement({
    ...sameForEveryViewer,
    description,
    isTypeOf: (source) => (source as BodySource).message.type === type,
    fields: () => ({}),
  });
}

const attachmentFields = (t: PothosSchemaTypes.ObjectFieldBuilder<Types, BodySource>) => ({
  attachmentId: t.id({ resolve: (source) => str(source, "attachmentId")! }),
  attachment: t.field({
    type: AttachmentRef,
    nullable: true,
    resolve: (source, _args, ctx) => ctx.loaders.attachments.load(str(source, "attachmentId")!),
  }),
  url: t.string({
    ...perViewer,
    nullable: true,
    description: "Download link for the viewer; it expires, so fetch the message again for a fresh one.",
    resolve: (source, _args, ctx) => downloadUrl(ctx, str(source, "attachmentId")!),
  }),
});

const TextBodyRef = bodyObject("TextBody", "TEXT", "Plain text, at most 5,000 characters.");
builder.objectFields(TextBodyRef, (t) => ({ text: t.string({ resolve: (source) => str(source, "text")! }) }));

const ImageBodyRef = bodyObject("ImageBody", "IMAGE", "An uploaded image.");
builder.objectFields(ImageBodyRef, (t) => ({
  ...attachmentFields(t),
  width: t.int({ nullable: true, resolve: (source) => int(source, "width") }),
  height: t.int({ nullable: true, resolve: (source) => int(source, "height") }),
}));

const VoiceBodyRef = bodyObject("VoiceBody", "VOICE", "An uploaded voice recording.");
builder.objectFields(VoiceBodyRef, (t) => ({
  ...attachmentFields(t),
  duration: t.int({ nullable: true, description: "Seconds", resolve: (source) => int(source, "duration") }),
}));

const VideoBodyRef = bodyObject("VideoBody", "VIDEO", "An uploaded video.");
builder.objectFields(VideoBodyRef, (t) => ({
  ...attachmentFields(t),
  duration: t.int({ nullable: true, description: "Seconds", resolve: (source) => int(source, "duration") }),
  width: t.int({ nullable: true, resolve: (source) => int(source, "width") }),
  height: t.int({ nullable: true, resolve: (source) => int(source, "height") }),
}));

const FileBodyRef = bodyObject("FileBody", "FILE", "An uploaded file.");
builder.objectFields(FileBodyRef, (t) => attachmentFields(t));

const LocationBodyRef = bodyObject("LocationBody", "LOCATION", "A place.");
builder.objectFields(LocationBodyRef, (t) => ({
  latitude: t.float({ resolve: (source) => source.body.latitude as number }),
  longitude: t.float({ resolve: (source) => source.body.longitude as number }),
  address: t.string({ nullable: true, resolve: (source) => str(source, "address") }),
}));

const CommandBodyRef = bodyObject(
  "CommandBody",
  "COMMAND",
  "A transparent command: live only, never in history.",
);
builder.objectFields(CommandBodyRef, (t) => ({
  action: t.string({ resolve: (source) => str(source, "action")! }),
  params: t.field({ type: "JSON", resolve: (source) => source.body.params ?? {} }),
}));

const CustomBodyRef = bodyObject(
  "CustomBody",
  "CUSTOM",
  "An app-defined message such as a gift or a red packet.",
);
builder.objectFields(CustomBodyRef, (t) => ({
  event: t.string({ resolve: (source) => str(source, "event")! }),
  fields: t.field({
    type: "JSON",
    description: "At most 16 string values",
    resolve: (source) => source.body.fields ?? {},
  }),
}));

const CombinedBodyRef = bodyObject("CombinedBody", "COMBINED", "Several messages forwarded as one.");
builder.objectFields(CombinedBodyRef, (t) => ({
  title: t.string({ resolve: (source) => str(source, "title")! }),
  summary: t.string({ nullable: true, resolve: (source) => str(source, "summary") }),
  messageIds: t.idList({ resolve: (source) => source.body.messageIds as string[] }),
  messages: t.field({
    ...perViewer,
    type: [MessageRef],
    description: "The forwarded messages, readable by whoever can read this one.",
    resolve: async (source, _args, ctx) => {
      const ids = (source.body.messageIds as string[]).map(BigInt);
      return present(await ctx.loaders.messages.loadMany(ids));
    },
  }),
}));

const MessageBodyRef = builder.unionType("MessageBody", {
  types: [
    TextBodyRef,
    ImageBodyRef,
    VoiceBodyRef,
    VideoBodyRef,
    FileBodyRef,
    LocationBodyRef,
    CommandBodyRef,
    CustomBodyRef,
    CombinedBodyRef,
  ],
});

const MessageTargetRef = builder.unionType("MessageTarget", {
  description: "Whom a message was sent to: a user, a group, a thread or a room.",
  types: [UserRef, GroupRef, ThreadRef, RoomRef],
  resolveType: (target) => {
    if ("username" in target) return UserRef;
    if ("parentMessageId" in target) return ThreadRef;
    return "joinPolicy" in target ? GroupRef : RoomRef;
  },
});

export const UserConnectionRef = connectionType("User", UserRef as never) as ReturnType<
  typeof connectionType<User>
>;

// --- Message --------------------------------------------------------------------------------------

// Shared but for the viewer's conversation and readBy (its sender's only).
MessageRef.implement({
  ...sameForEveryViewer,
  description: "A message. Its id orders it within its conversation.",
  fields: (t) => ({
    id: t.id({ resolve: (message) => message.id.toString() }),
    clientMessageId: t.exposeString("clientMessageId", { nullable: true }),
    conversation: t.field({
      ...perViewer,
      type: ConversationRef,
      nullable: true,
      description:
        "The viewer's conversation this message is in (for a room: one made up, as rooms keep none).",
      resolve: (message, _args, ctx) =>
        message.chatType === "ROOM"
          ? roomConversation(ctx, message.chatId)
          : ctx.loaders.conversations.load(message.chatId),
    }),
    chatType: t.field({ type: ChatTypeRef, resolve: (message) => message.chatType }),
    from: t.field({
      type: UserRef,
      resolve: async (message, _args, ctx) => (await ctx.loaders.users.load(message.senderId))!,
    }),
    to: t.field({
      type: MessageTargetRef,
      nullable: true,
      resolve: (message, _args, ctx) => {
        switch (message.chatType) {
          case "GROUP":
            return ctx.loaders.groups.load(message.chatId);
          case "THREAD":
            return ctx.loaders.threads.load(message.chatId);
          case "ROOM":
            return ctx.loaders.rooms.load(message.chatId);
          default:
            return message.recipientId ? ctx.loaders.users.load(message.recipientId) : null;
        }
      },
    }),
    type: t.field({ type: MessageTypeRef, resolve: (message) => message.type }),
    body: t.field({
      type: MessageBodyRef,
      nullable: true,
      description: "Null once the message is recalled.",
      resolve: (message) =>
        message.recalledAt || !message.body
          ? null
          : { message, body: message.body as Record<string, unknown> },
    }),
    ext: t.field({ type: "JSON", resolve: (message) => message.ext }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    editedAt: t.expose("editedAt", { type: "DateTime", nullable: true }),
    editCount: t.exposeInt("editCount"),
    recalled: t.boolean({ resolve: (message) => message.recalledAt !== null }),
    recalledAt: t.expose("recalledAt", { type: "DateTime", nullable: true }),
    status: t.field({
      type: MessageStatusRef,
      resolve: (message) => (message.readAt ? "READ" : message.deliveredAt ? "DELIVERED" : "SENT"),
    }),
    deliveredAt: t.expose("deliveredAt", { type: "DateTime", nullable: true }),
    readAt: t.expose("readAt", { type: "DateTime", nullable: true }),
    readCount: t.int({
      description:
        "How many recipients read it (direct: 0 or 1; groups: members whose read position passed it, for messages sent with requestReadReceipts).",
      resolve: (message, _args, ctx) =>
        onChatLog(message.chatType) ? ctx.loaders.readCounts.load(message.id) : message.readAt ? 1 : 0,
    }),
    readBy: t.field({
      ...perViewer,
      type: UserConnectionRef,
      nullable: true,
      description: "Group messages sent with requestReadReceipts: who read it. Only its sender sees this.",
      args: { first: t.arg.int(), after: t.arg.string() },
      resolve: async (message, args, ctx) => {
        const page = await receipts.readBy(ctx, message, args);
        return page && { ...page, hasPreviousPage: args.after != null };
      },
    }),
    targets: t.field({
      type: [UserRef],
      description: "Targeted group messages: the only members who receive it.",
      resolve: async (message, _args, ctx) => present(await ctx.loaders.users.loadMany(message.targets)),
    }),
    mentions: t.field({
      type: [UserRef],
      resolve: async (message, _args, ctx) => present(await ctx.loaders.users.loadMany(message.mentions)),
    }),
    mentionAll: t.exposeBoolean("mentionAll"),
    thread: t.field({
      type: ThreadRef,
      nullable: true,
      description: "Group messages: the thread started from this one, if any.",
      resolve: (message, _args, ctx) =>
        message.chatType === "GROUP" ? ctx.loaders.threadsByParent.load(message.id) : null,
    }),
    requestReadReceipts: t.exposeBoolean("requestReadReceipts"),
  }),
});

const MessageConnectionRef = connectionType("Message", MessageRef);

// --- Inputs ---------------------------------------------------------------------------------------

export const MessageBodyInputRef = builder.inputType("MessageBodyInput", {
  isOneOf: true,
  description: "Exactly one body.",
  fields: (t) => ({
    text: t.field({
      type: builder.inputType("TextBodyInput", { fields: (f) => ({ text: f.string({ required: true }) }) }),
    }),
    image: t.field({
      type: builder.inputType("ImageBodyInput", {
        fields: (f) => ({ attachmentId: f.id({ required: true }), width: f.int(), height: f.int() }),
      }),
    }),
    voice: t.field({
      type: builder.inputType("VoiceBodyInput", {
        fields: (f) => ({
          attachmentId: f.id({ required: true }),
          duration: f.int({ description: "Seconds" }),
        }),
      }),
    }),
    video: t.field({
      type: builder.inputType("VideoBodyInput", {
        fields: (f) => ({
          attachmentId: f.id({ required: true }),
          duration: f.int({ description: "Seconds" }),
          width: f.int(),
          height: f.int(),
        }),
      }),
    }),
    file: t.field({
      type: builder.inputType("FileBodyInput", {
        fields: (f) => ({ attachmentId: f.id({ required: true }) }),
      }),
    }),
    location: t.field({
      type: builder.inputType("LocationBodyInput", {
        fields: (f) => ({
          latitude: f.float({ required: true }),
          longitude: f.float({ required: true }),
          address: f.string(),
        }),
      }),
    }),
    command: t.field({
      type: builder.inputType("CommandBodyInput", {
        fields: (f) => ({ action: f.string({ required: true }), params: f.field({ type: "JSON" }) }),
      }),
    }),
    custom: t.field({
      type: builder.inputType("CustomBodyInput", {
        fields: (f) => ({
          event: f.string({ required: true, description: "1-32 characters of A-Z a-z 0-9 - _ / ." }),
          fields: f.field({ type: "JSON", description: "At most 16 string values" }),
        }),
      }),
    }),
    combined: t.field({
      type: builder.inputType("CombinedBodyInput", {
        fields: (f) => ({
          title: f.string({ required: true }),
          summary: f.string(),
          messageIds: f.idList({ required: true, description: "Up to 300 messages you can see" }),
        }),
      }),
    }),
  }),
});

// --- Operations -----------------------------------------------------------------------------------

builder.queryFields((t) => ({
  messages: t.field({
    type: MessageConnectionRef,
    authScopes: { user: true },
    description: "Server history of a conversation: the newest page first, oldest to newest inside a page.",
    args: {
      conversation: t.arg({ type: ChatTargetRef, required: true }),
      last: t.arg.int({ description: "Page size, default 20, at most 100" }),
      before: t.arg.string({ description: "pageInfo.startCursor of the previous (newer) page" }),
      types: t.arg({ type: [MessageTypeRef] }),
      from: t.arg.string({ description: "Only messages from this username" }),
    },
    resolve: async (_root, args, ctx) => {
      const page = await messages.history(ctx, {
        ...args,
        types: args.types?.filter((type) => type !== "COMMAND"),
      });
      return {
        nodes: page.messages,
        cursorOf: (message) => message.id.toString(),
        hasNextPage: false,
        hasPreviousPage: page.hasPreviousPage,
      };
    },
  }),
  message: t.field({
    type: MessageRef,
    authScopes: { user: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => messages.message(ctx, String(args.id)),
  }),
}));

builder.mutationFields((t) => ({
  sendMessage: t.field({
    type: MessageRef,
    authScopes: { user: true },
    description:
      "Stores and delivers a message; the recipient's devices and your other devices get a MessageEvent.",
    args: {
      to: t.arg({ type: ChatTargetRef, required: true }),
      body: t.arg({ type: MessageBodyInputRef, required: true }),
      clientMessageId: t.arg.string({
        description: "Makes the send idempotent: a retry returns the first message",
      }),
      ext: t.arg({
        type: "JSON",
        description: "App attributes; body and ext together at most MAX_MESSAGE_BYTES",
      }),
      mentions: t.arg.stringList({ description: "Usernames" }),
      mentionAll: t.arg.boolean(),
      targets: t.arg.stringList({ description: "Groups and rooms: only these usernames receive it" }),
      priority: t.arg({ type: MessagePriorityRef }),
      requestReadReceipts: t.arg.boolean(),
    },
    resolve: (_root, args, ctx) => messages.sendMessage(ctx, args),
  }),
  adminSendMessage: t.field({
    type: MessageRef,
    authScopes: { admin: true },
    description:
      "App server only: sends as the user named by from (system notices, messages on their behalf).",
    args: {
      from: t.arg.string({ required: true }),
      to: t.arg({ type: ChatTargetRef, required: true }),
      body: t.arg({ type: MessageBodyInputRef, required: true }),
      clientMessageId: t.arg.string(),
      ext: t.arg({ type: "JSON" }),
    },
    resolve: (_root, { from, ...input }, ctx) => messages.adminSendMessage(ctx, from, input),
  }),
  recallMessage: t.field({
    type: MessageRef,
    authScopes: { user: true, admin: true },
    description: "The sender within RECALL_WINDOW_SECONDS, or the admin at any time.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => messages.recallMessage(ctx, String(args.id)),
  }),
  editMessage: t.field({
    type: MessageRef,
    authScopes: { user: true },
    description: "Text and custom messages, by their sender, at most 10 times.",
    args: { id: t.arg.id({ required: true }), body: t.arg({ type: MessageBodyInputRef, required: true }) },
    resolve: (_root, args, ctx) => messages.editMessage(ctx, String(args.id), args.body),
  }),
  deleteMessages: t.boolean({
    authScopes: { user: true },
    description: "Removes messages from your own history, on all your devices; others keep them.",
    args: {
      conversation: t.arg({ type: ChatTargetRef, required: true }),
      messageIds: t.arg.idList({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      messages.deleteMessages(ctx, args.conversation, args.messageIds.map(String)),
  }),
  clearConversationHistory: t.boolean({
    authScopes: { user: true },
    description: "Clears your own history of a conversation up to before (everything when omitted).",
    args: {
      conversation: t.arg({ type: ChatTargetRef, required: true }),
      before: t.arg({ type: "DateTime" }),
    },
    resolve: (_root, args, ctx) => messages.clearConversationHistory(ctx, args.conversation, args.before),
  }),
}));
