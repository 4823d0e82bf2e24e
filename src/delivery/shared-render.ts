import { randomUUID } from "node:crypto";
import type { Plugin } from "@envelop/core";
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  type FieldNode,
  type GraphQLSchema,
  getNamedType,
  getOperationAST,
  isAbstractType,
  Kind,
  type OperationDefinitionNode,
  print,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from "graphql";
import { type CompiledQuery, compileQuery, isCompiledQuery } from "graphql-jit";

// Render once per distinct selection (EVENT-LOG.md invariant 10, Mattermost's PrecomputeJSON): an
// event that many local streams deliver (a group message handed to every member's stream by the
// chat-log tailer) is executed once per distinct `events` document and variables on an instance,
// not once per member. Only selections whose every field reads the same whoever asks qualify: the
// schema says so per field or per type with the SAME_FOR_EVERY_VIEWER extension, and anything not
// marked (a viewer's conversation, a download URL signed for them, "my role") keeps the ordinary
// per-reader execution. The envelope's `cursor` is each reader's own and is filled in per reader.

/** Schema extension key: on a field (or a whole type), its value is the same whoever asks. */
export const SAME_FOR_EVERY_VIEWER = "sameForEveryViewer";

/** What a stream yields: `event` is one object shared by every reader of the same event on this instance. */
interface Envelope {
  cursor: string | null;
  event: object;
}

const STREAM_FIELD = "events";
const ENVELOPE_CURSOR = "cursor";
/**
 * Stands in for the reader's cursor in the shared rendering; replaced before a reader sees it. Random
 * per process, so no message text can pose as it in the rendered JSON.
 */
const CURSOR_SLOT = `\u0000cursor-${randomUUID()}\u0000`;
const CURSOR_SLOT_JSON = JSON.stringify(CURSOR_SLOT);

/** Values by an object (kept only while something else holds it), then by a key; made once each. */
class WeakMemo<Owner extends object, V> {
  readonly #byOwner = new WeakMap<Owner, Map<string, V>>();

  get(owner: Owner, key: string, make: () => V): V {
    let byKey = this.#byOwner.get(owner);
    if (!byKey) {
      byKey = new Map();
      this.#byOwner.set(owner, byKey);
    }
    if (!byKey.has(key)) byKey.set(key, make());
    return byKey.get(key) as V;
  }
}

/** Renderings by event, then by selection: the event object lives as long as some reader holds it. */
const renderings = new WeakMemo<object, Promise<ExecutionResult>>();
/** Per document and operation: whether its selection qualifies, and the variables it reads. */
const analyses = new WeakMemo<DocumentNode, Analysis | null>();

interface Analysis {
  /** The document's text, part of the selection's key. */
  text: string;
  /** Variables the selection below the stream field reads (not the stream's own `since`). */
  variables: string[];
}

export function useSharedEventRendering(): Plugin {
  return {
    onSubscribe({ args, setSubscribeFn }) {
      const analysis = analyse(args.schema, args.document, args.operationName);
      if (!analysis) return;
      const values = (args.variableValues ?? {}) as Record<string, unknown>;
      const selection = `${analysis.text}\u0000${args.operationName ?? ""}\u0000${JSON.stringify(
        analysis.variables.map((name) => values[name] ?? null),
      )}`;
      (args.contextValue as { renderJson?: unknown }).renderJson = (envelope: Envelope) =>
        renderJson(args as ExecutionArgs, selection, envelope);
      const subscribe = async (subscribeArgs: ExecutionArgs) => {
        const source = await createSourceEventStream(subscribeArgs);
        if (!(Symbol.asyncIterator in source)) return source as ExecutionResult;
        return mapStream(source as AsyncIterable<Envelope>, (envelope) =>
          renderFor(subscribeArgs, selection, envelope),
        );
      };
      setSubscribeFn(subscribe as never);
    },
  };
}

/** Per document and operation: the selection compiled to a function (graphql-jit), or null where it cannot be. */
const compilations = new WeakMemo<DocumentNode, CompiledQuery | null>();

/**
 * An `events` selection runs once per event a stream delivers, so it is compiled once instead of
 * interpreted each time: graphql-js's execute re-coerces variables and re-collects fields per call,
 * which was the largest share of a replay's CPU (BENCHMARKS.md).
 */
function compiledFor(args: ExecutionArgs): CompiledQuery | null {
  return compilations.get(args.document, args.operationName ?? "", () => {
    passAbstractTypes(args.schema);
    const result = compileQuery(args.schema, args.document, args.operationName ?? undefined);
    return isCompiledQuery(result) ? result : null;
  });
}

const passingAbstractTypes = new WeakSet<GraphQLSchema>();

/**
 * graphql-jit calls an abstract type's resolveType without the type itself, the fourth argument
 * graphql-js passes and Pothos's default resolver reads (to try each possible type's isTypeOf).
 */
function passAbstractTypes(schema: GraphQLSchema): void {
  if (passingAbstractTypes.has(schema)) return;
  passingAbstractTypes.add(schema);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isAbstractType(type) || !type.resolveType) continue;
    const resolveType = type.resolveType;
    type.resolveType = (value, context, info, abstractType) =>
      resolveType(value, context, info, abstractType ?? type);
  }
}

