import { messageFromRow } from "../db/rows.js";
import type { MessageRecord } from "./message-bodies.js";

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
