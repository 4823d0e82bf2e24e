import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

// PostgreSQL and Redis servers that a test starts for itself, on free ports and in temporary
// directories, so that it can restart or kill them without touching the services other tests share.
// Each is also stopped when the test process exits, should a test's after() never run.

const run = promisify(execFile);

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/** Kills what is left when the test process ends without its cleanup having run. */
function onExit(cleanup: () => void): () => void {
  process.once("exit", cleanup);
  return () => process.off("exit", cleanup);
}

export interface PostgresServer {
  /** postgresql://postgres@127.0.0.1:<port>/postgres, trust authentication. */
  url: string;
  port: number;
  /** pg_ctl restart: `fast` ends sessions and checkpoints, `immediate` is a crash and recovery. */
  restart(mode?: "fast" | "immediate"): Promise<void>;
  stop(): Promise<void>;
  /** The server's log, for a failing assertion's message. */
  log(): string;
}

/** The directory with initdb and pg_ctl: pg_config's, Debian's newest, or /usr/local/bin. */
export function postgresBinDir(): string | null {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim());
  } catch {
    // no pg_config: look in the usual places
  }
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const versions = readdirSync(debian).sort((x, y) => Number(y) - Number(x));
    candidates.push(...versions.map((version) => join(debian, version, "bin")));
  }
  candidates.push("/usr/local/bin", "/usr/bin");
  return candidates.find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) ?? null;
}

/** Whether this machine can start its own PostgreSQL and Redis; if not, the reason. */
export function servicesMissing(): string | null {
  if (!postgresBinDir()) return "initdb and pg_ctl not found (pg_config --bindir, /usr/lib/postgresql/*/bin)";
  try {
    execFileSync("redis-server", ["--version"]);
  } catch {
    return "redis-server not found on PATH";
  }
  return null;
}

/**
 * A new PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only, on a free port and
 * with its socket in that directory. initdb refuses to run as root, so as root (CI) the cluster
 * belongs to and runs as the `postgres` user.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`Cannot start PostgreSQL: ${servicesMissing()}`);
  const asRoot = process.getuid?.() === 0;
  const command = (tool: string, args: string[]): [string, string[]] =>
    asRoot ? ["runuser", ["-u", "postgres", "--", join(bin, tool), ...args]] : [join(bin, tool), args];
  const dir = mkdtempSync(join(tmpdir(), "im-pg-"));
  if (asRoot) {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }));
    chownSync(dir, id("-u"), id("-g"));
  }
  const data = join(dir, "data");
  const logFile = join(dir, "server.log");
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const pgCtl = async (args: string[]) => {
    const [file, argv] = command("pg_ctl", ["-D", data, "-l", logFile, "-w", "-t", "60", ...args]);
    try {
      await run(file, argv);
    } catch (error) {
      throw new Error(`pg_ctl ${args.join(" ")} failed: ${(error as Error).message}\n${readLog()}`);
    }
  };
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  const stopNow = () => {
    try {
      const [file, argv] = command("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      execFileSync(file, argv, { stdio: "ignore" });
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const forget = onExit(stopNow);
  try {
    const [file, argv] = command("initdb", [
      "-D",
      data,
      "-U",
      "postgres",
      "--auth=trust",
      "--no-sync",
      "-E",
      "UTF8",
    ]);
    await run(file, argv);
    await pgCtl(["-o", options, "start"]);
  } catch (error) {
    forget();
    stopNow();
    throw error;
  }
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    restart: (mode = "fast") => pgCtl(["-m", mode, "-o", options, "restart"]),
    async stop() {
      forget();
      try {
        await pgCtl(["-m", "immediate", "stop"]);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
    log: readLog,
  };
}

export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Kills the server (SIGKILL unless told otherwise) and starts a new, empty one on the same port. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

/** A redis-server child process on a free port of 127.0.0.1, keeping nothing on disk. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const launch = async () => {
    const started = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    await new Promise<void>((resolve, reject) => {
      started.stdout!.on("data", (chunk) => {
        output += chunk;
        if (output.includes("Ready to accept connections")) resolve();
      });
      started.once("error", reject);
      started.once("exit", (code) => reject(new Error(`redis-server exited with ${code}:\n${output}`)));
    });
    // Read on, so a full pipe never blocks the server.
    started.stdout!.resume();
    started.stderr!.resume();
    child = started;
  };
  const kill = async (signal: NodeJS.Signals) => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, "exit");
    running.kill(signal);
    await exited;
  };
  const forget = onExit(() => child?.kill("SIGKILL"));
  try {
    await launch();
  } catch (error) {
    forget();
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart(signal = "SIGKILL") {
      await kill(signal);
      await launch();
    },
    async stop() {
      forget();
      await kill("SIGTERM");
    },
  };
}
