import { onChatLog } from "../resolvers/chat-kinds.js";
import * as conversations from "../resolvers/conversations.js";
import * as receipts from "../resolvers/receipts.js";
import { UserRef } from "./accounts.js";
import { builder } from "./builder.js";
import { ChatTargetRef, ChatTypeRef } from "./chats.js";
import { connectionType } from "./pagination.js";
import { ConversationRef, GroupRef, MessageRef, RoomRef, ThreadRef } from "./refs.js";

ConversationRef.implement({
  description: "The viewer's side of a chat: unread count, pin, marks and what they cleared.",
  fields: (t) => ({
    id: t.id({ resolve: (conversation) => conversation.chatId }),
    chatType: t.field({ type: ChatTypeRef, resolve: (conversation) => conversation.chatType }),
    peer: t.field({
      type: UserRef,
      nullable: true,
      description: "Direct chats: the other user.",
      resolve: (conversation, _args, ctx) =>
        conversation.peerId ? ctx.loaders.users.load(conversation.peerId) : null,
    }),
    group: t.field({
      type: GroupRef,
      nullable: true,
      description: "Group chats: the group.",
      resolve: (conversation, _args, ctx) =>
        conversation.chatType === "GROUP" ? ctx.loaders.groups.load(conversation.chatId) : null,
    }),
    room: t.field({
      type: RoomRef,
      nullable: true,
      description: "Rooms: the room. Rooms keep no conversations; a room message's conversation is made up.",
      resolve: (conversation, _args, ctx) =>
        conversation.chatType === "ROOM" ? ctx.loaders.rooms.load(conversation.chatId) : null,
    }),
    thread: t.field({
      type: ThreadRef,
      nullable: true,
      description: "Threads: the thread.",
      resolve: (conversation, _args, ctx) =>
        conversation.chatType === "THREAD" ? ctx.loaders.threads.load(conversation.chatId) : null,
    }),
    lastMessage: t.field({
      type: MessageRef,
      nullable: true,
      description: "The newest message still in the viewer's history.",
      resolve: async (conversation, _args, ctx) => {
        const id = onChatLog(conversation.chatType)
          ? ((await ctx.loaders.groupStats.load(conversation.chatId))?.lastMessageId ?? null)
          : conversation.lastMessageId;
        return id === null ? null : ctx.loaders.messages.load(id);
      },
    }),
    unreadCount: t.int({
      resolve: async (conversation, _args, ctx) =>
        onChatLog(conversation.chatType)
          ? ((await ctx.loaders.groupStats.load(conversation.chatId))?.unreadCount ?? 0)
          : conversation.unreadCount,
    }),
    mentionCount: t.int({
      description: "Groups and threads: unread messages that mention you (or everyone).",
      resolve: async (conversation, _args, ctx) =>
        onChatLog(conversation.chatType)
          ? ((await ctx.loaders.groupStats.load(conversation.chatId))?.mentionCount ?? 0)
          : 0,
    }),
    readUpTo: t.id({
      nullable: true,
      description: "The viewer has read every message up to this id.",
      resolve: (conversation) => (conversation.readUpToId > 0n ? conversation.readUpToId.toString() : null),
    }),
    historyClearedUpTo: t.id({
      nullable: true,
      description: "Messages up to this id were cleared from the viewer's history.",
      resolve: (conversation) =>
        conversation.clearedUpToId > 0n ? conversation.clearedUpToId.toString() : null,
    }),
    pinned: t.exposeBoolean("pinned"),
    pinnedAt: t.expose("pinnedAt", { type: "DateTime", nullable: true }),
    marks: t.exposeStringList("marks"),
    muted: t.exposeBoolean("muted", { description: "No push notifications" }),
    deleted: t.boolean({
      description: "Deleted by the viewer: out of the list until the next message.",
      resolve: async (conversation, _args, ctx) =>
        onChatLog(conversation.chatType)
          ? ((await ctx.loaders.groupStats.load(conversation.chatId))?.deleted ??
            conversation.deletedAt !== null)
          : conversation.deletedAt !== null,
    }),
    lastActivityAt: t.field({
      type: "DateTime",
      description: "Orders the list",
      resolve: async (conversation, _args, ctx) =>
        onChatLog(conversation.chatType)
          ? ((await ctx.loaders.groupStats.load(conversation.chatId))?.activityAt ?? conversation.activityAt)
          : conversation.activityAt,
    }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const ConversationConnectionRef = connectionType("Conversation", ConversationRef);

const ConversationFilterRef = builder.inputType("ConversationFilter", {
  fields: (t) => ({
    pinned: t.boolean(),
    mark: t.string({ description: "Only conversations with this mark" }),
    chatType: t.field({ type: ChatTypeRef }),
  }),
});

builder.queryFields((t) => ({
  conversations: t.field({
    type: ConversationConnectionRef,
    authScopes: { user: true },
    description: "Your conversations: pinned first, then by last activity.",
    args: {
      first: t.arg.int({ description: "Page size, default 20, at most 100" }),
      after: t.arg.string(),
      filter: t.arg({ type: ConversationFilterRef }),
    },
    resolve: async (_root, args, ctx) => {
      const page = await conversations.listConversations(ctx, args);
      return {
        nodes: page.conversations,
        cursorOf: conversations.conversationCursor,
        hasNextPage: page.hasNextPage,
        hasPreviousPage: args.after != null,
      };
    },
  }),
  totalUnread: t.int({
    authScopes: { user: true },
    description: "Unread messages across your conversations.",
    resolve: (_root, _args, ctx) => conversations.totalUnread(ctx),
  }),
}));

builder.mutationFields((t) => {
  const conversation = t.arg({ type: ChatTargetRef, required: true });
  return {
    markDelivered: t.boolean({
      authScopes: { user: true },
      description: "Delivery receipts for up to 100 messages; their senders get a ReceiptEvent.",
      args: { messageIds: t.arg.idList({ required: true }) },
      resolve: (_root, args, ctx) => receipts.markDelivered(ctx, args.messageIds.map(String)),
    }),
    markConversationRead: t.field({
      type: ConversationRef,
      authScopes: { user: true },
      description:
        "Reads up to upTo (the newest message when omitted) on all your devices; the sender gets a READ receipt.",
      args: { conversation, upTo: t.arg.id() },
      resolve: (_root, args, ctx) =>
        receipts.markConversationRead(ctx, args.conversation, args.upTo == null ? null : String(args.upTo)),
    }),
    pinConversation: t.field({
      type: ConversationRef,
      authScopes: { user: true },
      description: "At most 50 pinned conversations.",
      args: { conversation, pinned: t.arg.boolean({ required: true }) },
      resolve: (_root, args, ctx) => conversations.pinConversation(ctx, args.conversation, args.pinned),
    }),
    markConversation: t.field({
      type: ConversationRef,
      authScopes: { user: true },
      description: "Adds and removes marks (at most 20 on a conversation).",
      args: { conversation, add: t.arg.stringList(), remove: t.arg.stringList() },
      resolve: (_root, args, ctx) =>
        conversations.markConversation(ctx, args.conversation, args.add, args.remove),
    }),
    muteConversation: t.field({
      type: ConversationRef,
      authScopes: { user: true },
      description: "A muted conversation sends no push notifications.",
      args: { conversation, muted: t.arg.boolean({ required: true }) },
      resolve: (_root, args, ctx) => conversations.muteConversation(ctx, args.conversation, args.muted),
    }),
    deleteConversation: t.boolean({
      authScopes: { user: true },
      description:
        "Removes it from your list until its next message; deleteHistory clears your history of it too.",
      args: { conversation, deleteHistory: t.arg.boolean() },
      resolve: (_root, args, ctx) =>
        conversations.deleteConversation(ctx, args.conversation, args.deleteHistory ?? false),
    }),
  };
});
