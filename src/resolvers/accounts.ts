import type { Context, Services } from "../context.js";
import { isUniqueViolation } from "../db/errors.js";
import { AppError, badInput, forbidden, notFound, unauthenticated } from "../errors.js";
import type { Device, Prisma, User } from "../generated/prisma/client.js";
import { addressKey, consumeLimit } from "../security/abuse-limits.js";
import { hashPassword, verifyPassword } from "../security/passwords.js";
import { newToken } from "../security/tokens.js";
import { requireUser } from "./access.js";
import { moderateField } from "./moderation/check.js";
import {
  endSessions,
  lockUser,
  notifySessionsEnded,
  refuseWhenOverLimit,
  updateUserEndingSessions,
} from "./sessions.js";
import * as check from "./validation.js";

export interface AuthPayload {
  token: string;
  user: User;
  device: Device;
}

export const PROFILE_EXT_MAX_BYTES = 2048;
export const NICKNAME_MAX = 64;
export const USERS_LOOKUP_MAX = 100;

export interface NewUserInput {
  username: string;
  password: string;
  nickname?: string | null;
}

/** Validates and hashes a new account; shared by register and adminCreateUsers. */
export async function checkNewUser(services: Services, input: NewUserInput, field = "") {
  const username = check.username(input.username, `${field}username`);
  const password = check.password(input.password, `${field}password`);
  const nickname =
    input.nickname == null ? username : check.text(input.nickname, `${field}nickname`, { max: NICKNAME_MAX });
  return { username, nickname, passwordHash: await hashPassword(password, services.config.passwordHashCost) };
}

export interface DeviceInput {
  deviceName?: string | null;
  platform?: string | null;
}

function checkDevice(input: DeviceInput) {
  const platform =
    input.platform == null ? "unknown" : check.text(input.platform, "platform", { max: 32 }).toLowerCase();
  const name = input.deviceName == null ? platform : check.text(input.deviceName, "deviceName", { max: 64 });
  return { platform, name };
}

/**
 * Opens a new session (a Device) for the user. At most MAX_DEVICES_PER_PLATFORM stay active per
 * platform: the oldest of the same platform is ended (KICKED). The user row lock makes concurrent
 * logins count correctly.
 */
export async function openSession(
  services: Services,
  userId: string,
  input: DeviceInput,
): Promise<AuthPayload> {
  const device = checkDevice(input);
  const { token, hash } = newToken("user");
  const { created, kicked } = await services.prisma.$transaction(async (tx) => {
    await lockUser(tx, userId);
    const active = await tx.device.findMany({
      where: { userId, platform: device.platform, endedAt: null },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      select: { id: true },
    });
    const excess = active.length - services.config.maxDevicesPerPlatform + 1;
    const kicked =
      excess > 0
        ? await endSessions(tx, { id: { in: active.slice(0, excess).map((d) => d.id) } }, "KICKED")
        : [];
    const created = await tx.device.create({
      data: { ...device, userId, tokenHash: hash },
      include: { user: true },
    });
    return { created, kicked };
  });
  notifySessionsEnded(services, kicked, "KICKED");
  const { user, ...deviceOnly } = created;
  return { token, user, device: deviceOnly };
}

export async function register(ctx: Context, input: NewUserInput & DeviceInput): Promise<AuthPayload> {
  if (ctx.services.config.registration === "closed") {
    throw forbidden(
      "Registration is closed on this server: accounts are made by the app server (adminCreateUsers)",
    );
  }
  await consumeLimit(ctx, "registrations", addressKey(ctx.clientAddress));
  const device = checkDevice(input);
  // Broadcasts come from this name: nobody may sign up as it (adminBroadcast makes it, passwordless).
  if (check.maybeUsername(input.username) === ctx.services.config.broadcast.sender) {
    throw new AppError("CONFLICT", `The username "${ctx.services.config.broadcast.sender}" is reserved`);
  }
  const checked = await checkNewUser(ctx.services, input);
  const account = { ...checked, nickname: await moderateField(ctx, "NICKNAME", checked.nickname) };
  const { token, hash } = newToken("user");
  try {
    // A new account has no sessions to count, so the user and its first device go in together.
    const created = await ctx.prisma.device.create({
      data: { ...device, tokenHash: hash, user: { create: account } },
      include: { user: true },
    });
    const { user, ...deviceOnly } = created;
    return { token, user, device: deviceOnly };
  } catch (error) {
    if (isUniqueViolation(error))
      throw new AppError("CONFLICT", `The username "${account.username}" is taken`);
    throw error;
  }
}

let dummyHash: Promise<string> | undefined;

