import type { Socket } from "node:net";
import type { WebSocket } from "ws";

/**
 * Frames a socket sends within one turn of the event loop leave in one write: a mutation's result
 * and its `complete`, or several events for one device. Each write is a system call, and socket
 * writes were the largest share of a delivery's CPU (BENCHMARKS.md). The write waits for the loop's
 * check phase (setImmediate), not the next tick: rendering an event crosses ticks (DataLoader
 * batches on one), so a tick would flush each event of a replayed page on its own.
 */
export function corkPerTick(socket: WebSocket, transport: Socket): void {
  const send = socket.send.bind(socket);
  let corked = false;
  const uncork = () => {
    corked = false;
    transport.uncork();
  };
  socket.send = ((...args: Parameters<WebSocket["send"]>) => {
    if (!corked) {
      corked = true;
      transport.cork();
      setImmediate(uncork);
    }
    return send(...args);
  }) as WebSocket["send"];
}

/**
 * Bytes a socket may hold unsent before its sender waits for them to leave. Below this a send
 * returns at once, so a stream replaying its backlog puts a page of events in one write instead of
 * waiting for each event's write to complete.
 */
const SEND_HIGH_WATER = 256 * 1024;

/** Sends `data`; when the socket is backed up, the returned promise resolves once it has been written. */
export function sendPaced(socket: WebSocket, data: string): Promise<void> | undefined {
  if (socket.bufferedAmount < SEND_HIGH_WATER) {
    socket.send(data);
    return undefined;
  }
  // A send error closes the socket, which ends its operations; the wait need not fail.
  return new Promise<void>((resolve) => socket.send(data, () => resolve()));
}
