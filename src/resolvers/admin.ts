import { timingSafeEqual } from "node:crypto";
import type { Context } from "../context.js";
import { isUniqueViolation } from "../db/errors.js";
import { AppError, notFound, unauthenticated } from "../errors.js";
import type { User } from "../generated/prisma/client.js";
import { newToken } from "../security/tokens.js";
import { requireAdmin } from "./access.js";
import {
  type AuthPayload,
  checkNewUser,
  type DeviceInput,
  findUsers,
  type NewUserInput,
  openSession,
} from "./accounts.js";
import { forgetUsername } from "./chats.js";
import { dropRelations } from "./contacts.js";
import { leaveAllGroups } from "./groups/lifecycle.js";
import type { PresenceView } from "./presence-view.js";
import { leaveAllRooms } from "./rooms/membership.js";
import {
  endSessions,
  notifySessionsEnded,
  refuseWhenOverLimit,
  updateUserEndingSessions,
} from "./sessions.js";
import * as check from "./validation.js";

export const ADMIN_CREATE_USERS_MAX = 60;

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Exchanges the app server's credential pair (from configuration) for an admin bearer token. */
export async function adminToken(
  ctx: Context,
  input: { clientId: string; clientSecret: string },
): Promise<{ token: string; expiresAt: Date }> {
  const { config, rateLimiter } = ctx.services;
  const limitKey = `admin-token:${ctx.clientAddress ?? "-"}`;
  await refuseWhenOverLimit(
    ctx.services,
    limitKey,
    "Too many wrong admin credentials; try again in {seconds} seconds",
  );
  if (!config.adminClientId || !config.adminClientSecret) {
    throw unauthenticated("Admin access is not configured: set ADMIN_CLIENT_ID and ADMIN_CLIENT_SECRET");
  }
  const valid =
    sameSecret(input.clientId, config.adminClientId) &&
    sameSecret(input.clientSecret, config.adminClientSecret);
  if (!valid) {
    await rateLimiter.hit(limitKey, config.loginFailureWindowSeconds);
    throw unauthenticated("Wrong clientId or clientSecret");
  }
  const { token, hash } = newToken("admin");
  const expiresAt = new Date(Date.now() + config.adminTokenTtlSeconds * 1000);
  await ctx.prisma.adminToken.create({ data: { tokenHash: hash, clientId: input.clientId, expiresAt } });
  // Expired tokens are refused anyway; dropping them here keeps the table small without a timer.
  await ctx.prisma.adminToken.deleteMany({ where: { expiresAt: { lt: new Date() } } });
  return { token, expiresAt };
}

/** All or nothing: one bad or taken username fails the whole batch. */
export async function adminCreateUsers(ctx: Context, users: readonly NewUserInput[]): Promise<User[]> {
  requireAdmin(ctx);
  check.list(users, "users", ADMIN_CREATE_USERS_MAX);
  const accounts = await Promise.all(
    users.map((user, i) => checkNewUser(ctx.services, user, `users[${i}].`)),
  );
  const names = accounts.map((account) => account.username);
  const repeated = names.filter((name, i) => names.indexOf(name) !== i);
  if (repeated.length > 0)
    throw new AppError("CONFLICT", `Usernames repeated in the batch: ${[...new Set(repeated)].join(", ")}`);
  try {
    return await ctx.prisma.$transaction(async (tx) => {
      const taken = await tx.user.findMany({
        where: { username: { in: names } },
        select: { username: true },
      });
      if (taken.length > 0) {
        throw new AppError(
          "CONFLICT",
          `Usernames already taken: ${taken.map((user) => user.username).join(", ")}`,
        );
      }
      return Promise.all(accounts.map((data) => tx.user.create({ data })));
    });
  } catch (error) {
    if (isUniqueViolation(error))
      throw new AppError("CONFLICT", "A username in the batch was taken meanwhile");
    throw error;
  }
}

async function requireUserByName(ctx: Context, username: string): Promise<User> {
  const name = check.maybeUsername(username);
  const user = name ? await ctx.prisma.user.findUnique({ where: { username: name } }) : null;
  if (!user) throw notFound(`No user named "${username}"`);
  return user;
}

export async function adminIssueUserToken(
  ctx: Context,
  input: { username: string } & DeviceInput,
): Promise<AuthPayload> {
  requireAdmin(ctx);
  const user = await requireUserByName(ctx, input.username);
  if (user.bannedAt) throw new AppError("USER_BANNED", `"${user.username}" is banned`);
  return openSession(ctx.services, user.id, {
    deviceName: input.deviceName,
    platform: input.platform ?? "api",
  });
}

/**
 * The account disappears for everyone: its sessions end and its username is freed. The row stays
 * (renamed) so what others received from it keeps a sender.
 */
export async function adminDeleteUser(ctx: Context, username: string): Promise<boolean> {
  requireAdmin(ctx);
  const user = await requireUserByName(ctx, username);
  await updateUserEndingSessions(
    ctx.services,
    user.id,
    { username: `deleted:${user.id}`, deletedAt: new Date(), passwordHash: "!", ext: {}, avatarUrl: null },
    "USER_DELETED",
    { alsoInTransaction: (tx) => dropRelations(tx, user.id) },
  );
  forgetUsername(ctx.services, user.username);
  await leaveAllGroups(ctx, user.id);
  await leaveAllRooms(ctx, user.id);
  return true;
}

export async function adminBanUser(
  ctx: Context,
  input: { username: string; reason?: string | null },
): Promise<boolean> {
  requireAdmin(ctx);
  const user = await requireUserByName(ctx, input.username);
  const reason = input.reason == null ? null : check.text(input.reason, "reason", { max: 256 });
  await updateUserEndingSessions(
    ctx.services,
    user.id,
    { bannedAt: new Date(), bannedReason: reason },
    "BANNED",
  );
  return true;
}

export async function adminUnbanUser(ctx: Context, username: string): Promise<boolean> {
  requireAdmin(ctx);
  const user = await requireUserByName(ctx, username);
  await ctx.prisma.user.update({ where: { id: user.id }, data: { bannedAt: null, bannedReason: null } });
  return true;
}

/** One device, or every device of the user when deviceId is left out. */
export async function adminForceLogout(
  ctx: Context,
  input: { username: string; deviceId?: string | null },
): Promise<boolean> {
  requireAdmin(ctx);
  const user = await requireUserByName(ctx, input.username);
  if (input.deviceId != null && !check.isId(input.deviceId))
    throw notFound(`"${user.username}" has no such device`);
  const where = input.deviceId == null ? { userId: user.id } : { userId: user.id, id: input.deviceId };
  const ended = await ctx.prisma.$transaction((tx) => endSessions(tx, where, "KICKED"));
  if (input.deviceId != null && ended.length === 0) {
    throw notFound(`"${user.username}" has no signed-in device with that id`);
  }
  notifySessionsEnded(ctx.services, ended, "KICKED");
  return true;
}

/** Presence with every user's devices: the app server sees what each user sees of themself. */
export async function adminOnlineStatus(ctx: Context, usernames: readonly string[]): Promise<PresenceView[]> {
  requireAdmin(ctx);
  const users = await findUsers(ctx, usernames);
  return ctx.loaders.presence.loadMany(users.map((user) => user.id)) as Promise<PresenceView[]>;
}
