import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { type DocumentNode, type ExecutionResult, type GraphQLError, getOperationAST } from "graphql";
import {
  handleStreamOrSingleExecutionResult,
  isAsyncIterable,
  mapAsyncIterator,
  type Plugin,
} from "graphql-yoga";
import type { Viewer } from "../context.js";
import type { Logger } from "../logger.js";
import { claimErrors, type ErrorOwner, type InternalCause } from "../schema/errors.js";

// One log line per HTTP request and per graphql-ws operation: who, what, how long, and how it
// ended. Lines carry chosen fields only, never variables or headers, so no password or token can
// reach them; the logger's redaction (logger.ts) is a safety net behind that.

/** What one request or operation's log line says; filled in as the request goes. */
export interface RequestRecord extends ErrorOwner {
  readonly requestId: string;
  readonly clientAddress: string | undefined;
  readonly startedAt: number;
  /** The graphql-ws operation's id, beside its connection's request id. */
  operationId?: string;
  operationName?: string;
  operationType?: string;
  /** A user's id, `admin` or `anonymous`. */
  user?: string;
  /** The first error's code; none: the operation went through. */
  code?: string;
}

/** What yoga's context carries for the plugin: the HTTP request's record, or the operation's. */
export type RequestRecordCarrier = { requestRecord?: RequestRecord };

export function startRecord(requestId: string, clientAddress: string | undefined): RequestRecord {
  return { requestId, clientAddress, startedAt: performance.now(), causes: [] };
}

const requestIds = new WeakMap<IncomingMessage, string>();

/** The caller's X-Request-Id when it is a sane token (a proxy's, a client's), else a new one; the same for one request. */
export function requestIdOf(req: IncomingMessage): string {
  let id = requestIds.get(req);
  if (id === undefined) {
    const given = req.headers["x-request-id"];
    id = typeof given === "string" && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    requestIds.set(req, id);
  }
  return id;
}

export function viewerLabel(viewer: Viewer | undefined): string | undefined {
  if (!viewer) return undefined;
  return viewer.kind === "user" ? viewer.user.id : viewer.kind;
}

function noteErrors(record: RequestRecord, errors: readonly GraphQLError[] | undefined): void {
  const first = errors?.[0];
  if (first && record.code === undefined) {
    const code = first.extensions?.code;
    record.code = typeof code === "string" ? code : "INTERNAL";
  }
}

function noteOperation(record: RequestRecord, document: DocumentNode, operationName?: string | null) {
  const operation = getOperationAST(document, operationName);
  record.operationType = operation?.operation;
  record.operationName = operation?.name?.value ?? operationName ?? record.operationName;
}

/**
 * Fills the record in the context with the operation's name, type and user, and claims its errors
 * before they are masked, so an INTERNAL cause lands on the operation's line. HTTP results are
 * read here as the client gets them; graphql-ws results in the socket's hooks (SocketRequestLog).
 */
export function useRequestLog(): Plugin<RequestRecordCarrier> {
  const claimAll = (record: RequestRecord) => ({
    onNext: ({ result }: { result: ExecutionResult }) => claimErrors(result.errors, record),
  });
  const start = (contextValue: unknown, document: DocumentNode, operationName?: string | null) => {
    const context = contextValue as RequestRecordCarrier & { viewer?: Viewer };
    const record = context.requestRecord;
    if (!record) return undefined;
    noteOperation(record, document, operationName);
    record.user = viewerLabel(context.viewer);
    return record;
  };
  return {
    onParams({ params, context }) {
      const record = (context as RequestRecordCarrier).requestRecord;
      if (record && params.operationName) record.operationName = params.operationName;
    },
    onExecute({ args }) {
      const record = start(args.contextValue, args.document, args.operationName);
      if (!record) return;
      return {
        onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, claimAll(record).onNext),
      };
    },
    onSubscribe({ args }) {
      const record = start(args.contextValue, args.document, args.operationName);
      if (!record) return;
      return {
        onSubscribeResult: ({ result }) => {
          if (isAsyncIterable(result)) return claimAll(record);
          claimErrors(result.errors, record);
        },
      };
    },
    onResultProcess({ result, serverContext, setResult }) {
      const record = (serverContext as RequestRecordCarrier).requestRecord;
      if (!record) return;
      if (isAsyncIterable(result)) {
        setResult(
          mapAsyncIterator(result, (each) => {
            noteErrors(record, each.errors);
            return each;
          }),
        );
      } else {
        for (const each of Array.isArray(result) ? result : [result]) noteErrors(record, each.errors);
      }
    },
  };
}

type Fields = Record<string, unknown>;

function write(log: Logger, message: string, record: RequestRecord, fields: Fields, quiet = false): void {
  const [cause, ...more] = record.causes;
  const line: Fields = {
    requestId: record.requestId,
    operationId: record.operationId,
    ...fields,
    clientAddress: record.clientAddress,
    operationName: record.operationName,
    operationType: record.operationType,
    user: record.user,
    durationMs: Math.round((performance.now() - record.startedAt) * 10) / 10,
    ...(cause ? { ...causeFields(cause), moreErrors: more.length || undefined } : {}),
  };
  const failed = record.code === "INTERNAL" || cause !== undefined || Number(fields.status) >= 500;
  if (failed) log.error(message, line);
  else if (quiet) log.debug(message, line);
  else log.info(message, line);
}

function causeFields(cause: InternalCause): Fields {
  return { error: cause.error, errorPath: cause.path?.join("."), stack: cause.stack };
}

const PROBES = new Set(["/healthz", "/readyz"]);

/** Writes the request's line once its answer is sent or cut off; health probes only at debug level. */
export function logHttpRequest(
  log: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  record: RequestRecord,
  graphqlPath: string,
): void {
  const path = req.url?.split("?")[0] ?? "";
  res.once("close", () => {
    const fields: Fields = { method: req.method, path, status: res.statusCode };
    if (!res.writableFinished) fields.aborted = true;
    if (path === graphqlPath) fields.outcome = record.code ?? "ok";
    write(log, "HTTP request", record, fields, PROBES.has(path));
  });
}

/** A graphql-ws connection's operations, each logged when it ends, and the connection when it closes. */
export class SocketRequestLog {
  private readonly connection: RequestRecord;
  private readonly operations = new Map<string, RequestRecord>();

  constructor(
    private readonly log: Logger,
    requestId: string,
    clientAddress: string | undefined,
  ) {
    this.connection = startRecord(requestId, clientAddress);
  }

  /** Who the connection acts as, once known. */
  identify(viewer: Viewer): void {
    this.connection.user = viewerLabel(viewer);
  }

  /** A new operation's record, which yoga's context carries (useRequestLog fills it in). */
  start(id: string, operationName?: string | null): RequestRecord {
    const record = startRecord(this.connection.requestId, this.connection.clientAddress);
    record.operationId = id;
    record.operationName = operationName ?? undefined;
    record.user = this.connection.user;
    this.operations.set(id, record);
    return record;
  }

  next(id: string, result: ExecutionResult): void {
    const record = this.operations.get(id);
    if (record) noteErrors(record, result.errors);
  }

  /** The operation ended: completed, or failed with `errors`. */
  finish(id: string, errors?: readonly GraphQLError[]): void {
    const record = this.operations.get(id);
    if (!record) return;
    this.operations.delete(id);
    noteErrors(record, errors);
    write(this.log, "GraphQL operation", record, { outcome: record.code ?? "ok" });
  }

  closed(code: number | undefined): void {
    for (const id of [...this.operations.keys()]) this.finish(id);
    write(this.log, "WebSocket closed", this.connection, { path: "/graphql", closeCode: code });
  }
}
