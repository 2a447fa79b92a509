/**
 * Installing on one computer: send the install order, follow it, and record every state the agent reports
 * in the job's target row. Safe to retry at any point: the agent keys the order by job, so a retry after a
 * crash asks for the recorded status instead of installing again.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { DownloadSource, OrderStatus } from '../common/orders.js';
import { isTerminal, type ComputerState } from '../common/states.js';
import { findTarget, updateTarget, type TargetKey } from '../db/repositories/job-targets.js';
import { signedManifestOf, type PackageRow } from '../db/repositories/packages.js';
import { installations } from '../db/schema/index.js';
import { signTicket } from '../trust/orders.js';
import { AgentRefused, AgentUnreachable } from './agent-client.js';
import type { ActivityDependencies } from './dependencies.js';
import { followOrder } from './order-follower.js';
import { readyForOrder } from './relay-readiness.js';

export interface InstallOnComputerInput {
  jobId: string;
  computerId: string;
  packageId: string;
  deadline: string;
}

/**
 * How one attempt on a computer went: it `ended` (the target's state is final), the computer could not be
 * reached and is to be tried again later (`retry`), or its relay has not received the package yet
 * (`waiting_for_relay`). The batch keeps the computer on a durable timer, not in a worker slot.
 */
export type AttemptOutcome = 'ended' | 'retry' | 'waiting_for_relay';

/**
 * Download tickets and install orders stay valid this long past the deadline (or past the moment they are
 * issued, when that is later): a download that began in time can finish, and a laptop that comes back
 * later than that drops the order instead of installing a job that has ended.
 */
export const ORDER_GRACE_MS = 60 * 60_000;
/** How much of the install command's output a target's detail quotes. */
const DETAIL_OUTPUT_CHARS = 300;

/** Until when an order issued now for a job with this deadline may be carried out. */
export function orderValidUntil(now: Date, deadline: Date): Date {
  return new Date(Math.max(now.getTime(), deadline.getTime()) + ORDER_GRACE_MS);
}

function describeOutcome(status: OrderStatus): string | null {
  const detail = status.detail ?? null;
  const output = status.outputTail?.trim();
  if (status.state === 'installed' || !output) return detail;
  return `${detail ?? status.state}; output: ${output.slice(-DETAIL_OUTPUT_CHARS)}`;
}

/** Order states that tell the target's outcome; an order the agent let expire counts as unreachable. */
function targetStateOf(status: OrderStatus): ComputerState {
  if (status.state === 'expired') return 'unreachable';
  return status.state as ComputerState;
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

  function downloadSource(computerId: string, pkg: PackageRow, relayUrl: string | undefined, validUntil: Date): DownloadSource {
    const ticket = signTicket(key, { packageId: pkg.id, computerId, expiresAt: validUntil.toISOString() });
    if (relayUrl) return { url: `${relayUrl}/packages/${pkg.id}/content`, via: 'relay', ticket };
    return { url: `${deps.publicUrl}/api/v1/packages/${pkg.id}/content`, via: 'server', ticket };
  }

  return {
    /**
     * One attempt to install the package on one computer: send the order (a repeat is a status query) and
     * follow it to its end. A computer that cannot be reached, or whose relay is still receiving the
     * package, is left unfinished for the batch to try again on a timer.
     */
    async installOnComputer(input: InstallOnComputerInput): Promise<AttemptOutcome> {
      const target: TargetKey = { jobId: input.jobId, kind: 'computer', targetId: input.computerId };
      const row = await findTarget(db, target);
      if (!row) throw ApplicationFailure.nonRetryable(`job ${input.jobId} has no computer target ${input.computerId}`);
      if (isTerminal(row.state)) return 'ended';

      const ready = await readyForOrder(db, target, input.packageId);
      if (typeof ready === 'string') return ready;
      const { computer, pkg } = ready;

      const attempts = row.attempts + 1;
      const deadline = new Date(input.deadline);
      const validUntil = orderValidUntil(clock(), deadline);
      const source = downloadSource(computer.id, pkg, ready.relayUrl, validUntil);
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
            validUntil: validUntil.toISOString(),
            package: signedManifestOf(pkg),
            source,
          }),
          async (progress) => {
            if (progress.state !== 'downloading' && progress.state !== 'installing') return;
            const detail = progressDetail(progress, pkg);
            if (progress.state === shown && detail === shownDetail) return;
            await updateTarget(db, target, { state: progress.state, detail, attempts });
            shown = progress.state;
            shownDetail = detail;
          },
        );
        if (status.state === 'installed') {
          await db
            .insert(installations)
            .values({ computerId: computer.id, packageId: pkg.id, jobId: input.jobId, installedAt: new Date(status.updatedAt) })
            .onConflictDoNothing();
        }
        await updateTarget(db, target, { state: targetStateOf(status), detail: describeOutcome(status), attempts });
        return 'ended';
      } catch (error) {
        if (error instanceof AgentRefused) {
          await updateTarget(db, target, { state: 'failed', detail: error.message, attempts });
          return 'ended';
        }
        if (!(error instanceof AgentUnreachable)) throw error;
        // Waiting computers read `pending` (or the progress they last reported), with why they wait.
        const state = shown === 'waiting_for_relay' ? 'pending' : shown;
        await updateTarget(db, target, { state, detail: `${error.message} (${attempts} attempts so far)`, attempts });
        return 'retry';
      }
    },
  };
}
