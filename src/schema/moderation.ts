import type { ModerationRule } from "../generated/prisma/client.js";
import {
  adminModerationRecords,
  adminModerationStats,
  type ModerationStat,
  type RecordRow,
} from "../resolvers/moderation/records.js";
import {
  adminCreateModerationRule,
  adminCreateModerationRules,
  adminDeleteModerationRule,
  adminModerationRules,
  adminUpdateModerationRule,
  MAX_RULES_PER_CALL,
} from "../resolvers/moderation/rules.js";
import { builder } from "./builder.js";
import { byTime, connectionType } from "./pagination.js";

const PatternKindRef = builder.enumType("ModerationPatternKind", {
  description:
    "KEYWORD: the text contains it (any case, full- or half-width); REGEX: a regular expression matches.",
  values: ["KEYWORD", "REGEX"] as const,
});

const ActionRef = builder.enumType("ModerationAction", {
  values: {
    BLOCK: { description: "The write fails with CONTENT_REJECTED; nothing is stored." },
    REPLACE: { description: "Each match is masked with '*'." },
    REVIEW: { description: "Stored and delivered as written, and recorded." },
  } as const,
});

const ScopeRef = builder.enumType("ModerationScope", {
  values: {
    DIRECT: { description: "Text of direct messages" },
    GROUP: { description: "Text of group messages" },
    ROOM: { description: "Text of room messages" },
    THREAD: { description: "Text of thread messages" },
    CUSTOM_FIELDS: { description: "A custom message's fields and every message's ext" },
    NICKNAME: { description: "Nicknames, at registration and in updateProfile" },
    GROUP_PROFILE: { description: "Group names, descriptions and announcements" },
    ROOM_PROFILE: { description: "Room names, descriptions and announcements" },
  } as const,
});

const RuleRef = builder.objectRef<ModerationRule>("ModerationRule");
RuleRef.implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    pattern: t.exposeString("pattern"),
    kind: t.field({ type: PatternKindRef, resolve: (rule) => rule.kind }),
    action: t.field({ type: ActionRef, resolve: (rule) => rule.action }),
    scopes: t.field({ type: [ScopeRef], resolve: (rule) => rule.scopes }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const RecordRef = builder.objectRef<RecordRow>("ModerationRecord");
RecordRef.implement({
  description: "A rule that matched something a user wrote.",
  fields: (t) => ({
    id: t.field({ type: "ID", resolve: (record) => record.id.toString() }),
    rule: t.field({
      type: RuleRef,
      nullable: true,
      description: "Null once the rule is deleted; pattern keeps what it was.",
      resolve: (record) => record.rule,
    }),
    pattern: t.exposeString("pattern"),
    action: t.field({ type: ActionRef, resolve: (record) => record.action }),
    scope: t.field({ type: ScopeRef, resolve: (record) => record.scope }),
    username: t.string({
      nullable: true,
      description: "Who wrote it; null for a registration that was refused.",
      resolve: (record) => record.user?.username ?? null,
    }),
    chatId: t.exposeID("chatId", {
      nullable: true,
      description: "The chat it was written in (direct, group, room or thread), if any.",
    }),
    messageId: t.field({
      type: "ID",
      nullable: true,
      description: "The stored message (REPLACE, REVIEW).",
      resolve: (record) => record.messageId?.toString() ?? null,
    }),
    matched: t.exposeString("matched"),
    content: t.exposeString("content", { description: "What was written (its first 1,000 characters)." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const StatRef = builder.objectRef<ModerationStat>("ModerationStat").implement({
  fields: (t) => ({
    day: t.exposeString("day", { description: "The UTC date, as YYYY-MM-DD." }),
    action: t.field({ type: ActionRef, resolve: (stat) => stat.action }),
    count: t.exposeInt("count"),
  }),
});

const RuleConnectionRef = connectionType("ModerationRule", RuleRef);
const RecordConnectionRef = connectionType("ModerationRecord", RecordRef);

builder.queryFields((t) => ({
  adminModerationRules: t.field({
    type: RuleConnectionRef,
    authScopes: { admin: true },
    description: "The rules, newest first; search matches patterns.",
    args: { search: t.arg.string(), first: t.arg.int(), after: t.arg.string() },
    resolve: async (_root, args, ctx) =>
      byTime(await adminModerationRules(ctx, args), args.after, (rule) => [rule.createdAt, rule.id]),
  }),
  adminModerationRecords: t.field({
    type: RecordConnectionRef,
    authScopes: { admin: true },
    description: "What the rules caught, newest first, filtered by rule, action, scope, user and time.",
    args: {
      rule: t.arg.id(),
      action: t.arg({ type: ActionRef }),
      scope: t.arg({ type: ScopeRef }),
      user: t.arg.string({ description: "A username" }),
      from: t.arg({ type: "DateTime" }),
      to: t.arg({ type: "DateTime", description: "Exclusive" }),
      first: t.arg.int(),
      after: t.arg.string(),
    },
    resolve: async (_root, args, ctx) => {
      const page = await adminModerationRecords(ctx, {
        ...args,
        rule: args.rule == null ? null : String(args.rule),
      });
      return {
        nodes: page.nodes,
        cursorOf: (record) => record.id.toString(),
        hasNextPage: page.hasNextPage,
        hasPreviousPage: args.after != null,
      };
    },
  }),
  adminModerationStats: t.field({
    type: [StatRef],
    authScopes: { admin: true },
    description:
      "Records per UTC day and action, for the days of `from` through `to` (both included, at most 366).",
    args: {
      from: t.arg({ type: "DateTime", required: true }),
      to: t.arg({ type: "DateTime", required: true }),
    },
    resolve: (_root, args, ctx) => adminModerationStats(ctx, args),
  }),
}));

builder.mutationFields((t) => ({
  adminCreateModerationRule: t.field({
    type: RuleRef,
    authScopes: { admin: true },
    description:
      "A rule for every instance, applied within a second. A regular expression that could backtrack catastrophically is refused.",
    args: {
      pattern: t.arg.string({ required: true }),
      kind: t.arg({ type: PatternKindRef, required: true }),
      action: t.arg({ type: ActionRef, required: true }),
      scopes: t.arg({ type: [ScopeRef], description: "Where it applies; every scope when left out." }),
    },
    resolve: (_root, args, ctx) => adminCreateModerationRule(ctx, args),
  }),
  adminCreateModerationRules: t.field({
    type: [RuleRef],
    authScopes: { admin: true },
    description: `Many rules of one kind, action and scopes (a keyword list), up to ${MAX_RULES_PER_CALL} a call.`,
    args: {
      patterns: t.arg.stringList({ required: true }),
      kind: t.arg({ type: PatternKindRef, required: true }),
      action: t.arg({ type: ActionRef, required: true }),
      scopes: t.arg({ type: [ScopeRef] }),
    },
    resolve: (_root, args, ctx) => adminCreateModerationRules(ctx, args),
  }),
  adminUpdateModerationRule: t.field({
    type: RuleRef,
    authScopes: { admin: true },
    args: {
      id: t.arg.id({ required: true }),
      pattern: t.arg.string(),
      kind: t.arg({ type: PatternKindRef }),
      action: t.arg({ type: ActionRef }),
      scopes: t.arg({ type: [ScopeRef] }),
    },
    resolve: (_root, args, ctx) => adminUpdateModerationRule(ctx, String(args.id), args),
  }),
  adminDeleteModerationRule: t.boolean({
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => adminDeleteModerationRule(ctx, String(args.id)),
  }),
}));
