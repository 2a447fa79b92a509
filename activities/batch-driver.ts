/**
 * Drives one batch's computers from what PostgreSQL says of them. One activity serves a whole batch: it
 * sends the computers that are due their order (an install, or an offer and later the install its user
 * chose), many at once; asks computers that have gone silent how they are getting on; and tells the batch
 * when to look again. A computer at work costs nothing here: it reports its progress and outcome to the
 * api (api/services/order-reports.ts), which records it and nudges the batch once its computers are done.
 *
 * What bounds the work in flight is downloads: a computer takes one of its relay's download slots for the
 * job (or one of the managing server's) when its install order is sent, and gives it back by reporting that
 * it is installing (see common/throughput.ts).
 */
import { Context } from '@temporalio/activity';
import { and, eq, inArray, notInArray, sql } from 'drizzle-orm';
import { groupBy } from '../common/collections.js';
import { forEachLimited } from '../common/concurrency.js';
import type { Order, OrderStatus } from '../common/orders.js';
import { terminalTargetStates, type TargetState } from '../common/states.js';
import type { TargetRange } from '../common/workflows.js';
import { recordComputerStatus } from '../db/repositories/computer-status.js';
import { inTargetRange, settleUnfinishedTargets, updateTarget, type TargetKey } from '../db/repositories/job-targets.js';
import { findPackage, signedManifestOf, type PackageRow } from '../db/repositories/packages.js';
import { computers, jobs, jobTargets } from '../db/schema/index.js';
import { retryRoundDelayMs } from '../common/retry-rounds.js';
import { AgentRefused, AgentUnreachable } from './agent-client.js';
import type { ActivityDependencies } from './dependencies.js';
import { jobDownloadLimits } from './download-slots.js';
import { installOrder, orderValidUntil } from './install-orders.js';
import { markWaitingForRelay, relaysReadiness, type RelayReadiness } from './relay-readiness.js';

/**
 * Where the batch stands against its deadline: `running` sends what is due; `last_call` (at the deadline)
 * sends every computer still without its order one last time; `draining` (after it) sends nothing new and
 * only asks silent computers about orders they hold.
 */
export type BatchPhase = 'running' | 'last_call' | 'draining';

export type DriveBatchInput = TargetRange & {
  jobId: string;
  jobType: 'install' | 'offer';
  packageId: string;
  deadline: string;
  /** The batch itself: computers' reports name it, so the api knows whom to nudge. */
  batchWorkflowId: string;
  phase: BatchPhase;
  /**
   * Set while the job's maintenance window is shut and it lets computers download outside it: install
   * orders say to install from then on (when it opens), so computers download now and install at once then.
   */
  installNotBefore?: string;
};

/** What an install order carries of its job: the package, and whether to run it where it is installed already. */
interface Installing {
  pkg: PackageRow;
  reinstall: boolean;
}

/** What the batch needs to know to decide what to do next. */
export interface BatchProgress {
  /** Computers that have not ended (offers waiting for their user's choice included). */
  open: number;
  /** Computers never sent an order yet: the batch's first pass is not over. */
  unsent: number;
  /** When to look again at the latest; a nudge from the api may come sooner. */
  checkInMs: number;
}

/** Orders in flight at once from one batch. */
const SENDS_AT_ONCE = 64;
/** How soon to look again at computers waiting for their relay, or for a download slot. */
const RECHECK_MS = 1_000;
/** How long one activity keeps waiting for download slots before handing back to the batch. */
const MAX_SLOT_WAIT_MS = 20_000;
const SLOT_POLL_MS = 250;
/** A computer is silent once this many of its reports are overdue; then the batch asks it directly. */
const SILENT_AFTER_MISSED_REPORTS = 3;
/** When nothing is due and nobody works, the batch still looks this often. */
const IDLE_CHECK_MS = 60_000;

const terminal = [...terminalTargetStates];
const awaitingOrder: TargetState[] = ['pending', 'waiting_for_relay'];

