import { isSafePattern } from "redos-detector";
import type { Context } from "../../context.js";
import { AppError, badInput, notFound } from "../../errors.js";
import type {
  ModerationAction,
  ModerationPatternKind,
  ModerationRule,
  ModerationScope,
} from "../../generated/prisma/client.js";
import { requireAdmin } from "../access.js";
import { afterTimeCursor, type NodePage, nodePage, pageSize } from "../paging.js";
import * as check from "../validation.js";
import { compileRegex } from "./matcher.js";
import { rulesChanged } from "./rule-cache.js";

// The app server's moderation rules: check, write, then have every instance reload them.

export const ALL_SCOPES: ModerationScope[] = [
  "DIRECT",
  "GROUP",
  "ROOM",
  "THREAD",
  "CUSTOM_FIELDS",
  "NICKNAME",
  "GROUP_PROFILE",
  "ROOM_PROFILE",
];
export const MAX_RULES = 50_000;
export const MAX_REGEX_RULES = 100;
/** Rules one adminCreateModerationRules call may add. */
export const MAX_RULES_PER_CALL = 1000;
const MAX_KEYWORD_CHARACTERS = 100;
const MAX_REGEX_CHARACTERS = 500;
/** redos-detector's bound on the analysis; past it the expression counts as unsafe. */
const REGEX_ANALYSIS_MS = 1000;

export interface RuleInput {
  kind: ModerationPatternKind;
  action: ModerationAction;
  scopes?: readonly ModerationScope[] | null;
}

export async function adminCreateModerationRule(
  ctx: Context,
  input: RuleInput & { pattern: string },
): Promise<ModerationRule> {
  const [rule] = await adminCreateModerationRules(ctx, { ...input, patterns: [input.pattern] });
  return rule!;
}

/** Many rules of one kind, action and scope at once (a keyword list). */
export async function adminCreateModerationRules(
  ctx: Context,
  input: RuleInput & { patterns: readonly string[] },
): Promise<ModerationRule[]> {
  requireAdmin(ctx);
  check.list(input.patterns, "patterns", MAX_RULES_PER_CALL);
  if (input.patterns.length === 0) throw badInput("patterns must name at least one pattern", "patterns");
  const patterns = [...new Set(input.patterns.map((pattern) => checkPattern(pattern, input.kind)))];
  const scopes = checkScopes(input.scopes);
  const rules = await ctx.prisma.$transaction(async (tx) => {
    // Serializes rule writers, so the caps below hold when two run at once.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('moderation-rules'))`;
    const [total, expressions] = await Promise.all([
      tx.moderationRule.count(),
      tx.moderationRule.count({ where: { kind: "REGEX" } }),
    ]);
    if (total + patterns.length > MAX_RULES) {
      throw new AppError("LIMIT_EXCEEDED", `At most ${MAX_RULES} moderation rules; there are ${total}`);
    }
    if (input.kind === "REGEX" && expressions + patterns.length > MAX_REGEX_RULES) {
      throw new AppError("LIMIT_EXCEEDED", `At most ${MAX_REGEX_RULES} regular-expression rules`);
    }
    return tx.moderationRule.createManyAndReturn({
      data: patterns.map((pattern) => ({ pattern, kind: input.kind, action: input.action, scopes })),
    });
  });
  await rulesChanged(ctx.services);
  return rules;
}

export async function adminUpdateModerationRule(
  ctx: Context,
  id: string,
  input: {
    pattern?: string | null;
    kind?: ModerationPatternKind | null;
    action?: ModerationAction | null;
    scopes?: readonly ModerationScope[] | null;
  },
): Promise<ModerationRule> {
  requireAdmin(ctx);
  const rule = await requireRule(ctx, id);
  const kind = input.kind ?? rule.kind;
  const pattern = checkPattern(input.pattern ?? rule.pattern, kind);
  const updated = await ctx.prisma.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('moderation-rules'))`;
    if (kind === "REGEX" && rule.kind !== "REGEX") {
      const expressions = await tx.moderationRule.count({ where: { kind: "REGEX" } });
      if (expressions >= MAX_REGEX_RULES) {
        throw new AppError("LIMIT_EXCEEDED", `At most ${MAX_REGEX_RULES} regular-expression rules`);
      }
    }
    return tx.moderationRule.update({
      where: { id: rule.id },
      data: {
        pattern,
        kind,
        action: input.action ?? rule.action,
        scopes: input.scopes == null ? rule.scopes : checkScopes(input.scopes),
      },
    });
  });
  await rulesChanged(ctx.services);
  return updated;
}

export async function adminDeleteModerationRule(ctx: Context, id: string): Promise<boolean> {
  requireAdmin(ctx);
  const rule = await requireRule(ctx, id);
  await ctx.prisma.moderationRule.deleteMany({ where: { id: rule.id } });
  await rulesChanged(ctx.services);
  return true;
}

/** Newest first; `search` matches patterns. */
export async function adminModerationRules(
  ctx: Context,
  args: { search?: string | null; first?: number | null; after?: string | null },
): Promise<NodePage<ModerationRule>> {
  requireAdmin(ctx);
  const first = pageSize(args.first, "first");
  const search = check.searchTerm(args.search);
  const rows = await ctx.prisma.moderationRule.findMany({
    where: {
      ...(search ? { pattern: { contains: search, mode: "insensitive" } } : {}),
      ...afterTimeCursor(args.after, "createdAt", "id", "lt"),
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: first + 1,
  });
  return nodePage(rows, first);
}

async function requireRule(ctx: Context, id: string): Promise<ModerationRule> {
  const rule = check.isId(id) ? await ctx.prisma.moderationRule.findUnique({ where: { id } }) : null;
  if (!rule) throw notFound(`No moderation rule "${id}"`);
  return rule;
}

function checkScopes(scopes: readonly ModerationScope[] | null | undefined): ModerationScope[] {
  if (scopes == null) return ALL_SCOPES;
  if (scopes.length === 0)
    throw badInput("scopes must name at least one scope (or be left out for all)", "scopes");
  return [...new Set(scopes)];
}

function checkPattern(raw: string, kind: ModerationPatternKind): string {
  if (kind === "KEYWORD") {
    const keyword = check.text(raw.trim(), "pattern", { max: MAX_KEYWORD_CHARACTERS });
    if (keyword.normalize("NFKC").trim() === "") throw badInput("pattern must not be blank", "pattern");
    return keyword;
  }
  const pattern = check.text(raw, "pattern", { max: MAX_REGEX_CHARACTERS });
  let regex: RegExp;
  try {
    regex = compileRegex(pattern);
  } catch (error) {
    throw badInput(`pattern is not a valid regular expression: ${(error as Error).message}`, "pattern");
  }
  // Refused now rather than found out at send time, when one message could stall the instance.
  // The analyser cannot combine case-insensitivity with unicode mode; ignoring case only merges
  // letters' two cases, which does not make a safe pattern backtrack.
  const analysis = isSafePattern(regex.source, { unicode: true, timeout: REGEX_ANALYSIS_MS });
  if (!analysis.safe) {
    throw badInput(
      "pattern could backtrack catastrophically on some texts (a nested or overlapping repetition); rewrite it without one",
      "pattern",
    );
  }
  return pattern;
}
