import type { Services } from "../../context.js";
import { sql } from "../../db/sql.js";
import type { Handover, OutboxEntry } from "../outbox.js";

// From the outbox to push jobs: each new direct, group or thread message becomes one PushJob per
// token of each recipient who should hear of it and has no device online. The jobs are inserted in
// the transaction that deletes the outbox entries, so a crash leaves either the entries (handled
// again) or the jobs, never both and never neither.

interface Candidate {
  entryId: string;
  messageId: string;
  chatId: string;
  userId: string;
  tokenId: string;
  mentioned: boolean;
  dndStart: number | null;
  dndEnd: number | null;
}

/** Called by the outbox pump with a batch of CREATED entries. */
export async function queuePushes(
  services: Services,
  entries: OutboxEntry[],
  wake: () => void,
): Promise<Handover> {
  const ids = entries.map((entry) => entry.id);
  try {
    const candidates = await candidatesOf(services, ids);
    const online = await services.presence.onlineDevices([...new Set(candidates.map((row) => row.userId))]);
    const minute = minuteOfDay(new Date());
    const jobs = candidates.filter(
      (row) => !online.has(row.userId) && !quiet(row.dndStart, row.dndEnd, minute),
    );
    await services.db.transaction(async (query) => {
      if (jobs.length > 0) {
        await query(sql`
          INSERT INTO "PushJob" ("tokenId", "userId", "chatId", "messageId", mentioned)
          SELECT * FROM unnest(${jobs.map((job) => job.tokenId)}::uuid[], ${jobs.map((job) => job.userId)}::uuid[],
            ${jobs.map((job) => job.chatId)}::uuid[], ${jobs.map((job) => job.messageId)}::bigint[],
            ${jobs.map((job) => job.mentioned)}::boolean[])
          ON CONFLICT ("messageId", "tokenId") DO NOTHING`);
      }
      await query(sql`DELETE FROM "OutboxEntry" WHERE id = ANY(${ids}::bigint[])`);
    });
    if (jobs.length > 0) wake();
    return { delivered: ids, failed: new Map() };
  } catch (error) {
    const reason = (error as Error).message;
    return { delivered: [], failed: new Map(ids.map((id) => [id, reason])) };
  }
}

/**
 * Recipients and their live tokens. Direct: the other user unless they muted the conversation.
 * Group: members but the sender (only the targets of a targeted message) who did not mute it, in a
 * group no larger than PUSH_LARGE_GROUP_MEMBERS. Thread: its members but the sender, unless they
 * muted the thread or its group. A mention (or @all) pushes past mute and size.
 */
function candidatesOf(services: Services, entryIds: string[]): Promise<Candidate[]> {
  return services.db.query<Candidate>(sql`
    WITH m AS (
      SELECT e.id AS "entryId", msg.id, msg."chatId", msg."chatType", msg."senderId", msg."recipientId",
        msg.mentions, msg."mentionAll", msg.targets
      FROM "OutboxEntry" e JOIN "Message" msg ON msg.id = e."messageId"
      WHERE e.id = ANY(${entryIds}::bigint[]) AND e.event = 'CREATED' AND msg."recalledAt" IS NULL
    ), r AS (
      SELECT m.*, m."recipientId" AS "userId", NULL::uuid AS "groupId", 0 AS "memberCount"
      FROM m WHERE m."chatType" = 'DIRECT'
      UNION ALL
      SELECT m.*, gm."userId", g.id, g."memberCount"
      FROM m JOIN "Group" g ON g.id = m."chatId" JOIN "GroupMember" gm ON gm."groupId" = g.id
      WHERE m."chatType" = 'GROUP' AND g."destroyedAt" IS NULL AND gm."userId" <> m."senderId"
        AND (cardinality(m.targets) = 0 OR gm."userId" = ANY(m.targets))
      UNION ALL
      SELECT m.*, tm."userId", t."groupId", 0
      FROM m JOIN "Thread" t ON t.id = m."chatId" JOIN "ThreadMember" tm ON tm."threadId" = t.id
      WHERE m."chatType" = 'THREAD' AND t."destroyedAt" IS NULL AND tm."userId" <> m."senderId"
    ), wanted AS (
      SELECT r.*, (r."mentionAll" OR r."userId" = ANY(r.mentions)) AS mentioned FROM r
    )
    SELECT w."entryId"::text, w.id::text AS "messageId", w."chatId", w."userId", pt.id AS "tokenId",
      w.mentioned, s."dndStart", s."dndEnd"
    FROM wanted w
    JOIN "PushToken" pt ON pt."userId" = w."userId"
    JOIN "Device" d ON d.id = pt."deviceId" AND d."endedAt" IS NULL
    LEFT JOIN "PushSettings" s ON s."userId" = w."userId"
    WHERE w.mentioned OR (
      w."memberCount" <= ${services.config.push.largeGroupMembers}
      AND NOT EXISTS (SELECT 1 FROM "Conversation" c WHERE c."userId" = w."userId" AND c.muted
        AND (c."chatId" = w."chatId" OR c."chatId" = w."groupId")))
    ORDER BY w."entryId", pt.id`);
}

function minuteOfDay(now: Date): number {
  return now.getUTCHours() * 60 + now.getUTCMinutes();
}

/** Inside the quiet hours [start, end), which may wrap midnight. */
export function quiet(start: number | null, end: number | null, minute: number): boolean {
  if (start === null || end === null) return false;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}
