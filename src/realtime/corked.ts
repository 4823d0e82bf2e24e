import type { Socket } from "node:net";
import type { WebSocket } from "ws";

/**
 * Frames a socket sends within one turn of the event loop leave in one write: a mutation's result
 * and its `complete`, or several events for one device. Each write is a system call, and socket
 * writes were the largest share of a delivery's CPU (BENCHMARKS.md).
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
      process.nextTick(uncork);
    }
    return send(...args);
  }) as WebSocket["send"];
}
