import type { ServerResponse } from "node:http";

/** A small JSON answer outside GraphQL: health checks, metrics refusals, failed downloads. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
