/**
 * The install order a computer is sent: the signed manifest, where to download it from with a ticket, how
 * long the job wants it carried out, and how often to report back.
 */
import type { DownloadSource, InstallOrder } from '../common/orders.js';
import { signedManifestOf, type PackageRow } from '../db/repositories/packages.js';
import { signTicket } from '../trust/orders.js';
import type { ActivityDependencies } from './dependencies.js';

/**
 * Download tickets and install orders stay valid this long past the deadline (or past the moment they are
 * issued, when that is later): a download that began in time can finish, and a laptop that comes back
 * later than that drops the order instead of installing a job that has ended.
 */
export const ORDER_GRACE_MS = 60 * 60_000;

/** Until when an order issued now for a job with this deadline may be carried out. */
export function orderValidUntil(now: Date, deadline: Date): Date {
  return new Date(Math.max(now.getTime(), deadline.getTime()) + ORDER_GRACE_MS);
}

/** Where the computer fetches the package: its relay (`relayUrl`), or the managing server when it has none. */
function downloadSource(deps: ActivityDependencies, computerId: string, pkg: PackageRow, relayUrl: string | null, validUntil: Date): DownloadSource {
  const ticket = signTicket(deps.key, { packageId: pkg.id, computerId, expiresAt: validUntil.toISOString() });
  if (relayUrl) return { url: `${relayUrl}/packages/${pkg.id}/content`, via: 'relay', ticket };
  return { url: `${deps.publicUrl}/api/v1/packages/${pkg.id}/content`, via: 'server', ticket };
}

/**
 * A computer's install order for `jobId`; sent again, it asks for the order's status. `reinstall`: run the
 * command even where another job installed the package (the order is still carried out once).
 */
export function installOrder(
  deps: ActivityDependencies,
  job: { jobId: string; deadline: string },
  computerId: string,
  pkg: PackageRow,
  relayUrl: string | null,
  reinstall = false,
  installNotBefore?: string,
): InstallOrder {
  const now = deps.clock();
  const validUntil = orderValidUntil(now, new Date(job.deadline));
  return {
    kind: 'install',
    jobId: job.jobId,
    agentId: computerId,
    issuedAt: now.toISOString(),
    validUntil: validUntil.toISOString(),
    package: signedManifestOf(pkg),
    source: downloadSource(deps, computerId, pkg, relayUrl, validUntil),
    reportEveryMs: deps.reportEveryMs,
    ...(reinstall && { reinstall: true }),
    ...(installNotBefore && { installNotBefore }),
  };
}
