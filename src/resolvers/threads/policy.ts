// The thread rules, each written once.

export const LIMITS = {
  name: 64,
} as const;

/** ThreadEvent kinds: the first four reach the group's members, the others the thread's. */
export type ThreadChange =
  | "THREAD_CREATED"
  | "THREAD_UPDATED"
  | "THREAD_DESTROYED"
  | "NEW_MESSAGES"
  | "MEMBER_JOINED"
  | "MEMBER_LEFT"
  | "MEMBER_REMOVED";
