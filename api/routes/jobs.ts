/**
 * Job routes: create, list, one, cancel and rerun (admin); a user's choice on an offer and a computer's
 * reports on its install order (computer).
 */
import { Router, type Request } from 'express';
import { audited, describeAudit, subjectFromId, type AuditTrail } from '../audit.js';
import { computerIdOf, type Guards } from '../auth.js';
import { jobJsonBody, jsonBody } from '../body.js';
import type { AppDependencies } from '../dependencies.js';
import type { ApiMetrics } from '../metrics.js';
import { jobQuerySchema, jobsQuerySchema } from '../list-queries.js';
import { getJob, listJobs } from '../services/job-views.js';
import { cancelJob, createJob, rerunJob, resumeRollout } from '../services/jobs.js';
import { BatchNudges } from '../services/batch-nudges.js';
import { recordOfferChoice } from '../services/offer-choices.js';
import { OrderReports } from '../services/order-reports.js';
import { jobRequestSchema, offerChoiceSchema, orderReportSchema, parseInput } from '../validation.js';

/** Mounts the job routes. */
export function jobRoutes(deps: AppDependencies, guards: Guards, auditTrail: AuditTrail, metrics: ApiMetrics): Router {
  const router = Router();
  const nudges = new BatchNudges(deps.temporal);
  const reports = new OrderReports(deps, nudges, metrics);
  router.post('/jobs', guards.admin, jobJsonBody, audited('job.create'), async (req, res) => {
    const job = await createJob(deps, parseInput(jobRequestSchema, req.body));
    describeAudit(res, { subject: `job:${job.id}` });
    await auditTrail.succeeded(req, res);
    res.status(201).json(job);
  });
  router.get('/jobs', guards.admin, async (req, res) => {
    res.json(await listJobs(deps.db, parseInput(jobsQuerySchema, req.query, 'query')));
  });
  router.get('/jobs/:id', guards.admin, async (req: Request<{ id: string }>, res) => {
    res.json(await getJob(deps.db, req.params.id, parseInput(jobQuerySchema, req.query, 'query')));
  });
  router.post('/jobs/:id/cancel', guards.admin, audited('job.cancel', subjectFromId('job')), async (req: Request<{ id: string }>, res) => {
    const { job, settled } = await cancelJob(deps, req.params.id);
    await auditTrail.succeeded(req, res, settled ? 'cancelled' : 'cancelling');
    // 200: cancelled already (it had not started); 202: its workflow was asked to cancel and records it.
    res.status(settled ? 200 : 202).json(job);
  });
  router.post('/jobs/:id/resume', guards.admin, audited('job.resume', subjectFromId('job')), async (req: Request<{ id: string }>, res) => {
    const job = await resumeRollout(deps, req.params.id);
    await auditTrail.succeeded(req, res);
    // 202: the workflow hands out the next wave and records the job running again.
    res.status(202).json(job);
  });
  router.post('/jobs/:id/rerun', guards.admin, audited('job.rerun', subjectFromId('job')), async (req: Request<{ id: string }>, res) => {
    const rerun = await rerunJob(deps, req.params.id);
    await auditTrail.succeeded(req, res, `rerun as job:${rerun.id}`);
    res.status(201).json(rerun);
  });
  router.post('/jobs/:id/choices', guards.computer, jsonBody, async (req: Request<{ id: string }>, res) => {
    const { choice } = parseInput(offerChoiceSchema, req.body);
    res.status(202).json(await recordOfferChoice(deps, nudges, req.params.id, computerIdOf(res), choice));
  });
  router.post('/jobs/:id/reports', guards.computer, jsonBody, async (req: Request<{ id: string }>, res) => {
    const report = parseInput(orderReportSchema, req.body);
    res.status(202).json(await reports.record(req.params.id, computerIdOf(res), report));
  });
  return router;
}
