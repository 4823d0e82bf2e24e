import { Response } from "@whatwg-node/fetch";
import type { GraphQLError } from "graphql";
import type { ErrorCode } from "../errors.js";

/** The HTTP status each API error code answers with on /v1; written once, also in the OpenAPI document. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BLOCKED: 403,
  MUTED: 403,
  NOT_MEMBER: 403,
  USER_BANNED: 403,
  CONTENT_REJECTED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RECALL_WINDOW_EXPIRED: 409,
  LIMIT_EXCEEDED: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
};

/** What a failed REST call answers: the first error's code and message at the top, every error below. */
export function errorResponse(errors: readonly GraphQLError[]): Response {
  const [first] = errors;
  // http: sofa's own status hint on the errors it raises; the code decides the status here.
  const {
    code,
    http: _http,
    ...details
  } = (first?.extensions ?? {}) as { code: ErrorCode } & Record<string, unknown>;
  const status = HTTP_STATUS[code] ?? 500;
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (typeof details.retryAfterSeconds === "number") {
    headers["retry-after"] = String(Math.max(1, Math.ceil(details.retryAfterSeconds)));
  }
  const body = {
    code,
    message: first?.message ?? "Internal server error",
    ...details,
    errors: errors.map((error) => ({
      code: error.extensions?.code,
      message: error.message,
      ...(error.path ? { path: error.path } : {}),
    })),
  };
  return new Response(JSON.stringify(body), { status, headers });
}

/** The error body's JSON schema, for the OpenAPI document. */
export const ERROR_SCHEMA = {
  type: "object",
  required: ["code", "message", "errors"],
  properties: {
    code: { type: "string", enum: Object.keys(HTTP_STATUS), description: "The API error code" },
    message: { type: "string", description: "What was wrong, for a developer" },
    field: { type: "string", description: "The argument at fault, when one is" },
    retryAfterSeconds: {
      type: "integer",
      description: "RATE_LIMITED: when to try again (also the Retry-After header)",
    },
    errors: {
      type: "array",
      items: {
        type: "object",
        properties: {
          code: { type: "string" },
          message: { type: "string" },
          path: { type: "array", items: { oneOf: [{ type: "string" }, { type: "integer" }] } },
        },
      },
    },
  },
  additionalProperties: true,
};
