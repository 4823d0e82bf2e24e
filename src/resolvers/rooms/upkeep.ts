import type { Services } from "../../context.js";
import { destroyIdleRooms } from "./lifecycle.js";
import { reconcilePresence, removeGoneMembers } from "./membership.js";
import { trimHistories } from "./messages.js";

// Room housekeeping that every instance runs; each step is judged under the room's lock, so two
// instances doing it at once do it once: members gone past the grace period, idle rooms, history.

const MAX_INTERVAL_MS = 10_000;
/** How often members marked connected are checked against the presence store. */
const RECONCILE_EVERY_MS = 300_000;

export function scheduleRoomUpkeep(services: Services): () => void {
  // Rooms written before this instance started are trimmed at their next message: reads never show
  // more than the limit anyway, and starting from the newest id spares a scan of every message.
  let trimmedAfter: bigint | null = null;
  let running = false;
  let reconciledAt = 0;
  const steps: [what: string, run: () => Promise<unknown>][] = [
    [
      "checking members marked connected against presence",
      async () => {
        if (Date.now() - reconciledAt < RECONCILE_EVERY_MS) return;
        reconciledAt = Date.now();
        await reconcilePresence(services);
      },
    ],
    ["removing members gone past ROOM_LEAVE_GRACE_SECONDS", () => removeGoneMembers(services)],
    ["destroying idle rooms", () => destroyIdleRooms(services)],
    [
      "trimming room history",
      async () => {
        trimmedAfter =
          trimmedAfter === null
            ? ((await services.prisma.message.aggregate({ _max: { id: true } }))._max.id ?? 0n)
            : await trimHistories(services, trimmedAfter);
      },
    ],
  ];
  const run = async () => {
    if (running) return;
    running = true;
    for (const [what, step] of steps) {
      await step().catch((error: Error) =>
        services.log.warn("Room upkeep failed", { what, error: error.message }),
      );
    }
    running = false;
  };
  // A quarter of the grace period, so a member is removed within 1.25 times it.
  const interval = Math.min(MAX_INTERVAL_MS, (services.config.rooms.leaveGraceSeconds * 1000) / 4);
  const timer = setInterval(run, interval);
  timer.unref();
  void run();
  return () => clearInterval(timer);
}
