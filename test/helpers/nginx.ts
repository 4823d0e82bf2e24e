import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./app.js";
import { eventually } from "./client.js";

// Debian's nginx running deploy/nginx.conf as shipped: only the upstream list and the listen port
// are replaced, so a test through it proves the configuration production uses.

/** The nginx binary, or undefined when it is not installed (.ci/run installs it). */
export function nginxBinary(): string | undefined {
  for (const candidate of ["/usr/sbin/nginx", "nginx"]) {
    if (spawnSync(candidate, ["-v"]).status === 0) return candidate;
  }
  return undefined;
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/** deploy/nginx.conf with `listen 80;` on `port`; asserts the shipped file has exactly one such line. */
export function shippedConfig(port: number): string {
  const shipped = readFileSync(join(ROOT, "deploy/nginx.conf"), "utf8");
  assert.equal(shipped.match(/^\s*listen 80;$/gm)?.length, 1, "deploy/nginx.conf listens once, on 80");
  return shipped.replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${port};`);
}

/** deploy/imserver-upstream.conf with its `server` lines replaced by `addresses`. */
export function shippedUpstream(addresses: string[]): string {
  const shipped = readFileSync(join(ROOT, "deploy/imserver-upstream.conf"), "utf8");
  const servers = shipped.match(/^\s*server \S+[^;\n]*;\n/gm) ?? [];
  assert.ok(servers.length > 0, "deploy/imserver-upstream.conf lists the instances as `server host:port;`");
  const ours = addresses.map((address) => `  server ${address};\n`).join("");
  return servers.reduce((text, line, i) => text.replace(line, i === 0 ? ours : ""), shipped);
}

export interface RunningNginx {
  /** http://127.0.0.1:<port>/graphql through nginx. */
  url: string;
  /** The access log so far: one line per finished request, with `$upstream_addr`. */
  accessLog(): string;
  stop(): Promise<void>;
}

/** nginx in the foreground on a free port, in front of `addresses` (host:port each). */
export async function startNginx(binary: string, addresses: string[]): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), "im-nginx-"));
  const port = await freePort();
  const accessLog = join(dir, "access.log");
  const stdout = openSync(accessLog, "a");
  writeFileSync(join(dir, "nginx.conf"), shippedConfig(port));
  writeFileSync(join(dir, "imserver-upstream.conf"), shippedUpstream(addresses));
  const child: ChildProcess = spawn(
    binary,
    [
      "-c",
      join(dir, "nginx.conf"),
      "-p",
      dir,
      "-e",
      join(dir, "error.log"),
      "-g",
      `daemon off; pid ${join(dir, "nginx.pid")};`,
    ],
    // A file, not a pipe: the config logs to /dev/stdout, which Linux cannot reopen on a socket.
    { stdio: ["ignore", stdout, "pipe"] },
  );
  closeSync(stdout);
  let stderr = "";
  child.stderr!.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, "exit");
  const url = `http://127.0.0.1:${port}/graphql`;
  const errorLog = () => {
    try {
      return readFileSync(join(dir, "error.log"), "utf8");
    } catch {
      return "";
    }
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}${errorLog()}`);
        return fetch(new URL("/healthz", url)).then(
          (response) => response.ok,
          () => false,
        );
      },
      15_000,
      "nginx to answer",
    );
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    accessLog: () => readFileSync(accessLog, "utf8"),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