export async function login(
  ctx: Context,
  input: { username: string; password: string } & DeviceInput,
): Promise<AuthPayload> {
  const { config, rateLimiter } = ctx.services;
  // Every attempt from an address counts; failures also count per username (refuseWhenOverLimit).
  await consumeLimit(ctx, "logins", addressKey(ctx.clientAddress));
  const username = check.maybeUsername(input.username);
  const limitKey = `login:${username ?? "-"}`;
  await refuseWhenOverLimit(
    ctx.services,
    limitKey,
    "Too many failed sign-ins for this username; try again in {seconds} seconds",
  );
  const user = username ? await ctx.prisma.user.findUnique({ where: { username } }) : null;
  // Unknown users cost a hash too, so response time does not reveal which usernames exist.
  dummyHash ??= hashPassword("not a password", config.passwordHashCost);
  const valid = await verifyPassword(input.password, user?.passwordHash ?? (await dummyHash));
  if (!user || !valid) {
    await rateLimiter.hit(limitKey, config.loginFailureWindowSeconds);
    throw unauthenticated("Wrong username or password");
  }
  if (user.bannedAt) {
    throw new AppError(
      "USER_BANNED",
      "This account is banned",
      user.bannedReason ? { reason: user.bannedReason } : {},
    );
  }
  await rateLimiter.reset(limitKey);
  return openSession(ctx.services, user.id, input);
}

export async function me(ctx: Context): Promise<User> {
  // Fresh, not the viewer's copy: a graphql-ws connection keeps the one it connected with.
  return (await ctx.loaders.users.load(requireUser(ctx).user.id))!;
}

export async function findUsers(ctx: Context, usernames: readonly string[]): Promise<User[]> {
  check.list(usernames, "usernames", USERS_LOOKUP_MAX);
  const names = usernames.map(check.maybeUsername).filter((name): name is string => name !== undefined);
  if (names.length === 0) return [];
  const found = await ctx.prisma.user.findMany({ where: { username: { in: names } } });
  const byName = new Map(found.map((user) => [user.username, user]));
  // In the order asked, each once; names that match no one are left out.
  return [...new Set(names)].flatMap((name) => byName.get(name) ?? []);
}

export async function findUser(ctx: Context, username: string): Promise<User | null> {
  return (await findUsers(ctx, [username]))[0] ?? null;
}

export async function updateProfile(
  ctx: Context,
  input: { nickname?: string | null; avatarUrl?: string | null; ext?: unknown },
): Promise<User> {
  const { user } = requireUser(ctx);
  const data: Prisma.UserUpdateInput = {};
  if (input.nickname === null)
    throw badInput("nickname cannot be removed; omit it to keep the current one", "nickname");
  if (input.nickname !== undefined)
    data.nickname = await moderateField(
      ctx,
      "NICKNAME",
      check.text(input.nickname, "nickname", { max: NICKNAME_MAX }),
    );
  // null clears the avatar; omitting it keeps the current one.
  if (input.avatarUrl !== undefined)
    data.avatarUrl = input.avatarUrl && check.httpUrl(input.avatarUrl, "avatarUrl");
  if (input.ext !== undefined) {
    data.ext = (
      input.ext === null ? {} : check.jsonObject(input.ext, "ext", PROFILE_EXT_MAX_BYTES)
    ) as Prisma.InputJsonObject;
  }
  if (Object.keys(data).length === 0) return user;
  return ctx.prisma.user.update({ where: { id: user.id }, data });
}

/** Ends every other session of the user; the device that changed the password stays signed in. */
export async function changePassword(ctx: Context, input: { old: string; new: string }): Promise<boolean> {
  const { user, device } = requireUser(ctx);
  const next = check.password(input.new, "new");
  if (!(await verifyPassword(input.old, user.passwordHash))) {
    throw unauthenticated("The current password (old) is wrong");
  }
  const passwordHash = await hashPassword(next, ctx.services.config.passwordHashCost);
  await updateUserEndingSessions(ctx.services, user.id, { passwordHash }, "PASSWORD_CHANGED", {
    keepDeviceId: device.id,
  });
  return true;
}

export async function logout(ctx: Context): Promise<boolean> {
  const { device } = requireUser(ctx);
  return endOwnDevice(ctx, device.id);
}

export async function logoutDevice(ctx: Context, deviceId: string): Promise<boolean> {
  requireUser(ctx);
  return endOwnDevice(ctx, deviceId);
}

async function endOwnDevice(ctx: Context, deviceId: string): Promise<boolean> {
  const { user } = requireUser(ctx);
  const ended = check.isId(deviceId)
    ? await ctx.prisma.$transaction((tx) => endSessions(tx, { id: deviceId, userId: user.id }, "LOGGED_OUT"))
    : [];
  if (ended.length === 0) throw notFound("You have no signed-in device with that id");
  notifySessionsEnded(ctx.services, ended, "LOGGED_OUT");
  return true;
}

export async function myDevices(ctx: Context): Promise<Device[]> {
  const { user } = requireUser(ctx);
  return ctx.prisma.device.findMany({
    where: { userId: user.id, endedAt: null },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
  });
}

/** Online means: some connection of the device is open now, on any instance. */
export async function isDeviceOnline(ctx: Context, device: Pick<Device, "id" | "userId">): Promise<boolean> {
  return (await ctx.loaders.onlineDevices.load(device.userId)).has(device.id);
}
