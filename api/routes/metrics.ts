/** GET /metrics: the api's Prometheus metrics (api/metrics.ts), for the metrics token or the admin token. */
import { Router } from 'express';
import type { Guards } from '../auth.js';
import type { ApiMetrics } from '../metrics.js';

export function metricsRoutes(metrics: ApiMetrics, guards: Guards): Router {
  const router = Router();
  router.get('/metrics', guards.metrics, async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.type(metrics.registry.contentType).send(text);
  });
  return router;
}
