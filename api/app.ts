/**
 * The REST API (DESIGN §3) as an express app, built from injected dependencies so tests run it against a
 * real database and Temporal without module mocks. Routes validate and call one service function; errors
 * become responses only in `errorMiddleware`.
 */
import express, { type Express } from 'express';
import { createGuards } from './auth.js';
import type { AppDependencies } from './dependencies.js';
import { errorMiddleware, notFoundHandler } from './errors.js';
import { agentRoutes } from './routes/agents.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { packageRoutes } from './routes/packages.js';

export type { AppDependencies } from './dependencies.js';

/** Builds the app; the caller decides where it listens. */
export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  const guards = createGuards(deps);
  const api = express.Router();
  api.use(healthRoutes(deps));
  api.use(packageRoutes(deps, guards));
  api.use(agentRoutes(deps, guards));
  api.use(jobRoutes(deps, guards));
  app.use('/api/v1', api);
  app.use(notFoundHandler);
  app.use(errorMiddleware);
  return app;
}
