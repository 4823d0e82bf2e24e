import cluster from "node:cluster";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

// The floor every workload is read against: a minimal WebSocket relay with no GraphQL, no storage
// and no auth, speaking just enough of graphql-ws (and of the HTTP API: register, eventCursor) for
// the bench's own clients to run unchanged. A send is handed straight to the receiver's open
// `events` subscriptions. RELAY_WORKERS > 1 runs that many processes on one port for the
// connections workload (a process may hold at most `ulimit -n` sockets); they do not relay across
// each other, so the message workloads use one.

type Subscriber = { socket: import("ws").WebSocket; id: string };
const streams = new Map<string, Subscriber[]>();
let nextId = 0;

function serve(port: number) {
  const http = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const { query, variables } = JSON.parse(body || "{}");
      const data = String(query).includes("register")
        ? { register: { token: variables.u } }
        : String(query).includes("eventCursor")
          ? { eventCursor: "0" }
          : undefined;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(data ? { data } : { errors: [{ message: "not in the relay" }] }));
    });
  });
  const wss = new WebSocketServer({ server: http, path: "/graphql" });
  wss.on("connection", (socket) => {
    let user = "";
    const mine: Subscriber[] = [];
    socket.on("message", (raw) => {
      const message = JSON.parse(String(raw));
      if (message.type === "connection_init") {
        user = String(message.payload?.authorization ?? "").replace(/^Bearer /, "");
        socket.send('{"type":"connection_ack"}');
      } else if (message.type === "ping") {
        socket.send('{"type":"pong"}');
      } else if (message.type === "subscribe") {
        const { query, variables } = message.payload;
        if (query.includes("sendMessage")) {
          const id = String(++nextId);
          const next = JSON.stringify({
            type: "next",
            id: "",
            payload: {
              data: { events: { cursor: null, event: { message: { id, body: { text: variables.text } } } } },
            },
          });
          for (const subscriber of streams.get(variables.to) ?? []) {
            subscriber.socket.send(next.replace('"id":""', `"id":${JSON.stringify(subscriber.id)}`));
          }
          socket.send(
            JSON.stringify({ type: "next", id: message.id, payload: { data: { sendMessage: { id } } } }),
          );
          socket.send(JSON.stringify({ type: "complete", id: message.id }));
        } else if (query.includes("events")) {
          const subscriber = { socket, id: message.id };
          mine.push(subscriber);
          streams.set(user, [...(streams.get(user) ?? []), subscriber]);
        }
      }
    });
    socket.on("close", () => {
      const left = (streams.get(user) ?? []).filter((subscriber) => !mine.includes(subscriber));
      if (left.length > 0) streams.set(user, left);
      else streams.delete(user);
    });
  });
  http.listen(port, "127.0.0.1", () => {
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
    if (cluster.isWorker) process.send?.(url);
    else process.stdout.write(`listening ${url}\n`);
  });
}

const workers = Number(process.env.RELAY_WORKERS ?? 1);
if (workers > 1 && cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on("message", (url: string) => {
      if (++ready === workers) process.stdout.write(`listening ${url}\n`);
    });
  }
  process.on("SIGTERM", () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else {
  serve(Number(process.env.PORT ?? 0));
}
