// Prisma's schema engine (the migration differ behind `prisma migrate`) compiled to WebAssembly, driven
// through a driver adapter instead of a connection URL, so it runs without the native engine binary.
import { readFile } from "node:fs/promises";
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlMigrationAwareDriverAdapterFactory,
} from "@prisma/driver-adapter-utils";
import type { DiffTarget, SchemaEngine, SchemaFilter } from "@prisma/schema-engine-wasm/schema_engine_bg";
import * as bindings from "@prisma/schema-engine-wasm/schema_engine_bg";

export type { DiffTarget, SchemaEngine };

/** Logical file name the engine reports in schema errors. */
export const SCHEMA_PATH = "schema.prisma";

const NO_FILTERS: SchemaFilter = { externalTables: [], externalEnums: [] };

let wasmReady: Promise<void> | undefined;

// The package is built for bundlers (its entry point imports the .wasm file as an ES module), so in
// plain Node we instantiate the binary ourselves and hand it to the generated JS glue.
function loadWasm(): Promise<void> {
  wasmReady ??= (async () => {
    const glueUrl = import.meta.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const bytes = await readFile(new URL("schema_engine_bg.wasm", glueUrl));
    const { instance } = await WebAssembly.instantiate(bytes, {
      "./schema_engine_bg.js": bindings as unknown as WebAssembly.ModuleImports,
    });
    bindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
  })();
  return wasmReady;
}

/**
 * Opens a schema engine for `datamodel` (the text of a Prisma schema) whose "database" is whatever
 * `adapterFactory` connects to. `log` receives the engine's JSON log lines.
 */
export async function openSchemaEngine(
  datamodel: string,
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  log: (line: string) => void = () => {},
): Promise<SchemaEngine> {
  await loadWasm();
  return bindings.SchemaEngine.new(
    { datamodels: [[SCHEMA_PATH, datamodel]] },
    log,
    bindMigrationAwareSqlAdapterFactory(adapterFactory),
  );
}

/** Diff target: the data model described by a Prisma schema. */
export function datamodelTarget(datamodel: string): DiffTarget {
  return { tag: "schemaDatamodel", files: [{ path: SCHEMA_PATH, content: datamodel }] };
}

/**
 * Diff target: the live database behind the engine's adapter, introspected. The schema only supplies the
 * datasource block (provider); the engine connects through the adapter, not a URL.
 */
export function databaseTarget(datamodel: string): DiffTarget {
  return {
    tag: "schemaDatasource",
    files: [{ path: SCHEMA_PATH, content: datamodel }],
    configDir: process.cwd(),
  };
}

/** The SQL script that migrates `from` to `to` (comments only when there is nothing to do). */
export async function diffSql(engine: SchemaEngine, from: DiffTarget, to: DiffTarget): Promise<string> {
  const result = await engine.diff({ from, to, script: true, exitCode: null, filters: NO_FILTERS });
  return result.stdout ?? "";
}

/** True when a script has no statements, e.g. the engine's "-- This is an empty migration." */
export function isEmptyScript(sql: string): boolean {
  return sql.split("\n").every((line) => line.trim() === "" || line.trim().startsWith("--"));
}
