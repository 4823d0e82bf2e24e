import type { Context } from "../context.js";
import { AppError, badInput, notFound } from "../errors.js";
import type { MessageType } from "../generated/prisma/client.js";
import { canReadAttachment } from "./attachments.js";
import * as check from "./validation.js";
import { visibleMessages } from "./visibility.js";

// Message bodies: the one-of input, checked and turned into the JSON stored in Message.body.

export interface BodyInput {
  text?: { text: string } | null;
  image?: { attachmentId: string; width?: number | null; height?: number | null } | null;
  voice?: { attachmentId: string; duration?: number | null } | null;
  video?: {
    attachmentId: string;
    duration?: number | null;
    width?: number | null;
    height?: number | null;
  } | null;
  file?: { attachmentId: string } | null;
  location?: { latitude: number; longitude: number; address?: string | null } | null;
  command?: { action: string; params?: unknown } | null;
  custom?: { event: string; fields?: unknown } | null;
  combined?: { title: string; summary?: string | null; messageIds: readonly string[] } | null;
}

export type BodyType = MessageType | "COMMAND";

export type { MessageRecord } from "../delivery/wire.js";

export interface PreparedBody {
  type: BodyType;
  body: Record<string, unknown>;
  /** What readers of the message may download. */
  attachmentIds: string[];
  /** Plain text for search. */
  searchText: string | null;
}

export const MAX_TEXT_CHARACTERS = 5000;
const MAX_COMBINED = 300;
const MAX_CUSTOM_FIELDS = 16;
const CUSTOM_EVENT = /^[A-Za-z0-9\-_/.]{1,32}$/;

const KEYS = [
  "text",
  "image",
  "voice",
  "video",
  "file",
  "location",
  "command",
  "custom",
  "combined",
] as const;

export function bodyType(input: BodyInput): BodyType {
  const set = KEYS.filter((key) => input[key] != null);
  if (set.length !== 1) throw badInput(`body takes exactly one of ${KEYS.join(", ")}`, "body");
  return set[0]!.toUpperCase() as BodyType;
}

export async function prepareBody(ctx: Context, userId: string, input: BodyInput): Promise<PreparedBody> {
  const type = bodyType(input);
  const plain = (body: Record<string, unknown>): PreparedBody =>
    withSearchText({ type, body, attachmentIds: [], searchText: null });
  switch (type) {
    case "TEXT": {
      const text = input.text!.text;
      if ([...text].length > MAX_TEXT_CHARACTERS) {
        throw new AppError("LIMIT_EXCEEDED", `text is at most ${MAX_TEXT_CHARACTERS} characters`, {
          field: "text",
        });
      }
      if (text.trim() === "") throw badInput("text must not be empty", "text");
      return plain({ text });
    }
    case "IMAGE":
    case "VOICE":
    case "VIDEO":
    case "FILE": {
      const media = (input.image ?? input.voice ?? input.video ?? input.file)!;
      const attachment = await readableAttachment(ctx, userId, media.attachmentId);
      const body: Record<string, unknown> = { attachmentId: attachment.id };
      for (const key of ["width", "height", "duration"] as const) {
        const value = (media as unknown as Record<string, number | null | undefined>)[key];
        if (value == null) continue;
        if (!Number.isInteger(value) || value < 0)
          throw badInput(`${key} must be a non-negative integer`, key);
        body[key] = value;
      }
      return { type, body, attachmentIds: [attachment.id], searchText: attachment.name };
    }
    case "LOCATION": {
      const { latitude, longitude, address } = input.location!;
      if (!(Math.abs(latitude) <= 90)) throw badInput("latitude must be from -90 to 90", "latitude");
      if (!(Math.abs(longitude) <= 180)) throw badInput("longitude must be from -180 to 180", "longitude");
      const place = address == null ? null : check.text(address, "address", { min: 0, max: 500 });
      return plain({ latitude, longitude, address: place });
    }
    case "COMMAND": {
      const { action, params } = input.command!;
      return plain({
        action: check.text(action, "action", { max: 128 }),
        params: params == null ? {} : check.jsonObject(params, "params", ctx.services.config.maxMessageBytes),
      });
    }
    case "CUSTOM": {
      const { event, fields } = input.custom!;
      if (!CUSTOM_EVENT.test(event)) {
        throw badInput("event must be 1-32 characters of A-Z, a-z, 0-9, '-', '_', '/' and '.'", "event");
      }
      const values = customFields(fields);
      return plain({ event, fields: values });
    }
    case "COMBINED": {
      const { title, summary, messageIds } = input.combined!;
      check.list(messageIds, "messageIds", MAX_COMBINED);
      if (messageIds.length === 0) throw badInput("messageIds must name at least one message", "messageIds");
      const ids = [...new Set(messageIds)];
      const found = await visibleMessages(ctx, userId, ids);
      const missing = ids.filter((id) => !found.has(id));
      if (missing.length > 0)
        throw notFound(`No message ${missing.slice(0, 5).join(", ")} that you can forward`);
      const cleanTitle = check.text(title, "title", { max: 128 });
      const cleanSummary = summary == null ? null : check.text(summary, "summary", { min: 0, max: 1000 });
      return withSearchText({
        type,
        body: { title: cleanTitle, summary: cleanSummary, messageIds: ids },
        attachmentIds: [...new Set([...found.values()].flatMap((message) => message.attachmentIds))],
        searchText: null,
      });
    }
  }
}