interface OpenComputer {
  targetId: string;
  state: TargetState;
  attempts: number;
  choice: string | null;
  lastReportAt: Date | null;
  nextAttemptAt: Date | null;
  /** Null once the computer is no longer enrolled. */
  url: string | null;
  /** The relay the computer is behind now. */
  relayId: string | null;
  /** The relay its install order sent it to. */
  downloadRelayId: string | null;
}

/** A computer about to be sent an order, with where it downloads from. */
interface Addressed extends OpenComputer {
  url: string;
  relayUrl: string | null;
}

/**
 * A computer the batch holds outside the maintenance window (window-holds.ts): it has no order, so there
 * is nobody to ask after until the window opens. One that downloaded before the window and waits for it
 * to open reports, and is asked after when it goes silent.
 */
function heldForWindow(computer: OpenComputer): boolean {
  return computer.state === 'waiting_for_window' && computer.lastReportAt === null;
}

/**
 * What a computer that could not be reached reads until its next attempt: one that was downloading (or
 * about to) gives its download slot back; one already installing stays so, since its install goes on; an
 * offer job's computer keeps its offer, and its user's choice, for the next attempt.
 */
function stateWhenUnreachable(jobType: DriveBatchInput['jobType'], state: TargetState): TargetState {
  if (state === 'installing') return 'installing';
  if (jobType === 'offer' && (state === 'offered' || state === 'downloading')) return 'offered';
  return 'pending';
}

