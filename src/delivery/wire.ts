import { messageFromRow } from "../db/rows.js";
import type { Message, MessageType } from "../generated/prisma/client.js";

/** A message as it is delivered and rendered; commands are never stored, hence the wider type. */
export type MessageRecord = Omit<Message, "type"> & { type: MessageType | "COMMAND" };

// Messages cross the pubsub as JSON (between instances over Redis): bigints and dates as strings,
// turned back the way rows read through the driver are.

export function messageToWire(message: MessageRecord): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(message, (_key, value) => (typeof value === "bigint" ? String(value) : value)),
  );
}

export function messageFromWire(wire: Record<string, unknown>): MessageRecord {
  return messageFromRow(wire) as MessageRecord;
}
