/** GET /health: the one route without a token, for load balancers and the start script. */
import { Router } from 'express';
import type { AppDependencies } from '../dependencies.js';
import { checkHealth } from '../services/health.js';

/** Mounts the health route: 200 when every check passes, else 503 with the failing checks. */
export function healthRoutes(deps: AppDependencies): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const health = await checkHealth(deps);
    res.status(health.status === 'ok' ? 200 : 503).json(health);
  });
  return router;
}
