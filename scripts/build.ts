import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

// Compiles src/ to dist/ file by file, so production runs plain JavaScript (no TypeScript loader,
// no compiler process beside the server). Types are checked by `npm run typecheck`, not here:
// transpiling alone takes about a second, so `npm start` can build every time and never run stale code.

const root = fileURLToPath(new URL("..", import.meta.url));
const source = path.join(root, "src");
const out = path.join(root, "dist");

const entryPoints = readdirSync(source, { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
  .map((file) => path.join(source, file));

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints,
  outdir: out,
  outbase: source,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
});
