// Presence as a viewer may see it. context.ts builds the presence loader from presenceOf, so this
// module imports no resolver.
import type { Context } from "../context.js";
import type { Device, User } from "../generated/prisma/client.js";

export interface PresenceView {
  user: User;
  online: boolean;
  status: string | null;
  ext: Record<string, unknown> | null;
  lastSeenAt: Date | null;
  /** The devices, for the user themself and the app server; null for everyone else. */
  devices: Device[] | null;
}

/**
 * Presence of these users as the viewer may see it. Batched: one query per kind of fact, however
 * many users (contact lists render a page of these at once).
 */
export async function presenceOf(
  ctx: Pick<Context, "services" | "prisma" | "viewer" | "loaders">,
  userIds: readonly string[],
): Promise<PresenceView[]> {
  const { prisma } = ctx;
  const ids = [...userIds];
  const viewerId = ctx.viewer.kind === "user" ? ctx.viewer.user.id : null;
  const detailed = ctx.viewer.kind === "admin" ? ids : ids.filter((id) => id === viewerId);
  const [users, online, statuses, lastSeen, hidden, devices] = await Promise.all([
    ctx.loaders.users.loadMany(ids),
    ctx.loaders.onlineDevices.loadMany(ids),
    prisma.userPresence.findMany({ where: { userId: { in: ids } } }),
    prisma.device.groupBy({ by: ["userId"], where: { userId: { in: ids } }, _max: { lastSeenAt: true } }),
    viewerId ? prisma.block.findMany({ where: { blockerId: viewerId, blockedId: { in: ids } } }) : [],
    detailed.length > 0
      ? prisma.device.findMany({
          where: { userId: { in: detailed }, endedAt: null },
          orderBy: [{ createdAt: "asc" }, { id: "asc" }],
        })
      : [],
  ]);
  const statusOf = new Map(statuses.map((row) => [row.userId, row]));
  const lastSeenOf = new Map(lastSeen.map((row) => [row.userId, row._max.lastSeenAt]));
  const blocked = new Set(hidden.map((row) => row.blockedId));
  return ids.map((id, index) => {
    const user = users[index] as User;
    if (blocked.has(id)) {
      return { user, online: false, status: null, ext: null, lastSeenAt: null, devices: null };
    }
    const presence = statusOf.get(id);
    const onlineDevices = online[index] as Set<string>;
    return {
      user,
      online: onlineDevices.size > 0,
      status: presence?.status ?? null,
      ext: (presence?.ext as Record<string, unknown> | undefined) ?? {},
      lastSeenAt: lastSeenOf.get(id) ?? null,
      devices: detailed.includes(id) ? devices.filter((device) => device.userId === id) : null,
    };
  });
}
