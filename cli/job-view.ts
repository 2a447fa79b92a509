/** A job as the api answers it (docs/api.md, GET /jobs/:id), as far as the CLI reads it. */
export interface JobView {
  id: string;
  type: string;
  packageId: string;
  status: string;
  scheduledAt: string;
  deadline: string;
  detail: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  progress: number;
  counts: Record<string, number | undefined>;
  rollout?: { waves: (number | string)[]; pauseSeconds: number; failureThreshold: number | null } | null;
  waves?: { index: number; size: number; counts: Record<string, number | undefined> }[];
  targets?: { name: string; kind: string; state: string; detail: string | null }[];
  targetsTotal?: number;
  targetsNextCursor?: string | null;
}

const finalStatuses = new Set(['completed', 'completed_with_errors', 'cancelled', 'failed']);

/** Whether the job has ended. */
export function hasEnded(job: Pick<JobView, 'status'>): boolean {
  return finalStatuses.has(job.status);
}
