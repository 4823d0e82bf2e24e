import { createHmac, timingSafeEqual } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Context, Services } from "../context.js";
import { messageFromRow } from "../db/rows.js";
import { sql } from "../db/sql.js";
import { badInput, notFound } from "../errors.js";
import type { Message } from "../generated/prisma/client.js";
import { requireAdmin } from "./access.js";
import type { ChatTargetInput } from "./chats.js";
import { directKey } from "./direct-chats.js";
import * as check from "./validation.js";

// adminExportConversation: a conversation's whole history as JSON lines. GraphQL answers with one
// document, so the query hands out a short-lived link, signed with the instances' shared key, and a
// plain HTTP route streams the file: a page of messages at a time by id (keyset), written as the
// client reads (a page waits while the socket is backed up), so an export of any size holds one page.

export const EXPORT_PATH = "/exports/";
const LINK_SECONDS = 600;
const PAGE = 500;

export interface ConversationExport {
  url: string;
  expiresAt: Date;
}

/**
 * A link to the history of a group, thread or room, or (with `user`) of the direct chat between
 * `user` and `conversation.user`.
 */
export async function adminExportConversation(
  ctx: Context,
  args: { conversation: ChatTargetInput; user?: string | null },
): Promise<ConversationExport> {
  requireAdmin(ctx);
  const chatId = await exportedChat(ctx, args);
  const expires = Math.floor(Date.now() / 1000) + LINK_SECONDS;
  const query = new URLSearchParams({ expires: String(expires), sig: sign(ctx.services, chatId, expires) });
  return {
    url: `${ctx.services.config.publicUrl ?? ""}${EXPORT_PATH}${chatId}.ndjson?${query}`,
    expiresAt: new Date(expires * 1000),
  };
}

async function exportedChat(
  ctx: Context,
  { conversation, user }: { conversation: ChatTargetInput; user?: string | null },
): Promise<string> {
  if (conversation.user != null) {
    if (user == null) throw badInput("A direct chat has two sides: name the other one with user", "user");
    const names = [conversation.user, user].map((name) => check.maybeUsername(name) ?? "");
    const found = await ctx.prisma.user.findMany({ where: { username: { in: names }, deletedAt: null } });
    for (const [i, name] of names.entries()) {
      if (!found.some((row) => row.username === name)) {
        throw notFound(`No user named "${[conversation.user, user][i]}"`);
      }
    }
    if (found.length < 2) throw badInput("A direct chat needs two different users", "user");
    const chat = await ctx.prisma.chat.findUnique({
      where: { directKey: directKey([found[0]!.id, found[1]!.id]) },
    });
    if (!chat) throw notFound(`"${names[0]}" and "${names[1]}" have no conversation`);
    return chat.id;
  }
  if (user != null)
    throw badInput("user is for direct chats: conversation names a group, thread or room", "user");
  // Destroyed ones too: their history is still stored, and may be what the app server is after.
  const id = conversation.group ?? conversation.thread ?? conversation.room ?? "";
  const chat = check.isId(id) ? await ctx.prisma.chat.findUnique({ where: { id } }) : null;
  const kind = conversation.group != null ? "GROUP" : conversation.thread != null ? "THREAD" : "ROOM";
  if (chat?.type !== kind) throw notFound(`No ${kind.toLowerCase()} with id "${id}"`);
  return chat.id;
}

function sign(services: Pick<Services, "urlSigningKey">, chatId: string, expires: number): string {
  // Its own purpose in the signed text: an attachment link's signature is never an export's.
  return createHmac("sha256", services.urlSigningKey)
    .update(`conversation-export\n${chatId}\n${expires}`)
    .digest("hex");
}

