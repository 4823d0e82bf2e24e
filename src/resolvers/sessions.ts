import type { Services } from "../context.js";
import { AppError } from "../errors.js";
import type { Prisma } from "../generated/prisma/client.js";
import type { SessionEndKind } from "../pubsub/topics.js";

type Tx = Prisma.TransactionClient;

/**
 * Ends the still-active sessions among `where` inside the caller's transaction and returns their
 * device ids; pass those to `notifySessionsEnded` after the commit.
 */
export async function endSessions(
  tx: Tx,
  where: Prisma.DeviceWhereInput,
  kind: SessionEndKind,
): Promise<string[]> {
  const devices = await tx.device.findMany({ where: { ...where, endedAt: null }, select: { id: true } });
  if (devices.length === 0) return [];
  const ids = devices.map((device) => device.id);
  await tx.device.updateMany({
    where: { id: { in: ids }, endedAt: null },
    data: { endedAt: new Date(), endReason: kind },
  });
  return ids;
}

/** The ended tokens are already refused by the database; this reaches the devices' open connections. */
export function notifySessionsEnded(
  services: Services,
  deviceIds: readonly string[],
  kind: SessionEndKind,
): void {
  for (const deviceId of deviceIds) services.pubsub.publish("sessionEnded", deviceId, { deviceId, kind });
}

/** Locks the user's row for the rest of the transaction, serializing logins and session changes per user. */
export async function lockUser(tx: Tx, userId: string): Promise<void> {
  await tx.$queryRaw`SELECT id FROM "User" WHERE id = ${userId}::uuid FOR UPDATE`;
}

/**
 * Changes the user and ends their sessions (but `keepDeviceId`'s) in one transaction, then tells the
 * ended devices: what a ban, a deletion and a password change have in common.
 */
export async function updateUserEndingSessions(
  services: Services,
  userId: string,
  data: Prisma.UserUpdateInput,
  kind: SessionEndKind,
  options: { keepDeviceId?: string; alsoInTransaction?: (tx: Tx) => Promise<void> } = {},
): Promise<void> {
  const { keepDeviceId, alsoInTransaction } = options;
  const ended = await services.prisma.$transaction(async (tx) => {
    await lockUser(tx, userId);
    await tx.user.update({ where: { id: userId }, data });
    await alsoInTransaction?.(tx);
    return endSessions(tx, keepDeviceId ? { userId, id: { not: keepDeviceId } } : { userId }, kind);
  });
  notifySessionsEnded(services, ended, kind);
}

/** Refuses with RATE_LIMITED (and when to retry) once `key` has `max` failures in its window. */
export async function refuseWhenOverLimit(services: Services, key: string, message: string): Promise<void> {
  const { rateLimiter, config } = services;
  if ((await rateLimiter.count(key)) < config.loginMaxFailures) return;
  const retryAfterSeconds = await rateLimiter.retryAfter(key);
  throw new AppError("RATE_LIMITED", message.replace("{seconds}", String(retryAfterSeconds)), {
    retryAfterSeconds,
  });
}
