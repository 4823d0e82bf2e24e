import type { Context } from "../context.js";
import { type Emit, type Tx, withEvents } from "../delivery/user-log.js";
import { AppError, badInput, notFound } from "../errors.js";
import type {
  Contact,
  ContactRequest,
  ContactRequestStatus,
  Prisma,
  User,
} from "../generated/prisma/client.js";
import { requireUser } from "./access.js";
import { pageSize } from "./paging.js";
import { type NodePage, usernameCursor, usernamePage } from "./user-pages.js";
import * as check from "./validation.js";

// Contacts and block lists. Every change runs in withEvents over both users' stream heads: that
// serializes all contact changes of either user (so counts and "already sent" checks cannot race)
// and commits the ContactEvents with the change.

export type ContactChange =
  | "REQUEST_RECEIVED"
  | "REQUEST_SENT"
  | "REQUEST_ACCEPTED"
  | "REQUEST_DECLINED"
  | "REMOVED"
  | "BLOCKED"
  | "UNBLOCKED"
  | "REMARK_CHANGED";

export const MAX_BLOCKED = 500;
const REQUEST_MESSAGE_MAX = 500;
const REMARK_MAX = 100;

/** Tells `to`'s devices that something happened between them and `about`. */
function emitContact(emit: Emit, to: string, kind: ContactChange, about: string, message?: string | null) {
  emit({ userId: to, kind: "CONTACT", data: { kind, userId: about, message: message ?? null } });
}

/** The other user of a contact operation: someone else, and not deleted. */
async function requireOther(ctx: Context, username: string): Promise<User> {
  const { user } = requireUser(ctx);
  const name = check.maybeUsername(username);
  const other = name ? await ctx.prisma.user.findUnique({ where: { username: name } }) : null;
  if (!other || other.deletedAt) throw notFound(`No user named "${username}"`);
  if (other.id === user.id) throw badInput("username must name another user, not yourself", "username");
  return other;
}

// The two rules that screen a direct send, each written once: in SQL for the send statement, which
// judges under its locks, and run through that same SQL everywhere else.

/** `blocker` blocked `blocked`, over two uuid SQL expressions (fixed SQL, never input). */
export const blockedSql = (blocker: string, blocked: string) =>
  `EXISTS (SELECT 1 FROM "Block" b WHERE b."blockerId" = ${blocker} AND b."blockedId" = ${blocked})`;

/** `contact` is in `owner`'s contacts. */
export const contactsSql = (owner: string, contact: string) =>
  `EXISTS (SELECT 1 FROM "Contact" c WHERE c."ownerId" = ${owner} AND c."contactId" = ${contact})`;

async function holds(tx: Tx, rule: (a: string, b: string) => string, a: string, b: string): Promise<boolean> {
  const [row] = await tx.$queryRawUnsafe<{ holds: boolean }[]>(
    `SELECT ${rule("$1::uuid", "$2::uuid")} AS holds`,
    a,
    b,
  );
  return row!.holds;
}

const isBlocked = (tx: Tx, blockerId: string, blockedId: string) =>
  holds(tx, blockedSql, blockerId, blockedId);
const areContacts = (tx: Tx, ownerId: string, contactId: string) =>
  holds(tx, contactsSql, ownerId, contactId);

/** The refusal of a direct message to someone who blocked the sender. */
export function blockedByRecipient(recipient: { username: string }) {
  return new AppError("BLOCKED", `"${recipient.username}" does not accept messages from you`);
}

/** The refusal of a direct message between non-contacts under REQUIRE_CONTACT_FOR_DIRECT. */
export function notAContact(recipient: { username: string }) {
  return new AppError(
    "FORBIDDEN",
    `"${recipient.username}" is not your contact; this server only allows direct messages between contacts`,
  );
}

async function refuseAtContactLimit(ctx: Context, tx: Tx, userId: string, whose: string) {
  const limit = ctx.services.config.maxContacts;
  if ((await tx.contact.count({ where: { ownerId: userId } })) >= limit) {
    throw new AppError("LIMIT_EXCEEDED", `${whose} already at the contact limit (${limit}, MAX_CONTACTS)`);
  }
}

