/** Named maintenance windows (admin): defined once, named by jobs. */
import { Router, type Request } from 'express';
import { windowSchema } from '../../common/windows.js';
import { audited, type AuditTrail } from '../audit.js';
import type { Guards } from '../auth.js';
import { jsonBody } from '../body.js';
import type { AppDependencies } from '../dependencies.js';
import { inventoryQuerySchema } from '../list-queries.js';
import { defineWindow, deleteWindow, listWindows, windowNameOf } from '../services/named-windows.js';
import { parseInput } from '../validation.js';

const subjectOf = (req: Request) => `window:${String(req.params.name)}`;

/** Mounts PUT, GET and DELETE of /windows. */
export function windowRoutes({ db }: Pick<AppDependencies, 'db'>, guards: Guards, auditTrail: AuditTrail): Router {
  const router = Router();
  router.get('/windows', guards.admin, async (req, res) => {
    res.json(await listWindows(db, parseInput(inventoryQuerySchema, req.query, 'query')));
  });
  router.put('/windows/:name', guards.admin, jsonBody, audited('window.define', subjectOf), async (req: Request<{ name: string }>, res) => {
    const name = windowNameOf(req.params.name);
    const { view, created } = await defineWindow(db, name, parseInput(windowSchema, req.body));
    await auditTrail.succeeded(req, res, created ? 'created' : 'replaced');
    res.status(created ? 201 : 200).json(view);
  });
  router.delete('/windows/:name', guards.admin, audited('window.delete', subjectOf), async (req: Request<{ name: string }>, res) => {
    const deleted = await deleteWindow(db, windowNameOf(req.params.name));
    await auditTrail.succeeded(req, res);
    res.json(deleted);
  });
  return router;
}
