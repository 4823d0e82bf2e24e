import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Busboy, type BusboyFileStream, type BusboyInstance } from "@fastify/busboy";
import type { GraphQLParams, Plugin } from "graphql-yoga";
import { AppError, badInput } from "../errors.js";

// GraphQL multipart requests (the spec apollo-upload-client and urql speak) parsed here rather than
// by yoga, whose parser holds each file in memory whole: a file is written to disk as it arrives,
// hashed on the way, and handed to the resolver as a SpooledFile to move into place.

/** An uploaded file, already on disk in the spool directory; whoever keeps it renames it away. */
export class SpooledFile {
  constructor(
    readonly name: string,
    readonly type: string,
    readonly size: number,
    readonly sha256: string,
    readonly path: string,
  ) {}
}

export interface SpoolOptions {
  /** On the attachments' file system, so keeping a file is a rename. */
  dir: string;
  maxFileBytes: number;
}

const MAX_FIELD_BYTES = 1024 * 1024;

export const uploadTooLarge = (max: number) =>
  new AppError("LIMIT_EXCEEDED", `Files are at most ${max} bytes (MAX_UPLOAD_BYTES)`, { field: "file" });

/** Parses multipart requests by spooling; files nobody kept are deleted once the answer is sent. */
export function useSpooledUploads(options: SpoolOptions): Plugin {
  const spooled = new WeakMap<Request, SpooledFile[]>();
  return {
    onRequestParse({ request, setRequestParser }) {
      const contentType = request.headers.get("content-type") ?? "";
      if (request.method !== "POST" || !/^multipart\/form-data\b/i.test(contentType)) return;
      // The parser gets the request yoga hands it (its body wrapped by yoga's size cap), not this one.
      setRequestParser(async (parsed) => {
        const files: SpooledFile[] = [];
        spooled.set(request, files);
        const stream = parsed.body;
        if (!stream) throw badInput("A multipart request needs a body");
        const body = Readable.from(stream as unknown as AsyncIterable<Uint8Array>);
        return parseMultipart(body, contentType, options, files);
      });
    },
    async onResponse({ request }) {
      const files = spooled.get(request) ?? [];
      await Promise.all(files.map((file) => rm(file.path, { force: true })));
    },
  };
}

async function parseMultipart(
  body: Readable,
  contentType: string,
  options: SpoolOptions,
  files: SpooledFile[],
): Promise<GraphQLParams> {
  await mkdir(options.dir, { recursive: true });
  let operations: unknown;
  let map: Record<string, string[]> | undefined;
  const byField = new Map<string, SpooledFile>();
  const writes: Promise<void>[] = [];
  const receiving = new Set<BusboyFileStream>();
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
  };

  let busboy: BusboyInstance;
  try {
    busboy = new Busboy({
      headers: { "content-type": contentType },
      limits: { fileSize: options.maxFileBytes, files: 1, fields: 2, fieldSize: MAX_FIELD_BYTES, parts: 3 },
    });
  } catch (error) {
    throw badInput(`Invalid multipart request: ${(error as Error).message}`);
  }
  busboy.on("field", (name, value, _nameTruncated, valueTruncated) => {
    if (valueTruncated)
      return fail(new AppError("LIMIT_EXCEEDED", `Field ${name} is over ${MAX_FIELD_BYTES} bytes`));
    if (name === "operations") operations = parseJson(value, "operations", fail);
    else if (name === "map") map = parseMap(value, fail);
  });
  busboy.on("file", (field, stream, filename, _encoding, mimeType) => {
    if (!map || !(field in map) || failure) {
      if (!map && !failure) fail(badInput(`The file part "${field}" came before the "map" field`));
      stream.resume();
      return;
    }
    receiving.add(stream);
    stream.once("close", () => receiving.delete(stream));
    writes.push(
      spool(stream, options, filename, mimeType).then(
        (file) => {
          files.push(file);
          byField.set(field, file);
        },
        (error: Error) => fail(error),
      ),
    );
  });
  for (const event of ["partsLimit", "filesLimit", "fieldsLimit"]) {
    busboy.on(event, () =>
      fail(new AppError("LIMIT_EXCEEDED", "One file and the operations and map fields only")),
    );
  }

  try {
    await pipeline(body, busboy);
  } catch (error) {
    fail(badInput(`Invalid multipart request: ${(error as Error).message}`));
    // A body cut short leaves a file part unfinished: end it, so its spooling fails and cleans up.
    for (const stream of receiving) stream.destroy(error as Error);
  }
  await Promise.all(writes);
  if (failure) throw failure;
  if (operations === undefined) throw badInput('Missing multipart field "operations"');
  for (const [field, paths] of Object.entries(map ?? {})) {
    for (const at of paths) setAtPath(operations, at, byField.get(field));
  }
  return operations as GraphQLParams;
}

async function spool(
  stream: BusboyFileStream,
  options: SpoolOptions,
  filename: string,
  mimeType: string,
): Promise<SpooledFile> {
  const target = path.join(options.dir, `${randomUUID()}.upload`);
  const hash = createHash("sha256");
  let size = 0;
  let tooLarge = false;
  stream.on("limit", () => {
    tooLarge = true;
  });
  try {
    await pipeline(
      stream,
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      }),
      createWriteStream(target),
    );
  } catch (error) {
    await rm(target, { force: true });
    throw error;
  }
  if (tooLarge) {
    await rm(target, { force: true });
    throw uploadTooLarge(options.maxFileBytes);
  }
  return new SpooledFile(filename, mimeType, size, hash.digest("hex"), target);
}

function parseJson(value: string, field: string, fail: (error: Error) => void): unknown {
  try {
    return JSON.parse(value);
  } catch {
    fail(badInput(`Multipart field "${field}" must be JSON`));
    return undefined;
  }
}

function parseMap(value: string, fail: (error: Error) => void): Record<string, string[]> | undefined {
  const map = parseJson(value, "map", fail);
  const valid =
    typeof map === "object" &&
    map !== null &&
    !Array.isArray(map) &&
    Object.values(map).every((paths) => Array.isArray(paths) && paths.every((at) => typeof at === "string"));
  if (!valid) {
    fail(
      badInput(
        'Multipart field "map" must be an object of field name to paths, e.g. {"0": ["variables.file"]}',
      ),
    );
    return undefined;
  }
  return map as Record<string, string[]>;
}

/** Puts the file where the map says, e.g. "variables.file"; never onto an object's prototype. */
function setAtPath(target: unknown, at: string, value: unknown) {
  const keys = at.split(".");
  let current = target as Record<string, unknown>;
  for (const [index, key] of keys.entries()) {
    if (key === "__proto__" || key === "constructor" || key === "prototype") return;
    if (index === keys.length - 1) {
      current[key] = value;
      return;
    }
    const next = current[key];
    if (typeof next !== "object" || next === null) return;
    current = next as Record<string, unknown>;
  }
}

/**
 * Removes spool files older than `maxAgeMs`: what an instance killed mid-upload left. Younger ones may
 * be another instance's uploads still arriving, in an attachments directory they share.
 */
export async function sweepAbandonedUploads(dir: string, maxAgeMs: number): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  for (const name of names) {
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (!info || info.mtimeMs >= cutoff) continue;
    await rm(file, { force: true });
    removed += 1;
  }
  return removed;
}
