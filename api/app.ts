/**
 * The REST API (DESIGN §3) as an express app, built from injected dependencies so tests run it against a
 * real database and Temporal without module mocks. Routes validate and call one service function; errors
 * become responses only in `errorMiddleware`.
 */
import express, { type Express } from 'express';
import { AuditTrail } from './audit.js';
import { createGuards } from './auth.js';
import type { AppDependencies } from './dependencies.js';
import { ApiMetrics } from './metrics.js';
import { requestLog } from '../common/request-log.js';
import { apiRequestContext, isAgentRequest } from './request-context.js';
import { errorMiddleware, notFoundHandler } from './errors.js';
import { agentRoutes } from './routes/agents.js';
import { auditRoutes } from './routes/audit.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { jobRoutes } from './routes/jobs.js';
import { packageRoutes } from './routes/packages.js';
import { referenceRoutes } from './routes/reference.js';
import { windowRoutes } from './routes/windows.js';

export type { AppDependencies } from './dependencies.js';

/** Builds the app; the caller decides where it listens. */
export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(deps.logger, apiRequestContext, isAgentRequest));
  const guards = createGuards(deps);
  const auditTrail = new AuditTrail(deps.db);
  const metrics = new ApiMetrics(deps.db);
  const api = express.Router();
  api.use(healthRoutes(deps));
  api.use(referenceRoutes());
  api.use(packageRoutes(deps, guards, auditTrail, metrics));
  api.use(agentRoutes(deps, guards, auditTrail));
  api.use(jobRoutes(deps, guards, auditTrail, metrics));
  api.use(windowRoutes(deps, guards, auditTrail));
  api.use(auditRoutes(guards, auditTrail));
  app.use('/api/v1', api);
  // Where Prometheus looks by default, beside the versioned api rather than in it.
  app.use(metricsRoutes(metrics, guards));
  app.use(notFoundHandler);
  app.use(auditTrail.failures);
  app.use(errorMiddleware);
  return app;
}
