import type { Context, Services } from "../../context.js";
import { isUniqueViolation } from "../../db/errors.js";
import { sql } from "../../db/sql.js";
import { messageToWire } from "../../delivery/wire.js";
import { AppError, badInput } from "../../errors.js";
import type { MessageType, Prisma, User } from "../../generated/prisma/client.js";
import { countStored } from "../../metrics/registry.js";
import type { RoomPriority } from "../../pubsub/topics.js";
import { requireAdmin } from "../access.js";
import type { RoomTarget } from "../chats.js";
import { commandMessage } from "../commands.js";
import type { PreparedSend } from "../groups/messages.js";
import { speakRefusal } from "../groups/policy.js";
import { type BodyInput, checkMessageSize, type MessageRecord, prepareBody } from "../message-bodies.js";
import { requireInChat, requireUsersNamed } from "../users.js";
import * as check from "../validation.js";
import { findRoom, notRoomMember } from "./access.js";
import { LIMITS } from "./policy.js";
import { RoomNotes } from "./roster.js";

// Room messages: live to the members online, stored once for the room's recent history (the last
// ROOM_HISTORY_LIMIT), never per member, never unread, never replayed. Each room has a delivery
// budget (ROOM_MAX_MESSAGES_PER_SECOND, counted across instances): past half of it LOW messages
// are dropped, past all of it NORMAL ones; HIGH messages, the allow list and the app server are
// never dropped by it. A dropped message is not stored, and its sender is told (RATE_LIMITED).

/** Whether a message of this priority, the `count`th in the room this second, is over the budget. */
export function overBudget(priority: RoomPriority, count: number, budget: number): boolean {
  if (priority === "HIGH") return false;
  return count > (priority === "LOW" ? budget / 2 : budget);
}

async function spend(ctx: Context, roomId: string, priority: RoomPriority, exempt: boolean): Promise<void> {
  const second = Math.floor(Date.now() / 1000);
  const count = await ctx.services.rateLimiter.hit(`room-budget:${roomId}:${second}`, 2);
  if (exempt || !overBudget(priority, count, ctx.services.config.rooms.maxMessagesPerSecond)) return;
  throw new AppError(
    "RATE_LIMITED",
    `The room is over its delivery budget (ROOM_MAX_MESSAGES_PER_SECOND): this ${priority} message was dropped; HIGH messages are not`,
    { dropped: true, priority, retryAfterSeconds: 1 },
  );
}

/** Users named in mentions or targets must be members of the room. */
async function membersNamed(ctx: Context, roomId: string, usernames: readonly string[], field: string) {
  const users = await requireUsersNamed(ctx, usernames, field);
  return requireInChat(users, field, "room", async (ids) =>
    (
      await ctx.prisma.roomMember.findMany({
        where: { roomId, userId: { in: ids } },
        select: { userId: true },
      })
    ).map((row) => row.userId),
  );
}

export async function sendToRoom(
  ctx: Context,
  sender: User,
  target: RoomTarget,
  send: PreparedSend,
): Promise<MessageRecord> {
  const { input, prepared } = send;
  const roomId = target.chatId;
  if (input.requestReadReceipts) throw badInput("Room messages have no read receipts", "requestReadReceipts");
  const priority = (input.priority ?? "NORMAL") as RoomPriority;
  check.list(input.targets ?? [], "targets", LIMITS.targets);
  check.list(input.mentions ?? [], "mentions", LIMITS.batch);
  const member = await ctx.prisma.roomMember.findUnique({
    where: { roomId_userId: { roomId, userId: sender.id } },
  });
  if (send.screened) {
    if (!member) throw notRoomMember();
    if (speakRefusal(target.room, member)) throw new AppError("MUTED", "You are muted in this room");
  }
  const [targets, mentions] = await Promise.all([
    membersNamed(ctx, roomId, input.targets ?? [], "targets"),
    membersNamed(ctx, roomId, input.mentions ?? [], "mentions"),
  ]);
  // A retry of a message already stored gets it back, whatever the budget says now.
  const earlier = prepared.type === "COMMAND" ? null : await send.earlier();
  if (earlier) return earlier;
  await spend(ctx, roomId, priority, !send.screened || member?.allowListed === true);
  const fields = {
    chatId: roomId,
    chatType: "ROOM" as const,
    senderId: sender.id,
    clientMessageId: send.clientMessageId,
    mentions,
    mentionAll: input.mentionAll ?? false,
    requestReadReceipts: false,
    targets,
    ext: send.ext as Prisma.InputJsonObject,
  };
  let message: MessageRecord;
  if (prepared.type === "COMMAND") {
    message = (await commandMessage(ctx, { ...fields, recipientId: null, body: prepared.body })).record;
  } else {
    try {
      message = await ctx.prisma.message.create({
        data: {
          ...fields,
          type: prepared.type as MessageType,
          body: prepared.body as Prisma.InputJsonObject,
          attachmentIds: prepared.attachmentIds,
          searchText: prepared.searchText,
        },
      });
      countStored("room");
    } catch (error) {
      const first = isUniqueViolation(error) ? await send.earlier() : null;
      if (first) return first;
      throw error;
    }
  }
  const notes = new RoomNotes(ctx.services, roomId);
  notes.traffic({
    roomId,
    priority,
    createdAt: message.createdAt.toISOString(),
    message: messageToWire(message),
    ...(targets.length > 0 ? { audience: [...targets, sender.id] } : {}),
  });
  notes.send();
  return message;
}

