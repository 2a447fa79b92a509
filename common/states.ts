/** Job types, job statuses and target states: the names admins see, exactly as DESIGN §3 spells them. */

/** The three job types (DESIGN §1). */
export const jobTypes = ['install', 'transfer', 'offer'] as const;
export type JobType = (typeof jobTypes)[number];

/** A job's overall status, as the api shows it; `paused`: a rollout wave crossed its failure threshold. */
export const jobStatuses = ['scheduled', 'running', 'paused', 'completed', 'completed_with_errors', 'cancelled', 'failed'] as const;
export type JobStatus = (typeof jobStatuses)[number];

/** Statuses of a job whose workflow has not ended: it may still change, be cancelled, or hold a package. */
export const unfinishedJobStatuses = ['scheduled', 'running', 'paused'] as const satisfies readonly JobStatus[];

/** Where a computer target of an install or offer job stands. */
export const computerStates = [
  'pending',
  'waiting_for_relay',
  'waiting_for_window',
  'downloading',
  'installing',
  'installed',
  'failed',
  'unreachable',
  'rejected',
  'conditions_not_met',
  'offered',
  'declined',
  'expired',
  'cancelled',
] as const;
export type ComputerState = (typeof computerStates)[number];

/** Where a relay target of a transfer job stands. */
export const relayStates = ['pending', 'transferring', 'stored', 'already_stored', 'failed', 'cancelled'] as const;
export type RelayState = (typeof relayStates)[number];

/** What a job targets: computers (install and offer jobs) or relays (transfer jobs). */
export const targetKinds = ['computer', 'relay'] as const;
export type TargetKind = (typeof targetKinds)[number];

/** The choices a computer's user can make on an offer. */
export const offerChoices = ['install', 'decline'] as const;
export type OfferChoice = (typeof offerChoices)[number];
export type TargetState = ComputerState | RelayState;

/** States a target never leaves once reached. */
export const terminalTargetStates: ReadonlySet<TargetState> = new Set<TargetState>([
  'installed',
  'failed',
  'unreachable',
  'rejected',
  'conditions_not_met',
  'declined',
  'expired',
  'cancelled',
  'stored',
  'already_stored',
]);

/**
 * Terminal states that are no error when the job's status is decided: a user who declined or let an offer
 * lapse made a choice, not a fault.
 */
export const successfulTargetStates: ReadonlySet<TargetState> = new Set<TargetState>([
  'installed',
  'stored',
  'already_stored',
  'declined',
  'expired',
]);

/** Whether a target's state is final. */
export function isTerminal(state: TargetState): boolean {
  return terminalTargetStates.has(state);
}

/** The status a job ends with once every target is terminal. */
export function finalJobStatus(counts: Partial<Record<TargetState, number>>): JobStatus {
  let failures = 0;
  for (const [state, count] of Object.entries(counts) as [TargetState, number][]) {
    if (!successfulTargetStates.has(state)) failures += count;
  }
  return failures === 0 ? 'completed' : 'completed_with_errors';
}

/** Percentage of targets in a terminal state, rounded down so 100 means truly done. */
export function jobProgress(counts: Partial<Record<TargetState, number>>): number {
  let total = 0;
  let done = 0;
  for (const [state, count] of Object.entries(counts) as [TargetState, number][]) {
    total += count;
    if (isTerminal(state)) done += count;
  }
  return total === 0 ? 100 : Math.floor((done * 100) / total);
}

/** A relay copy's state in the managing server's record: `stored` while the relay holds it; `expired` or `deleted` once it no longer does. */
export const relayCopyStates = ['stored', 'expired', 'deleted'] as const;
export type RelayCopyState = (typeof relayCopyStates)[number];
