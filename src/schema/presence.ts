import type { PresenceView } from "../resolvers/admin.js";
import { DeviceRef, UserRef } from "./accounts.js";
import { builder } from "./builder.js";

export const PresenceRef = builder.objectRef<PresenceView>("Presence").implement({
  description: "Whether a user is online: any device with an open graphql-ws connection.",
  fields: (t) => ({
    user: t.field({ type: UserRef, resolve: (presence) => presence.user }),
    online: t.exposeBoolean("online"),
    lastSeenAt: t.expose("lastSeenAt", { type: "DateTime", nullable: true }),
    devices: t.field({ type: [DeviceRef], resolve: (presence) => presence.devices }),
  }),
});
