import { closeSpans } from "../../delivery/chat-log.js";
import type { Tx } from "../../delivery/user-log.js";

// Where the group's life ends a thread membership: kept free of the rest of the threads domain, so
// the groups domain, which calls it under its own lock, does not depend on it.

/**
 * Users leaving (or removed from) a group leave its threads at the group's entry `pos`: they read
 * nothing of them after it. The caller holds the group's chat, which every thread writer holds too.
 */
export async function leaveGroupThreads(tx: Tx, groupId: string, userIds: readonly string[], pos: bigint) {
  const left = await tx.$queryRaw<{ threadId: string }[]>`
    DELETE FROM "ThreadMember" m USING "Thread" t
    WHERE t.id = m."threadId" AND t."groupId" = ${groupId}::uuid AND m."userId" = ANY(${[...userIds]}::uuid[])
    RETURNING m."threadId"`;
  if (left.length === 0) return;
  const threadIds = [...new Set(left.map((row) => row.threadId))];
  await tx.$executeRaw`
    UPDATE "Thread" t SET "memberCount" = t."memberCount" - x.n
    FROM (SELECT id, count(*)::int AS n FROM unnest(${left.map((row) => row.threadId)}::uuid[]) AS id GROUP BY id) x
    WHERE t.id = x.id`;
  await tx.conversation.deleteMany({ where: { chatId: { in: threadIds }, userId: { in: [...userIds] } } });
  await closeSpans(tx, threadIds, userIds, pos);
}

/** Destroys the thread (or every thread of a group, when the group ends) at the entry `pos`. */
export async function endThreads(tx: Tx, which: { groupId: string } | { id: string }, pos: bigint) {
  const threads = await tx.thread.findMany({ where: { ...which, destroyedAt: null }, select: { id: true } });
  const ids = threads.map((thread) => thread.id);
  if (ids.length === 0) return;
  await closeSpans(tx, ids, "all", pos);
  await tx.threadMember.deleteMany({ where: { threadId: { in: ids } } });
  await tx.conversation.deleteMany({ where: { chatId: { in: ids } } });
  await tx.thread.updateMany({
    where: { id: { in: ids } },
    data: { destroyedAt: new Date(), memberCount: 0 },
  });
}
