import { after, afterEach, before } from "node:test";
import type { App } from "../../src/server.js";
import { startApp, type TestServer } from "./app.js";
import { connect as connectSocket, type Socket } from "./client.js";

// A test file's server. node --test runs each file in its own process, so these bindings are the
// file's own: call useTestServer() once at the top, then use `url` (and `server`) anywhere.

export let server: TestServer & { app: App };
export let url = "";
const sockets: Socket[] = [];

/** Starts the server before the file's tests and stops it after them; sockets close after each test. */
export function useTestServer(env: Record<string, string> = {}): void {
  before(async () => {
    server = await startApp(env);
    url = server.url;
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.dispose()));
  });
  after(() => server.stop());
}

/** A graphql-ws connection to this file's server (or `at`), closed when the test ends. */
export function connect(token?: string, at: string = url): Socket {
  const socket = connectSocket(at, token);
  sockets.push(socket);
  return socket;
}
