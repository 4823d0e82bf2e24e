import { searchMessages } from "../resolvers/search.js";
import { type Translation, translateMessage } from "../resolvers/translation.js";
import { builder } from "./builder.js";
import { ChatTargetRef } from "./chats.js";
import { MessageTypeRef } from "./messages.js";
import { connectionType } from "./pagination.js";
import { MessageRef } from "./refs.js";

const SearchResultsRef = connectionType("MessageSearch", MessageRef);

const TranslationRef = builder.objectRef<Translation>("Translation").implement({
  fields: (t) => ({
    messageId: t.exposeID("messageId"),
    language: t.exposeString("language"),
    text: t.exposeString("text"),
  }),
});

builder.queryFields((t) => ({
  searchMessages: t.field({
    type: SearchResultsRef,
    authScopes: { user: true },
    description:
      "Searches your own history, newest first; matches any part of the text, Chinese as well as English.",
    args: {
      query: t.arg.string({ required: true, description: "1-100 characters" }),
      conversation: t.arg({ type: ChatTargetRef }),
      from: t.arg.string({ description: "Only messages from this username" }),
      types: t.arg({ type: [MessageTypeRef] }),
      first: t.arg.int({ description: "Page size, default 20, at most 100" }),
      after: t.arg.string(),
    },
    resolve: async (_root, args, ctx) => {
      const page = await searchMessages(ctx, {
        ...args,
        types: args.types?.filter((type) => type !== "COMMAND"),
      });
      return {
        nodes: page.messages,
        cursorOf: (message) => message.id.toString(),
        hasNextPage: page.hasNextPage,
        hasPreviousPage: args.after != null,
      };
    },
  }),
  translateMessage: t.field({
    type: TranslationRef,
    authScopes: { user: true },
    description: "Translates a text message through the server's provider (TRANSLATE_URL).",
    args: {
      id: t.arg.id({ required: true }),
      language: t.arg.string({ required: true, description: "e.g. en, zh" }),
    },
    resolve: (_root, args, ctx) => translateMessage(ctx, String(args.id), args.language),
  }),
}));
