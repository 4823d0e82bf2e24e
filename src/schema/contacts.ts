import type { Contact, ContactRequest } from "../generated/prisma/client.js";
import * as contacts from "../resolvers/contacts.js";
import { UserRef } from "./accounts.js";
import { builder } from "./builder.js";
import { connectionType } from "./pagination.js";
import { PresenceRef } from "./presence.js";

export const ContactRef = builder.objectRef<Contact>("Contact");
ContactRef.implement({
  description: "Someone in your contact list.",
  fields: (t) => ({
    user: t.field({
      type: UserRef,
      resolve: async (contact, _args, ctx) => (await ctx.loaders.users.load(contact.contactId))!,
    }),
    remark: t.exposeString("remark", { nullable: true, description: "Your note on them, seen only by you" }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "Since when you are contacts" }),
    presence: t.field({
      type: PresenceRef,
      resolve: (contact, _args, ctx) => ctx.loaders.presence.load(contact.contactId),
    }),
  }),
});

const ContactRequestStatusRef = builder.enumType("ContactRequestStatus", {
  values: ["PENDING", "ACCEPTED", "DECLINED"] as const,
});

const ContactRequestDirectionRef = builder.enumType("ContactRequestDirection", {
  values: {
    INCOMING: { description: "Sent to you" },
    OUTGOING: { description: "Sent by you" },
  } as const,
});

const ContactRequestRef = builder.objectRef<ContactRequest>("ContactRequest");
ContactRequestRef.implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    from: t.field({
      type: UserRef,
      resolve: async (request, _args, ctx) => (await ctx.loaders.users.load(request.fromId))!,
    }),
    to: t.field({
      type: UserRef,
      resolve: async (request, _args, ctx) => (await ctx.loaders.users.load(request.toId))!,
    }),
    direction: t.field({
      type: ContactRequestDirectionRef,
      resolve: (request, _args, ctx) =>
        ctx.viewer.kind === "user" && ctx.viewer.user.id === request.toId ? "INCOMING" : "OUTGOING",
    }),
    message: t.exposeString("message", { nullable: true }),
    status: t.field({ type: ContactRequestStatusRef, resolve: (request) => request.status }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was (last) sent" }),
    respondedAt: t.expose("respondedAt", { type: "DateTime", nullable: true }),
  }),
});

const ContactConnectionRef = connectionType("Contact", ContactRef);
const ContactRequestConnectionRef = connectionType("ContactRequest", ContactRequestRef);

builder.queryFields((t) => ({
  contacts: t.field({
    type: ContactConnectionRef,
    authScopes: { user: true },
    description: "Your contacts, by username.",
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      const page = await contacts.listContacts(ctx, args);
      return { ...page, cursorOf: contacts.contactCursor, hasPreviousPage: args.after != null };
    },
  }),
  contactRequests: t.field({
    type: ContactRequestConnectionRef,
    authScopes: { user: true },
    description:
      "Contact requests to and from you, newest first. Answered ones stay, with their status, until sent again.",
    args: {
      direction: t.arg({ type: ContactRequestDirectionRef, description: "Both when left out" }),
      status: t.arg({ type: ContactRequestStatusRef }),
      first: t.arg.int(),
      after: t.arg.string(),
    },
    resolve: async (_root, args, ctx) => {
      const page = await contacts.listContactRequests(ctx, args);
      return { ...page, cursorOf: contacts.requestCursor, hasPreviousPage: args.after != null };
    },
  }),
  blockedUsers: t.field({
    type: [UserRef],
    authScopes: { user: true },
    description: `The users you blocked (at most ${contacts.MAX_BLOCKED}), most recent first.`,
    resolve: (_root, _args, ctx) => contacts.blockedUsers(ctx),
  }),
}));

builder.mutationFields((t) => ({
  sendContactRequest: t.field({
    type: ContactRequestRef,
    authScopes: { user: true },
    description:
      "Asks someone to become your contact. If they had already asked you, you become contacts at once (status ACCEPTED).",
    args: {
      username: t.arg.string({ required: true }),
      message: t.arg.string({ description: "At most 500 characters" }),
    },
    resolve: (_root, args, ctx) => contacts.sendContactRequest(ctx, args),
  }),
  acceptContactRequest: t.field({
    type: ContactRef,
    authScopes: { user: true },
    description: "Accepts the pending request username sent you; returns your new contact.",
    args: { username: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => contacts.acceptContactRequest(ctx, args.username),
  }),
  declineContactRequest: t.field({
    type: ContactRequestRef,
    authScopes: { user: true },
    description: "Declines the pending request username sent you; they may send another.",
    args: { username: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => contacts.declineContactRequest(ctx, args.username),
  }),
  removeContact: t.boolean({
    authScopes: { user: true },
    description: "Ends the contact on both sides.",
    args: { username: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => contacts.removeContact(ctx, args.username),
  }),
  setContactRemark: t.field({
    type: ContactRef,
    authScopes: { user: true },
    description: "Your private note on a contact, at most 100 characters; null or empty clears it.",
    args: { username: t.arg.string({ required: true }), remark: t.arg.string() },
    resolve: (_root, args, ctx) => contacts.setContactRemark(ctx, args),
  }),
  blockUser: t.boolean({
    authScopes: { user: true },
    description:
      "Refuses their direct messages and contact requests (BLOCKED) and hides their presence and typing from you. Keeps the contact. Blocking again is a no-op.",
    args: { username: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => contacts.blockUser(ctx, args.username),
  }),
  unblockUser: t.boolean({
    authScopes: { user: true },
    args: { username: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => contacts.unblockUser(ctx, args.username),
  }),
}));
