import { adminMessageStats, type MessageStat } from "../resolvers/message-stats.js";
import { builder } from "./builder.js";
import { MessageTypeRef } from "./messages.js";

const MessageStatRef = builder.objectRef<MessageStat>("MessageStat").implement({
  description: "Messages stored on one UTC day, of one type.",
  fields: (t) => ({
    day: t.exposeString("day", { description: "The UTC date, as YYYY-MM-DD." }),
    type: t.field({ type: MessageTypeRef, resolve: (stat) => stat.type }),
    count: t.exposeInt("count"),
  }),
});

builder.queryFields((t) => ({
  adminMessageStats: t.field({
    type: [MessageStatRef],
    authScopes: { admin: true },
    description:
      "Messages stored per UTC day and type, for the days of `from` through `to` (both included, at most 366), from daily counts. Days and types with no message are left out.",
    args: {
      from: t.arg({ type: "DateTime", required: true }),
      to: t.arg({ type: "DateTime", required: true }),
    },
    resolve: (_root, args, ctx) => adminMessageStats(ctx, args),
  }),
}));
