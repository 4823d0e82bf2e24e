import DataLoader from "dataloader";
import type { Config } from "./config.js";
import type { Database, PrismaClient } from "./db/client.js";
import type { Device, User } from "./generated/prisma/client.js";
import type { Logger } from "./logger.js";
import type { PubSub } from "./pubsub/index.js";
import type { PresenceStore } from "./pubsub/presence.js";
import type { RateLimiter } from "./pubsub/rate-limit.js";
import type { LiveConnection } from "./realtime/connections.js";
import { hashToken, tokenKind } from "./security/tokens.js";

/** What lives as long as the server: built once in server.ts, shared by every request. */
export interface Services {
  config: Config;
  log: Logger;
  db: Database;
  prisma: PrismaClient;
  pubsub: PubSub;
  presence: PresenceStore;
  rateLimiter: RateLimiter;
  /** Random per process; tells instances apart in shared Redis state. */
  instanceId: string;
}

export type Viewer =
  | { kind: "anonymous"; rejectedToken: boolean }
  | { kind: "user"; user: User; device: Device }
  | { kind: "admin"; tokenId: string };

/** Per operation (one HTTP request, or one graphql-ws subscribe). */
export interface Context {
  services: Services;
  prisma: PrismaClient;
  viewer: Viewer;
  loaders: Loaders;
  /** Set when the operation arrived over graphql-ws. */
  connection?: LiveConnection;
  clientAddress?: string;
}

export interface Loaders {
  /** userId → ids of the user's devices that hold a connection now. */
  onlineDevices: DataLoader<string, Set<string>>;
}

export function createContext(
  services: Services,
  viewer: Viewer,
  extra: { connection?: LiveConnection; clientAddress?: string } = {},
): Context {
  const onlineDevices = new DataLoader<string, Set<string>>(async (userIds) => {
    const online = await services.presence.onlineDevices(userIds);
    return userIds.map((id) => online.get(id) ?? new Set());
  });
  return { services, prisma: services.prisma, viewer, loaders: { onlineDevices }, ...extra };
}

// lastSeenAt is advisory: writing it once a minute per device keeps authenticated requests read-only.
const LAST_SEEN_RESOLUTION_MS = 60_000;

/** Resolves a bearer token to whoever holds it. Ended sessions, banned users and expired tokens are refused. */
export async function resolveViewer(services: Services, token: string | undefined): Promise<Viewer> {
  if (!token) return { kind: "anonymous", rejectedToken: false };
  const rejected: Viewer = { kind: "anonymous", rejectedToken: true };
  const kind = tokenKind(token);
  if (kind === "admin") {
    const admin = await services.prisma.adminToken.findUnique({ where: { tokenHash: hashToken(token) } });
    return admin && admin.expiresAt > new Date() ? { kind: "admin", tokenId: admin.id } : rejected;
  }
  if (kind !== "user") return rejected;
  const device = await services.prisma.device.findUnique({
    where: { tokenHash: hashToken(token) },
    include: { user: true },
  });
  if (!device || device.endedAt || device.user.bannedAt || device.user.deletedAt) return rejected;
  const { user, ...deviceOnly } = device;
  if (Date.now() - device.lastSeenAt.getTime() > LAST_SEEN_RESOLUTION_MS) {
    services.prisma.device
      .update({ where: { id: device.id }, data: { lastSeenAt: new Date() } })
      .catch((error: Error) => services.log.warn("Could not record lastSeenAt", { error: error.message }));
  }
  return { kind: "user", user, device: deviceOnly };
}
