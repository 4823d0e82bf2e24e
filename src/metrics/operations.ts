import { isAsyncIterable, type Plugin } from "@envelop/core";
import { type DocumentNode, type GraphQLError, getOperationAST } from "graphql";
import { Counter, Histogram } from "prom-client";
import { clientCode } from "../schema/errors.js";
import { registry } from "./registry.js";

// GraphQL operations by name, type and outcome, over HTTP and graphql-ws alike (server.ts runs
// graphql-ws operations through yoga's envelop, so these hooks see both). A subscription counts once,
// when it starts (or fails to); its duration is how long starting took.

/** Operation names beyond this many share the label value "other": names are the client's to choose. */
const MAX_NAMES = 100;

const operations = new Counter({
  name: "im_graphql_operations_total",
  help: "GraphQL operations, by operation name, type and outcome (ok, or the first error's code).",
  labelNames: ["operation", "type", "outcome"],
  registers: [registry],
});

const durations = new Histogram({
  name: "im_graphql_operation_duration_seconds",
  help: "How long executing a GraphQL operation took (for a subscription: starting it), by operation name and type.",
  labelNames: ["operation", "type"],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

const names = new Set<string>();

function nameLabel(name: string | undefined): string {
  if (!name) return "anonymous";
  if (names.has(name)) return name;
  if (names.size >= MAX_NAMES) return "other";
  names.add(name);
  return name;
}

/** The operation `document` runs for `operationName`, as label values. */
function labelsOf(document: DocumentNode, operationName: string | null | undefined) {
  const operation = getOperationAST(document, operationName);
  return { operation: nameLabel(operation?.name?.value), type: operation?.operation ?? "unknown" };
}

function outcomeOf(errors: readonly unknown[] | undefined): string {
  return errors?.length ? clientCode(errors[0]) : "ok";
}

function record(labels: { operation: string; type: string }, outcome: string, startedAt?: number) {
  operations.inc({ ...labels, outcome });
  if (startedAt !== undefined) durations.observe(labels, (performance.now() - startedAt) / 1000);
}

export function useOperationMetrics(): Plugin {
  return {
    onParse() {
      return ({ result }) => {
        if (result instanceof Error) record({ operation: "anonymous", type: "unknown" }, clientCode(result));
      };
    },
    onValidate({ params, context }) {
      return ({ result }) => {
        if (result.length === 0) return;
        const given = (context as { params?: { operationName?: string | null } }).params?.operationName;
        record(labelsOf(params.documentAST, given), outcomeOf(result as GraphQLError[]));
      };
    },
    onExecute({ args }) {
      const startedAt = performance.now();
      return {
        onExecuteDone({ result }) {
          const errors = isAsyncIterable(result) ? undefined : result.errors;
          record(labelsOf(args.document, args.operationName), outcomeOf(errors), startedAt);
        },
      };
    },
    onSubscribe({ args }) {
      const startedAt = performance.now();
      const labels = labelsOf(args.document, args.operationName);
      return {
        // No onSubscribeError: it would wrap every stream's iterator, a cost on each event.
        onSubscribeResult({ result }) {
          record(labels, outcomeOf(isAsyncIterable(result) ? undefined : result.errors), startedAt);
        },
      };
    },
  };
}
