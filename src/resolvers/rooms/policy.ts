// The room rules, each written once. Roles, mutes and the allow list work as in groups
// (groups/policy.ts: manages, outranks, speakRefusal take a room member as they take a group member).

export const LIMITS = {
  name: 128,
  description: 512,
  announcement: 512,
  extBytes: 8 * 1024,
  admins: 100,
  batch: 100,
  targets: 20,
  maxMuteSeconds: 10 * 365 * 86_400,
  attributes: 100,
  attributesPerCall: 20,
  attributeKeyBytes: 128,
  attributeValueBytes: 4 * 1024,
  broadcastRooms: 1000,
  broadcastsPerMinute: 10,
} as const;

/** RoomEvent kinds. */
export type RoomChange =
  | "ROOM_DESTROYED"
  | "ROOM_UPDATED"
  | "ANNOUNCEMENT_CHANGED"
  | "MEMBER_JOINED"
  | "MEMBER_LEFT"
  | "MEMBER_REMOVED"
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
  | "ATTRIBUTES_CHANGED";
