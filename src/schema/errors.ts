import { GraphQLError } from "graphql";
import { isDatabaseFailure } from "../db/errors.js";
import { ERROR_CODES, type ErrorCode } from "../errors.js";
import type { Logger } from "../logger.js";
import { countDatabaseError } from "../metrics/registry.js";

const KNOWN = new Set<string>(ERROR_CODES);

/** An operation whose log line will tell what its INTERNAL errors hid (src/http/request-log.ts). */
export interface ErrorOwner {
  causes: InternalCause[];
}

export interface InternalCause {
  error: string;
  stack?: string;
  path?: readonly (string | number)[];
}

const owners = new WeakMap<object, ErrorOwner>();

/** Hands the cause of any of these errors that turns out INTERNAL to `owner`, instead of a line of its own. */
export function claimErrors(errors: readonly unknown[] | undefined, owner: ErrorOwner): void {
  for (const error of errors ?? []) if (typeof error === "object" && error) owners.set(error, owner);
}

/** `work`, whose failure (an outage, before any resolver runs) `owner`'s line tells of. */
export async function claimingErrors<T>(owner: ErrorOwner | undefined, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (owner) claimErrors([error], owner);
    throw error;
  }
}

// In place rather than a copy: yoga logs every error its mask replaces, and these are the client's.
function withCode(error: GraphQLError, code: ErrorCode): GraphQLError {
  (error.extensions as Record<string, unknown>).code = code;
  return error;
}

/**
 * The code of an error the client is meant to see as it is: ours (AppError), or one graphql-js
 * raises about the request itself (syntax, validation, variable values); undefined for anything
 * else, which is a bug or an outage.
 */
function requestCode(error: unknown): ErrorCode | undefined {
  if (!(error instanceof GraphQLError)) return undefined;
  const code = error.extensions?.code;
  if (typeof code === "string" && KNOWN.has(code)) return code as ErrorCode;
  const original = error.originalError;
  if (!original || (original instanceof GraphQLError && !original.originalError)) {
    return "BAD_USER_INPUT";
  }
  return undefined;
}

/** The code the client gets for `error` (toClientError's). */
export function clientCode(error: unknown): ErrorCode {
  return requestCode(error) ?? "INTERNAL";
}

/**
 * What a client may see of an error. Ours (AppError) pass as they are; errors graphql-js raises about
 * the request itself (syntax, validation, variable values) get BAD_USER_INPUT; anything else is a bug
 * or an outage and becomes INTERNAL, with the detail only in the server log.
 */
export function toClientError(error: unknown, log: Logger): GraphQLError {
  const code = requestCode(error);
  if (code) return withCode(error as GraphQLError, code);
  const cause = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (isDatabaseFailure(cause)) countDatabaseError("query");
  const detail: InternalCause = {
    error: cause instanceof Error ? cause.message : String(cause),
    stack: cause instanceof Error ? cause.stack : undefined,
    path: error instanceof GraphQLError ? error.path : undefined,
  };
  // One line per failure: the operation's own line carries the cause when it has one.
  const owner = typeof error === "object" && error ? owners.get(error) : undefined;
  if (owner) owner.causes.push(detail);
  else log.error("Unexpected error", { ...detail });
  return new GraphQLError("Internal server error", {
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code: "INTERNAL" },
  });
}
