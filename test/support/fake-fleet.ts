/**
 * An in-memory fleet and job store for workflow tests: the job's targets and relays behave as they do in
 * PostgreSQL (pages honour their limit and order, a target that ended never changes), and its computers
 * and relays as real machines can: slow, switched off, dead, or back on later. Every activity the job
 * workflows call is implemented here, so the tests watch the workflows' own decisions at fleet scale.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { createBatchStatusActivities } from '../../activities/batch-status.js';
import { totalDownloadSlots } from '../../activities/download-slots.js';
import type { BatchProgress, CourierActivities, DriveBatchInput } from '../../activities/index.js';
import { finalJobStatus, isTerminal, type TargetState } from '../../common/states.js';
import { retryRoundDelayMs } from '../../common/retry-rounds.js';
import { DEFAULT_DOWNLOADS_PER_RELAY, DEFAULT_SERVER_DOWNLOADS } from '../../common/throughput.js';
import { batchNudgeSignal, type OfferChoice, type TargetRange } from '../../common/workflows.js';

interface Target {
  state: TargetState;
  attempts: number;
  detail?: string;
  choice?: OfferChoice;
  /** When the batch may try the computer again after it could not be reached. */
  nextAttemptAt?: number;
  /** The batch that sent the computer its order: the one its report nudges. */
  batchWorkflowId?: string;
  /** Dynamic jobs: the computer joined after the job's creation (undefined), and which batch claimed it. */
  joinedBatch?: number | null;
}

interface RelayStaging {
  state: 'pending' | 'transferring' | 'stored' | 'already_stored' | 'failed';
  detail?: string;
  readyAt?: number;
}

/** What a test sets up: computers (with their relay), relays, and how each behaves. */
export interface FleetSpec {
  computers: number;
  /** Relay of each computer by index; undefined means served directly. Default: all direct. */
  relayOf?: (index: number) => string | undefined;
  /** Transfer jobs: relay targets by name. */
  relayTargets?: string[];
  installMs?: number;
  /**
   * How long a computer downloads before it installs, holding one of its relay's download slots (or the
   * managing server's) as a real computer does; 0, the default, installs at once and holds no slot.
   */
  downloadMs?: number;
  /** The job's download slots per relay and for the managing server (the real defaults unless set). */
  downloadsPerRelay?: number;
  serverDownloads?: number;
}

/** Zero-padded, so ids sort as numbers do. */
export function computerId(index: number): string {
  return `pc-${String(index).padStart(6, '0')}`;
}

export class FakeFleet {
  readonly targets = new Map<string, Target>();
  readonly relays = new Map<string, RelayStaging>();
  readonly relayOf = new Map<string, string>();
  /** Computers that do not answer (switched off); a test may switch one back on. */
  readonly offline = new Set<string>();
  /** Relays that never answer. */
  readonly deadRelays = new Set<string>();
  /** Attempts at each relay, to show that dead relays keep being retried until the deadline. */
  readonly relayAttempts = new Map<string, number>();
  /** How long each relay takes to store the package. */
  readonly relayStoreMs = new Map<string, number>();
  /** Runs of the install command per computer: must never exceed 1. */
  readonly installRuns = new Map<string, number>();
  readonly offeredAt = new Map<string, number>();
  /** When each computer began downloading (fleets with `downloadMs`). */
  readonly downloadingAt = new Map<string, number>();
  /** When each computer began installing: a rollout's waves must not overlap. */
  readonly installingAt = new Map<string, number>();
  /** Computers whose install command fails. */
  readonly failing = new Set<string>();
  /** The job's status as the rollout activities set it (`paused` while a wave is above its threshold). */
  status: 'running' | 'paused' = 'running';
  readonly endedAt = new Map<string, number>();
  readonly cancelled = new Set<string>();
  readonly calls: string[] = [];
  /** Largest page any activity was asked for, to prove the limit is honoured. */
  largestPage = 0;
  startAllowed = true;
  private readonly installMs: number;
  private readonly downloadMs: number;
  private readonly slots: { perRelay: number; server: number };
  /** Computers downloading now, by relay (undefined: from the managing server). */
  private readonly downloading = new Map<string | undefined, number>();