/** Makes the pair contacts and marks the requests between them accepted. */
async function connect(ctx: Context, tx: Tx, emit: Emit, me: User, other: User) {
  await refuseAtContactLimit(ctx, tx, me.id, "You are");
  await refuseAtContactLimit(ctx, tx, other.id, `"${other.username}" is`);
  await tx.contact.createMany({
    data: [
      { ownerId: me.id, contactId: other.id },
      { ownerId: other.id, contactId: me.id },
    ],
    skipDuplicates: true,
  });
  await tx.contactRequest.updateMany({
    where: {
      status: "PENDING",
      OR: [
        { fromId: me.id, toId: other.id },
        { fromId: other.id, toId: me.id },
      ],
    },
    data: { status: "ACCEPTED", respondedAt: new Date() },
  });
  emitContact(emit, me.id, "REQUEST_ACCEPTED", other.id);
  emitContact(emit, other.id, "REQUEST_ACCEPTED", me.id);
}

/**
 * Asks `username` to become a contact. If they had already asked the caller, the two simply become
 * contacts (both requests end ACCEPTED) instead of leaving two requests waiting on each other.
 */
export async function sendContactRequest(
  ctx: Context,
  input: { username: string; message?: string | null },
): Promise<ContactRequest> {
  const { user: me } = requireUser(ctx);
  const other = await requireOther(ctx, input.username);
  const message =
    input.message == null ? null : check.text(input.message, "message", { min: 0, max: REQUEST_MESSAGE_MAX });
  return withEvents(ctx, [me.id, other.id], async (tx, emit) => {
    if (await isBlocked(tx, other.id, me.id)) {
      throw new AppError("BLOCKED", `"${other.username}" does not accept contact requests from you`);
    }
    if (await areContacts(tx, me.id, other.id)) {
      throw new AppError("CONFLICT", `"${other.username}" is already your contact`);
    }
    const pair = { fromId_toId: { fromId: me.id, toId: other.id } };
    const earlier = await tx.contactRequest.findUnique({ where: pair });
    if (earlier?.status === "PENDING") {
      throw new AppError("CONFLICT", `You already asked "${other.username}"; wait for their answer`);
    }
    const theirs = await tx.contactRequest.findUnique({
      where: { fromId_toId: { fromId: other.id, toId: me.id } },
    });
    const pending = theirs?.status === "PENDING";
    if (!pending) await refuseAtContactLimit(ctx, tx, me.id, "You are");
    const fields = { message, status: "PENDING" as const, createdAt: new Date(), respondedAt: null };
    const request = await tx.contactRequest.upsert({
      where: pair,
      create: { fromId: me.id, toId: other.id, ...fields },
      update: fields,
    });
    if (pending) {
      await connect(ctx, tx, emit, me, other);
      return (await tx.contactRequest.findUnique({ where: pair }))!;
    }
    emitContact(emit, other.id, "REQUEST_RECEIVED", me.id, message);
    emitContact(emit, me.id, "REQUEST_SENT", other.id, message);
    return request;
  });
}

async function requirePendingFrom(tx: Tx, from: User, toId: string): Promise<ContactRequest> {
  const request = await tx.contactRequest.findUnique({ where: { fromId_toId: { fromId: from.id, toId } } });
  if (request?.status !== "PENDING") throw notFound(`No pending contact request from "${from.username}"`);
  return request;
}

/** Accepts the request `username` sent; returns the caller's new contact. */
export async function acceptContactRequest(ctx: Context, username: string): Promise<Contact> {
  const { user: me } = requireUser(ctx);
  const other = await requireOther(ctx, username);
  return withEvents(ctx, [me.id, other.id], async (tx, emit) => {
    await requirePendingFrom(tx, other, me.id);
    await connect(ctx, tx, emit, me, other);
    return (await tx.contact.findUnique({
      where: { ownerId_contactId: { ownerId: me.id, contactId: other.id } },
    }))!;
  });
}

