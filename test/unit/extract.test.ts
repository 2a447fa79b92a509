/**
 * Safe extraction: archives that would write outside their folder are refused before anything is written,
 * and ordinary archives extract intact. Hostile archives are built byte by byte (tar headers via node-tar's
 * Header class, zip records by hand) because ordinary archivers refuse to produce them.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, gzipSync } from 'node:zlib';
import { Header, type HeaderData } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PackageFormat } from '../../common/manifest.js';
import { assertSafeEntries, UnsafeArchiveError } from '../../agent/archive-guard.js';
import { extractPackage } from '../../agent/extract.js';

interface TarItem extends HeaderData {
  body?: string;
}

function tarGz(items: TarItem[]): Buffer {
  const blocks = items.map(({ body = '', ...data }) => {
    const content = Buffer.from(body);
    const header = Buffer.alloc(512);
    new Header({ mode: data.type === 'Directory' ? 0o755 : 0o644, mtime: new Date(0), size: content.length, ...data }).encode(header, 0);
    const padded = Buffer.alloc(Math.ceil(content.length / 512) * 512);
    content.copy(padded);
    return Buffer.concat([header, padded]);
  });
  return gzipSync(Buffer.concat([...blocks, Buffer.alloc(1024)]));
}

interface ZipItem {
  name: string;
  body?: string;
  /** Unix mode including the file type bits (default: a regular file, 0644). */
  mode?: number;
}

/** A stored (uncompressed) zip made on "Unix", so the mode bits in the external attributes count. */
function zip(items: ZipItem[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, body = '', mode = 0o100644 } of items) {
    const nameBytes = Buffer.from(name);
    const data = Buffer.from(body);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(items.length, 8);
  end.writeUInt16LE(items.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

let base: string;
let destination: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'courier-extract-'));
  // Nested two levels down, so an escape by `..` would land inside `base`, where the test can see it.
  destination = join(base, 'outer', 'work');
  await mkdir(destination, { recursive: true });
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function extract(content: Buffer, format: PackageFormat, fileName = 'package'): Promise<void> {
  const contentPath = join(base, 'content');
  await writeFile(contentPath, content);
  await extractPackage(contentPath, format, fileName, destination);
}

/** Expects refusal with a message matching `reason`, and nothing written anywhere. */
async function expectRefused(content: Buffer, format: PackageFormat, reason: RegExp): Promise<void> {
  const attempt = extract(content, format);
  await expect(attempt).rejects.toBeInstanceOf(UnsafeArchiveError);
  await expect(attempt).rejects.toThrow(reason);
  expect(await readdir(destination)).toEqual([]);
  expect((await readdir(base)).sort()).toEqual(['content', 'outer']);
  expect(await readdir(join(base, 'outer'))).toEqual(['work']);
}

