import type { MessageRecord } from "./messages.js";

// Messages cross the pubsub as JSON (between instances over Redis): bigints and dates as strings.

const DATES = ["createdAt", "editedAt", "recalledAt", "deliveredAt", "readAt"] as const;

export function messageToWire(message: MessageRecord): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(message, (_key, value) => (typeof value === "bigint" ? String(value) : value)),
  );
}

export function messageFromWire(wire: Record<string, unknown>): MessageRecord {
  const message = { ...wire, id: BigInt(wire.id as string) } as Record<string, unknown>;
  for (const key of DATES) message[key] = wire[key] == null ? null : new Date(wire[key] as string);
  return message as unknown as MessageRecord;
}
