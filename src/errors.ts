import { GraphQLError } from "graphql";

/** The error codes of API.md; every failure a client sees carries exactly one. */
export const ERROR_CODES = [
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "BAD_USER_INPUT",
  "CONFLICT",
  "LIMIT_EXCEEDED",
  "RATE_LIMITED",
  "BLOCKED",
  "MUTED",
  "NOT_MEMBER",
  "RECALL_WINDOW_EXPIRED",
  "CONTENT_REJECTED",
  "USER_BANNED",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The one error type resolvers throw. Anything else reaching the client is masked as INTERNAL. */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message, { extensions: { code, ...details } });
    this.name = "AppError";
    this.code = code;
  }
}

export const badInput = (message: string, field?: string) =>
  new AppError("BAD_USER_INPUT", message, field ? { field } : undefined);
export const notFound = (message: string) => new AppError("NOT_FOUND", message);
export const forbidden = (message: string) => new AppError("FORBIDDEN", message);
export const unauthenticated = (message = "Sign in first: send 'Authorization: Bearer <token>'") =>
  new AppError("UNAUTHENTICATED", message);
