import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { rename, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import send from "send";
import type { Context, Services } from "../context.js";
import { fragment, sql } from "../db/sql.js";
import type { Attachment } from "../generated/prisma/client.js";
import { type SpooledFile, uploadTooLarge } from "../http/spooled-uploads.js";
import { consumeLimit } from "../security/abuse-limits.js";
import { requireUser } from "./access.js";
import { inHistorySql, readableSql } from "./visibility.js";

// Uploaded files: kept on disk under ATTACHMENTS_DIR by id, described by an Attachment row, and
// handed out as signed URLs. A URL is signed for one user, who could see the file when it was made,
// and expires; it works in an <img src> where no Authorization header can be sent.

const URL_LIFETIME_SECONDS = 3600;
export const DOWNLOAD_PATH = "/attachments/";

export async function uploadFile(ctx: Context, file: SpooledFile): Promise<Attachment> {
  const { user } = requireUser(ctx);
  await consumeLimit(ctx, "uploads", user.id);
  const { maxUploadBytes } = ctx.services.config;
  // The request parser spooled and hashed it (src/http/spooled-uploads.ts); keeping it is a rename,
  // so a half-written file never has a final name.
  if (file.size > maxUploadBytes) throw uploadTooLarge(maxUploadBytes);
  const id = randomUUID();
  await rename(file.path, filePath(ctx.services, id));
  try {
    return await ctx.prisma.attachment.create({
      data: {
        id,
        uploaderId: user.id,
        name: cleanName(file.name),
        size: file.size,
        mimeType: file.type || "application/octet-stream",
        sha256: file.sha256,
      },
    });
  } catch (error) {
    // No row, no file: nothing could ever hand out a link to it.
    await rm(filePath(ctx.services, id), { force: true });
    throw error;
  }
}

/** Where uploads are written while they arrive: beside the files, so keeping one is a rename. */
export const spoolDir = (attachmentsDir: string) => path.join(attachmentsDir, ".incoming");

function cleanName(raw: string): string {
  const name = path
    .basename(raw || "file")
    .replace(/\p{Cc}/gu, "")
    .trim();
  return [...(name || "file")].slice(0, 255).join("");
}

function filePath(services: Services, id: string): string {
  return path.join(services.config.attachmentsDir, id);
}

/**
 * Its uploader, anyone who can see a message (not recalled) that carries or forwards it (in a room:
 * its members), and the members of a group it is shared in. Asked when a file is sent on and again
 * at each download, so a link stops working for someone who lost access (removed from the group or
 * room, message recalled).
 */
export async function canReadAttachment(
  services: Pick<Services, "db">,
  userId: string,
  attachment: Pick<Attachment, "id" | "uploaderId">,
): Promise<boolean> {
  if (attachment.uploaderId === userId) return true;
  const [row] = await services.db.query<{ readable: boolean }>(
    sql`SELECT EXISTS (
        SELECT 1 FROM "Message" m JOIN "Conversation" c ON c."chatId" = m."chatId" AND c."userId" = ${userId}::uuid
        WHERE m."attachmentIds" @> ARRAY[${attachment.id}::uuid] AND m."recalledAt" IS NULL
          AND ${fragment(inHistorySql("m", "c"))}
      ) OR EXISTS (
        SELECT 1 FROM "Message" m JOIN "RoomMember" rm ON rm."roomId" = m."chatId" AND rm."userId" = ${userId}::uuid
        WHERE m."attachmentIds" @> ARRAY[${attachment.id}::uuid] AND m."recalledAt" IS NULL
          AND ${fragment(readableSql("m", 'rm."userId"'))}
      ) OR EXISTS (
        SELECT 1 FROM "GroupFile" f JOIN "GroupMember" gm ON gm."groupId" = f."groupId" AND gm."userId" = ${userId}::uuid
        WHERE f."attachmentId" = ${attachment.id}::uuid
      ) AS readable`,
  );
  return row?.readable === true;
}

/** A download URL for the viewer; only call it where the viewer is known to be allowed to see the file. */
export function downloadUrl(ctx: Context, attachmentId: string): string | null {
  if (ctx.viewer.kind !== "user") return null;
  const userId = ctx.viewer.user.id;
  // Rounded up to the hour, so the URL of one file stays the same for a while and clients can cache it.
  const expires = (Math.floor(Date.now() / 1000 / URL_LIFETIME_SECONDS) + 2) * URL_LIFETIME_SECONDS;
  const sig = sign(ctx.services, attachmentId, userId, expires);
  const query = new URLSearchParams({ user: userId, expires: String(expires), sig });
  return `${ctx.services.config.publicUrl ?? ""}${DOWNLOAD_PATH}${attachmentId}?${query}`;
}

function sign(services: Services, attachmentId: string, userId: string, expires: number): string {
  return createHmac("sha256", services.urlSigningKey)
    .update(`${attachmentId}:${userId}:${expires}`)
    .digest("hex");
}

/** Serves GET /attachments/<id>?user&expires&sig. */
/**
 * Serves a signed download link. The `send` package answers Range requests (video seeking, resumed
 * downloads) with 206, and conditional ones (If-None-Match, If-Modified-Since) with 304.
 */
export async function serveDownload(
  services: Services,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url!, "http://localhost");
  const id = url.pathname.slice(DOWNLOAD_PATH.length);
  const userId = url.searchParams.get("user") ?? "";
  const expires = Number(url.searchParams.get("expires"));
  const given = Buffer.from(url.searchParams.get("sig") ?? "", "hex");
  const expected = Buffer.from(sign(services, id, userId, expires), "hex");
  const valid = given.length === expected.length && timingSafeEqual(given, expected);
  if (!valid || !Number.isFinite(expires)) return plain(res, 403, "Invalid download link");
  if (expires * 1000 < Date.now())
    return plain(res, 403, "This download link has expired; fetch the message again");
  const attachment = await services.prisma.attachment.findUnique({ where: { id } });
  if (!attachment) return plain(res, 404, "No such file");
  if (!(await canReadAttachment(services, userId, attachment))) {
    return plain(res, 403, "You can no longer see this file");
  }
  send(req, path.resolve(filePath(services, id)), { cacheControl: false, index: false })
    .on("headers", (response: ServerResponse) => {
      response.setHeader("content-type", attachment.mimeType);
      response.setHeader(
        "content-disposition",
        `attachment; filename*=UTF-8''${encodeURIComponent(attachment.name)}`,
      );
      response.setHeader("cache-control", "private, max-age=3600");
      response.setHeader("x-content-type-options", "nosniff");
    })
    .on("error", (error: { status?: number; headers?: Record<string, string> }) => {
      if (res.headersSent) return res.destroy();
      // 416 for a range past the end (with the size in Content-Range), 412 for a failed precondition.
      const status = error.status && error.status < 500 ? error.status : 500;
      for (const [name, value] of Object.entries(error.headers ?? {})) res.setHeader(name, value);
      plain(
        res,
        status,
        status === 404
          ? "No such file"
          : status === 500
            ? "Download failed"
            : "Range or precondition not satisfiable",
      );
    })
    .pipe(res);
}

function plain(res: ServerResponse, status: number, text: string) {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(text);
}

/** The URL-signing key all instances share: made by whichever starts first. */
export async function loadSigningKey(prisma: Services["prisma"]): Promise<Buffer> {
  const name = "attachment-url-signing";
  await prisma.serverSecret.createMany({
    data: [{ name, value: randomBytes(32).toString("hex") }],
    skipDuplicates: true,
  });
  const secret = await prisma.serverSecret.findUniqueOrThrow({ where: { name } });
  return Buffer.from(secret.value, "hex");
}
