/**
 * Installing on one computer: send the install order, follow it, and record every state the agent reports
 * in the job's target row. Safe to retry at any point: the agent keys the order by job, so a retry after a
 * crash asks for the recorded status instead of installing again.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import type { DownloadSource, OrderStatus } from '../common/orders.js';
import { isTerminal, type ComputerState } from '../common/states.js';
import { findTarget, updateTarget, type TargetKey } from '../db/repositories/job-targets.js';
import { findPackage, signedManifestOf, type PackageRow } from '../db/repositories/packages.js';
import { computers, installations, relays } from '../db/schema/index.js';
import { signTicket } from '../trust/orders.js';
import { AgentRefused, AgentUnreachable } from './agent-client.js';
import { retryBeforeDeadline } from './deadline-retry.js';
import type { ActivityDependencies } from './dependencies.js';
import { followOrder } from './order-follower.js';

export interface InstallOnComputerInput {
  jobId: string;
  computerId: string;
  packageId: string;
  deadline: string;
}

/** Download tickets outlive the deadline a little, so a download that began in time can finish. */
const TICKET_GRACE_MS = 60 * 60_000;
/** How much of the install command's output a target's detail quotes. */
const DETAIL_OUTPUT_CHARS = 300;

function describeOutcome(status: OrderStatus): string | null {
  const detail = status.detail ?? null;
  const output = status.outputTail?.trim();
  if (status.state === 'installed' || !output) return detail;
  return `${detail ?? status.state}; output: ${output.slice(-DETAIL_OUTPUT_CHARS)}`;
}

/**
 * What the target row says while the agent works. Downloads report in steps of 10 %, so a fleet of
 * downloads writes a row per step rather than one per poll.
 */
function progressDetail(status: OrderStatus, pkg: PackageRow): string | null {
  if (status.state === 'downloading' && status.bytes !== undefined) {
    const percent = pkg.size === 0 ? 100 : Math.floor((status.bytes * 10) / pkg.size) * 10;
    return `downloading: ${percent}% of ${pkg.size} bytes`;
  }
  return status.detail ?? null;
}

export function createComputerInstallActivities(deps: ActivityDependencies) {
  const { db, clock, key } = deps;

  async function downloadSource(computer: typeof computers.$inferSelect, pkg: PackageRow, deadline: Date): Promise<DownloadSource> {
    const ticket = signTicket(key, {
      packageId: pkg.id,
      computerId: computer.id,
      expiresAt: new Date(deadline.getTime() + TICKET_GRACE_MS).toISOString(),
    });
    if (computer.relayId) {
      const [relay] = await db.select().from(relays).where(eq(relays.id, computer.relayId));
      if (relay) return { url: `${relay.url}/packages/${pkg.id}/content`, via: 'relay', ticket };
    }
    return { url: `${deps.publicUrl}/api/v1/packages/${pkg.id}/content`, via: 'server', ticket };
  }

  return {
    /** Installs the package on one computer and returns the state the target ended in. */
    async installOnComputer(input: InstallOnComputerInput): Promise<ComputerState> {
      const target: TargetKey = { jobId: input.jobId, kind: 'computer', targetId: input.computerId };
      const row = await findTarget(db, target);
      if (!row) throw ApplicationFailure.nonRetryable(`job ${input.jobId} has no computer target ${input.computerId}`);
      if (isTerminal(row.state)) return row.state as ComputerState;

      const [computer] = await db.select().from(computers).where(eq(computers.id, input.computerId));
      const pkg = await findPackage(db, input.packageId);
      if (!computer || !pkg) {
        await updateTarget(db, target, { state: 'failed', detail: 'the computer or the package no longer exists' });
        return 'failed';
      }
      const deadline = new Date(input.deadline);
      const { attempt } = Context.current().info;
      const source = await downloadSource(computer, pkg, deadline);
      let shown = row.state;
      let shownDetail = row.detail;

      try {
        const status = await followOrder(
          deps,
          computer.url,
          () => ({
            kind: 'install',
            jobId: input.jobId,
            agentId: computer.id,
            issuedAt: clock().toISOString(),
            package: signedManifestOf(pkg),
            source,
          }),
          async (progress) => {
            if (progress.state !== 'downloading' && progress.state !== 'installing') return;
            const detail = progressDetail(progress, pkg);
            if (progress.state === shown && detail === shownDetail) return;
            await updateTarget(db, target, { state: progress.state, detail, attempts: attempt });
            shown = progress.state;
            shownDetail = detail;
          },
        );
        const state = status.state as ComputerState;
        if (state === 'installed') {
          await db
            .insert(installations)
            .values({ computerId: computer.id, packageId: pkg.id, jobId: input.jobId, installedAt: new Date(status.updatedAt) })
            .onConflictDoNothing();
        }
        return (await updateTarget(db, target, { state, detail: describeOutcome(status), attempts: attempt })) as ComputerState;
      } catch (error) {
        if (error instanceof AgentRefused) {
          return (await updateTarget(db, target, { state: 'failed', detail: error.message, attempts: attempt })) as ComputerState;
        }
        if (!(error instanceof AgentUnreachable)) throw error;
        const now = clock();
        if (now >= deadline) {
          const detail = `${error.message}; gave up at the job's deadline ${deadline.toISOString()} after ${attempt} attempts`;
          return (await updateTarget(db, target, { state: 'unreachable', detail, attempts: attempt })) as ComputerState;
        }
        const detail = `${error.message} (attempt ${attempt}; retrying until ${deadline.toISOString()})`;
        await updateTarget(db, target, { state: shown, detail, attempts: attempt });
        return retryBeforeDeadline(error, attempt, now, deadline);
      }
    },

  };
}
