import { configuredProviders } from "../callbacks/push/configured.js";
import { parseSubscription } from "../callbacks/push/web-push.js";
import type { Context } from "../context.js";
import { badInput, forbidden, notFound } from "../errors.js";
import type { PushDisplayStyle, PushProvider, PushSettings, PushToken } from "../generated/prisma/client.js";
import { requireUser } from "./access.js";
import * as check from "./validation.js";

// Offline push settings (README.md, "Offline push"): where a device wants its pushes, and how a
// user wants them shown. Sending is in src/callbacks/push.

const TOKEN_MAX = 4096;
const PUSH_NAME_MAX = 64;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

export interface PushSettingsView {
  displayStyle: PushDisplayStyle;
  doNotDisturb: { start: string; end: string } | null;
  pushName: string | null;
}

/** The token in the form its provider uses, or BAD_USER_INPUT. */
function checkToken(provider: PushProvider, raw: string): string {
  const token = raw.trim();
  if (token.length === 0 || token.length > TOKEN_MAX) {
    throw badInput(`token must be 1-${TOKEN_MAX} characters long`, "token");
  }
  if (provider === "WEB_PUSH") {
    const subscription = parseSubscription(token);
    if (!subscription) {
      throw badInput(
        "A WEB_PUSH token is the browser's PushSubscription as JSON: { endpoint, keys: { p256dh, auth } }",
        "token",
      );
    }
    return JSON.stringify(subscription);
  }
  if (provider === "APNS" && !/^[0-9a-fA-F]{64,200}$/.test(token)) {
    throw badInput("An APNS token is the device token in hex", "token");
  }
  if (/\s/.test(token)) throw badInput("token must not contain white space", "token");
  return provider === "APNS" ? token.toLowerCase() : token;
}

/**
 * Registers where one of the caller's signed-in devices gets pushes: one token per provider and
 * device (a new one replaces the old), and a token belongs to one device (registering it again from
 * another login moves it).
 */
export async function registerPushToken(
  ctx: Context,
  input: { provider: PushProvider; token: string; deviceId?: string | null },
): Promise<PushToken> {
  const { user, device } = requireUser(ctx);
  if (!configuredProviders(ctx.services.config).includes(input.provider)) {
    throw badInput(`This server is not configured for ${input.provider} pushes`, "provider");
  }
  const token = checkToken(input.provider, input.token);
  const deviceId = input.deviceId ?? device.id;
  if (!check.isId(deviceId)) throw badInput("deviceId is not a device id", "deviceId");
  const target = await ctx.prisma.device.findUnique({ where: { id: deviceId } });
  if (!target) throw notFound("No such device");
  if (target.userId !== user.id) throw forbidden("That device is not one of yours");
  if (target.endedAt) throw badInput("That device's session has ended", "deviceId");
  return ctx.prisma.$transaction(async (tx) => {
    await tx.pushToken.deleteMany({
      where: {
        OR: [
          { provider: input.provider, token },
          { provider: input.provider, deviceId },
        ],
      },
    });
    return tx.pushToken.create({ data: { userId: user.id, deviceId, provider: input.provider, token } });
  });
}

/** Removes one of the caller's tokens; false when the caller had no such token. */
export async function unregisterPushToken(
  ctx: Context,
  input: { provider: PushProvider; token: string },
): Promise<boolean> {
  const { user } = requireUser(ctx);
  const raw = check.text(input.token, "token", { max: TOKEN_MAX });
  const token =
    input.provider === "WEB_PUSH"
      ? normalSubscription(raw)
      : input.provider === "APNS"
        ? raw.toLowerCase()
        : raw;
  const { count } = await ctx.prisma.pushToken.deleteMany({
    where: { userId: user.id, provider: input.provider, token },
  });
  return count > 0;
}

function normalSubscription(raw: string): string {
  const subscription = parseSubscription(raw);
  return subscription ? JSON.stringify(subscription) : raw;
}

/** The caller's tokens, of their signed-in devices. */
export async function myPushTokens(ctx: Context): Promise<PushToken[]> {
  const { user } = requireUser(ctx);
  // A signed-out device's tokens are never used again (a new login registers its own).
  return ctx.prisma.pushToken.findMany({
    where: { userId: user.id, device: { endedAt: null } },
    orderBy: { createdAt: "asc" },
  });
}

export async function pushSettings(ctx: Context): Promise<PushSettingsView> {
  const { user } = requireUser(ctx);
  return view(await ctx.prisma.pushSettings.findUnique({ where: { userId: user.id } }));
}

/**
 * Changes what is given and keeps the rest: `doNotDisturb: null` ends quiet hours, an empty or null
 * pushName goes back to the nickname.
 */
export async function setPushSettings(
  ctx: Context,
  input: {
    displayStyle?: PushDisplayStyle | null;
    doNotDisturb?: { start: string; end: string } | null;
    pushName?: string | null;
  },
): Promise<PushSettingsView> {
  const { user } = requireUser(ctx);
  const data: {
    displayStyle?: PushDisplayStyle;
    dndStart?: number | null;
    dndEnd?: number | null;
    pushName?: string | null;
  } = {};
  if (input.displayStyle != null) data.displayStyle = input.displayStyle;
  if (input.doNotDisturb === null) Object.assign(data, { dndStart: null, dndEnd: null });
  else if (input.doNotDisturb !== undefined) {
    const start = minutes(input.doNotDisturb.start, "doNotDisturb.start");
    const end = minutes(input.doNotDisturb.end, "doNotDisturb.end");
    if (start === end) throw badInput("doNotDisturb must start and end at different times", "doNotDisturb");
    Object.assign(data, { dndStart: start, dndEnd: end });
  }
  if (input.pushName !== undefined) {
    const name =
      input.pushName === null ? "" : check.text(input.pushName, "pushName", { min: 0, max: PUSH_NAME_MAX });
    data.pushName = name || null;
  }
  const settings = await ctx.prisma.pushSettings.upsert({
    where: { userId: user.id },
    create: { userId: user.id, ...data },
    update: data,
  });
  return view(settings);
}

function minutes(raw: string, field: string): number {
  const match = TIME.exec(raw.trim());
  if (!match) throw badInput(`${field} must be a UTC time of day as HH:MM, e.g. 22:30`, field);
  return Number(match[1]) * 60 + Number(match[2]);
}

const hhmm = (minute: number) =>
  `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;

function view(settings: PushSettings | null): PushSettingsView {
  return {
    displayStyle: settings?.displayStyle ?? "SUMMARY",
    doNotDisturb:
      settings?.dndStart != null && settings.dndEnd != null
        ? { start: hhmm(settings.dndStart), end: hhmm(settings.dndEnd) }
        : null,
    pushName: settings?.pushName ?? null,
  };
}

export function pushConfig(ctx: Context): { providers: PushProvider[]; vapidPublicKey: string | null } {
  return {
    providers: configuredProviders(ctx.services.config),
    vapidPublicKey: ctx.services.config.push.vapid?.publicKey ?? null,
  };
}
