import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";

type FetchAPI = Parameters<NonNullable<Plugin["onRequestParse"]>>[0]["fetchAPI"];

function tooLarge(maxBytes: number): GraphQLError {
  return new GraphQLError(
    `The request is larger than MAX_REQUEST_BYTES (${maxBytes} bytes); files go as multipart uploads (MAX_UPLOAD_BYTES)`,
    { extensions: { code: "LIMIT_EXCEEDED", http: { status: 413 } } },
  );
}

/** The body as it arrives, failing once it passes `maxBytes`: only a chunked body has no length to check first. */
function capped(request: Request, maxBytes: number, fetchAPI: FetchAPI): Request {
  let read = 0;
  // As yoga's own body limit does: a native stream pipes only through a native transform.
  const Transform = request.body instanceof ReadableStream ? TransformStream : fetchAPI.TransformStream;
  const body = request.body!.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        read += chunk.byteLength;
        if (read > maxBytes) controller.error(tooLarge(maxBytes));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    body,
    duplex: "half",
  } as RequestInit);
}

/**
 * MAX_REQUEST_BYTES on a GraphQL request (its JSON body, or a GET's query string), answered 413
 * LIMIT_EXCEEDED before the body is read, or as soon as a chunked one passes the cap. Multipart
 * uploads are left to their own cap (MAX_UPLOAD_BYTES, src/http/spooled-uploads.ts).
 */
export function useRequestCap(maxBytes: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (request.method === "GET" || request.method === "HEAD") {
        if (request.url.length > maxBytes) throw tooLarge(maxBytes);
        return;
      }
      if (request.headers.get("content-type")?.toLowerCase().startsWith("multipart/")) return;
      const length = request.headers.get("content-length");
      if (length !== null) {
        // Node's parser reads no more than a valid Content-Length says; yoga refuses an invalid one.
        if (Number(length) > maxBytes) throw tooLarge(maxBytes);
        return;
      }
      if (!requestParser || !request.body) return;
      setRequestParser((parsed) => requestParser(capped(parsed, maxBytes, fetchAPI)));
    },
  };
}
