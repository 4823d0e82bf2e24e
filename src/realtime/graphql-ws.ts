import type { IncomingMessage } from "node:http";
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from "graphql-ws";
import type { WebSocket, WebSocketServer } from "ws";
import type { Logger } from "../logger.js";
import { corkPerTick, sendPaced } from "./corked.js";

/**
 * What graphql-ws hands our hooks as `ctx.extra`. Its own adapter keeps the upgrade request for the
 * connection's life; only its address is needed, and a connection is held for hours.
 */
export interface SocketExtra {
  socket: WebSocket;
  clientAddress: string | undefined;
  /** The upgrade request's X-Request-Id, which every operation on the connection logs. */
  requestId: string;
}

/** How often a connection is pinged, and how long its pong may take, as graphql-ws's adapter does. */
const KEEP_ALIVE_MS = 12_000;

/**
 * graphql-ws over `ws`, in place of the package's own adapter (`graphql-ws/use/ws`), which resolves
 * each send only when its bytes have been written, so a replayed backlog went out a write per event.
 * Here sends wait only when the socket is backed up (sendPaced), frames sent within one turn of the
 * event loop leave in one write (corkPerTick), and one timer pings every connection instead of a
 * timer per connection.
 */
export function serveGraphqlWs<E extends object>(
  options: ServerOptions<Record<string, unknown> | undefined, SocketExtra & E>,
  wsServer: WebSocketServer,
  log: Logger,
  /** What the connection keeps of its upgrade request. */
  extraOf: (request: IncomingMessage) => Omit<SocketExtra & E, "socket">,
): void {
  const server = makeServer(options);
  wsServer.options.handleProtocols = handleProtocols;
  const awaitingPong = new Set<WebSocket>();
  const pinger = setInterval(() => {
    for (const socket of wsServer.clients) {
      if (awaitingPong.has(socket)) socket.terminate();
      else if (socket.readyState === socket.OPEN) {
        awaitingPong.add(socket);
        socket.ping();
      }
    }
  }, KEEP_ALIVE_MS);
  pinger.unref();
  wsServer.once("close", () => clearInterval(pinger));

  wsServer.on("connection", (socket, request) => {
    const fail = (error: unknown) => {
      log.error("WebSocket handling failed", {
        error: error instanceof Error ? error.message : String(error),
      });
      socket.close(CloseCode.InternalServerError, "Internal server error");
    };
    socket.once("error", fail);
    socket.on("pong", () => awaitingPong.delete(socket));
    corkPerTick(socket, request.socket);
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => (socket.readyState === socket.OPEN ? sendPaced(socket, data) : undefined),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on("message", (data) => {
            handle(String(data)).catch(fail);
          }),
      },
      { ...extraOf(request), socket } as SocketExtra & E,
    );
    socket.once("close", (code, reason) => {
      awaitingPong.delete(socket);
      closed(code, String(reason));
    });
  });
}
