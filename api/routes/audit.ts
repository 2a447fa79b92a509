/** The audit trail (admin): what admins did and who enrolled, newest first. */
import { Router } from 'express';
import type { AuditTrail } from '../audit.js';
import type { Guards } from '../auth.js';
import { auditQuerySchema } from '../list-queries.js';
import { parseInput } from '../validation.js';

/** Mounts GET /audit. */
export function auditRoutes(guards: Guards, auditTrail: AuditTrail): Router {
  const router = Router();
  router.get('/audit', guards.admin, async (req, res) => {
    res.json(await auditTrail.list(parseInput(auditQuerySchema, req.query, 'query')));
  });
  return router;
}
