/** Enrolment (enrolment secret) and the inventory of relays and computers (admin). */
import { Router, type Request } from 'express';
import type { Guards } from '../auth.js';
import { jsonBody } from '../body.js';
import type { AppDependencies } from '../dependencies.js';
import { inventoryQuerySchema } from '../list-queries.js';
import { enrollAgent } from '../services/enrolment.js';
import { getComputer, listComputers, listRelays } from '../services/inventory.js';
import { enrollSchema, parseInput } from '../validation.js';

/** Mounts enrolment and inventory routes. */
export function agentRoutes(deps: AppDependencies, guards: Guards): Router {
  const router = Router();
  router.post('/enroll', guards.enrollSecret, jsonBody, async (req, res) => {
    const { created, ...enrolment } = await enrollAgent(deps, parseInput(enrollSchema, req.body));
    res.status(created ? 201 : 200).json(enrolment);
  });
  router.get('/relays', guards.admin, async (req, res) => {
    res.json(await listRelays(deps.db, parseInput(inventoryQuerySchema, req.query, 'query')));
  });
  router.get('/computers', guards.admin, async (req, res) => {
    res.json(await listComputers(deps.db, parseInput(inventoryQuerySchema, req.query, 'query')));
  });
  router.get('/computers/:id', guards.admin, async (req: Request<{ id: string }>, res) => {
    res.json(await getComputer(deps.db, req.params.id));
  });
  return router;
}
