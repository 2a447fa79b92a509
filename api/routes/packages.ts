/** Package routes: upload, list, one, change expiry (admin) and content download (admin or agents). */
import { Router, type Request, type RequestHandler } from 'express';
import type { Guards } from '../auth.js';
import { jsonBody } from '../body.js';
import type { AppDependencies } from '../dependencies.js';
import { readPackageUpload } from '../package-upload.js';
import { createPackage, getPackage, listPackages, packageContent, updatePackageExpiry } from '../services/packages.js';
import { parseInput, patchPackageSchema } from '../validation.js';

/**
 * Streams a package's bytes; `send` answers Range requests (206, 416) and conditional ones, so agents
 * resume interrupted downloads. One handler, so per-package and per-consumer byte counting has one home.
 */
function sendPackageContent(deps: AppDependencies): RequestHandler<{ id: string }> {
  return async (req, res, next) => {
    const content = await packageContent(deps, req.params.id);
    res.type('application/octet-stream');
    res.sendFile(content.relativePath, { root: deps.store.root, dotfiles: 'allow' }, (error) => {
      // Once bytes are on the way, an error is the client hanging up: nothing left to answer.
      if (error && !res.headersSent) next(error);
    });
  };
}

/** Mounts the package routes. */
export function packageRoutes(deps: AppDependencies, guards: Guards): Router {
  const router = Router();
  router.post('/packages', guards.admin, async (req, res) => {
    const upload = await readPackageUpload(req, deps.store);
    res.status(201).json(await createPackage(deps, upload));
  });
  router.get('/packages', guards.admin, async (_req, res) => {
    res.json(await listPackages(deps.db));
  });
  router.get('/packages/:id', guards.admin, async (req: Request<{ id: string }>, res) => {
    res.json(await getPackage(deps.db, req.params.id));
  });
  router.patch('/packages/:id', guards.admin, jsonBody, async (req: Request<{ id: string }>, res) => {
    const { relayExpiresAt } = parseInput(patchPackageSchema, req.body);
    res.json(await updatePackageExpiry(deps.db, req.params.id, relayExpiresAt));
  });
  router.get('/packages/:id/content', guards.adminOrAgent, sendPackageContent(deps));
  return router;
}