  constructor(spec: FleetSpec) {
    this.installMs = spec.installMs ?? 0;
    this.downloadMs = spec.downloadMs ?? 0;
    this.slots = { perRelay: spec.downloadsPerRelay ?? DEFAULT_DOWNLOADS_PER_RELAY, server: spec.serverDownloads ?? DEFAULT_SERVER_DOWNLOADS };
    for (let index = 1; index <= spec.computers; index++) {
      const id = computerId(index);
      this.targets.set(id, { state: 'pending', attempts: 0 });
      const relay = spec.relayOf?.(index);
      if (relay) this.relayOf.set(id, relay);
    }
    for (const relay of spec.relayTargets ?? []) this.targets.set(relay, { state: 'pending', attempts: 0 });
  }

  /**
   * A computer gains the job's labels after its creation, as the api records it: a new target, claimed by
   * no batch yet. Returns whether it joined (it was no target already).
   */
  join(index: number): boolean {
    const id = computerId(index);
    if (this.targets.has(id)) return false;
    this.targets.set(id, { state: 'pending', attempts: 0, joinedBatch: null });
    return true;
  }

  /** Ids of targets in `state`. */
  inState(state: TargetState): string[] {
    return [...this.targets].filter(([, target]) => target.state === state).map(([id]) => id);
  }

  /** How many targets are in each state. */
  counts(): Partial<Record<TargetState, number>> {
    const counts: Partial<Record<TargetState, number>> = {};
    for (const { state } of this.targets.values()) counts[state] = (counts[state] ?? 0) + 1;
    return counts;
  }

  /** A user's choice as the api records it on the target; returns the batch the api then nudges. */
  recordChoice(computer: string, choice: OfferChoice): string {
    const target = this.targets.get(computer);
    if (target?.state !== 'offered' || target.choice || !target.batchWorkflowId) throw new Error(`${computer} cannot choose now`);
    target.choice = choice;
    return target.batchWorkflowId;
  }

  /** A user's choice, as the api takes it: recorded on the target, then the batch is nudged. */
  async choose(client: Client, computer: string, choice: OfferChoice): Promise<void> {
    await client.workflow.getHandle(this.recordChoice(computer, choice)).signal(batchNudgeSignal);
  }

  /**
   * A computer carries out its install order on its own and reports the outcome, as the api records
   * reports: the target ends, and its batch is nudged once none of its computers is still working.
   */
  private work(client: Client, computerId: string): void {
    if (this.downloadMs > 0) {
      const relay = this.relayOf.get(computerId);
      this.set(computerId, 'downloading');
      this.downloading.set(relay, (this.downloading.get(relay) ?? 0) + 1);
      this.downloadingAt.set(computerId, Date.now());
      setTimeout(() => {
        this.downloading.set(relay, (this.downloading.get(relay) ?? 1) - 1);
        this.install(client, computerId);
      }, this.downloadMs);
    } else this.install(client, computerId);
  }

  /** Whether a computer's relay (or the managing server) has a download slot free for it. */
  private slotFree(computerId: string): boolean {
    const relay = this.relayOf.get(computerId);
    return (this.downloading.get(relay) ?? 0) < (relay ? this.slots.perRelay : this.slots.server);
  }

  private install(client: Client, computerId: string): void {
    this.set(computerId, 'installing');
    this.installingAt.set(computerId, Date.now());
    setTimeout(() => {
      this.installRuns.set(computerId, (this.installRuns.get(computerId) ?? 0) + 1);
      if (this.failing.has(computerId)) this.set(computerId, 'failed', 'the install command exited with 3');
      else this.set(computerId, 'installed');
      const batch = this.targets.get(computerId)?.batchWorkflowId;
      const stillWorking = [...this.targets.values()].some((target) => target.batchWorkflowId === batch && target.state === 'installing');
      if (batch && !stillWorking) void client.workflow.getHandle(batch).signal(batchNudgeSignal).catch(() => undefined);
    }, this.installMs);
  }

