import type { Services } from "../../context.js";
import { sql } from "../../db/sql.js";
import { repeatWithoutOverlap } from "../periodic.js";
import { type Rule, RuleSet } from "./matcher.js";

// Each instance holds the rules compiled (matcher.ts). A change is published to every instance,
// which reloads at once; a lost wake-up (Redis pubsub drops messages while reconnecting) is caught
// by a look at the rules' fingerprint every few seconds.

interface Cache {
  rules: RuleSet | null;
  fingerprint: string;
  loading: Promise<RuleSet> | null;
}

const caches = new WeakMap<Services, Cache>();
const CHECK_MS = 5000;

function cacheOf(services: Services): Cache {
  let cache = caches.get(services);
  if (!cache) {
    cache = { rules: null, fingerprint: "", loading: null };
    caches.set(services, cache);
  }
  return cache;
}

/** The rules as this instance has them compiled. */
export function currentRules(services: Services): RuleSet | Promise<RuleSet> {
  const cache = cacheOf(services);
  return cache.rules ?? reload(services);
}

/**
 * Loads the rules. A load already running may have read them before the latest change, so a
 * change (`fresh`) loads again after it.
 */
function reload(services: Services, fresh = false): Promise<RuleSet> {
  const cache = cacheOf(services);
  if (cache.loading && !fresh) return cache.loading;
  const previous = cache.loading ?? Promise.resolve();
  const loading = previous
    .catch(() => {})
    .then(async () => {
      const [rules, fingerprint] = await Promise.all([
        services.prisma.moderationRule.findMany({
          select: { id: true, pattern: true, kind: true, action: true, scopes: true },
          orderBy: { createdAt: "asc" },
        }),
        fingerprintOf(services),
      ]);
      cache.rules = new RuleSet(rules as Rule[]);
      cache.fingerprint = fingerprint;
      return cache.rules;
    })
    .finally(() => {
      if (cache.loading === loading) cache.loading = null;
    });
  cache.loading = loading;
  return loading;
}

async function fingerprintOf(services: Services): Promise<string> {
  const [row] = await services.db.query<{ fingerprint: string }>(sql`
    SELECT count(*)::text || '/' || coalesce(max("updatedAt")::text, '') AS fingerprint FROM "ModerationRule"`);
  return row!.fingerprint;
}

/** After a change has committed: this instance has the new rules when it resolves; the others soon after. */
export async function rulesChanged(services: Services): Promise<void> {
  services.pubsub.publish("moderationRulesChanged", "all", {});
  await reload(services, true);
}

/** Keeps this instance's rules current; returns the function that stops it. */
export function followModerationRules(services: Services): () => void {
  let unsubscribe = () => {};
  let stopped = false;
  void services.pubsub
    .subscribe("moderationRulesChanged", "all", () => void reload(services, true).catch(() => {}))
    .then((stop) => {
      if (stopped) stop();
      else unsubscribe = stop;
    });
  const stopChecking = repeatWithoutOverlap(services, "Moderation rules check failed", CHECK_MS, async () => {
    const cache = cacheOf(services);
    if (cache.rules && (await fingerprintOf(services)) !== cache.fingerprint) await reload(services, true);
  });
  return () => {
    stopped = true;
    unsubscribe();
    stopChecking();
  };
}
