/**
 * What the api's request log lines carry (common/request-log.ts): the job and its workflow, and who called;
 * and which requests are routine.
 */
import type { ServerResponse } from 'node:http';
import type { Response } from 'express';
import { jobWorkflowId } from '../common/names.js';
import type { Caller } from './auth.js';

const JOB_PATH = /^\/api\/v1\/jobs\/([0-9a-f-]{36})(?:[/?]|$)/i;

export function apiRequestContext(url: string, res: ServerResponse): Record<string, string> {
  const context: Record<string, string> = {};
  const jobId = JOB_PATH.exec(url)?.[1];
  if (jobId) Object.assign(context, { jobId, workflowId: jobWorkflowId(jobId) });
  const caller = callerIn(res);
  if (caller) Object.assign(context, caller.role === 'admin' ? { caller: 'admin' } : { caller: caller.role, agent: caller.agentId });
  return context;
}

/** Requests from relays and computers (reports, check-ins, downloads) are the fleet's routine traffic. */
export function isAgentRequest(res: ServerResponse): boolean {
  const caller = callerIn(res);
  return caller !== undefined && caller.role !== 'admin';
}

/** Who called, as a guard recorded it; undefined before a guard ran, or on a route without one. */
function callerIn(res: ServerResponse): Caller | undefined {
  return (res as Response).locals?.caller as Caller | undefined;
}
