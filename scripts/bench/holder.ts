import { connectClient, STREAM } from "./harness.js";

// A child of the bench that holds idle graphql-ws connections, each with an `events` stream: one
// process may hold at most `ulimit -n` sockets, so the connections workload spreads them over several.
// Gets { url, tokens } over IPC, answers "ready" once every stream is subscribed, then idles.

process.on("message", async (message: { url: string; tokens: string[] }) => {
  const { url, tokens } = message;
  for (let start = 0; start < tokens.length; start += 100) {
    await Promise.all(
      tokens.slice(start, start + 100).map(async (token) => {
        const client = await connectClient(url, token);
        client.subscribe({ query: STREAM }, { next: () => {}, error: () => {}, complete: () => {} });
      }),
    );
  }
  process.send?.("ready");
});
