// A typed GraphQL client in two functions: each takes a generated document, so its variables and
// result are checked against schema.graphql by tsc.
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import type { TypedDocumentString } from "./generated/graphql.js";

export interface GraphQLErrorEntry {
  message: string;
  extensions?: { code?: string };
}

/** The server answered with errors; `code` is the first one's API error code. */
export class GraphQLRequestError extends Error {
  readonly code: string | undefined;

  constructor(readonly errors: readonly GraphQLErrorEntry[]) {
    super(errors.map((error) => error.message).join("; "));
    this.code = errors[0]?.extensions?.code;
  }
}

/** A query or mutation over HTTP POST. */
export async function request<Result, Variables extends Record<string, unknown>>(
  endpoint: string,
  document: TypedDocumentString<Result, Variables>,
  variables: Variables,
  token?: string,
): Promise<Result> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  const body = (await response.json()) as { data?: Result | null; errors?: GraphQLErrorEntry[] };
  if (body.errors?.length) throw new GraphQLRequestError(body.errors);
  if (!body.data) throw new Error(`no data in the answer (HTTP ${response.status})`);
  return body.data;
}

export interface Connection {
  client: Client;
  /** The close code once the socket closed (4403: the session ended or the token is bad). */
  readonly closeCode: number | undefined;
}

/**
 * A graphql-ws connection that does not reconnect by itself: graphql-ws would resubscribe with
 * the first variables, an old cursor, so the caller reconnects with the cursor it saved last.
 */
export function connect(endpoint: string, token: string): Connection {
  let closeCode: number | undefined;
  const client = createClient({
    url: endpoint.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    on: {
      closed: (event) => {
        closeCode = (event as { code?: number }).code;
        // disposed, a subscription ends instead of waiting for a reconnect
        void client.dispose();
      },
    },
  });
  return {
    client,
    get closeCode() {
      return closeCode;
    },
  };
}

/** A subscription's results, one at a time; ends when the socket closes, throws on GraphQL errors. */
export async function* subscribe<Result, Variables extends Record<string, unknown>>(
  connection: Connection,
  document: TypedDocumentString<Result, Variables>,
  variables: Variables,
): AsyncGenerator<Result> {
  const results = connection.client.iterate<Result>({ query: document.toString(), variables });
  try {
    for await (const result of results) {
      if (result.errors?.length) throw new GraphQLRequestError(result.errors);
      if (result.data) yield result.data;
    }
  } catch (error) {
    // graphql-ws throws an operation's errors as an array, and a close as the close event
    if (Array.isArray(error)) throw new GraphQLRequestError(error);
    if (connection.closeCode === undefined) throw error;
  } finally {
    await results.return?.();
  }
}
