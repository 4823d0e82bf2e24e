import { GraphQLError } from "graphql";
import { ERROR_CODES, type ErrorCode } from "../errors.js";
import type { Logger } from "../logger.js";

const KNOWN = new Set<string>(ERROR_CODES);

// In place rather than a copy: yoga logs every error its mask replaces, and these are the client's.
function withCode(error: GraphQLError, code: ErrorCode): GraphQLError {
  (error.extensions as Record<string, unknown>).code = code;
  return error;
}

/**
 * What a client may see of an error. Ours (AppError) pass as they are; errors graphql-js raises about
 * the request itself (syntax, validation, variable values) get BAD_USER_INPUT; anything else is a bug
 * or an outage and becomes INTERNAL, with the detail only in the server log.
 */
export function toClientError(error: unknown, log: Logger): GraphQLError {
  if (error instanceof GraphQLError) {
    const code = error.extensions?.code;
    if (typeof code === "string" && KNOWN.has(code)) return error;
    const original = error.originalError;
    if (!original || (original instanceof GraphQLError && !original.originalError)) {
      return withCode(error, "BAD_USER_INPUT");
    }
  }
  const cause = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  log.error("Unexpected error", {
    error: cause instanceof Error ? cause.message : String(cause),
    stack: cause instanceof Error ? cause.stack : undefined,
    path: error instanceof GraphQLError ? error.path : undefined,
  });
  return new GraphQLError("Internal server error", {
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code: "INTERNAL" },
  });
}
