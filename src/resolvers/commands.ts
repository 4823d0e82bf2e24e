import type { Context } from "../context.js";
import { messageToWire } from "../delivery/wire.js";
import type { Prisma } from "../generated/prisma/client.js";
import type { EphemeralMessage } from "../pubsub/topics.js";
import type { MessageRecord } from "./message-bodies.js";

// Command messages are transparent signals between apps: delivered to the devices online now, never
// stored, never replayed. They still get an id from the message sequence, so ids stay unique.

interface CommandFields {
  chatId: string;
  chatType: MessageRecord["chatType"];
  senderId: string;
  recipientId: string | null;
  clientMessageId: string | null;
  ext: Prisma.InputJsonObject;
  mentions: string[];
  mentionAll: boolean;
  requestReadReceipts: boolean;
  body: Record<string, unknown>;
  targets?: string[];
}

/** The command as a message, and as it crosses the pubsub. */
export async function commandMessage(
  ctx: Context,
  fields: CommandFields,
): Promise<{ record: MessageRecord; wire: Record<string, unknown> }> {
  const [row] = await ctx.prisma.$queryRaw<{ id: bigint }[]>`
    SELECT nextval(pg_get_serial_sequence('"Message"', 'id')) AS id`;
  const record: MessageRecord = {
    ...fields,
    ext: fields.ext as MessageRecord["ext"],
    body: fields.body as MessageRecord["body"],
    targets: fields.targets ?? [],
    id: BigInt(row!.id),
    type: "COMMAND",
    attachmentIds: [],
    createdAt: new Date(),
    editedAt: null,
    editCount: 0,
    recalledAt: null,
    recalledById: null,
    deliveredAt: null,
    readAt: null,
    searchText: null,
    importedAt: null,
  };
  return { record, wire: messageToWire(record) };
}

/** A direct command: to the devices of both sides online now. */
export async function sendCommand(ctx: Context, fields: CommandFields): Promise<MessageRecord> {
  const { record, wire } = await commandMessage(ctx, fields);
  const payload: EphemeralMessage = {
    kind: "COMMAND",
    payload: wire,
    createdAt: record.createdAt.toISOString(),
  };
  const recipients = new Set([fields.senderId, ...(fields.recipientId ? [fields.recipientId] : [])]);
  for (const userId of recipients) ctx.services.pubsub.publish("ephemeral", userId, payload);
  return record;
}
