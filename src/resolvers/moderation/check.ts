import type { Context } from "../../context.js";
import { sql } from "../../db/sql.js";
import { AppError } from "../../errors.js";
import type { ModerationScope } from "../../generated/prisma/client.js";
import { type Hit, mask } from "./matcher.js";
import { currentRules } from "./rule-cache.js";

// Applying the rules to what a user writes: a BLOCK match refuses the write (and is recorded), a
// REPLACE match is masked, REVIEW matches pass; REPLACE and REVIEW matches are recorded once the
// write has happened (recordFindings), so a record can name the stored message.

export interface Finding {
  hit: Hit;
  scope: ModerationScope;
  /** The text as written. */
  content: string;
}

export interface Where {
  userId: string | null;
  chatId?: string | null;
  messageId?: bigint | null;
}

const MAX_RECORDED_CHARACTERS = 1000;

/**
 * `text` as it may be stored, and what matched; CONTENT_REJECTED if a BLOCK rule matched. Without
 * rules this costs one look at the compiled set.
 */
export async function moderate(
  ctx: Context,
  where: Where,
  scope: ModerationScope,
  text: string,
): Promise<{ text: string; findings: Finding[] }> {
  const rules = await currentRules(ctx.services);
  const hits = rules.check(scope, text);
  if (hits.length === 0) return { text, findings: [] };
  const findings = hits.map((hit) => ({ hit, scope, content: text }));
  const blocking = findings.find((finding) => finding.hit.rule.action === "BLOCK");
  if (blocking) {
    await recordFindings(ctx, [blocking], where);
    throw new AppError("CONTENT_REJECTED", "The content contains words that are not allowed here", {
      scope,
    });
  }
  return { text: mask(text, hits), findings };
}

/**
 * A name, nickname, description or announcement a user writes, moderated and recorded at once;
 * the app server's own writes are not moderated. A registering user has no id yet (`userId` null).
 */
export async function moderateField(
  ctx: Context,
  scope: ModerationScope,
  text: string,
  chatId: string | null = null,
): Promise<string> {
  if (ctx.viewer.kind === "admin") return text;
  const where = { userId: ctx.viewer.kind === "user" ? ctx.viewer.user.id : null, chatId };
  const result = await moderate(ctx, where, scope, text);
  await recordFindings(ctx, result.findings, where);
  return result.text;
}

export async function recordFindings(
  ctx: Context,
  findings: readonly Finding[],
  where: Where,
): Promise<void> {
  if (findings.length === 0) return;
  // One record per rule and text: a word written three times is one finding to review.
  const seen = new Set<string>();
  const unique = findings.filter((finding) => {
    const key = `${finding.hit.rule.id}\u0000${finding.content}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const rows = unique.map(({ hit, scope, content }) => ({
    ruleId: hit.rule.id,
    pattern: hit.rule.pattern,
    action: hit.rule.action,
    scope,
    matched: content.slice(hit.start, hit.end),
    content: content.slice(0, MAX_RECORDED_CHARACTERS),
  }));
  // A rule deleted since this instance compiled it is recorded without its id.
  await ctx.services.db.query(sql`
    INSERT INTO "ModerationRecord" ("ruleId", pattern, action, scope, "userId", "chatId", "messageId", matched, content)
    SELECT (SELECT id FROM "ModerationRule" WHERE id = r."ruleId"), r.pattern, r.action::"ModerationAction",
      r.scope::"ModerationScope", ${where.userId ?? null}::uuid, ${where.chatId ?? null}::uuid, ${where.messageId == null ? null : String(where.messageId)}::bigint,
      r.matched, r.content
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      AS r("ruleId" uuid, pattern text, action text, scope text, matched text, content text)`);
}
