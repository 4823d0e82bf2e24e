import { askPreSend } from "../callbacks/pre-send.js";
import type { Context } from "../context.js";
import { AppError } from "../errors.js";
import type { ChatType, User } from "../generated/prisma/client.js";
import type { Target } from "./chats.js";
import {
  checkMessageSize,
  customFields,
  MAX_TEXT_CHARACTERS,
  type PreparedBody,
  withSearchText,
} from "./message-bodies.js";
import { type Finding, moderate, recordFindings, type Where } from "./moderation/check.js";

// What a user's message goes through between being prepared and being stored: the moderation rules,
// then the app server's pre-send webhook. The app server's own sends (adminSendMessage) skip both.

export interface Outgoing {
  prepared: PreparedBody;
  ext: Record<string, unknown>;
  /** REPLACE and REVIEW matches, to record once the message is stored. */
  findings: Finding[];
}

export async function screenOutgoing(
  ctx: Context,
  sender: User,
  target: Target,
  outgoing: Omit<Outgoing, "findings">,
  clientMessageId: string | null,
): Promise<Outgoing> {
  const chatId = target.type === "DIRECT" ? null : target.chatId;
  const moderated = await moderateMessage(ctx, { userId: sender.id, chatId }, target.type, outgoing);
  if (!ctx.services.config.callbacks.preSendUrl) return moderated;
  return {
    ...(await preSend(ctx, sender, target, moderated, clientMessageId)),
    findings: moderated.findings,
  };
}

/** After the message is stored: the matches that let it through, for review. */
export async function recordOutgoing(ctx: Context, outgoing: Outgoing, where: Where): Promise<void> {
  if (outgoing.findings.length === 0) return;
  await recordFindings(ctx, outgoing.findings, where).catch((error: Error) =>
    ctx.services.log.warn("Moderation record failed", { error: error.message }),
  );
}

/** Text fields by the chat's kind, a custom message's fields and every ext string as CUSTOM_FIELDS. */
export async function moderateMessage(
  ctx: Context,
  where: Where,
  chatType: ChatType,
  { prepared, ext }: Omit<Outgoing, "findings">,
): Promise<Outgoing> {
  const findings: Finding[] = [];
  const body = { ...prepared.body };
  const textFields = { TEXT: ["text"], LOCATION: ["address"], COMBINED: ["title", "summary"] }[
    prepared.type as string
  ];
  for (const field of textFields ?? []) {
    if (typeof body[field] !== "string") continue;
    const result = await moderate(ctx, where, chatType, body[field] as string);
    body[field] = result.text;
    findings.push(...result.findings);
  }
  if (prepared.type === "CUSTOM") {
    body.fields = await moderateStrings(ctx, where, body.fields as Record<string, unknown>, findings);
  }
  const screenedExt = (await moderateStrings(ctx, where, ext, findings)) as Record<string, unknown>;
  if (findings.length === 0) return { prepared, ext, findings };
  return { prepared: withSearchText({ ...prepared, body }), ext: screenedExt, findings };
}

/** Every string in a JSON value, at any depth, under CUSTOM_FIELDS. */
async function moderateStrings(
  ctx: Context,
  where: Where,
  value: unknown,
  findings: Finding[],
): Promise<unknown> {
  if (typeof value === "string") {
    const result = await moderate(ctx, where, "CUSTOM_FIELDS", value);
    findings.push(...result.findings);
    return result.text;
  }
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const item of value) items.push(await moderateStrings(ctx, where, item, findings));
    return items;
  }
  if (value !== null && typeof value === "object") {
    const object: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      object[key] = await moderateStrings(ctx, where, item, findings);
    return object;
  }
  return value;
}

async function preSend(
  ctx: Context,
  sender: User,
  target: Target,
  { prepared, ext }: Outgoing,
  clientMessageId: string | null,
): Promise<Omit<Outgoing, "findings">> {
  const { config, log } = ctx.services;
  const to =
    target.type === "DIRECT"
      ? { user: target.peer.username }
      : { [target.type.toLowerCase()]: target.chatId };
  const verdict = await askPreSend(config.callbacks, log, {
    from: sender.username,
    to,
    type: prepared.type,
    body: prepared.body,
    ext,
    clientMessageId,
  });
  if (verdict.action === "pass") return { prepared, ext };
  if (verdict.action === "reject") throw new AppError("CONTENT_REJECTED", verdict.reason, { by: "app" });
  try {
    return rewritten(ctx, { prepared, ext }, verdict);
  } catch (error) {
    // The app's answer is the app's mistake: treated as the webhook failing.
    log.warn("Pre-send webhook's rewrite refused", { error: (error as Error).message });
    if (config.callbacks.preSendFailure === "open") return { prepared, ext };
    throw new AppError("CONTENT_REJECTED", "The message could not be checked; try again later", {
      by: "app",
    });
  }
}

/** The app may rewrite a text's text, a custom message's fields, and any message's ext. */
function rewritten(
  ctx: Context,
  { prepared, ext }: Omit<Outgoing, "findings">,
  change: { body?: Record<string, unknown>; ext?: Record<string, unknown> },
): Omit<Outgoing, "findings"> {
  let body = prepared.body;
  if (change.body) {
    if (prepared.type === "TEXT" && typeof change.body.text === "string") {
      const text = change.body.text;
      if (text.trim() === "" || [...text].length > MAX_TEXT_CHARACTERS)
        throw new Error("the rewritten text is empty or too long");
      body = { text };
    } else if (prepared.type === "CUSTOM") {
      body = { ...body, fields: customFields(change.body.fields) };
    } else {
      throw new Error(`a ${prepared.type} message's body cannot be rewritten`);
    }
  }
  const newExt = change.ext ?? ext;
  checkMessageSize(ctx, body, newExt);
  return { prepared: withSearchText({ ...prepared, body }), ext: newExt };
}
