import type { Context } from "../context.js";
import type { Prisma } from "../generated/prisma/client.js";
import type { EphemeralMessage } from "../pubsub/topics.js";
import { messageToWire } from "./message-wire.js";
import type { MessageRecord } from "./messages.js";

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
}

export async function sendCommand(ctx: Context, fields: CommandFields): Promise<MessageRecord> {
  const [row] = await ctx.prisma.$queryRaw<{ id: bigint }[]>`
    SELECT nextval(pg_get_serial_sequence('"Message"', 'id')) AS id`;
  const message: MessageRecord = {
    ...fields,
    ext: fields.ext as MessageRecord["ext"],
    body: fields.body as MessageRecord["body"],
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
  };
  const payload: EphemeralMessage = {
    kind: "COMMAND",
    payload: messageToWire(message),
    createdAt: message.createdAt.toISOString(),
  };
  const recipients = new Set([fields.senderId, ...(fields.recipientId ? [fields.recipientId] : [])]);
  for (const userId of recipients) ctx.services.pubsub.publish("ephemeral", userId, payload);
  return message;
}