describe('tar.gz packages', () => {
  it('extracts files, folders and links that stay inside the folder', async () => {
    await extract(
      tarGz([
        { path: 'bin/', type: 'Directory' },
        { path: 'bin/tool', body: '#!/bin/sh\necho tool\n', mode: 0o755 },
        { path: 'README', body: 'read me' },
        { path: 'bin/current', type: 'SymbolicLink', linkpath: 'tool' },
        { path: 'docs/README', type: 'Link', linkpath: 'README' },
      ]),
      'tar.gz',
    );
    expect(await readFile(join(destination, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\necho tool\n');
    expect((await stat(join(destination, 'bin/tool'))).mode & 0o100).toBe(0o100);
    expect(await readlink(join(destination, 'bin/current'))).toBe('tool');
    expect(await readFile(join(destination, 'docs/README'), 'utf8')).toBe('read me');
  });

  it('refuses a path with a .. segment', async () => {
    await expectRefused(tarGz([{ path: 'ok.txt', body: 'fine' }, { path: '../x', body: 'escaped' }]), 'tar.gz', /"\.\.\/x".*"\.\."/);
  });

  it('refuses a .. segment hidden in the middle of a path', async () => {
    await expectRefused(tarGz([{ path: 'a/../../x', body: 'escaped' }]), 'tar.gz', /"\.\." segment/);
  });

  it('refuses an absolute path', async () => {
    await expectRefused(tarGz([{ path: join(base, 'abs.txt'), body: 'escaped' }]), 'tar.gz', /absolute path/);
  });

  it('refuses a symbolic link leaving the folder', async () => {
    await expectRefused(tarGz([{ path: 'evil', type: 'SymbolicLink', linkpath: '../../..' }]), 'tar.gz', /points outside/);
  });

  it('refuses a symbolic link to an absolute path', async () => {
    await expectRefused(tarGz([{ path: 'passwd', type: 'SymbolicLink', linkpath: '/etc/passwd' }]), 'tar.gz', /absolute path \/etc\/passwd/);
  });

  it('refuses a link chain that only looks inside when resolved on paper', async () => {
    // x/b -> ../y is inside; c -> x/b/../.. is "." on paper, but through the link it is y/../.., the parent.
    const chain = tarGz([
      { path: 'x/', type: 'Directory' },
      { path: 'y/', type: 'Directory' },
      { path: 'x/b', type: 'SymbolicLink', linkpath: '../y' },
      { path: 'c', type: 'SymbolicLink', linkpath: 'x/b/../..' },
    ]);
    await expectRefused(chain, 'tar.gz', /points through the symbolic link x\/b/);
  });

  it('refuses a file written through a symbolic link', async () => {
    const through = tarGz([
      { path: 'sub/', type: 'Directory' },
      { path: 'link', type: 'SymbolicLink', linkpath: 'sub' },
      { path: 'link/x', body: 'through the link' },
    ]);
    await expectRefused(through, 'tar.gz', /inside the symbolic link link/);
  });

  it('refuses a hard link leaving the folder', async () => {
    await expectRefused(tarGz([{ path: 'shadow', type: 'Link', linkpath: '../../content' }]), 'tar.gz', /hard link "shadow" points outside/);
  });

  it('refuses a hard link to an absolute path', async () => {
    await expectRefused(tarGz([{ path: 'shadow', type: 'Link', linkpath: '/etc/shadow' }]), 'tar.gz', /absolute path/);
  });

  it('refuses device files', async () => {
    await expectRefused(tarGz([{ path: 'null', type: 'CharacterDevice', devmaj: 1, devmin: 3 }]), 'tar.gz', /CharacterDevice/);
  });

  it('refuses an entry that replaces an earlier one', async () => {
    const replaced = tarGz([
      { path: 'config', body: 'first' },
      { path: 'config', type: 'SymbolicLink', linkpath: 'elsewhere' },
    ]);
    await expectRefused(replaced, 'tar.gz', /more than once/);
  });
});

describe('zip packages', () => {
  it('extracts files and folders, keeping the executable bit', async () => {
    await extract(
      zip([
        { name: 'app/', mode: 0o040755 },
        { name: 'app/install.sh', body: 'echo hi\n', mode: 0o100755 },
        { name: 'app/data.txt', body: 'data' },
      ]),
      'zip',
    );
    expect(await readFile(join(destination, 'app/data.txt'), 'utf8')).toBe('data');
    expect((await stat(join(destination, 'app/install.sh'))).mode & 0o777).toBe(0o755);
  });

  it('refuses a path with a .. segment', async () => {
    await expectRefused(zip([{ name: 'ok.txt', body: 'fine' }, { name: '../x', body: 'escaped' }]), 'zip', /"\.\." segment/);
  });

  it('refuses a .. segment written with backslashes', async () => {
    await expectRefused(zip([{ name: '..\\x', body: 'escaped' }]), 'zip', /"\.\." segment/);
  });

  it('refuses an absolute path', async () => {
    await expectRefused(zip([{ name: '/tmp/x', body: 'escaped' }]), 'zip', /absolute path/);
  });

  it('refuses symbolic link entries, even ones pointing inside', async () => {
    await expectRefused(zip([{ name: 'link', body: 'target', mode: 0o120777 }]), 'zip', /symbolic link/);
  });
});

describe('single-file packages', () => {
  it('places the content under the manifest file name', async () => {
    await extract(Buffer.from('#!/bin/sh\n'), 'file', 'setup.sh');
    expect(await readFile(join(destination, 'setup.sh'), 'utf8')).toBe('#!/bin/sh\n');
    expect((await lstat(join(destination, 'setup.sh'))).isFile()).toBe(true);
  });

  it('refuses a file name with folders in it', async () => {
    await expect(extract(Buffer.from('x'), 'file', '../setup.sh')).rejects.toBeInstanceOf(UnsafeArchiveError);
    expect(await readdir(destination)).toEqual([]);
  });
});

describe('the entry guard', () => {
  it('accepts a link to a link, and repeated folders', () => {
    expect(() =>
      assertSafeEntries([
        { path: 'lib/', type: 'directory' },
        { path: 'lib/', type: 'directory' },
        { path: 'lib/libx.so.1', type: 'file' },
        { path: 'lib/libx.so', type: 'symlink', linkTarget: 'libx.so.1' },
        { path: 'libx', type: 'symlink', linkTarget: 'lib/libx.so' },
        { path: 'other/up', type: 'symlink', linkTarget: '../lib/libx.so.1' },
      ]),
    ).not.toThrow();
  });

  it('refuses a symbolic link that climbs out through a sibling folder', () => {
    expect(() => assertSafeEntries([{ path: 'a/b', type: 'symlink', linkTarget: '../../../etc' }])).toThrow(/points outside/);
  });
});

describe('extraction limits', () => {
  const limits = { maxBytes: 1_000_000, maxEntries: 10 };

  async function extractWithin(content: Buffer, format: PackageFormat): Promise<void> {
    const contentPath = join(base, 'content');
    await writeFile(contentPath, content);
    await extractPackage(contentPath, format, 'package', destination, limits);
  }

  async function expectBomb(content: Buffer, format: PackageFormat, reason: RegExp): Promise<void> {
    const attempt = extractWithin(content, format);
    await expect(attempt).rejects.toBeInstanceOf(UnsafeArchiveError);
    await expect(attempt).rejects.toThrow(reason);
    expect(await readdir(destination)).toEqual([]);
  }

  it('refuses a tar bomb: a few kilobytes that unpack past the byte limit', async () => {
    const zeros = '\0'.repeat(600_000);
    const bomb = tarGz([{ path: 'a.bin', body: zeros }, { path: 'b.bin', body: zeros }]);
    expect(bomb.length).toBeLessThan(10_000);
    await expectBomb(bomb, 'tar.gz', /unpacks to more than 1000000 bytes.*"b\.bin"/);
  });

  it('refuses a zip bomb by its declared sizes', async () => {
    const zeros = '\0'.repeat(600_000);
    await expectBomb(zip([{ name: 'a.bin', body: zeros }, { name: 'b.bin', body: zeros }]), 'zip', /unpacks to more than 1000000 bytes/);
  });

  it('refuses an archive of more entries than the limit, folders included', async () => {
    const items = Array.from({ length: 11 }, (_, index) => ({ path: `d${index}/`, type: 'Directory' as const }));
    await expectBomb(tarGz(items), 'tar.gz', /more than 10 entries/);
  });

  it('extracts an archive right at the limits', async () => {
    const items = [{ path: 'a.bin', body: 'x'.repeat(1_000_000) }];
    await extractWithin(tarGz(items), 'tar.gz');
    expect((await stat(join(destination, 'a.bin'))).size).toBe(1_000_000);
  });
});