/** An envelope rendered once per event and selection, with the cursor slot where each reader's cursor goes. */
function sharedRendering(
  args: ExecutionArgs,
  selection: string,
  envelope: Envelope,
): Promise<ExecutionResult> {
  return renderings.get(envelope.event, selection, () => {
    const root = { ...envelope, cursor: CURSOR_SLOT };
    const compiled = compiledFor(args);
    return Promise.resolve(
      compiled
        ? compiled.query(root, args.contextValue, args.variableValues as Record<string, unknown>)
        : execute({ ...args, rootValue: root }),
    );
  });
}

async function renderFor(
  args: ExecutionArgs,
  selection: string,
  envelope: Envelope,
): Promise<ExecutionResult> {
  return withCursor(await sharedRendering(args, selection, envelope), envelope.cursor);
}

/** Payloads as JSON, by event, then by selection: the same bytes for every reader but the cursor. */
const renderedJson = new WeakMemo<object, Promise<string | null>>();

/**
 * An envelope's payload as JSON, rendered once per event and selection with the reader's cursor
 * spliced in; null if it rendered with errors (those take the ordinary path, and its error masking).
 */
async function renderJson(
  args: ExecutionArgs,
  selection: string,
  envelope: Envelope,
): Promise<string | null> {
  const shared = await renderedJson.get(envelope.event, selection, () =>
    sharedRendering(args, selection, envelope).then((result) =>
      result.errors?.length ? null : JSON.stringify(result),
    ),
  );
  if (shared === null) return null;
  const cursor = JSON.stringify(envelope.cursor);
  return shared.replaceAll(CURSOR_SLOT_JSON, () => cursor);
}

/** The shared rendering with this reader's cursor: the envelope object is copied, the event beneath it shared. */
function withCursor(shared: ExecutionResult, cursor: string | null): ExecutionResult {
  if (!shared.data) return shared;
  const data: Record<string, unknown> = {};
  for (const [key, envelope] of Object.entries(shared.data)) {
    if (envelope === null || typeof envelope !== "object") {
      data[key] = envelope;
      continue;
    }
    const copy: Record<string, unknown> = { ...envelope };
    for (const field in copy) if (copy[field] === CURSOR_SLOT) copy[field] = cursor;
    data[key] = copy;
  }
  return { ...shared, data };
}

/** Maps a stream; `return` reaches the source at once, even while a `next` is waiting for it. */
function mapStream<T, U>(source: AsyncIterable<T>, map: (value: T) => Promise<U>): AsyncIterableIterator<U> {
  const iterator = source[Symbol.asyncIterator]();
  return {
    async next() {
      const result = await iterator.next();
      return result.done ? { done: true, value: undefined } : { done: false, value: await map(result.value) };
    },
    async return() {
      await iterator.return?.();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      if (iterator.throw) await iterator.throw(error);
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

function analyse(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
): Analysis | null {
  return analyses.get(document, operationName ?? "", () => analyseOperation(schema, document, operationName));
}

function analyseOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
): Analysis | null {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== "subscription") return null;
  const [root, ...others] = operation.selectionSet.selections;
  if (others.length > 0 || root?.kind !== Kind.FIELD || root.name.value !== STREAM_FIELD) return null;
  // Other operations in the document are not run, but they are not worth telling apart either.
  if (document.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && d !== operation)) return null;
  if (!everyFieldShared(schema, document, root)) return null;
  return {
    text: document.loc?.source.body ?? print(document),
    variables: variablesBelow(document, operation),
  };
}

/** Whether every field the document selects, but the stream field and the envelope's cursor, is marked. */
function everyFieldShared(schema: GraphQLSchema, document: DocumentNode, root: FieldNode): boolean {
  const typeInfo = new TypeInfo(schema);
  const envelopeType = getNamedType(schema.getSubscriptionType()?.getFields()[STREAM_FIELD]?.type);
  let shared = true;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        if (node === root || node.name.value === "__typename") return;
        const parent = typeInfo.getParentType();
        const field = typeInfo.getFieldDef();
        if (!parent || !field) {
          shared = false;
          return;
        }
        if (parent === envelopeType && field.name === ENVELOPE_CURSOR) return;
        const marked = field.extensions[SAME_FOR_EVERY_VIEWER] ?? parent.extensions[SAME_FOR_EVERY_VIEWER];
        if (marked !== true) shared = false;
      },
    }),
  );
  return shared;
}

/** The variables read anywhere but in the stream field's own arguments. */
function variablesBelow(document: DocumentNode, operation: OperationDefinitionNode): string[] {
  const names = new Set<string>();
  const collect = { Variable: (node: { name: { value: string } }) => void names.add(node.name.value) };
  const root = operation.selectionSet.selections[0] as FieldNode;
  for (const directive of root.directives ?? []) visit(directive, collect);
  if (root.selectionSet) visit(root.selectionSet, collect);
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) visit(definition, collect);
  }
  return [...names].sort();
}
