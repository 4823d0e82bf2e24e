import { builder } from "./builder.js";

export const ChatTypeRef = builder.enumType("ChatType", {
  values: {
    DIRECT: { description: "One-to-one" },
    GROUP: {},
    ROOM: { description: "A chat room: large, online-only" },
    THREAD: { description: "A thread under a group message" },
  } as const,
});

export const ChatTargetRef = builder.inputType("ChatTarget", {
  isOneOf: true,
  description: "Names a chat: exactly one field.",
  fields: (t) => ({
    user: t.string({ description: "A direct chat with this username" }),
    group: t.id(),
    room: t.id(),
    thread: t.id(),
  }),
});
