/** Reads of the packages table shared by the api and the activities. */
import { eq } from 'drizzle-orm';
import type { SignedManifest } from '../../common/manifest.js';
import type { Database } from '../client.js';
import { packages } from '../schema/index.js';

/** A row of the packages table. */
export type PackageRow = typeof packages.$inferSelect;

/** The package row, or undefined when there is none with this id. */
export async function findPackage(db: Database, id: string): Promise<PackageRow | undefined> {
  const [row] = await db.select().from(packages).where(eq(packages.id, id));
  return row;
}

/** The signed manifest an agent verifies, rebuilt from the row exactly as it was signed at upload. */
export function signedManifestOf(row: PackageRow): SignedManifest {
  return {
    manifest: {
      packageId: row.id,
      name: row.name,
      version: row.version,
      sha256: row.sha256,
      size: row.size,
      format: row.format,
      fileName: row.fileName,
      installCommand: row.installCommand,
      timeoutSeconds: row.timeoutSeconds,
      conditions: row.conditions,
    },
    signature: row.manifestSignature,
  };
}
