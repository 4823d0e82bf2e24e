// Prints the Pothos schema to schema.graphql; with --check, fails instead when the file is stale.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { printSchema } from "graphql";
import { schema } from "../src/schema/index.js";

const file = fileURLToPath(new URL("../schema.graphql", import.meta.url));
const printed = `${printSchema(schema)}\n`;

if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(file, "utf8");
  } catch {}
  if (committed !== printed) {
    process.stderr.write("schema.graphql is stale: run `npm run schema:print` and commit it.\n");
    process.exit(1);
  }
  process.stdout.write("schema.graphql is up to date\n");
} else {
  writeFileSync(file, printed);
  process.stdout.write(`wrote ${file}\n`);
}
