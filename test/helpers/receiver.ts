import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the receiver got: the raw body (signatures are over it) and its JSON. */
export interface Received {
  headers: IncomingMessage["headers"];
  raw: string;
  json: any;
}

export interface Answer {
  status?: number;
  json?: unknown;
  /** Answer this late (a receiver too slow for the caller's timeout). */
  delayMs?: number;
}

/**
 * A real HTTP server standing in for the app server: it records every request and answers as
 * `respond` says. `down()` closes it and `up()` opens it again on the same port.
 */
export class Receiver {
  readonly received: Received[] = [];
  respond: (request: Received) => Answer = () => ({ status: 200, json: {} });
  private server: Server | null = null;
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async up(): Promise<this> {
    this.server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const raw = Buffer.concat(chunks).toString();
      const received = { headers: request.headers, raw, json: raw ? JSON.parse(raw) : null };
      this.received.push(received);
      const answer = this.respond(received);
      if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
      response.writeHead(answer.status ?? 200, { "content-type": "application/json" });
      response.end(JSON.stringify(answer.json ?? {}));
    });
    this.server.listen(this.port, "127.0.0.1");
    await once(this.server, "listening");
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async down(): Promise<void> {
    if (!this.server) return;
    const closed = once(this.server, "close");
    this.server.close();
    this.server.closeAllConnections();
    await closed;
    this.server = null;
  }
}
