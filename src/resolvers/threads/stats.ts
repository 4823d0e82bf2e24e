import type { Services } from "../../context.js";

// A thread's summary is derived from its messages, never counted on send: it cannot drift.

export interface ThreadStats {
  messageCount: number;
  lastMessageId: bigint | null;
}

/** Messages not recalled, and the newest of them, of each thread, by thread id. */
export async function threadStats(
  services: Pick<Services, "db">,
  threadIds: readonly string[],
): Promise<Map<string, ThreadStats>> {
  const rows = await services.db.query<{ id: string; n: number; last: string | null }>({
    text: `SELECT t.id, s.n::int AS n, s.last::text AS last FROM unnest($1::uuid[]) AS t(id)
      CROSS JOIN LATERAL (SELECT count(*) AS n, max(m.id) AS last FROM "Message" m
        WHERE m."chatId" = t.id AND m."recalledAt" IS NULL) AS s`,
    values: [[...threadIds]],
  });
  return new Map(
    rows.map((row) => [
      row.id,
      { messageCount: Number(row.n), lastMessageId: row.last === null ? null : BigInt(row.last) },
    ]),
  );
}
