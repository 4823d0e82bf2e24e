import type { Context, Services } from "../context.js";
import { AppError, badInput } from "../errors.js";
import type { Prisma, User } from "../generated/prisma/client.js";
import type { PresencePayload } from "../pubsub/topics.js";
import { requireUser } from "./access.js";
import { findUsers } from "./accounts.js";
import type { PresenceView } from "./presence-view.js";
import { lockUser } from "./sessions.js";
import { type NodePage, usernameCursor, usernamePage } from "./user-pages.js";
import { requireUsersNamed } from "./users.js";
import * as check from "./validation.js";

// Presence: whether a user is online (the presence store: any device with a graphql-ws connection),
// plus the custom status they publish. Subscribers get a PresenceEvent on each change, nobody else;
// a user someone blocked looks offline to them and never reaches them.

const STATUS_MAX = 64;
const EXT_MAX_BYTES = 1024;
const SUBSCRIBE_PER_CALL = 100;
const MAX_PRESENCE_SUBSCRIPTIONS = 3000;
const MAX_EXPIRY_SECONDS = 30 * 86_400;

/** presence(usernames): up to 100; names that match no one are left out. */
export async function presence(ctx: Context, usernames: readonly string[]): Promise<PresenceView[]> {
  requireUser(ctx);
  const users = await findUsers(ctx, usernames);
  return ctx.loaders.presence.loadMany(users.map((user) => user.id)) as Promise<PresenceView[]>;
}

/** Sets the caller's custom status (null clears it) and tells their subscribers. */
export async function publishPresence(
  ctx: Context,
  input: { status?: string | null; ext?: unknown },
): Promise<PresenceView> {
  const { user } = requireUser(ctx);
  const status =
    input.status == null ? null : check.text(input.status, "status", { min: 0, max: STATUS_MAX });
  const ext = input.ext == null ? {} : check.jsonObject(input.ext, "ext", EXT_MAX_BYTES);
  const fields = { status: status || null, ext: ext as Prisma.InputJsonObject };
  await ctx.prisma.userPresence.upsert({
    where: { userId: user.id },
    create: { userId: user.id, ...fields },
    update: fields,
  });
  await announcePresence(ctx.services, user.id);
  return ctx.loaders.presence.load(user.id);
}

/**
 * Subscribes the caller to these users' presence for expirySeconds (again: the expiry is renewed)
 * and returns their presence now. All or nothing: an unknown name or going over 3,000 changes nothing.
 */
export async function subscribePresence(
  ctx: Context,
  input: { usernames: readonly string[]; expirySeconds?: number | null },
): Promise<PresenceView[]> {
  const { user: me } = requireUser(ctx);
  check.list(input.usernames, "usernames", SUBSCRIBE_PER_CALL);
  const seconds = input.expirySeconds ?? MAX_EXPIRY_SECONDS;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_EXPIRY_SECONDS) {
    throw badInput(`expirySeconds must be from 1 to ${MAX_EXPIRY_SECONDS} (30 days)`, "expirySeconds");
  }
  const targets = await requireUsersNamed(ctx, input.usernames);
  if (targets.length === 0) return [];
  const expiresAt = new Date(Date.now() + seconds * 1000);
  await ctx.prisma.$transaction(async (tx) => {
    await lockUser(tx, me.id); // serializes this user's subscription changes, so the count below holds
    await tx.presenceSubscription.deleteMany({
      where: { subscriberId: me.id, expiresAt: { lte: new Date() } },
    });
    await tx.$executeRaw`
      INSERT INTO "PresenceSubscription" ("subscriberId", "targetId", "expiresAt")
      SELECT ${me.id}::uuid, id, ${expiresAt} FROM unnest(${targets.map((user) => user.id)}::uuid[]) AS id
      ON CONFLICT ("subscriberId", "targetId") DO UPDATE SET "expiresAt" = EXCLUDED."expiresAt"`;
    const total = await tx.presenceSubscription.count({ where: { subscriberId: me.id } });
    if (total > MAX_PRESENCE_SUBSCRIPTIONS) {
      throw new AppError(
        "LIMIT_EXCEEDED",
        `You can follow the presence of at most ${MAX_PRESENCE_SUBSCRIPTIONS} users; this would make ${total}`,
        { field: "usernames" },
      );
    }
  });
  for (const target of targets) ctx.loaders.users.prime(target.id, target);
  return ctx.loaders.presence.loadMany(targets.map((user) => user.id)) as Promise<PresenceView[]>;
}

export async function unsubscribePresence(ctx: Context, usernames: readonly string[]): Promise<boolean> {
  const { user: me } = requireUser(ctx);
  check.list(usernames, "usernames", SUBSCRIBE_PER_CALL);
  const names = usernames.map(check.maybeUsername).filter((name): name is string => name !== undefined);
  await ctx.prisma.presenceSubscription.deleteMany({
    where: { subscriberId: me.id, target: { username: { in: names } } },
  });
  return true;
}

export interface PresenceSubscriptionView {
  target: User;
  expiresAt: Date;
}

export const subscriptionCursor = (subscription: PresenceSubscriptionView) =>
  usernameCursor(subscription.target.username);

/** The caller's live subscriptions, by username. */
export async function presenceSubscriptions(
  ctx: Context,
  args: { first?: number | null; after?: string | null },
): Promise<NodePage<PresenceSubscriptionView>> {
  const { user: me } = requireUser(ctx);
  const { take, user, page } = usernamePage(args);
  const rows = await ctx.prisma.presenceSubscription.findMany({
    where: { subscriberId: me.id, expiresAt: { gt: new Date() }, target: user },
    orderBy: { target: { username: "asc" } },
    include: { target: true },
    take,
  });
  for (const row of rows) ctx.loaders.users.prime(row.target.id, row.target);
  return page(rows);
}

/**
 * Tells the user's subscribers (those who have not blocked them) what their presence is now. It
 * reads the state afresh rather than trusting the change that triggered it, so announcements that
 * race each other still leave every subscriber with the latest state.
 */
export async function announcePresence(services: Services, userId: string): Promise<void> {
  const { prisma } = services;
  // Most users have no subscriber: one query, and nothing more, for them.
  const subscribers = await prisma.presenceSubscription.findMany({
    where: {
      targetId: userId,
      expiresAt: { gt: new Date() },
      subscriber: { blocks: { none: { blockedId: userId } } },
    },
    select: { subscriberId: true },
  });
  if (subscribers.length === 0) return;
  const [online, custom, lastSeen] = await Promise.all([
    services.presence.onlineDevices([userId]),
    prisma.userPresence.findUnique({ where: { userId } }),
    prisma.device.aggregate({ where: { userId }, _max: { lastSeenAt: true } }),
  ]);
  const payload: PresencePayload = {
    userId,
    online: online.has(userId),
    status: custom?.status ?? null,
    ext: (custom?.ext as Record<string, unknown> | undefined) ?? {},
    lastSeenAt: lastSeen._max.lastSeenAt?.toISOString() ?? null,
  };
  const createdAt = new Date().toISOString();
  for (const { subscriberId } of subscribers) {
    services.pubsub.publish("ephemeral", subscriberId, { kind: "PRESENCE", payload, createdAt });
  }
}

/** Drops expired subscriptions (the retention job). */
export async function pruneSubscriptions(services: Services): Promise<number> {
  const { count } = await services.prisma.presenceSubscription.deleteMany({
    where: { expiresAt: { lte: new Date() } },
  });
  return count;
}
