import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { ROOT } from "./helpers/app.js";
import { ok } from "./helpers/client.js";
import { dockerfileStages, execForm, lastOf, type Stage, stageEnv } from "./helpers/dockerfile.js";
import { freePort } from "./helpers/nginx.js";

// The image without Docker: the Dockerfile's stages are replayed in temporary directories (its COPY
// lines and build commands), then its exact CMD runs as a plain process with its ENV, and its
// HEALTHCHECK command must pass against it. npm ci is the one step not replayed: the worktree's
// node_modules stands in for it.

const run = promisify(execFile);

/** Replays a stage's COPY lines into `dir` (its WORKDIR); `from` maps other stages to directories. */
function copyInto(stage: Stage, dir: string, from: Record<string, string>) {
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== "COPY") continue;
    const fromStage = args.match(/--from=(\S+)/)?.[1];
    const paths = args.replace(/--\S+/g, "").trim().split(/\s+/);
    const target = paths.pop()!;
    for (const source of paths) {
      const destination = target.endsWith("/") ? join(dir, target, basename(source)) : join(dir, target);
      if (source.endsWith("node_modules")) {
        // The deps stage's production packages: the worktree's installation has them all.
        symlinkSync(join(ROOT, "node_modules"), destination);
        continue;
      }
      const origin =
        fromStage === undefined
          ? join(ROOT, source)
          : join(from[fromStage]!, source.replace(/^\/app\/?/, ""));
      mkdirSync(join(destination, ".."), { recursive: true });
      cpSync(origin, destination, { recursive: true });
    }
  }
}

describe("the Docker image's start command, run as a plain process", () => {
  it("builds as the Dockerfile does, starts with its CMD and ENV, and passes its HEALTHCHECK", async () => {
    const stages = dockerfileStages();
    const build = stages.find((stage) => stage.name === "build");
    const runtime = stages.at(-1)!;
    assert.ok(build, "the Dockerfile has a build stage");
    const root = mkdtempSync(join(tmpdir(), "im-image-"));
    after(() => rmSync(root, { recursive: true, force: true }));
    const buildDir = join(root, "build");
    const appDir = join(root, "app");
    mkdirSync(buildDir);
    mkdirSync(appDir);

    copyInto(build, buildDir, {});
    symlinkSync(join(ROOT, "node_modules"), join(buildDir, "node_modules"));
    for (const { keyword, args } of build.instructions) {
      if (keyword !== "RUN" || args.startsWith("npm ci")) continue;
      await run("sh", ["-c", args], { cwd: buildDir });
    }
    copyInto(runtime, appDir, { build: buildDir });

    const port = String(await freePort());
    const env: Record<string, string> = {
      PATH: process.env.PATH!,
      ...stageEnv(runtime),
      // The image's volumes, here temporary directories; embedded mode (no DATABASE_URL).
      DATA_DIR: join(root, "data"),
      ATTACHMENTS_DIR: join(root, "attachments"),
      PORT: port,
      LOG_LEVEL: "warn",
    };
    assert.equal(env.NODE_ENV, "production");
    const [command, ...args] = execForm(lastOf(runtime, "CMD"));
    const server = spawn(command!, args, { cwd: appDir, env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    server.stderr!.on("data", (chunk) => {
      stderr += chunk;
    });
    const exited = once(server, "exit");
    after(() => server.kill("SIGKILL"));
    const url = await new Promise<string>((resolve, reject) => {
      let stdout = "";
      server.stdout!.on("data", (chunk) => {
        stdout += chunk;
        const match = stdout.match(/listening (\S+)/);
        if (match) resolve(match[1]!);
      });
      server.once("exit", (code) => reject(new Error(`exited with ${code} before listening:\n${stderr}`)));
    });
    assert.equal(new URL(url).port, port);

    const [checkCommand, ...checkArgs] = execForm(lastOf(runtime, "HEALTHCHECK"));
    await run(checkCommand!, checkArgs, { cwd: appDir, env });
    const data = await ok(
      url,
      `mutation { register(username: "image-check", password: "correct-horse") { user { username } } }`,
    );
    assert.equal(data.register.user.username, "image-check");

    server.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0, stderr);
    // With the server gone the health check fails, so it is not a check that always passes.
    await assert.rejects(run(checkCommand!, checkArgs, { cwd: appDir, env }));
  });
});
