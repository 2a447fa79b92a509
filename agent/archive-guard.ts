/**
 * The safety rules for archive entries, checked on the whole listing before anything is written: no
 * absolute paths, no `..` segments, no links whose target leaves the extraction folder, no special files,
 * and no more entries or unpacked bytes than the limits allow (an archive bomb is refused while it is
 * being listed, before it has been unpacked even once).
 * Paths are resolved lexically; that is exact only when no path runs *through* a symbolic link, so that
 * is refused too (a link `b -> .` would otherwise make `b/..` the folder's parent).
 */

/** An archive entry as the guard sees it, whatever the archive format. */
export interface ArchiveEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  /** Symbolic links: relative to the link's folder. Hard links: relative to the archive root. */
  linkTarget?: string;
  /** The format's own name for the type, for messages about `other` entries. */
  typeName?: string;
  /** Files: the unpacked size the archive declares (which is what is written: extraction checks it). */
  size?: number;
}

/** The most an archive may unpack to. */
export interface ExtractionLimits {
  /** Total unpacked bytes of all its files. */
  maxBytes: number;
  /** Entries of every kind, folders and links included. */
  maxEntries: number;
}

/** Larger than any software package an agent installs; far smaller than a bomb unpacks to. */
export const DEFAULT_EXTRACTION_LIMITS: ExtractionLimits = { maxBytes: 8 * 2 ** 30, maxEntries: 100_000 };

/** Counts entries and declared bytes as an archive is listed; throws UnsafeArchiveError past a limit. */
export class ExtractionBudget {
  private entries = 0;
  private bytes = 0;

  constructor(private readonly limits: ExtractionLimits) {}

  count(entry: ArchiveEntry): void {
    this.entries += 1;
    this.bytes += entry.size ?? 0;
    if (this.entries > this.limits.maxEntries) {
      throw new UnsafeArchiveError(`the archive has more than ${this.limits.maxEntries} entries, the most a package may have`);
    }
    if (this.bytes > this.limits.maxBytes) {
      throw new UnsafeArchiveError(`the archive unpacks to more than ${this.limits.maxBytes} bytes, the most a package may (at "${entry.path}")`);
    }
  }
}

/** The archive would write outside its folder or create something an install has no business creating. */
export class UnsafeArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeArchiveError';
  }
}

function isAbsolute(path: string): boolean {
  return path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path);
}

/** Splits a relative path into its meaningful segments, refusing absolute paths and `..`. */
function segments(path: string, what: string): string[] {
  if (path.includes('\0')) throw new UnsafeArchiveError(`${what} contains a NUL byte`);
  if (isAbsolute(path)) throw new UnsafeArchiveError(`${what} is an absolute path`);
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new UnsafeArchiveError(`${what} contains a ".." segment`);
  return parts;
}

/**
 * Resolves `target` from the folder `base` (both as segments) and returns the result, refusing a target
 * that climbs above the extraction folder or passes through a symbolic link of the archive on the way.
 */
function resolveTarget(base: string[], target: string, symlinks: ReadonlySet<string>, what: string): string {
  if (target.includes('\0')) throw new UnsafeArchiveError(`${what} has a target with a NUL byte`);
  if (isAbsolute(target)) throw new UnsafeArchiveError(`${what} points to the absolute path ${target}`);
  const resolved = [...base];
  const parts = target.split('/').filter((part) => part !== '' && part !== '.');
  for (const [index, part] of parts.entries()) {
    if (part === '..') {
      if (resolved.length === 0) throw new UnsafeArchiveError(`${what} points outside the folder (${target})`);
      resolved.pop();
    } else {
      resolved.push(part);
    }
    // The last segment may itself be a link (its own target is checked); an earlier one may not.
    if (index < parts.length - 1 && symlinks.has(resolved.join('/'))) {
      throw new UnsafeArchiveError(`${what} points through the symbolic link ${resolved.join('/')} (${target})`);
    }
  }
  return resolved.join('/');
}

/** Throws UnsafeArchiveError for the first entry that breaks a rule; returns when all are safe. */
export function assertSafeEntries(entries: readonly ArchiveEntry[]): void {
  const symlinks = new Set<string>();
  const seen = new Map<string, ArchiveEntry['type']>();
  const normalized = entries.map((entry) => {
    const parts = segments(entry.path, `entry "${entry.path}"`);
    const path = parts.join('/');
    if (entry.type === 'other') {
      throw new UnsafeArchiveError(`entry "${entry.path}" is a ${entry.typeName ?? 'special file'}, which packages may not contain`);
    }
    const earlier = seen.get(path);
    // A later entry replacing an earlier one is how link tricks are built; only repeated folders are harmless.
    if (earlier !== undefined && (earlier !== 'directory' || entry.type !== 'directory')) {
      throw new UnsafeArchiveError(`entry "${entry.path}" appears more than once`);
    }
    seen.set(path, entry.type);
    if (entry.type === 'symlink') symlinks.add(path);
    return { entry, parts };
  });

  for (const { entry, parts } of normalized) {
    for (let depth = 1; depth < parts.length; depth += 1) {
      const folder = parts.slice(0, depth).join('/');
      if (symlinks.has(folder)) throw new UnsafeArchiveError(`entry "${entry.path}" lies inside the symbolic link ${folder}`);
    }
    if (entry.type === 'symlink' || entry.type === 'hardlink') {
      const kind = entry.type === 'symlink' ? 'symbolic link' : 'hard link';
      if (entry.linkTarget === undefined || entry.linkTarget === '') {
        throw new UnsafeArchiveError(`${kind} "${entry.path}" has no target`);
      }
      const base = entry.type === 'symlink' ? parts.slice(0, -1) : [];
      const target = resolveTarget(base, entry.linkTarget, symlinks, `${kind} "${entry.path}"`);
      if (target === '') throw new UnsafeArchiveError(`${kind} "${entry.path}" points at the extraction folder itself`);
      if (entry.type === 'hardlink' && symlinks.has(target)) {
        throw new UnsafeArchiveError(`hard link "${entry.path}" points at the symbolic link ${target}`);
      }
    }
  }
}