  /** One look at a batch, as activities/batch-driver.ts takes it. */
  private drive(client: Client, input: DriveBatchInput): BatchProgress {
    const now = Date.now();
    let waiting = false;
    for (const computerId of this.inRange(input)) {
      const target = this.targets.get(computerId) as Target;
      const due = input.phase === 'last_call' || (target.nextAttemptAt ?? 0) <= now;
      if (!due) continue;
      if (target.state === 'offered') {
        if (target.choice === 'decline') this.set(computerId, 'declined', 'the user declined');
        if (target.choice === 'install') waiting = !this.orderWithinSlots(client, input, computerId, target) || waiting;
        continue;
      }
      if ((target.state !== 'pending' && target.state !== 'waiting_for_relay') || input.phase === 'draining') continue;
      const gate = this.relayGate(computerId);
      if (gate === 'failed') this.set(computerId, 'failed', 'its relay could not get the package');
      else if (gate === 'wait') {
        this.set(computerId, 'waiting_for_relay', `waiting for relay ${this.relayOf.get(computerId)}`);
        waiting = true;
      } else if (input.jobType === 'offer') this.order(client, input, computerId, target);
      else waiting = !this.orderWithinSlots(client, input, computerId, target) || waiting;
    }
    const open = this.inRange(input).map((id) => this.targets.get(id) as Target);
    const retries = open.flatMap((target) => (target.nextAttemptAt && target.nextAttemptAt > now ? [target.nextAttemptAt - now] : []));
    return {
      open: open.length,
      unsent: open.filter((target) => target.state === 'pending' && target.attempts === 0).length,
      checkInMs: Math.max(200, Math.min(60_000, waiting ? 1000 : 60_000, ...retries)),
    };
  }

  /** Sends an install order if the computer's relay has a download slot free; says whether it did. */
  private orderWithinSlots(client: Client, input: DriveBatchInput, computerId: string, target: Target): boolean {
    if (!this.slotFree(computerId)) return false;
    this.order(client, input, computerId, target);
    return true;
  }

  /** Sends a computer its order: an offer, or an install (also the install its user chose). */
  private order(client: Client, input: DriveBatchInput, computerId: string, target: Target): void {
    target.attempts++;
    if (this.offline.has(computerId)) {
      const delay = retryRoundDelayMs(target.attempts - 1, Date.now(), input.phase === 'running' ? Date.parse(input.deadline) : Infinity);
      target.nextAttemptAt = Date.now() + delay;
      if (target.state === 'waiting_for_relay') this.set(computerId, 'pending');
      target.detail = 'unreachable';
      return;
    }
    target.nextAttemptAt = undefined;
    target.batchWorkflowId = input.batchWorkflowId;
    if (input.jobType === 'offer' && target.state !== 'offered') {
      this.set(computerId, 'offered');
      this.offeredAt.set(computerId, Date.now());
      return;
    }
    this.work(client, computerId);
  }

  private set(id: string, state: TargetState, detail?: string): void {
    const target = this.targets.get(id);
    if (!target || isTerminal(target.state)) return;
    target.state = state;
    if (detail !== undefined) target.detail = detail;
    if (isTerminal(state)) this.endedAt.set(id, Date.now());
  }

  private sorted(filter: (id: string, target: Target) => boolean): string[] {
    return [...this.targets].filter(([id, target]) => filter(id, target)).map(([id]) => id).sort();
  }

  private inRange(range: TargetRange, extra: (target: Target) => boolean = () => true): string[] {
    const owned = (id: string, target: Target): boolean =>
      'joinedBatch' in range
        ? target.joinedBatch === range.joinedBatch
        : target.joinedBatch === undefined && (range.afterTargetId === undefined || id > range.afterTargetId) && id <= range.throughTargetId;
    return this.sorted((id, target) => !this.isRelayTarget(id) && !isTerminal(target.state) && owned(id, target) && extra(target));
  }

