import type { Services } from "../context.js";

/**
 * Runs `job` every `everyMs` on this instance, skipping a round while the last one still runs;
 * a failure is logged as `failed`. Returns the function that stops it.
 */
export function repeatWithoutOverlap(
  services: Pick<Services, "log">,
  failed: string,
  everyMs: number,
  job: () => Promise<unknown>,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    job()
      .catch((error: Error) => services.log.warn(failed, { error: error.message }))
      .finally(() => {
        running = false;
      });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