export function customFields(raw: unknown): Record<string, string> {
  if (raw == null) return {};
  const fields = check.jsonObject(raw, "fields", Number.MAX_SAFE_INTEGER);
  const entries = Object.entries(fields);
  if (entries.length > MAX_CUSTOM_FIELDS) {
    throw new AppError("LIMIT_EXCEEDED", `fields takes at most ${MAX_CUSTOM_FIELDS} entries`, {
      field: "fields",
    });
  }
  for (const [key, value] of entries) {
    if (typeof value !== "string") throw badInput(`fields.${key} must be a string`, "fields");
  }
  return fields as Record<string, string>;
}

/**
 * The words search finds a message by, from its body; used again after the text changed (masked by
 * moderation, rewritten by the app). A file's name, which its body does not hold, is kept as it is.
 */
export function withSearchText(prepared: PreparedBody): PreparedBody {
  const body = prepared.body as Record<string, string | null | Record<string, string>>;
  switch (prepared.type) {
    case "TEXT":
      return { ...prepared, searchText: body.text as string };
    case "LOCATION":
      return { ...prepared, searchText: body.address as string | null };
    case "CUSTOM":
      return {
        ...prepared,
        searchText: [body.event, ...Object.values(body.fields as Record<string, string>)].join(" "),
      };
    case "COMBINED":
      return { ...prepared, searchText: [body.title, body.summary].filter(Boolean).join(" ") };
    default:
      return prepared;
  }
}

async function readableAttachment(ctx: Context, userId: string, id: string) {
  const attachment = check.isId(id) ? await ctx.prisma.attachment.findUnique({ where: { id } }) : null;
  if (!attachment || !(await canReadAttachment(ctx.services, userId, attachment))) {
    throw notFound(`No attachment "${id}"; upload it with uploadFile first`);
  }
  return attachment;
}

/** The serialized message (body and ext, attachments excluded) against MAX_MESSAGE_BYTES. */
export function checkMessageSize(ctx: Context, body: Record<string, unknown>, ext: Record<string, unknown>) {
  const bytes = Buffer.byteLength(JSON.stringify(body)) + Buffer.byteLength(JSON.stringify(ext));
  const max = ctx.services.config.maxMessageBytes;
  if (bytes > max) {
    throw new AppError("LIMIT_EXCEEDED", `The message is ${bytes} bytes; at most ${max} are allowed`, {
      field: "body",
    });
  }
}
