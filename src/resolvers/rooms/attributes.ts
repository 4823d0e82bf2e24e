import type { Context } from "../../context.js";
import { AppError, badInput, forbidden } from "../../errors.js";
import { actorId } from "../groups/access.js";
import { manages } from "../groups/policy.js";
import * as check from "../validation.js";
import { requireRoomMember } from "./access.js";
import { LIMITS } from "./policy.js";
import { changeRoom, type RoomWrite, roomMembersAmong } from "./roster.js";

// Room attributes: a small key-value map per room (what voice rooms build mic seats on). A key
// belongs to whoever set it; only the owner and admins (and the app server) may take another's, and
// only when they say `overwrite`. Each call is all or nothing, judged under the room's lock: two
// members racing for the same free key get one winner and one CONFLICT.

export type Attributes = Record<string, string>;

function checkKey(key: string, field: string): string {
  const bytes = Buffer.byteLength(key);
  if (bytes === 0 || bytes > LIMITS.attributeKeyBytes) {
    throw badInput(
      `Attribute keys are 1 to ${LIMITS.attributeKeyBytes} bytes; "${key.slice(0, 40)}" is ${bytes}`,
      field,
    );
  }
  return key;
}

function checkValue(key: string, value: unknown): string {
  if (typeof value !== "string") throw badInput(`The value of "${key}" must be a string`, "attributes");
  const bytes = Buffer.byteLength(value);
  if (bytes > LIMITS.attributeValueBytes) {
    throw new AppError(
      "LIMIT_EXCEEDED",
      `The value of "${key}" is ${bytes} bytes; at most ${LIMITS.attributeValueBytes}`,
      {
        field: "attributes",
      },
    );
  }
  return value;
}

function checkCount(count: number, field: string) {
  if (count === 0) throw badInput(`${field} must name at least one key`, field);
  if (count > LIMITS.attributesPerCall) {
    throw new AppError("LIMIT_EXCEEDED", `At most ${LIMITS.attributesPerCall} keys per call; got ${count}`, {
      field,
    });
  }
}

async function all(write: Pick<RoomWrite, "tx" | "room">): Promise<Attributes> {
  const rows = await write.tx.roomAttribute.findMany({
    where: { roomId: write.room.id },
    orderBy: { key: "asc" },
  });
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
}

/**
 * Refuses keys owned by someone else unless the caller runs the room and said `overwrite`. The
 * caller's membership is read under the lock: it may have ended since they were checked.
 */
async function requireMayChange(ctx: Context, write: RoomWrite, keys: string[], overwrite: boolean) {
  const self = actorId(ctx);
  let runsRoom = self === null;
  if (self) {
    const member = (await roomMembersAmong(write, [self])).get(self);
    if (!member) throw new AppError("NOT_MEMBER", "You are not a member of this room: joinRoom first");
    runsRoom = manages(member);
  }
  // Keys the app server set (no owner) are not a member's either.
  const theirs =
    self === null ? { ownerId: { not: null } } : { OR: [{ ownerId: null }, { ownerId: { not: self } }] };
  const taken = await write.tx.roomAttribute.findMany({
    where: { roomId: write.room.id, key: { in: keys }, ...theirs },
    select: { key: true },
  });
  if (taken.length === 0) return;
  const names = taken.map((row) => `"${row.key}"`).join(", ");
  if (!overwrite)
    throw new AppError("CONFLICT", `${names} belong to another member (an admin may overwrite)`);
  if (!runsRoom)
    throw forbidden("Only the room's owner and admins can overwrite another member's attributes");
}

export async function setRoomAttributes(
  ctx: Context,
  id: string,
  input: { attributes?: unknown; autoDelete?: boolean | null; overwrite?: boolean | null },
): Promise<Attributes> {
  const { room } = await requireRoomMember(ctx, id);
  const given = check.jsonObject(
    input.attributes,
    "attributes",
    LIMITS.attributesPerCall * (LIMITS.attributeValueBytes + LIMITS.attributeKeyBytes + 8),
  );
  const entries = Object.entries(given).map(
    ([key, value]) => [checkKey(key, "attributes"), checkValue(key, value)] as const,
  );
  checkCount(entries.length, "attributes");
  const keys = entries.map(([key]) => key);
  const ownerId = actorId(ctx);
  return changeRoom(ctx, room.id, async (write) => {
    await requireMayChange(ctx, write, keys, input.overwrite ?? false);
    const existing = await write.tx.roomAttribute.count({ where: { roomId: room.id, key: { notIn: keys } } });
    if (existing + keys.length > LIMITS.attributes) {
      throw new AppError("LIMIT_EXCEEDED", `A room has at most ${LIMITS.attributes} attributes`, {
        field: "attributes",
      });
    }
    for (const [key, value] of entries) {
      const data = { value, ownerId, autoDelete: input.autoDelete ?? false };
      await write.tx.roomAttribute.upsert({
        where: { roomId_key: { roomId: room.id, key } },
        create: { roomId: room.id, key, ...data },
        update: data,
      });
    }
    write.notes.event("ATTRIBUTES_CHANGED", ownerId, [], Object.fromEntries(entries));
    return all(write);
  });
}

export async function removeRoomAttributes(
  ctx: Context,
  id: string,
  input: { keys: readonly string[]; overwrite?: boolean | null },
): Promise<Attributes> {
  const { room } = await requireRoomMember(ctx, id);
  const keys = [...new Set(input.keys.map((key) => checkKey(key, "keys")))];
  checkCount(keys.length, "keys");
  return changeRoom(ctx, room.id, async (write) => {
    await requireMayChange(ctx, write, keys, input.overwrite ?? false);
    const present = await write.tx.roomAttribute.findMany({
      where: { roomId: room.id, key: { in: keys } },
      select: { key: true },
    });
    if (present.length > 0) {
      await write.tx.roomAttribute.deleteMany({
        where: { roomId: room.id, key: { in: present.map((row) => row.key) } },
      });
      write.notes.event(
        "ATTRIBUTES_CHANGED",
        actorId(ctx),
        [],
        Object.fromEntries(present.map((row) => [row.key, null])),
      );
    }
    return all(write);
  });
}

/** The room's attributes (only `keys`, when given): for its members and the app server. */
export async function roomAttributes(ctx: Context, id: string, keys: readonly string[] | null | undefined) {
  const { room } = await requireRoomMember(ctx, id);
  const rows = await ctx.prisma.roomAttribute.findMany({
    where: { roomId: room.id, ...(keys ? { key: { in: [...keys] } } : {}) },
    orderBy: { key: "asc" },
  });
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
}
