import type { ThreadMember } from "../generated/prisma/client.js";
import * as lifecycle from "../resolvers/threads/lifecycle.js";
import * as membership from "../resolvers/threads/membership.js";
import * as queries from "../resolvers/threads/queries.js";
import { UserRef } from "./accounts.js";
import { builder, perViewer, sameForEveryViewer } from "./builder.js";
import { byTime, connectionType } from "./pagination.js";
import { ConversationRef, GroupRef, MessageRef, ThreadRef } from "./refs.js";

ThreadRef.implement({
  ...sameForEveryViewer,
  description:
    "A thread under a group message: a side conversation its members join. Seen by the group's members.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    group: t.field({
      type: GroupRef,
      nullable: true,
      resolve: (thread, _args, ctx) => ctx.loaders.groups.load(thread.groupId),
    }),
    parentMessage: t.field({
      type: MessageRef,
      nullable: true,
      description: "The group message the thread started from",
      resolve: (thread, _args, ctx) => ctx.loaders.messages.load(thread.parentMessageId),
    }),
    creator: t.field({
      type: UserRef,
      nullable: true,
      resolve: (thread, _args, ctx) => ctx.loaders.users.load(thread.creatorId),
    }),
    memberCount: t.exposeInt("memberCount"),
    messageCount: t.int({
      description: "Messages in the thread, recalled ones not counted",
      resolve: async (thread, _args, ctx) =>
        (await ctx.loaders.threadStats.load(thread.id))?.messageCount ?? 0,
    }),
    lastMessage: t.field({
      type: MessageRef,
      nullable: true,
      description: "The newest message not recalled",
      resolve: async (thread, _args, ctx) => {
        const id = (await ctx.loaders.threadStats.load(thread.id))?.lastMessageId;
        return id ? ctx.loaders.messages.load(id) : null;
      },
    }),
    destroyed: t.boolean({ resolve: (thread) => thread.destroyedAt !== null }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    joined: t.boolean({
      ...perViewer,
      description: "Whether you are a member of the thread",
      resolve: async (thread, _args, ctx) => (await ctx.loaders.threadMemberships.load(thread.id)) !== null,
    }),
    conversation: t.field({
      ...perViewer,
      type: ConversationRef,
      nullable: true,
      description: "Your conversation in the thread; null unless you joined it.",
      resolve: (thread, _args, ctx) => ctx.loaders.conversations.load(thread.id),
    }),
  }),
});

const ThreadMemberRef = builder.objectRef<ThreadMember>("ThreadMember");
ThreadMemberRef.implement({
  fields: (t) => ({
    user: t.field({
      type: UserRef,
      nullable: true,
      resolve: (member, _args, ctx) => ctx.loaders.users.load(member.userId),
    }),
    joinedAt: t.expose("joinedAt", { type: "DateTime" }),
  }),
});

const ThreadConnectionRef = connectionType("Thread", ThreadRef);
const ThreadMemberConnectionRef = connectionType("ThreadMember", ThreadMemberRef);

builder.queryFields((t) => {
  const paging = {
    first: t.arg.int({ description: "Page size, default 20, at most 100" }),
    after: t.arg.string(),
  };
  return {
    thread: t.field({
      type: ThreadRef,
      authScopes: { user: true, admin: true },
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, args, ctx) => queries.thread(ctx, String(args.id)),
    }),
    threads: t.field({
      type: ThreadConnectionRef,
      authScopes: { user: true, admin: true },
      description: "A group's threads, newest first.",
      args: { groupId: t.arg.id({ required: true }), ...paging },
      resolve: async (_root, args, ctx) =>
        byTime(
          await queries.threads(ctx, { ...args, groupId: String(args.groupId) }),
          args.after,
          (thread) => [thread.createdAt, thread.id],
        ),
    }),
    myThreads: t.field({
      type: ThreadConnectionRef,
      authScopes: { user: true },
      description: "The threads you joined, the most recently joined first.",
      args: paging,
      resolve: async (_root, args, ctx) =>
        byTime(
          await queries.myThreads(ctx, args),
          args.after,
          (member) => [member.joinedAt, member.threadId],
          (member) => member.thread,
        ),
    }),
    threadMembers: t.field({
      type: ThreadMemberConnectionRef,
      authScopes: { user: true, admin: true },
      description: "The thread's members in the order they joined.",
      args: { id: t.arg.id({ required: true }), ...paging },
      resolve: async (_root, args, ctx) =>
        byTime(await queries.threadMembers(ctx, { ...args, id: String(args.id) }), args.after, (member) => [
          member.joinedAt,
          member.userId,
        ]),
    }),
  };
});

builder.mutationFields((t) => ({
  createThread: t.field({
    type: ThreadRef,
    authScopes: { user: true },
    description: "Starts a thread from a group message (name up to 64 characters); you are its first member.",
    args: { parentMessageId: t.arg.id({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => lifecycle.createThread(ctx, String(args.parentMessageId), args.name),
  }),
  updateThreadName: t.field({
    type: ThreadRef,
    authScopes: { user: true, admin: true },
    description: "The thread's creator and the group's owner and admins.",
    args: { id: t.arg.id({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => lifecycle.updateThreadName(ctx, String(args.id), args.name),
  }),
  destroyThread: t.boolean({
    authScopes: { user: true, admin: true },
    description: "The group's owner and admins. Destroying a group destroys its threads.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => lifecycle.destroyThread(ctx, String(args.id)),
  }),
  joinThread: t.field({
    type: ThreadRef,
    authScopes: { user: true },
    description: "Any member of the group joins; the thread's history is yours to read.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => membership.joinThread(ctx, String(args.id)),
  }),
  leaveThread: t.boolean({
    authScopes: { user: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => membership.leaveThread(ctx, String(args.id)),
  }),
  removeThreadMember: t.boolean({
    authScopes: { user: true, admin: true },
    description: "The group's owner and admins (admins not the owner or other admins).",
    args: { id: t.arg.id({ required: true }), username: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => membership.removeThreadMember(ctx, String(args.id), args.username),
  }),
}));
