/**
 * Safe extraction of package content into a fresh folder. Each archive is listed and checked as a whole
 * by the guard first, so an unsafe archive (or one larger than the extraction limits) is refused before a
 * single file is written.
 */
import { copyFile, link, mkdir } from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import yauzl from 'yauzl';
import type { PackageFormat } from '../common/manifest.js';
import {
  assertSafeEntries,
  DEFAULT_EXTRACTION_LIMITS,
  ExtractionBudget,
  UnsafeArchiveError,
  type ArchiveEntry,
  type ExtractionLimits,
} from './archive-guard.js';

/** Why a hard link may fail where a copy works: another file system, or one without hard links. */
const CANNOT_LINK = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EMLINK']);

/**
 * Extracts `contentPath` (a package of `format`) into `destination`, which must exist and be empty.
 * `fileName` is the name a `file` package is installed under. Throws UnsafeArchiveError for content that
 * would escape the folder, and plain errors for corrupt archives or I/O failures.
 */
export async function extractPackage(
  contentPath: string,
  format: PackageFormat,
  fileName: string,
  destination: string,
  limits: ExtractionLimits = DEFAULT_EXTRACTION_LIMITS,
): Promise<void> {
  switch (format) {
    case 'tar.gz':
      return extractTar(contentPath, destination, new ExtractionBudget(limits));
    case 'zip':
      return extractZip(contentPath, destination, new ExtractionBudget(limits));
    case 'file':
      return placeFile(contentPath, fileName, destination);
  }
}

function tarEntryType(type: string): ArchiveEntry['type'] {
  switch (type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return 'file';
    case 'Directory':
      return 'directory';
    case 'SymbolicLink':
      return 'symlink';
    case 'Link':
      return 'hardlink';
    default:
      return 'other';
  }
}

/**
 * Lists the archive (node-tar reports paths exactly as stored, and sizes as written), checks it, then
 * extracts it. The listing stops at the first entry past a limit.
 */
async function extractTar(contentPath: string, destination: string, budget: ExtractionBudget): Promise<void> {
  const entries: ArchiveEntry[] = [];
  const lister = tar.t({
    strict: true,
    onReadEntry: (entry) => {
      const type = tarEntryType(entry.type);
      const listed: ArchiveEntry = { path: entry.path, type, linkTarget: entry.linkpath, typeName: entry.type, size: type === 'file' ? entry.size : 0 };
      try {
        budget.count(listed);
      } catch (error) {
        // Stops reading there: the rest of a bomb is never even decompressed.
        lister.abort(error as Error);
        return;
      }
      entries.push(listed);
    },
  });
  await pipeline(createReadStream(contentPath), lister);
  assertSafeEntries(entries);
  // strict turns node-tar's own warnings (which it would otherwise skip past) into errors; owners are
  // never taken from the archive, even when the agent runs as root.
  await tar.x({ file: contentPath, cwd: destination, strict: true, preserveOwner: false });
}

/** Unix file type bits of a zip entry made on Unix, or undefined for entries from other systems. */
function zipUnixMode(entry: yauzl.Entry): number | undefined {
  const madeOnUnix = entry.versionMadeBy >> 8 === 3;
  return madeOnUnix ? (entry.externalFileAttributes >>> 16) & 0xffff : undefined;
}

function zipEntry(entry: yauzl.Entry): ArchiveEntry {
  const listed = zipEntryKind(entry);
  return listed.type === 'file' ? { ...listed, size: entry.uncompressedSize } : listed;
}

function zipEntryKind(entry: yauzl.Entry): ArchiveEntry {
  // Names are decoded here rather than by yauzl, whose own check would fail the whole read with a
  // message of its own; backslashes count as separators so `..\x` is caught as `../x`.
  const path = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
  const fileType = (zipUnixMode(entry) ?? 0) & 0o170000;
  if (fileType === 0o120000) return { path, type: 'other', typeName: 'symbolic link in a zip archive' };
  if (path.endsWith('/') || fileType === 0o040000) return { path, type: 'directory' };
  if (fileType !== 0 && fileType !== 0o100000) return { path, type: 'other', typeName: 'special file' };
  return { path, type: 'file' };
}

/** yauzl checks each entry's bytes against its declared size as it reads, so no entry writes more than it declared. */
async function extractZip(contentPath: string, destination: string, budget: ExtractionBudget): Promise<void> {
  const zip = await yauzl.openPromise(contentPath, { lazyEntries: true, autoClose: false, decodeStrings: false });
  try {
    const listed: { entry: yauzl.Entry; archiveEntry: ArchiveEntry }[] = [];
    for await (const entry of zip.eachEntry()) {
      const archiveEntry = zipEntry(entry);
      budget.count(archiveEntry);
      listed.push({ entry, archiveEntry });
    }
    assertSafeEntries(listed.map(({ archiveEntry }) => archiveEntry));
    for (const { entry, archiveEntry } of listed) {
      const target = join(destination, archiveEntry.path);
      if (archiveEntry.type === 'directory') {
        await mkdir(target, { recursive: true });
        continue;
      }
      await mkdir(dirname(target), { recursive: true });
      // Permission bits only (no setuid and the like); executables stay executable.
      const mode = (zipUnixMode(entry) ?? 0o644) & 0o777 || 0o644;
      await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(target, { flags: 'wx', mode }));
    }
  } finally {
    zip.close();
  }
}

async function placeFile(contentPath: string, fileName: string, destination: string): Promise<void> {
  if (fileName.includes('/') || fileName.includes('\\')) {
    throw new UnsafeArchiveError(`file name "${fileName}" must be a plain name, without folders`);
  }
  if (fileName === '' || fileName === '.') throw new UnsafeArchiveError('the package has no file name');
  assertSafeEntries([{ path: fileName, type: 'file' }]);
  const target = join(destination, fileName);
  // The download is deleted once the order ends, so a second name for its bytes does instead of a copy;
  // a copy only where the two folders cannot share a file.
  try {
    await link(contentPath, target);
  } catch (error) {
    if (!CANNOT_LINK.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    await copyFile(contentPath, target);
  }
}
