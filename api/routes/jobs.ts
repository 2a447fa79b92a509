/** Job routes (admin): create, list, one, cancel. */
import { Router, type Request } from 'express';
import type { Guards } from '../auth.js';
import { jobJsonBody } from '../body.js';
import type { AppDependencies } from '../dependencies.js';
import { getJob, listJobs } from '../services/job-views.js';
import { cancelJob, createJob } from '../services/jobs.js';
import { jobQuerySchema, jobRequestSchema, listJobsQuerySchema, parseInput } from '../validation.js';

/** Mounts the job routes. */
export function jobRoutes(deps: AppDependencies, guards: Guards): Router {
  const router = Router();
  router.post('/jobs', guards.admin, jobJsonBody, async (req, res) => {
    res.status(201).json(await createJob(deps, parseInput(jobRequestSchema, req.body)));
  });
  router.get('/jobs', guards.admin, async (req, res) => {
    res.json(await listJobs(deps.db, parseInput(listJobsQuerySchema, req.query, 'query')));
  });
  router.get('/jobs/:id', guards.admin, async (req: Request<{ id: string }>, res) => {
    res.json(await getJob(deps.db, req.params.id, parseInput(jobQuerySchema, req.query, 'query')));
  });
  router.post('/jobs/:id/cancel', guards.admin, async (req: Request<{ id: string }>, res) => {
    res.status(202).json(await cancelJob(deps, req.params.id));
  });
  return router;
}