/** Serves GET /exports/<chatId>.ndjson?expires&sig: one message a line, oldest first. */
export async function serveExport(services: Services, url: URL, res: ServerResponse): Promise<void> {
  const chatId = url.pathname.slice(EXPORT_PATH.length).replace(/\.ndjson$/, "");
  const expires = Number(url.searchParams.get("expires"));
  const given = Buffer.from(url.searchParams.get("sig") ?? "", "hex");
  const valid =
    check.isId(chatId) &&
    Number.isInteger(expires) &&
    given.length === 32 &&
    timingSafeEqual(given, Buffer.from(sign(services, chatId, expires), "hex"));
  if (!valid) return plain(res, 403, "Invalid export link");
  if (expires * 1000 < Date.now()) {
    return plain(res, 403, "This export link has expired; ask adminExportConversation for a new one");
  }
  res.writeHead(200, {
    "content-type": "application/x-ndjson; charset=utf-8",
    "content-disposition": `attachment; filename="conversation-${chatId}.ndjson"`,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  let gone = false;
  res.once("close", () => {
    gone = true;
  });
  let after = 0n;
  while (!gone) {
    const rows = await services.db.query<{ message: Record<string, unknown> }>(sql`
      SELECT to_jsonb(m) AS message FROM "Message" m
      WHERE m."chatId" = ${chatId}::uuid AND m.id > ${after.toString()}::bigint
      ORDER BY m.id LIMIT ${PAGE}`);
    const messages = rows.map((row) => messageFromRow(row.message));
    const users = await usernames(services, messages);
    for (const message of messages) {
      if (gone) break;
      // Waits while the client is behind: the next page is not read until this one has gone out.
      if (!res.write(`${JSON.stringify(exportLine(message, users))}\n`)) await drained(res);
    }
    if (messages.length < PAGE) break;
    after = messages.at(-1)!.id;
  }
  if (!gone) res.end();
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

async function usernames(services: Services, messages: Message[]): Promise<Map<string, string>> {
  const ids = new Set<string>();
  for (const message of messages) {
    ids.add(message.senderId);
    if (message.recipientId) ids.add(message.recipientId);
    for (const id of [...message.mentions, ...message.targets]) ids.add(id);
  }
  if (ids.size === 0) return new Map();
  const rows = await services.db.query<{ id: string; username: string }>(
    sql`SELECT id, username FROM "User" WHERE id = ANY(${[...ids]}::uuid[])`,
  );
  return new Map(rows.map((row) => [row.id, row.username]));
}

const BODY_TYPENAMES: Record<Message["type"], string> = {
  TEXT: "TextBody",
  IMAGE: "ImageBody",
  VOICE: "VoiceBody",
  VIDEO: "VideoBody",
  FILE: "FileBody",
  LOCATION: "LocationBody",
  CUSTOM: "CustomBody",
  COMBINED: "CombinedBody",
};

/** A message as the API's Message shows it, as far as a file can: users by id and username. */
export function exportLine(message: Message, users: Map<string, string>): Record<string, unknown> {
  const user = (id: string) => ({ id, username: users.get(id) ?? null });
  const to =
    message.chatType === "DIRECT"
      ? message.recipientId && { __typename: "User", ...user(message.recipientId) }
      : {
          __typename:
            message.chatType === "GROUP" ? "Group" : message.chatType === "THREAD" ? "Thread" : "Room",
          id: message.chatId,
        };
  const iso = (date: Date | null) => date?.toISOString() ?? null;
  return {
    id: message.id.toString(),
    clientMessageId: message.clientMessageId,
    chatType: message.chatType,
    type: message.type,
    from: user(message.senderId),
    to,
    body:
      message.recalledAt || !message.body
        ? null
        : { __typename: BODY_TYPENAMES[message.type], ...(message.body as Record<string, unknown>) },
    ext: message.ext,
    mentions: message.mentions.map(user),
    mentionAll: message.mentionAll,
    targets: message.targets.map(user),
    requestReadReceipts: message.requestReadReceipts,
    createdAt: iso(message.createdAt),
    editedAt: iso(message.editedAt),
    editCount: message.editCount,
    recalled: message.recalledAt !== null,
    recalledAt: iso(message.recalledAt),
    deliveredAt: iso(message.deliveredAt),
    readAt: iso(message.readAt),
    importedAt: iso(message.importedAt),
  };
}

function plain(res: ServerResponse, status: number, text: string) {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(text);
}
