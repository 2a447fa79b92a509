/**
 * Packages: creating one from an upload (sign the manifest, insert the row, commit the content), listing
 * with the relays' copies, one package with what was served of it, changing the relay expiration date,
 * retiring one, and locating the content for download.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { and, desc, eq, inArray, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { installConditionsSchema } from '../../common/conditions.js';
import { relayCopyWorkflowId } from '../../common/names.js';
import { unfinishedJobStatuses } from '../../common/states.js';
import { retireCopySignal } from '../../common/workflows.js';
import { packageFormats, type PackageManifest } from '../../common/manifest.js';
import { findPackage as findPackageRow, type PackageRow } from '../../db/repositories/packages.js';
import { jobs, packages, relayCopies } from '../../db/schema/index.js';
import { signManifest } from '../../trust/signing.js';
import type { AppDependencies } from '../dependencies.js';
import { pageOf, type Page } from '../cursor.js';
import { Conflict, NotFound } from '../errors.js';
import type { PackagesQuery } from '../list-queries.js';
import { exactTimestamp, olderThan } from '../newest-first.js';
import type { PackageUpload } from '../package-upload.js';
import { formatFromFileName, isUuid } from '../validation.js';
import { timestamp, uuid } from '../view-schemas.js';
import { copiesOfPackages, packageCopyViewSchema } from './relay-copies.js';
import { servedBytesOf, servedBytesViewSchema } from './served-bytes.js';

type Db = AppDependencies['db'];

/** The package row's own fields, as admins see them. */
const packageFieldsSchema = z.strictObject({
  id: uuid,
  name: z.string(),
  version: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  format: z.enum(packageFormats),
  fileName: z.string(),
  installCommand: z.string(),
  timeoutSeconds: z.number().int().positive(),
  conditions: installConditionsSchema,
  relayExpiresAt: timestamp,
  createdAt: timestamp,
  /** When an admin retired the package; null while jobs may use it. */
  retiredAt: timestamp.nullable(),
});

type PackageFields = z.infer<typeof packageFieldsSchema>;

/** What admins see of a package in the list: its fields and every relay's copy with that copy's own expiry. */
export const packageViewSchema = packageFieldsSchema.extend({ relayCopies: z.array(packageCopyViewSchema) });

export type PackageView = z.infer<typeof packageViewSchema>;

/** One package: also how many bytes of it the managing server has served to each agent. */
export const packageDetailViewSchema = packageViewSchema.extend({ servedBytes: z.array(servedBytesViewSchema) });

export type PackageDetailView = z.infer<typeof packageDetailViewSchema>;

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
    retiredAt: row.retiredAt?.toISOString() ?? null,
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

/** A page of the packages in use (retired ones are left out), newest first. */
export async function listPackages(db: Db, query: PackagesQuery): Promise<Page<PackageView>> {
  const rows = await db
    .select({ row: packages, createdAtKey: exactTimestamp(packages.createdAt) })
    .from(packages)
    .where(and(isNull(packages.retiredAt), olderThan(packages.createdAt, packages.id, query.cursor)))
    .orderBy(desc(packages.createdAt), desc(packages.id))
    .limit(query.limit + 1);
  const page = pageOf(rows, query.limit, ({ row, createdAtKey }) => ({ createdAt: createdAtKey, id: row.id }));
  const copies = await copiesOfPackages(db, page.rows.map(({ row }) => row.id));
  return {
    items: page.rows.map(({ row }) => ({ ...packageFields(row), relayCopies: copies.get(row.id) ?? [] })),
    nextCursor: page.nextCursor,
  };
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

/** A retired package, and how many relays were told to delete their copies. */
export const retiredPackageSchema = packageDetailViewSchema.extend({ relayCopiesDeleting: z.number().int().nonnegative() });

export type RetiredPackage = z.infer<typeof retiredPackageSchema>;

/**
 * Retires a package: refused (409 `package_in_use`) while a job that has not ended uses it, and idempotent
 * once done. The package row holds the lock, so a job being created for it at the same moment either
 * comes first (and the retirement is refused) or finds the package retired (api/services/jobs.ts). Each
 * relay copy's workflow is then told to have its relay delete the copy now; the content stays in the store
 * for the job history that names it, and agents are refused it from now on.
 */
export async function retirePackage(deps: Pick<AppDependencies, 'db' | 'temporal' | 'logger'>, id: string): Promise<RetiredPackage> {
  const { db } = deps;
  await findPackage(db, id);
  const retired = await db.transaction(async (tx) => {
    const [row] = await tx.select().from(packages).where(eq(packages.id, id)).for('update');
    if (!row) throw new NotFound('package_not_found', `no package ${id}`);
    if (row.retiredAt) return row;
    const using = await tx
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.packageId, id), inArray(jobs.status, [...unfinishedJobStatuses])))
      .limit(10);
    if (using.length > 0) {
      const ids = using.map((job) => job.id);
      throw new Conflict('package_in_use', `jobs that have not ended use package ${id}: ${ids.join(', ')}; cancel them or wait for them to end`, { jobs: ids });
    }
    const [updated] = await tx.update(packages).set({ retiredAt: new Date() }).where(eq(packages.id, id)).returning();
    return updated ?? row;
  });
  const copies = await db
    .select({ relayId: relayCopies.relayId })
    .from(relayCopies)
    .where(and(eq(relayCopies.packageId, id), eq(relayCopies.state, 'stored')));
  let deleting = 0;
  for (const { relayId } of copies) {
    try {
      await deps.temporal.workflow.getHandle(relayCopyWorkflowId(relayId, id)).signal(retireCopySignal);
      deleting += 1;
    } catch (error) {
      // A copy whose timer already fired has no workflow left; the relay drops any other copy at its expiry.
      if (!(error instanceof WorkflowNotFoundError)) deps.logger.warn({ err: error, packageId: id, relayId }, 'could not tell a relay copy to go');
    }
  }
  return { ...(await packageDetail(db, retired)), relayCopiesDeleting: deleting };
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
  if (row.retiredAt) throw new NotFound('package_retired', `package ${id} was retired at ${row.retiredAt.toISOString()}`);
  return { packageId: row.id, relativePath: store.relativePathOf(row.sha256), fileName: row.fileName };
}