export function createBatchDriverActivities(deps: ActivityDependencies) {
  const { db, clock } = deps;

  function keyOf(input: DriveBatchInput, computerId: string): TargetKey {
    return { jobId: input.jobId, kind: 'computer', targetId: computerId };
  }

  async function openComputers(input: DriveBatchInput): Promise<OpenComputer[]> {
    return db
      .select({
        targetId: jobTargets.targetId,
        state: jobTargets.state,
        attempts: jobTargets.attempts,
        choice: jobTargets.choice,
        lastReportAt: jobTargets.lastReportAt,
        nextAttemptAt: jobTargets.nextAttemptAt,
        url: computers.url,
        relayId: computers.relayId,
        downloadRelayId: jobTargets.relayId,
      })
      .from(jobTargets)
      .leftJoin(computers, eq(computers.id, jobTargets.targetId))
      .where(and(inTargetRange(input.jobId, 'computer', input), notInArray(jobTargets.state, terminal)))
      .orderBy(jobTargets.targetId);
  }

  /**
   * Where each computer downloads from. Computers behind a relay that cannot get the package fail with its
   * reason; those behind one still receiving it wait for it (and say so); the rest are returned.
   */
  async function addressed(input: DriveBatchInput, due: OpenComputer[]): Promise<Addressed[]> {
    const byRelay = groupBy(due, (computer) => computer.relayId);
    const readiness = await relaysReadiness(db, input.jobId, [...byRelay.keys()].filter((relayId) => relayId !== null));
    const ready: Addressed[] = [];
    for (const [relayId, computers] of byRelay) {
      const relay: RelayReadiness = relayId ? (readiness.get(relayId) as RelayReadiness) : { kind: 'ready', relayUrl: null };
      const ids = computers.map((computer) => computer.targetId);
      if (relay.kind === 'ready') ready.push(...computers.map((computer) => ({ ...computer, url: computer.url as string, relayUrl: relay.relayUrl })));
      else if (relay.kind === 'waiting') await markWaitingForRelay(db, input.jobId, relayId as string, ids, relay.detail);
      else await settleUnfinishedTargets(db, input.jobId, 'failed', relay.detail, ids);
    }
    return ready;
  }

  /** When to try a computer again that could not be reached after `attempts` attempts. */
  function retryAt(input: DriveBatchInput, attempts: number): Date {
    const now = clock().getTime();
    // Before the deadline the last try falls on the deadline; past it, silent orders are still asked after.
    const delay = retryRoundDelayMs(Math.max(0, attempts - 1), now, input.phase === 'running' ? Date.parse(input.deadline) : Infinity);
    return new Date(now + delay);
  }

  /** Sends one order; the computer's answer is recorded, and so is why it could not be reached or refused. */
  async function send(input: DriveBatchInput, computer: Addressed, order: Order, onAnswer: (status: OrderStatus) => Promise<void>): Promise<void> {
    const key = keyOf(input, computer.targetId);
    try {
      await onAnswer(await deps.agents.send(computer.url, order));
    } catch (error) {
      if (error instanceof AgentRefused) {
        await updateTarget(db, key, { state: 'failed', detail: error.message });
        return;
      }
      if (!(error instanceof AgentUnreachable)) throw error;
      const attempts = computer.attempts + 1;
      await db
        .update(jobTargets)
        .set({
          state: stateWhenUnreachable(input.jobType, computer.state),
          detail: `${error.message} (${attempts} attempts so far)`,
          nextAttemptAt: retryAt(input, attempts),
          updatedAt: sql`now()`,
        })
        .where(and(eq(jobTargets.jobId, input.jobId), eq(jobTargets.kind, 'computer'), eq(jobTargets.targetId, computer.targetId), notInArray(jobTargets.state, terminal)));
    } finally {
      Context.current().heartbeat();
    }
  }

  function sendInstall(input: DriveBatchInput, { pkg, reinstall }: Installing, computer: Addressed): Promise<void> {
    const order = installOrder(deps, input, computer.targetId, pkg, computer.relayUrl, reinstall, input.installNotBefore);
    return send(input, computer, order, async (status) => {
      await recordComputerStatus(db, keyOf(input, computer.targetId), status, pkg);
    });
  }

  function sendOffer(input: DriveBatchInput, pkg: PackageRow, computer: Addressed): Promise<void> {
    const attempts = computer.attempts + 1;
    const order: Order = {
      kind: 'offer',
      jobId: input.jobId,
      agentId: computer.targetId,
      issuedAt: clock().toISOString(),
      validUntil: orderValidUntil(clock(), new Date(input.deadline)).toISOString(),
      package: signedManifestOf(pkg),
      deadline: input.deadline,
    };
    return send(input, computer, order, async (status) => {
      const key = keyOf(input, computer.targetId);
      if (status.state !== 'offered') {
        await updateTarget(db, key, { state: 'failed', detail: status.detail ?? status.state, attempts });
        return;
      }
      await db
        .update(jobTargets)
        .set({ batchWorkflowId: input.batchWorkflowId, nextAttemptAt: null })
        .where(and(eq(jobTargets.jobId, input.jobId), eq(jobTargets.kind, 'computer'), eq(jobTargets.targetId, computer.targetId)));
      await updateTarget(db, key, { state: 'offered', detail: `offered until ${input.deadline}`, attempts });
    });
  }

  /**
   * Download slots of the job in use, by source (relay id, or null for the managing server): one look at
   * the `job_targets_downloading` index, so a batch waiting for slots asks for a lock only where one is free.
   */
  async function slotsInUse(jobId: string): Promise<Map<string | null, number>> {
    const rows = await db
      .select({ relayId: jobTargets.relayId, used: sql<number>`count(*)::int` })
      .from(jobTargets)
      .where(and(eq(jobTargets.jobId, jobId), eq(jobTargets.state, 'downloading')))
      .groupBy(jobTargets.relayId);
    return new Map(rows.map((row) => [row.relayId, row.used]));
  }

  /**
   * Takes up to the free download slots of one source (a relay, or the managing server when `relayId` is
   * null) for some of `computerIds`, under a lock per job and source so that batches never overbook it.
   * The computers taken read `downloading` from here on.
   */
  async function claimSlots(input: DriveBatchInput, limit: number, relayId: string | null, computerIds: string[]): Promise<Set<string>> {
    const sameSource = relayId ? eq(jobTargets.relayId, relayId) : sql`${jobTargets.relayId} is null`;
    return db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`courier-downloads:${input.jobId}:${relayId ?? 'server'}`}, 0))`);
      const [used] = await tx
        .select({ count: sql<number>`count(*)::int` })
        .from(jobTargets)
        .where(and(eq(jobTargets.jobId, input.jobId), eq(jobTargets.state, 'downloading'), sameSource));
      const free = limit - (used?.count ?? 0);
      if (free <= 0) return new Set<string>();
      const claimed = await tx
        .update(jobTargets)
        .set({
          state: 'downloading',
          detail: 'install order sent',
          relayId,
          batchWorkflowId: input.batchWorkflowId,
          attempts: sql`${jobTargets.attempts} + 1`,
          lastReportAt: sql`now()`,
          nextAttemptAt: null,
          updatedAt: sql`now()`,
        })
        .where(
          and(
            eq(jobTargets.jobId, input.jobId),
            eq(jobTargets.kind, 'computer'),
            inArray(jobTargets.targetId, computerIds.slice(0, free)),
            inArray(jobTargets.state, [...awaitingOrder, 'offered']),
          ),
        )
        .returning({ targetId: jobTargets.targetId });
      return new Set(claimed.map((row) => row.targetId));
    });
  }

  /**
   * Sends install orders to `due` as download slots allow, waiting a while for slots to free up. Returns
   * whether some computers are still waiting for a slot.
   */
  async function installWithinSlots(input: DriveBatchInput, installing: Installing, due: Addressed[]): Promise<boolean> {
    if (due.length === 0) return false;
    const { perRelay, server } = await jobDownloadLimits(deps, input.jobId);
    let left = due;
    const giveUpAt = Date.now() + MAX_SLOT_WAIT_MS;
    for (;;) {
      const bySource = groupBy(left, (computer) => computer.relayId);
      const inUse = await slotsInUse(input.jobId);
      const claimed: Addressed[] = [];
      for (const [relayId, group] of bySource) {
        const limit = relayId ? perRelay : server;
        // Full sources are skipped unlocked; claimSlots counts again under the lock before it takes any.
        if ((inUse.get(relayId) ?? 0) >= limit) continue;
        const taken = await claimSlots(input, limit, relayId, group.map((computer) => computer.targetId));
        claimed.push(...group.filter((computer) => taken.has(computer.targetId)));
      }
      const sent = new Set(claimed);
      left = left.filter((computer) => !sent.has(computer));
      await forEachLimited(claimed, SENDS_AT_ONCE, (computer) => sendInstall(input, installing, computer));
      if (left.length === 0) return false;
      if (Date.now() >= giveUpAt) return true;
      Context.current().heartbeat();
      await Context.current().sleep(SLOT_POLL_MS);
    }
  }

  /** Repeats the order a silent computer holds: the repeat is a status query. */
  async function askSilent(input: DriveBatchInput, installing: Installing, silent: OpenComputer[]): Promise<void> {
    const relayIds = [...new Set(silent.flatMap((computer) => (computer.downloadRelayId ? [computer.downloadRelayId] : [])))];
    const readiness = await relaysReadiness(db, input.jobId, relayIds);
    await forEachLimited(silent, SENDS_AT_ONCE, (computer) => {
      const relay = computer.downloadRelayId ? readiness.get(computer.downloadRelayId) : undefined;
      const relayUrl = relay?.kind === 'ready' ? relay.relayUrl : null;
      return sendInstall(input, installing, { ...computer, url: computer.url as string, relayId: computer.downloadRelayId, relayUrl });
    });
  }

  async function progressOf(input: DriveBatchInput, slotsShort: boolean): Promise<BatchProgress> {
    const ended = sql`${jobTargets.state} in (${sql.join(terminal.map((state) => sql`${state}`), sql`, `)})`;
    const [row] = await db
      .select({
        open: sql<number>`count(*) filter (where not ${ended})::int`,
        unsent: sql<number>`count(*) filter (where ${jobTargets.state} = 'pending' and ${jobTargets.attempts} = 0)::int`,
        dueNow: sql<number>`count(*) filter (where (${jobTargets.state} in ('pending', 'waiting_for_relay')
          or (${jobTargets.state} = 'offered' and ${jobTargets.choice} is not null))
          and (${jobTargets.nextAttemptAt} is null or ${jobTargets.nextAttemptAt} <= now()))::int`,
        nextAttemptMs: sql<number | null>`extract(epoch from min(${jobTargets.nextAttemptAt}) filter (where not ${ended}
          and ${jobTargets.nextAttemptAt} > now()) - now()) * 1000`,
        silentInMs: sql<number | null>`extract(epoch from min(${jobTargets.lastReportAt}) filter (where ${jobTargets.state}
          in ('downloading', 'waiting_for_window', 'installing')) + ${`${SILENT_AFTER_MISSED_REPORTS * deps.reportEveryMs} milliseconds`}::interval - now()) * 1000`,
      })
      .from(jobTargets)
      .where(inTargetRange(input.jobId, 'computer', input));
    const counts = row ?? { open: 0, unsent: 0, dueNow: 0, nextAttemptMs: null, silentInMs: null };
    const candidates = [IDLE_CHECK_MS];
    if (slotsShort || (counts.dueNow > 0 && input.phase !== 'draining')) candidates.push(RECHECK_MS);
    if (counts.nextAttemptMs !== null) candidates.push(Number(counts.nextAttemptMs));
    if (counts.silentInMs !== null) candidates.push(Number(counts.silentInMs));
    return {
      open: counts.open,
      unsent: counts.unsent,
      checkInMs: Math.max(200, Math.ceil(Math.min(...candidates))),
    };
  }

  return {
    /** One look at a batch: sends what is due, asks the silent, and says where the batch stands. */
    async driveBatch(input: DriveBatchInput): Promise<BatchProgress> {
      const pkg = await findPackage(db, input.packageId);
      const open = await openComputers(input);
      if (!pkg) {
        const ids = open.map((computer) => computer.targetId);
        await settleUnfinishedTargets(db, input.jobId, 'failed', 'the package no longer exists', ids);
        return progressOf(input, false);
      }
      const now = clock().getTime();
      const silentBefore = now - SILENT_AFTER_MISSED_REPORTS * deps.reportEveryMs;
      const gone: string[] = [];
      const declined: string[] = [];
      const toOffer: OpenComputer[] = [];
      const toInstall: OpenComputer[] = [];
      const silent: OpenComputer[] = [];
      for (const computer of open) {
        const due = input.phase === 'last_call' || !computer.nextAttemptAt || computer.nextAttemptAt.getTime() <= now;
        if (!computer.url) gone.push(computer.targetId);
        else if (!due || heldForWindow(computer)) continue;
        else if (awaitingOrder.includes(computer.state)) {
          if (input.phase !== 'draining') (input.jobType === 'offer' ? toOffer : toInstall).push(computer);
        } else if (computer.state === 'offered') {
          if (computer.choice === 'install') toInstall.push(computer);
          else if (computer.choice === 'decline') declined.push(computer.targetId);
        } else if ((computer.lastReportAt?.getTime() ?? 0) < silentBefore) silent.push(computer);
      }
      if (gone.length > 0) await settleUnfinishedTargets(db, input.jobId, 'failed', 'the computer is no longer enrolled', gone);
      if (declined.length > 0) await settleUnfinishedTargets(db, input.jobId, 'declined', 'the user declined', declined);
      const ready = await addressed(input, [...toOffer, ...toInstall]);
      const offerIds = new Set(toOffer.map((computer) => computer.targetId));
      const offers = ready.filter((computer) => offerIds.has(computer.targetId));
      await forEachLimited(offers, SENDS_AT_ONCE, (computer) => sendOffer(input, pkg, computer));
      // Read at each look, as the package is: the job's own setting, never the workflow's copy of it.
      const [job] = await db.select({ reinstall: jobs.reinstall }).from(jobs).where(eq(jobs.id, input.jobId));
      const installing = { pkg, reinstall: input.jobType === 'install' && job?.reinstall === true };
      await askSilent(input, installing, silent);
      const installs = ready.filter((computer) => !offerIds.has(computer.targetId));
      const slotsShort = await installWithinSlots(input, installing, installs);
      return progressOf(input, slotsShort);
    },
  };
}