  private isRelayTarget(id: string): boolean {
    return !id.startsWith('pc-');
  }

  /** Whether a computer may download: its relay's staging state. */
  private relayGate(computer: string): 'go' | 'wait' | 'failed' {
    const relay = this.relayOf.get(computer);
    if (!relay) return 'go';
    const staging = this.relays.get(relay);
    if (staging?.state === 'stored' || staging?.state === 'already_stored') return 'go';
    return staging?.state === 'failed' ? 'failed' : 'wait';
  }

  /** The activities, over this fleet; where batches stand is read from Temporal through `client`, as in production. */
  activities(client: Client): Partial<CourierActivities> {
    const sleep = (ms: number) => (ms > 0 ? Context.current().sleep(ms) : Promise.resolve());
    return {
      ...createBatchStatusActivities({ temporal: client }),
      startJob: async () => {
        this.calls.push('startJob');
        return this.startAllowed;
      },
      finishJob: async () => {
        this.calls.push('finishJob');
        const counts = this.counts();
        return { status: finalJobStatus(counts), counts };
      },
      cancelJob: async () => {
        this.calls.push('cancelJob');
        for (const id of this.targets.keys()) this.set(id, 'cancelled', 'the job was cancelled');
      },
      failJob: async (_jobId, reason) => {
        this.calls.push(`failJob: ${reason}`);
      },
      jobDownloadSlots: async () => {
        const computers = this.sorted((id) => !this.isRelayTarget(id));
        const relays = new Set(computers.flatMap((id) => this.relayOf.get(id) ?? []));
        return totalDownloadSlots({ relays: relays.size, direct: computers.some((id) => !this.relayOf.has(id)) }, this.slots);
      },
      pageEnd: async (_jobId, kind, afterId, limit, throughId) => {
        this.largestPage = Math.max(this.largestPage, limit);
        const inPage = (id: string) => (afterId === undefined || id > afterId) && (throughId === undefined || id <= throughId);
        const page = this.sorted(
          (id, target) => (kind === 'relay') === this.isRelayTarget(id) && !isTerminal(target.state) && target.joinedBatch === undefined && inPage(id),
        ).slice(0, limit);
        return page.at(-1) ?? null;
      },
      gatherJoiners: async (_jobId, batch, limit) => {
        this.largestPage = Math.max(this.largestPage, limit);
        const owned = this.sorted((_id, target) => target.joinedBatch === batch);
        if (owned.length > 0) return { claimed: owned.length, relaysToStage: 0 };
        const claimed = this.sorted((_id, target) => target.joinedBatch === null).slice(0, limit);
        for (const id of claimed) this.targets.get(id)!.joinedBatch = batch;
        this.calls.push(`gatherJoiners: ${claimed.length}`);
        return { claimed: claimed.length, relaysToStage: 0 };
      },
      waveFailures: async (_jobId, afterId, throughId) =>
        this.sorted(
          (id, target) =>
            target.joinedBatch === undefined &&
            (afterId === undefined || id > afterId) &&
            id <= throughId &&
            (target.state === 'failed' || target.state === 'rejected'),
        ).length,
      pauseJob: async (_jobId, reason) => {
        this.calls.push(`pauseJob: ${reason}`);
        this.status = 'paused';
      },
      resumeJob: async () => {
        this.calls.push('resumeJob');
        this.status = 'running';
      },
      endRollout: async (_jobId, reason) => {
        this.calls.push('endRollout');
        for (const id of this.targets.keys()) if (!isTerminal(this.targets.get(id)!.state)) this.set(id, 'cancelled', reason);
      },
      driveBatch: async (input) => this.drive(client, input),
      settleAtDeadline: async (_jobId, range) => {
        for (const id of this.inRange(range, (target) => target.state === 'waiting_for_window')) this.set(id, 'cancelled', 'the window did not open in time');
        for (const id of this.inRange(range, (target) => target.state === 'pending' || target.state === 'waiting_for_relay')) {
          const target = this.targets.get(id);
          this.set(id, target?.state === 'waiting_for_relay' ? 'failed' : 'unreachable', `${target?.detail ?? 'never answered'}; gave up at the deadline`);
        }
      },
      holdForWindow: async (_jobId, range, opensAt) => {
        const unsent = (target: Target) => target.state === 'pending' || target.state === 'waiting_for_relay';
        for (const id of this.inRange(range, unsent)) this.set(id, 'waiting_for_window', `outside the maintenance window; it opens at ${opensAt}`);
      },
      releaseForWindow: async (_jobId, range) => {
        for (const id of this.inRange(range, (target) => target.state === 'waiting_for_window')) this.set(id, 'pending');
      },
      giveUpOnSilent: async (_jobId, range) => this.inRange(range).forEach((id) => this.set(id, 'unreachable', 'no outcome reported')),
      failBatch: async (_jobId, range, reason) => this.inRange(range).forEach((id) => this.set(id, 'failed', reason)),
      closeOffers: async (_jobId, range) => {
        for (const id of this.inRange(range, (target) => target.state === 'offered' && !target.choice)) this.set(id, 'expired');
      },
      prepareJobRelays: async (_jobId, purpose) => {
        const relays = purpose === 'transfer' ? this.sorted((id) => this.isRelayTarget(id)) : [...new Set(this.relayOf.values())];
        for (const relay of relays) if (!this.relays.has(relay)) this.relays.set(relay, { state: 'pending' });
        return this.relays.size;
      },
      relayStagingPage: async (_jobId, afterId, limit) => {
        this.largestPage = Math.max(this.largestPage, limit);
        return [...this.relays]
          .filter(([id, relay]) => (relay.state === 'pending' || relay.state === 'transferring') && (afterId === undefined || id > afterId))
          .map(([id]) => id)
          .sort()
          .slice(0, limit);
      },
      stageOnRelay: async ({ relayId }) => {
        const relay = this.relays.get(relayId);
        if (!relay || (relay.state !== 'pending' && relay.state !== 'transferring')) return 'ended';
        relay.state = 'transferring';
        this.relayAttempts.set(relayId, (this.relayAttempts.get(relayId) ?? 0) + 1);
        if (this.deadRelays.has(relayId)) return 'retry';
        await sleep(this.relayStoreMs.get(relayId) ?? 0);
        relay.state = 'stored';
        relay.readyAt = Date.now();
        this.set(relayId, 'stored');
        for (const [computer, behind] of this.relayOf) {
          if (behind === relayId && this.targets.get(computer)?.state === 'waiting_for_relay') this.set(computer, 'pending');
        }
        return 'ended';
      },
      failJobRelay: async (_jobId, relayId, reason) => this.failRelay(relayId, reason),
      settleRelaysAtDeadline: async () => {
        for (const [id, relay] of this.relays) if (relay.state === 'pending' || relay.state === 'transferring') this.failRelay(id, 'gave up at the deadline');
      },
      cancelOnComputers: async (input) => {
        const reached = this.inRange(input, (target) => target.attempts > 0 || target.state === 'offered');
        for (const id of reached) {
          this.cancelled.add(id);
          this.set(id, 'cancelled', 'the computer stopped its order');
        }
        return reached.length;
      },
    };
  }

  private failRelay(relayId: string, reason: string): void {
    const relay = this.relays.get(relayId);
    if (relay) {
      relay.state = 'failed';
      relay.detail = reason;
    }
    this.set(relayId, 'failed', reason);
    for (const [computer, relay] of this.relayOf) if (relay === relayId) this.set(computer, 'failed', `its relay could not get the package: ${reason}`);
  }
}
