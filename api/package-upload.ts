/**
 * Reads a package upload (`multipart/form-data` with parts `manifest` and `content`) with busboy, streaming
 * the content into the store's temporary area while it is hashed, so a multi-gigabyte package never sits
 * in memory. The parts may come in either order. Whatever goes wrong, the request is read to its end (so
 * the client gets the answer instead of a reset connection) and the temporary file is removed.
 */
import busboy from 'busboy';
import type { Request } from 'express';
import type { Readable } from 'node:stream';
import { InvalidInput, TooLarge } from './errors.js';
import type { PackageStore, ReceivedContent } from './package-store.js';
import { parseManifestPart, safeFileName, type PackageManifestInput } from './validation.js';

/** The manifest is small JSON; anything larger is a mistake or an attack. */
const MANIFEST_LIMIT_BYTES = 64 * 1024;

/** A validated manifest and its content, received but not yet committed to the store. */
export interface PackageUpload {
  manifest: PackageManifestInput;
  content: ReceivedContent;
  fileName: string;
}

const manifestTooLarge = () =>
  new TooLarge('manifest_too_large', `the manifest part exceeds ${MANIFEST_LIMIT_BYTES} bytes`);

const usage = 'send multipart/form-data with a part "manifest" (JSON) and a file part "content"';

/** Reads a manifest sent as a file part (curl -F manifest=@manifest.json), up to the limit. */
async function readManifestFile(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MANIFEST_LIMIT_BYTES) chunks.push(chunk);
  }
  if (size > MANIFEST_LIMIT_BYTES) throw manifestTooLarge();
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Parses the upload; resolves once both parts arrived and the manifest is valid. On rejection nothing is
 * left in the store; on success the caller owns `content` and must commit or discard it.
 */
export function readPackageUpload(req: Request, store: PackageStore): Promise<PackageUpload> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: { fieldSize: MANIFEST_LIMIT_BYTES, fields: 4, files: 4, parts: 8 },
      });
    } catch {
      reject(new InvalidInput('not_multipart', usage));
      return;
    }

    let failure: Error | undefined;
    let manifest: PackageManifestInput | undefined;
    let manifestSeen = false;
    let content: ReceivedContent | undefined;
    // Set once a usable "content" part arrived.
    let fileName: string | undefined;
    const pending: Promise<void>[] = [];
    const fail = (error: unknown) => {
      failure ??= error instanceof Error ? error : new Error(String(error));
    };
    const acceptManifest = (text: string) => {
      if (manifestSeen) throw new InvalidInput('duplicate_part', 'more than one "manifest" part');
      manifestSeen = true;
      manifest = parseManifestPart(text);
    };

    parser.on('field', (name, value, info) => {
      try {
        if (name !== 'manifest') throw new InvalidInput('unexpected_part', `unexpected part "${name}"; ${usage}`);
        if (info.valueTruncated) throw manifestTooLarge();
        acceptManifest(value);
      } catch (error) {
        fail(error);
      }
    });

    const contentProblem = (name: string, rawFileName: string | undefined) => {
      if (name !== 'content') return new InvalidInput('unexpected_part', `unexpected part "${name}"; ${usage}`);
      if (fileName !== undefined) return new InvalidInput('duplicate_part', 'more than one "content" part');
      if (safeFileName(rawFileName) === undefined) {
        return new InvalidInput('invalid_file_name', 'the "content" part needs a usable file name');
      }
      return undefined;
    };

    parser.on('file', (name, stream, info) => {
      if (name === 'manifest') {
        pending.push(readManifestFile(stream).then(acceptManifest).catch(fail));
        return;
      }
      const problem = contentProblem(name, info.filename);
      if (problem) fail(problem);
      else fileName = safeFileName(info.filename);
      // Bytes that will be thrown away anyway (a bad part, or a manifest already rejected) are not stored.
      if (failure !== undefined) {
        stream.resume();
        return;
      }
      pending.push(
        store.receive(stream).then((received) => {
          content = received;
        }, fail),
      );
    });

    let finished = false;
    const finish = async () => {
      if (finished) return;
      finished = true;
      await Promise.all(pending);
      if (failure === undefined && manifest && content && fileName) {
        resolve({ manifest, content, fileName });
        return;
      }
      if (content) await store.discard(content);
      const missing = !manifestSeen ? 'manifest' : 'content';
      reject(failure ?? new InvalidInput('missing_part', `no "${missing}" part; ${usage}`));
    };

    parser.on('error', (error) => {
      fail(new InvalidInput('invalid_multipart', `the upload is not well-formed multipart: ${(error as Error).message}`));
      req.unpipe(parser);
      req.resume();
      finish().catch(reject);
    });
    parser.on('close', () => {
      finish().catch(reject);
    });
    // A client that hangs up mid-upload: stop the parser so the temporary file is removed.
    req.on('close', () => {
      if (!req.complete) parser.destroy(new Error('the client closed the connection during the upload'));
    });
    req.pipe(parser);
  });
}
