/**
 * Packages: creating one from an upload (sign the manifest, insert the row, commit the content), listing
 * with the relays' copies, one package with what was served of it, changing the relay expiration date,
 * and locating the content for download.
 */
import { randomUUID } from 'node:crypto';
import { desc, eq } from 'drizzle-orm';
import type { PackageManifest } from '../../common/manifest.js';
import { findPackage as findPackageRow, type PackageRow } from '../../db/repositories/packages.js';
import { packages } from '../../db/schema/index.js';
import { signManifest } from '../../trust/signing.js';
import type { AppDependencies } from '../dependencies.js';
import { Conflict, NotFound } from '../errors.js';
import type { PackageUpload } from '../package-upload.js';
import { formatFromFileName, isUuid } from '../validation.js';
import { copiesOfPackages, type PackageCopyView } from './relay-copies.js';
import { servedBytesOf, type ServedBytesView } from './served-bytes.js';

type Db = AppDependencies['db'];

/** The package row's own fields, as admins see them. */
interface PackageFields {
  id: string;
  name: string;
  version: string;
  sha256: string;
  size: number;
  format: PackageRow['format'];
  fileName: string;
  installCommand: string;
  timeoutSeconds: number;
  conditions: PackageRow['conditions'];
  relayExpiresAt: string;
  createdAt: string;
}

/** What admins see of a package in the list: its fields and every relay's copy with that copy's own expiry. */
export interface PackageView extends PackageFields {
  relayCopies: PackageCopyView[];
}

/** One package: also how many bytes of it the managing server has served to each agent. */
export interface PackageDetailView extends PackageView {
  servedBytes: ServedBytesView[];
}

function packageFields(row: PackageRow): PackageFields {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    sha256: row.sha256,
    size: row.size,
    format: row.format,
    fileName: row.fileName,
    installCommand: row.installCommand,
    timeoutSeconds: row.timeoutSeconds,
    conditions: row.conditions,
    relayExpiresAt: row.relayExpiresAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
  };
}

/** The package row, or NotFound (also for ids that are not UUIDs). */
export async function findPackage(db: Db, id: string): Promise<PackageRow> {
  const row = isUuid(id) ? await findPackageRow(db, id) : undefined;
  if (!row) throw new NotFound('package_not_found', `no package ${id}`);
  return row;
}

async function packageDetail(db: Db, row: PackageRow): Promise<PackageDetailView> {
  const [copies, served] = await Promise.all([copiesOfPackages(db, [row.id]), servedBytesOf(db, row.id)]);
  return { ...packageFields(row), relayCopies: copies.get(row.id) ?? [], servedBytes: served };
}

/**
 * Creates a package from a received upload. The id is chosen here because the signed manifest contains
 * it. The content is committed inside the row's transaction, so a failed insert leaves no blob and a
 * failed commit leaves no row; the temporary file is removed either way.
 */
export async function createPackage(
  { db, serverKey, store }: Pick<AppDependencies, 'db' | 'serverKey' | 'store'>,
  upload: PackageUpload,
): Promise<PackageDetailView> {
  const { manifest: input, content, fileName } = upload;
  const manifest: PackageManifest = {
    packageId: randomUUID(),
    name: input.name,
    version: input.version,
    sha256: content.sha256,
    size: content.size,
    format: input.format ?? formatFromFileName(fileName),
    fileName,
    installCommand: input.installCommand,
    timeoutSeconds: input.timeoutSeconds,
    conditions: input.conditions,
  };
  // The row's columns are the manifest's fields, under `id` instead of `packageId`.
  const { packageId, ...signedFields } = manifest;
  try {
    const row = await db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(packages)
        .values({
          id: packageId,
          ...signedFields,
          manifestSignature: signManifest(serverKey, manifest).signature,
          relayExpiresAt: input.relayExpiresAt,
        })
        .onConflictDoNothing({ target: [packages.name, packages.version] })
        .returning();
      if (!inserted) {
        throw new Conflict('package_exists', `package ${manifest.name} ${manifest.version} already exists`);
      }
      await store.commit(content);
      return inserted;
    });
    return { ...packageFields(row), relayCopies: [], servedBytes: [] };
  } finally {
    await store.discard(content);
  }
}

/** Every package, newest first. */
export async function listPackages(db: Db): Promise<PackageView[]> {
  const rows = await db.select().from(packages).orderBy(desc(packages.createdAt), packages.name);
  const copies = await copiesOfPackages(db, rows.map((row) => row.id));
  return rows.map((row) => ({ ...packageFields(row), relayCopies: copies.get(row.id) ?? [] }));
}

/** One package with its relay copies and served bytes. */
export async function getPackage(db: Db, id: string): Promise<PackageDetailView> {
  return packageDetail(db, await findPackage(db, id));
}

/**
 * Changes the package's relay expiration date only. Relay copies keep the date they were transferred with
 * until the package is retransferred (DESIGN §1, transfer jobs).
 */
export async function updatePackageExpiry(db: Db, id: string, relayExpiresAt: Date): Promise<PackageDetailView> {
  const [row] = isUuid(id)
    ? await db.update(packages).set({ relayExpiresAt }).where(eq(packages.id, id)).returning()
    : [];
  if (!row) throw new NotFound('package_not_found', `no package ${id}`);
  return packageDetail(db, row);
}

/** Where a package's bytes are, relative to the store's root, and the name to offer them under. */
export interface PackageContent {
  packageId: string;
  relativePath: string;
  fileName: string;
}

/** The content's location, or NotFound. */
export async function packageContent(
  { db, store }: Pick<AppDependencies, 'db' | 'store'>,
  id: string,
): Promise<PackageContent> {
  const row = await findPackage(db, id);
  return { packageId: row.id, relativePath: store.relativePathOf(row.sha256), fileName: row.fileName };
}