export async function declineContactRequest(ctx: Context, username: string): Promise<ContactRequest> {
  const { user: me } = requireUser(ctx);
  const other = await requireOther(ctx, username);
  return withEvents(ctx, [me.id, other.id], async (tx, emit) => {
    const request = await requirePendingFrom(tx, other, me.id);
    const declined = await tx.contactRequest.update({
      where: { id: request.id },
      data: { status: "DECLINED", respondedAt: new Date() },
    });
    emitContact(emit, other.id, "REQUEST_DECLINED", me.id);
    emitContact(emit, me.id, "REQUEST_DECLINED", other.id);
    return declined;
  });
}

/** Ends the contact on both sides. */
export async function removeContact(ctx: Context, username: string): Promise<boolean> {
  const { user: me } = requireUser(ctx);
  const other = await requireOther(ctx, username);
  return withEvents(ctx, [me.id, other.id], async (tx, emit) => {
    const { count } = await tx.contact.deleteMany({
      where: {
        OR: [
          { ownerId: me.id, contactId: other.id },
          { ownerId: other.id, contactId: me.id },
        ],
      },
    });
    if (count === 0) throw notFound(`"${other.username}" is not your contact`);
    emitContact(emit, me.id, "REMOVED", other.id);
    emitContact(emit, other.id, "REMOVED", me.id);
    return true;
  });
}

export async function setContactRemark(
  ctx: Context,
  input: { username: string; remark?: string | null },
): Promise<Contact> {
  const { user: me } = requireUser(ctx);
  const other = await requireOther(ctx, input.username);
  const remark = input.remark == null ? "" : check.text(input.remark, "remark", { min: 0, max: REMARK_MAX });
  return withEvents(ctx, [me.id], async (tx, emit) => {
    const key = { ownerId_contactId: { ownerId: me.id, contactId: other.id } };
    if (!(await tx.contact.findUnique({ where: key }))) {
      throw notFound(`"${other.username}" is not your contact`);
    }
    const contact = await tx.contact.update({ where: key, data: { remark: remark === "" ? null : remark } });
    emitContact(emit, me.id, "REMARK_CHANGED", other.id);
    return contact;
  });
}

export async function blockUser(ctx: Context, username: string): Promise<boolean> {
  const { user: me } = requireUser(ctx);
  const other = await requireOther(ctx, username);
  return withEvents(ctx, [me.id], async (tx, emit) => {
    if (await isBlocked(tx, me.id, other.id)) return true;
    if ((await tx.block.count({ where: { blockerId: me.id } })) >= MAX_BLOCKED) {
      throw new AppError(
        "LIMIT_EXCEEDED",
        `You can block at most ${MAX_BLOCKED} users; unblock someone first`,
      );
    }
    await tx.block.create({ data: { blockerId: me.id, blockedId: other.id } });
    emitContact(emit, me.id, "BLOCKED", other.id);
    return true;
  });
}

export async function unblockUser(ctx: Context, username: string): Promise<boolean> {
  const { user: me } = requireUser(ctx);
  const other = await requireOther(ctx, username);
  return withEvents(ctx, [me.id], async (tx, emit) => {
    const { count } = await tx.block.deleteMany({ where: { blockerId: me.id, blockedId: other.id } });
    if (count > 0) emitContact(emit, me.id, "UNBLOCKED", other.id);
    return true;
  });
}

/** Everyone the caller blocked, most recent first. */
export async function blockedUsers(ctx: Context): Promise<User[]> {
  const { user: me } = requireUser(ctx);
  const blocks = await ctx.prisma.block.findMany({
    where: { blockerId: me.id },
    orderBy: [{ createdAt: "desc" }, { blockedId: "asc" }],
    include: { blocked: true },
  });
  return blocks.map((block) => block.blocked);
}

