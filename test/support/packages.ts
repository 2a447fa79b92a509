/** Building real package archives and uploading them through the REST API. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { ADMIN_TOKEN, type TestStack } from './stack.js';

/** A .tar.gz holding the given files (path → content). */
export async function makeTarGz(files: Record<string, string>): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'courier-package-'));
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    const archive = join(dir, '..', `${dir.split('/').pop()}.tar.gz`);
    await tar.c({ gzip: true, file: archive, cwd: dir }, Object.keys(files));
    const bytes = await readFile(archive);
    await rm(archive);
    return bytes;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function uploadPackage(
  stack: TestStack,
  manifest: Record<string, unknown>,
  content: Buffer,
  fileName = 'package.tar.gz',
): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.append('manifest', JSON.stringify(manifest));
  form.append('content', new Blob([content]), fileName);
  const response = await stack.fetch(`${stack.apiUrl}/api/v1/packages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: form,
  });
  return { status: response.status, body: await response.json() };
}