// The app server's own account: broadcasts come from it. Its name is outside the usernames people
// can register (API.md: a-z 0-9 _ - .), so it can never be taken, signed in to or addressed.
const SYSTEM_USERNAME = "@system";

async function systemUser(ctx: Context): Promise<User> {
  return ctx.prisma.user.upsert({
    where: { username: SYSTEM_USERNAME },
    create: { username: SYSTEM_USERNAME, nickname: "System", passwordHash: "!" },
    update: {},
  });
}

/**
 * One message to every room (or those listed), from `from` or the system account: one row per room,
 * one publish per room. Rate-limited: LIMITS.broadcastsPerMinute for the whole app.
 */
export async function adminBroadcastToRooms(
  ctx: Context,
  input: {
    body: BodyInput;
    rooms?: readonly string[] | null;
    priority?: string | null;
    from?: string | null;
  },
): Promise<number> {
  requireAdmin(ctx);
  check.list(input.rooms ?? [], "rooms", LIMITS.broadcastRooms);
  if ((await ctx.services.rateLimiter.hit("room-broadcast", 60)) > LIMITS.broadcastsPerMinute) {
    const retryAfterSeconds = await ctx.services.rateLimiter.retryAfter("room-broadcast");
    throw new AppError("RATE_LIMITED", `At most ${LIMITS.broadcastsPerMinute} broadcasts a minute`, {
      retryAfterSeconds,
    });
  }
  const sender =
    input.from == null ? await systemUser(ctx) : (await requireUsersNamed(ctx, [input.from], "from"))[0]!;
  const prepared = await prepareBody(ctx, sender.id, input.body);
  if (prepared.type === "COMMAND") throw badInput("Broadcasts carry messages, not commands", "body");
  checkMessageSize(ctx, prepared.body, {});
  let roomIds: string[];
  if (input.rooms) {
    const listed = [...new Set(input.rooms)];
    const rooms = await Promise.all(listed.map((id) => findRoom(ctx, id)));
    roomIds = rooms.map((room) => room.id);
  } else {
    roomIds = (await ctx.prisma.room.findMany({ where: { destroyedAt: null }, select: { id: true } })).map(
      (r) => r.id,
    );
  }
  if (roomIds.length === 0) return 0;
  const priority = (input.priority ?? "HIGH") as RoomPriority;
  const rows = await ctx.services.db.query<{ message: Record<string, unknown> }>(
    sql`INSERT INTO "Message" ("chatId", "chatType", "senderId", type, body, "attachmentIds", "searchText", "createdAt")
      SELECT r, 'ROOM', ${sender.id}::uuid, ${prepared.type}::"MessageType", ${JSON.stringify(prepared.body)}::jsonb,
        ${prepared.attachmentIds}::uuid[], ${prepared.searchText}, now()
      FROM unnest(${roomIds}::uuid[]) AS r
      RETURNING to_jsonb("Message".*) || jsonb_build_object('id', id::text) AS message`,
  );
  countStored("room", rows.length);
  for (const { message } of rows) {
    const notes = new RoomNotes(ctx.services, message.chatId as string);
    notes.traffic({
      roomId: message.chatId as string,
      priority,
      createdAt: new Date().toISOString(),
      message,
    });
    notes.send();
  }
  return rows.length;
}

/** The oldest message id still in the room's history (ROOM_HISTORY_LIMIT), or 0 when it has fewer. */
export async function historyFloor(
  services: Pick<Services, "db" | "config">,
  roomId: string,
): Promise<bigint> {
  // Ordered by the bigint, not the text it is read back as (an alias would shadow it).
  const [row] = await services.db.query<{ floor: string }>(
    sql`SELECT m.id::text AS floor FROM "Message" m WHERE m."chatId" = ${roomId}::uuid
      ORDER BY m.id DESC OFFSET ${services.config.rooms.historyLimit - 1} LIMIT 1`,
  );
  return row ? BigInt(row.floor) : 0n;
}

/**
 * Drops room messages older than each room's history, for the rooms written since `after` (a
 * message id); returns the newest message id looked at, for the next round.
 */
export async function trimHistories(services: Services, after: bigint): Promise<bigint> {
  const rooms = await services.db.query<{ chatId: string; newest: string }>(
    sql`SELECT "chatId", max(id)::text AS newest FROM "Message"
      WHERE id > ${after.toString()}::bigint AND "chatType" = 'ROOM' GROUP BY "chatId"`,
  );
  let newest = after;
  for (const room of rooms) {
    const floor = await historyFloor(services, room.chatId);
    if (floor > 0n) {
      await services.db.query(
        // Only what adminMessageStats has counted (message-stats.ts); the rest at the room's next trim.
        sql`DELETE FROM "Message" WHERE "chatId" = ${room.chatId}::uuid AND id < ${floor.toString()}::bigint
          AND id <= (SELECT "rolledUpTo" FROM "MessageStatsWatermark" WHERE id = 1)`,
      );
    }
    if (BigInt(room.newest) > newest) newest = BigInt(room.newest);
  }
  return newest;
}
