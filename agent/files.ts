/**
 * Disk helpers for the agent's data folder. Everything an agent remembers is written through
 * `writeJsonAtomic`, so a crash leaves either the old or the new file, never half of one.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { closeSync, createReadStream, fdatasyncSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rename, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Turns an id from an order into a file name: letters, digits, `_` and `-` stay, everything else
 * (including `.` and `/`) is percent-encoded, so no id can name another folder or collide with the
 * `.`-separated parts of a key.
 */
export function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, (char) =>
    [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/**
 * Writes JSON to a temporary sibling, syncs it, renames it over `path` and syncs the folder, so the new
 * file survives a power cut once this returns. The steps run synchronously: records are a few hundred
 * bytes, and asynchronously each step would be a trip through libuv's small thread pool, queued behind
 * every download a busy relay serves (or a simulated fleet receives); the caller waits either way.
 */
export async function writeJsonAtomic(path: string, value: unknown, mode = 0o644): Promise<void> {
  // A unique temporary name, so two writers of the same file never share one.
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temporary, 'w', mode);
  try {
    writeFileSync(fd, `${JSON.stringify(value, null, 2)}\n`);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  syncFolder(dirname(path));
}

/** Makes the folder's entries (a rename into it) durable: without it a power cut may lose the new name. */
function syncFolder(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads a JSON file, or returns undefined when it does not exist. */
export async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Every `*.json` file of `dir` but hidden ones, parsed, by file name without `.json`. A file that is not
 * JSON (a disk error, a hand edit) is moved aside as `.<name>.corrupt`, which later reads skip, and
 * logged: one bad record must not keep an agent from starting, nor be lost for whoever investigates.
 */
export async function readJsonFolder<T>(dir: string, log: (message: string) => void): Promise<Map<string, T>> {
  const found = new Map<string, T>();
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.json') || name.startsWith('.')) continue;
    let value: T | undefined;
    try {
      value = await readJsonIfExists<T>(join(dir, name));
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      const aside = join(dir, `.${name}.corrupt`);
      await rename(join(dir, name), aside);
      log(`${join(dir, name)} is not valid JSON (${error.message}); moved aside to ${aside} and left out`);
      continue;
    }
    if (value !== undefined) found.set(name.slice(0, -'.json'.length), value);
  }
  return found;
}

/** Size of a file, or undefined when it does not exist. */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Feeds a file's bytes into `hash` (used to continue hashing where a resumed download left off). */
export async function hashFileInto(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** Hex SHA-256 of a file. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFileInto(path, hash);
  return hash.digest('hex');
}
