import { open, readFile, rename } from "node:fs/promises";

/** The saved resume point, or null on a first run (no file yet). */
export async function readCursor(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  const cursor = text.trim();
  if (cursor === "") throw new Error(`${file} is empty: delete it to start from now, or restore a cursor`);
  return cursor;
}

/**
 * Saves the cursor so that a crash at any moment leaves either the old file or the new one, never
 * a torn mix: the new text goes to a temporary file, is flushed to disk, then renamed over the old.
 */
export async function saveCursor(file: string, cursor: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await open(temporary, "w");
  try {
    await handle.writeFile(`${cursor}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
}
