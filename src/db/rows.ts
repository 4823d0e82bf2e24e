import type { Conversation, Device, Message, User } from "../generated/prisma/client.js";

// Rows read through Database.query, typed as Prisma returns them: bigint ids as bigint, every
// timestamp as a Date (PGlite and pg differ in what they hand back, and to_jsonb writes Prisma's
// UTC timestamps without a zone).

function withDates<T>(row: Record<string, unknown>, columns: readonly string[]): T {
  const typed: Record<string, unknown> = { ...row };
  for (const column of columns) {
    const value = row[column];
    typed[column] = value == null ? null : asDate(value as Date | string);
  }
  return typed as T;
}

/** A timestamp column's value as a Date, whichever form the driver handed back. */
export function asDate(value: Date | string): Date {
  if (value instanceof Date) return value;
  return new Date(/(Z|[+-]\d\d:?\d\d)$/.test(value) ? value : `${value}Z`);
}

export function deviceFromRow(row: Record<string, unknown>): Device {
  return withDates<Device>(row, ["createdAt", "lastSeenAt", "endedAt"]);
}

export function messageFromRow(row: Record<string, unknown>): Message {
  const message = withDates<Message>(row, [
    "createdAt",
    "editedAt",
    "recalledAt",
    "deliveredAt",
    "readAt",
    "importedAt",
  ]);
  message.id = BigInt(row.id as string | bigint);
  return message;
}

export function userFromRow(row: Record<string, unknown>): User {
  return withDates<User>(row, ["createdAt", "updatedAt", "bannedAt", "deletedAt"]);
}

export function conversationFromRow(row: Record<string, unknown>): Conversation {
  const conversation = withDates<Conversation>(row, ["activityAt", "pinnedAt", "deletedAt", "updatedAt"]);
  conversation.readUpToId = BigInt(row.readUpToId as string | bigint);
  conversation.clearedUpToId = BigInt(row.clearedUpToId as string | bigint);
  conversation.lastMessageId =
    row.lastMessageId == null ? null : BigInt(row.lastMessageId as string | bigint);
  return conversation;
}
