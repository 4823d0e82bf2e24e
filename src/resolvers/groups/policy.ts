import { badInput, forbidden } from "../../errors.js";
import type { Group, GroupMember, GroupRole } from "../../generated/prisma/client.js";

// The group rules, each written once (rooms share the member rules: roles, mutes, the allow list). Where a rule must also hold inside SQL (the send statement
// judges under the chat's lock), its SQL twin sits beside it.

export const LIMITS = {
  name: 128,
  description: 512,
  announcement: 512,
  extBytes: 8 * 1024,
  initialMembers: 100,
  admins: 100,
  inviteBatch: 100,
  targets: 20,
  attributesBytes: 4 * 1024,
  attributeKeyBytes: 16,
  attributeValueBytes: 512,
  requestMessage: 500,
  maxMuteSeconds: 10 * 365 * 86_400,
} as const;

export type GroupChange =
  | "GROUP_CREATED"
  | "GROUP_DESTROYED"
  | "GROUP_UPDATED"
  | "ANNOUNCEMENT_CHANGED"
  | "MEMBER_JOINED"
  | "MEMBER_LEFT"
  | "MEMBER_REMOVED"
  | "MEMBER_INVITED"
  | "INVITE_DECLINED"
  | "JOIN_REQUESTED"
  | "JOIN_DECLINED"
  | "OWNER_CHANGED"
  | "ADMIN_ADDED"
  | "ADMIN_REMOVED"
  | "MEMBERS_MUTED"
  | "MEMBERS_UNMUTED"
  | "ALL_MUTED"
  | "ALL_UNMUTED"
  | "ALLOW_LIST_ADDED"
  | "ALLOW_LIST_REMOVED"
  | "MEMBERS_BLOCKED"
  | "MEMBERS_UNBLOCKED"
  | "MEMBER_ATTRIBUTES_CHANGED"
  | "MESSAGES_BLOCKED"
  | "MESSAGES_UNBLOCKED"
  | "FILE_UPLOADED"
  | "FILE_DELETED";

const RANK: Record<GroupRole, number> = { OWNER: 3, ADMIN: 2, MEMBER: 1 };

/** Owner and admins run the group. */
export function manages(member: Pick<GroupMember, "role"> | null | undefined): boolean {
  return member?.role === "OWNER" || member?.role === "ADMIN";
}

/** Whether `actor` may act on `subject` (remove, mute, block): only on someone of lower rank. */
export function outranks(actor: Pick<GroupMember, "role">, subject: Pick<GroupMember, "role">): boolean {
  return RANK[actor.role] > RANK[subject.role];
}

export function mayInvite(group: Pick<Group, "allowMemberInvites">, member: GroupMember | null): boolean {
  return manages(member) || (member !== null && group.allowMemberInvites);
}

/**
 * Why a member may not speak now, or null. The owner always speaks; a timed mute (which only a
 * higher rank can set) silences admins too; mute-all spares the owner, admins and the allow list.
 * Twin of SPEAK_REFUSAL_SQL.
 */
export function speakRefusal(
  group: Pick<Group, "allMuted">,
  member: Pick<GroupMember, "role" | "mutedUntil" | "allowListed">,
  now = new Date(),
): "MUTED" | null {
  if (member.role === "OWNER") return null;
  if (member.mutedUntil && member.mutedUntil > now) return "MUTED";
  if (group.allMuted && !manages(member) && !member.allowListed) return "MUTED";
  return null;
}

/** SQL twin of speakRefusal, over a group `g` and the sender's membership `m`. */
export const SPEAK_REFUSAL_SQL = `CASE WHEN m.role <> 'OWNER' AND (m."mutedUntil" > now()
    OR (g."allMuted" AND m.role = 'MEMBER' AND NOT m."allowListed"))
  THEN 'MUTED' END`;

/** Whether the group's messages may ask for read receipts: only up to this many members. */
export function receiptsAllowed(group: Pick<Group, "memberCount">, maxMembers: number): boolean {
  return group.memberCount <= maxMembers;
}

type Ranked = Pick<GroupMember, "role">;
const CHAT = { group: "group", room: "room" } as const;

/**
 * May `actor` (a member, or null for the app server) act on these members (remove, mute, block)? A
 * member must run the chat and outrank each of them; the app server acts on anyone but the owner.
 */
export function requireOutranks(
  actor: Ranked | null | undefined,
  isApp: boolean,
  subjects: Ranked[],
  chat: keyof typeof CHAT,
) {
  if (!isApp) {
    if (!manages(actor)) throw forbidden(`Only the ${CHAT[chat]}'s owner and admins can do this`);
    if (subjects.some((subject) => !outranks(actor!, subject))) {
      throw forbidden("Admins cannot act on other admins or the owner");
    }
  } else if (subjects.some((subject) => subject.role === "OWNER")) {
    throw forbidden("The owner cannot be removed, muted or blocked: transfer the ownership first");
  }
}

/** A mute's end, `durationSeconds` from now: stored as an end time, it lapses by itself. */
export function muteEnd(durationSeconds: number): Date {
  if (!Number.isInteger(durationSeconds) || durationSeconds < 1 || durationSeconds > LIMITS.maxMuteSeconds) {
    throw badInput(`durationSeconds must be from 1 to ${LIMITS.maxMuteSeconds}`, "durationSeconds");
  }
  return new Date(Date.now() + durationSeconds * 1000);
}
