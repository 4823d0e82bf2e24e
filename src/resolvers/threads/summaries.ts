import type { Context, Services } from "../../context.js";
import type { ChatEntry } from "../../delivery/chat-log.js";
import type { Outbox } from "../../delivery/user-log.js";
import { AppError } from "../../errors.js";
import type { Thread } from "../../generated/prisma/client.js";
import { repeatWithoutOverlap } from "../periodic.js";
import { changeThread, type ThreadWrite } from "./access.js";
import type { ThreadChange } from "./policy.js";

// What the group hears of its threads: a ThreadEvent entry in the group's chat log. New messages in
// a busy thread are coalesced: the first after a quiet spell is announced at once, the rest of the
// spell once at its end, by whichever instance sweeps first (so a dying instance loses nothing).

/**
 * A ThreadEvent in the group's chat, read by every member of the group. `users` are those it is
 * about: a creator, whose open streams must start reading the new thread's chat, is named.
 */
export function announce(
  out: Outbox,
  thread: Pick<Thread, "id" | "groupId">,
  kind: ThreadChange,
  actor: string | null,
  users: readonly string[] = [],
): Promise<ChatEntry> {
  return out.append({
    chatId: thread.groupId,
    kind: "THREAD",
    data: { kind, thread: thread.id, actor, users: [...users] },
  });
}

/** A ThreadEvent in the thread's own chat, read by its members (joins and departures). */
export function record(
  write: ThreadWrite,
  kind: ThreadChange,
  actor: string | null,
  users: readonly string[],
): Promise<ChatEntry> {
  return write.out.append({
    chatId: write.thread.id,
    kind: "THREAD",
    data: { kind, thread: write.thread.id, actor, users: [...users] },
  });
}

/** After a thread message, under the thread's locks: announce it now, or leave it to the sweep. */
export async function noteNewMessage(write: ThreadWrite, windowSeconds: number): Promise<void> {
  const { tx, thread } = write;
  const quietSince = Date.now() - windowSeconds * 1000;
  if (!thread.summaryAt || thread.summaryAt.getTime() <= quietSince) {
    await tx.thread.update({
      where: { id: thread.id },
      data: { summaryAt: new Date(), summaryPending: false },
    });
    await announce(write.out, thread, "NEW_MESSAGES", null);
  } else if (!thread.summaryPending) {
    await tx.thread.update({ where: { id: thread.id }, data: { summaryPending: true } });
  }
}

const SWEEP_BATCH = 100;

/** Announces the threads whose messages waited out their window. */
export async function sweepSummaries(services: Services): Promise<number> {
  const ctx: Pick<Context, "prisma" | "services"> = { prisma: services.prisma, services };
  const cutoff = new Date(Date.now() - services.config.threadSummarySeconds * 1000);
  const due = await services.prisma.thread.findMany({
    where: { summaryPending: true, destroyedAt: null, summaryAt: { lte: cutoff } },
    select: { id: true, groupId: true },
    take: SWEEP_BATCH,
  });
  let announced = 0;
  for (const thread of due) {
    await changeThread(ctx, thread, [], async (write) => {
      if (!write.thread.summaryPending) return; // another instance was first
      await write.tx.thread.update({
        where: { id: thread.id },
        data: { summaryAt: new Date(), summaryPending: false },
      });
      await announce(write.out, thread, "NEW_MESSAGES", null);
      announced++;
    }).catch((error: unknown) => {
      if (!(error instanceof AppError && error.code === "NOT_FOUND")) throw error;
    });
  }
  return announced;
}

/** Sweeps once per window on every instance; returns the function that stops it. */
export function scheduleSummaries(services: Services): () => void {
  return repeatWithoutOverlap(
    services,
    "Thread summaries failed",
    services.config.threadSummarySeconds * 1000,
    () => sweepSummaries(services),
  );
}
