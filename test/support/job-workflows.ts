/** Starting job workflows in workflow tests and reading back what Temporal recorded of them. */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowStartOptions } from '@temporalio/client';
import { jobWorkflowId, searchAttributes } from '../../common/names.js';
import type { JobWorkflowInput } from '../../common/workflows.js';

/** A job input starting `scheduledInMs` from now, with its deadline `windowMs` after that. */
export function jobInput(scheduledInMs: number, windowMs: number): JobWorkflowInput {
  const scheduledAt = new Date(Date.now() + scheduledInMs);
  return {
    jobId: randomUUID(),
    packageId: randomUUID(),
    scheduledAt: scheduledAt.toISOString(),
    deadline: new Date(scheduledAt.getTime() + windowMs).toISOString(),
  };
}

/** Start options for a job's workflow as the api gives them: its ID and its job search attribute. */
export function jobStart(taskQueue: string, input: JobWorkflowInput): Pick<WorkflowStartOptions, 'taskQueue' | 'workflowId' | 'args' | 'typedSearchAttributes'> {
  return {
    taskQueue,
    workflowId: jobWorkflowId(input.jobId),
    args: [input],
    typedSearchAttributes: [{ key: searchAttributes.jobId, value: input.jobId }],
  };
}

/** Every run of every workflow of a job (its own, its batches', its relays'), with its history length. */
export async function jobRuns(client: Client, jobId: string): Promise<{ workflowId: string; historyLength: number }[]> {
  const runs: { workflowId: string; historyLength: number }[] = [];
  for await (const execution of client.workflow.list({ query: `CourierJobId = "${jobId}"` })) {
    runs.push({ workflowId: execution.workflowId, historyLength: execution.historyLength });
  }
  return runs;
}