/**
 * Whether `senderId` may reach `recipientId` directly (messages, commands, typing): BLOCKED when the
 * recipient blocked them, FORBIDDEN between non-contacts when REQUIRE_CONTACT_FOR_DIRECT is on.
 */
export async function requireMayMessage(
  ctx: Context,
  senderId: string,
  recipient: { id: string; username: string },
) {
  const [blocked, contacts] = await Promise.all([
    isBlocked(ctx.prisma, recipient.id, senderId),
    ctx.services.config.requireContactForDirect ? areContacts(ctx.prisma, senderId, recipient.id) : true,
  ]);
  if (blocked) throw blockedByRecipient(recipient);
  if (!contacts) throw notAContact(recipient);
}

// Lists

export type ContactWithUser = Contact & { contact: User };

/** The cursor of a contact listContacts returned (it carries the user). */
export const contactCursor = (contact: Contact) =>
  usernameCursor((contact as ContactWithUser).contact.username);

/** The caller's contacts, by username. */
export async function listContacts(
  ctx: Context,
  args: { first?: number | null; after?: string | null },
): Promise<NodePage<ContactWithUser>> {
  const { user: me } = requireUser(ctx);
  const { take, user, page } = usernamePage(args);
  const rows = await ctx.prisma.contact.findMany({
    where: { ownerId: me.id, contact: user },
    orderBy: { contact: { username: "asc" } },
    include: { contact: true },
    take,
  });
  for (const row of rows) ctx.loaders.users.prime(row.contact.id, row.contact);
  return page(rows);
}

export type RequestDirection = "INCOMING" | "OUTGOING";

export function requestCursor(request: ContactRequest): string {
  return Buffer.from(JSON.stringify([request.createdAt.toISOString(), request.id])).toString("base64url");
}

function parseRequestCursor(raw: string): [Date, string] {
  try {
    const [at, id] = JSON.parse(Buffer.from(raw, "base64url").toString()) as [string, string];
    if (!Number.isNaN(Date.parse(at)) && check.isId(id)) return [new Date(at), id];
  } catch {}
  throw badInput("after must be a cursor from an earlier page", "after");
}

/** Requests to and from the caller, newest first; answered ones stay with their status. */
export async function listContactRequests(
  ctx: Context,
  args: {
    direction?: RequestDirection | null;
    status?: ContactRequestStatus | null;
    first?: number | null;
    after?: string | null;
  },
): Promise<NodePage<ContactRequest>> {
  const { user: me } = requireUser(ctx);
  const first = pageSize(args.first, "first");
  const sides: Prisma.ContactRequestWhereInput[] = [];
  if (args.direction !== "OUTGOING") sides.push({ toId: me.id, from: { deletedAt: null } });
  if (args.direction !== "INCOMING") sides.push({ fromId: me.id, to: { deletedAt: null } });
  const where: Prisma.ContactRequestWhereInput = { AND: [{ OR: sides }] };
  if (args.status != null) where.status = args.status;
  if (args.after != null) {
    const [createdAt, id] = parseRequestCursor(args.after);
    (where.AND as Prisma.ContactRequestWhereInput[]).push({
      OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id } }],
    });
  }
  const rows = await ctx.prisma.contactRequest.findMany({
    where,
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: first + 1,
  });
  return { nodes: rows.slice(0, first), hasNextPage: rows.length > first };
}

/** A deleted user leaves no contacts, requests, blocks or presence subscriptions behind. */
export async function dropRelations(tx: Tx, userId: string): Promise<void> {
  await tx.contact.deleteMany({ where: { OR: [{ ownerId: userId }, { contactId: userId }] } });
  await tx.contactRequest.deleteMany({ where: { OR: [{ fromId: userId }, { toId: userId }] } });
  await tx.block.deleteMany({ where: { OR: [{ blockerId: userId }, { blockedId: userId }] } });
  await tx.presenceSubscription.deleteMany({
    where: { OR: [{ subscriberId: userId }, { targetId: userId }] },
  });
  await tx.userPresence.deleteMany({ where: { userId } });
}
