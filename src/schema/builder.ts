import SchemaBuilder from "@pothos/core";
import PrismaPlugin from "@pothos/plugin-prisma";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import type { Context } from "../context.js";
import { SAME_FOR_EVERY_VIEWER } from "../delivery/shared-render.js";
import { forbidden } from "../errors.js";
import type PrismaTypes from "../generated/pothos-types.js";
import { getDatamodel } from "../generated/pothos-types.js";
import type { SpooledFile } from "../http/spooled-uploads.js";
import { notSignedIn } from "../resolvers/access.js";

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { user: boolean; admin: boolean };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    File: { Input: SpooledFile; Output: never };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin, PrismaPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({ user: ctx.viewer.kind === "user", admin: ctx.viewer.kind === "admin" }),
    unauthorizedError: (_parent, ctx) =>
      ctx.viewer.kind === "anonymous"
        ? notSignedIn(ctx)
        : forbidden("Your token does not allow this operation"),
  },
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
  },
});

/** The builder's type parameters, for helpers that take a field builder. */
export type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/**
 * Type or field option: the value reads the same whoever asks, so one rendering of an event serves
 * every reader on an instance (delivery/shared-render.ts). Unmarked fields are rendered per reader.
 */
export const sameForEveryViewer = { extensions: { [SAME_FOR_EVERY_VIEWER]: true } };
/** On a field of a type marked sameForEveryViewer: this one depends on who asks. */
export const perViewer = { extensions: { [SAME_FOR_EVERY_VIEWER]: false } };

/** DataLoader.loadMany's results without the misses. */
export function present<T>(items: readonly (T | null | Error)[]): T[] {
  return items.filter((item): item is T => item !== null && !(item instanceof Error));
}

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
