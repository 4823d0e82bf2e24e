import type { ReactionSummary } from "../resolvers/reaction-summaries.js";
import * as reactions from "../resolvers/reactions.js";
import { UserRef } from "./accounts.js";
import { builder, perViewer, present } from "./builder.js";
import { UserConnectionRef } from "./messages.js";
import { MessageRef } from "./refs.js";

// Not marked sameForEveryViewer: reactedByMe is the viewer's own.
const MessageReactionRef = builder.objectRef<ReactionSummary>("MessageReaction").implement({
  description: "One reaction on a message: how many made it, and the first of them.",
  fields: (t) => ({
    reaction: t.exposeString("reaction", { description: "1-128 characters, e.g. an emoji" }),
    count: t.exposeInt("count"),
    reactedByMe: t.exposeBoolean("reactedByMe"),
    users: t.field({
      type: [UserRef],
      description: "The first to react, oldest first: default 3, at most 20 (reactionUsers pages all)",
      args: { first: t.arg.int() },
      resolve: async (summary, args, ctx) =>
        present(await ctx.loaders.users.loadMany(reactions.firstUsers(summary, args.first))),
    }),
  }),
});

builder.objectFields(MessageRef, (t) => ({
  reactions: t.field({
    ...perViewer,
    type: [MessageReactionRef],
    description: "In order of first use; none once the message is recalled.",
    resolve: (message, _args, ctx) => reactions.reactionsOf(ctx, message),
  }),
}));

builder.queryFields((t) => ({
  reactionUsers: t.field({
    type: UserConnectionRef,
    authScopes: { user: true },
    description: "Who made a reaction on a message you can see, oldest first.",
    args: {
      messageId: t.arg.id({ required: true }),
      reaction: t.arg.string({ required: true }),
      first: t.arg.int({ description: "Page size, default 20, at most 100" }),
      after: t.arg.string(),
    },
    resolve: async (_root, args, ctx) => ({
      ...(await reactions.reactionUsers(ctx, { ...args, messageId: String(args.messageId) })),
      hasPreviousPage: args.after != null,
    }),
  }),
}));

builder.mutationFields((t) => ({
  addReaction: t.field({
    type: MessageRef,
    authScopes: { user: true },
    description:
      "Reacts to a direct, group or thread message you can see: 1-128 characters, one of each per user, at most 20 different ones a message. Everyone who has the message gets a ReactionEvent.",
    args: { messageId: t.arg.id({ required: true }), reaction: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      reactions.addReaction(ctx, { messageId: String(args.messageId), reaction: args.reaction }),
  }),
  removeReaction: t.boolean({
    authScopes: { user: true },
    description: "Takes back a reaction of yours; everyone who has the message gets a ReactionEvent.",
    args: { messageId: t.arg.id({ required: true }), reaction: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      reactions.removeReaction(ctx, { messageId: String(args.messageId), reaction: args.reaction }),
  }),
}));
