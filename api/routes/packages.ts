/** Package routes: upload, list, one, change expiry (admin) and content download (admin or agents). */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { audited, describeAudit, subjectFromId, type AuditTrail } from '../audit.js';
import { callerOf, type Guards } from '../auth.js';
import { paceResponse } from '../../common/bandwidth.js';
import { ContentPacing } from '../content-pacing.js';
import { jsonBody } from '../body.js';
import type { AppDependencies } from '../dependencies.js';
import { packagesQuerySchema } from '../list-queries.js';
import type { ApiMetrics } from '../metrics.js';
import { readPackageUpload } from '../package-upload.js';
import { createPackage, getPackage, listPackages, packageContent, retirePackage, updatePackageExpiry } from '../services/packages.js';
import { recordServedBytes } from '../services/served-bytes.js';
import { parseInput, patchPackageSchema } from '../validation.js';

/**
 * Counts the content bytes this response hands to the connection and reports the total once it closes,
 * finished or cut off. A Range answer writes only its range, so only the range is counted; a client that
 * hangs up is counted for what was written before the connection closed, which may include a socket
 * buffer's worth (tens of kilobytes) it never received. Only 200 and 206 bodies count, so an error
 * answer (416, 404) is never taken for content.
 */
function countContentBytes(res: Response, report: (bytes: number) => void): void {
  let bytes = 0;
  const count = (chunk: unknown) => {
    // The file arrives as Buffers; strings are only ever error answers.
    if ((res.statusCode === 200 || res.statusCode === 206) && chunk instanceof Uint8Array) bytes += chunk.byteLength;
  };
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.write = ((...args: unknown[]) => {
    count(args[0]);
    return write(...args);
  }) as Response['write'];
  res.end = ((...args: unknown[]) => {
    count(args[0]);
    return end(...args);
  }) as Response['end'];
  res.once('close', () => report(bytes));
}

/**
 * Streams a package's bytes; `send` answers Range requests (206, 416) and conditional ones, so agents
 * resume interrupted downloads. Downloads by relays and computers are counted per package and agent.
 */
function sendPackageContent(deps: AppDependencies, metrics: ApiMetrics, pacing: ContentPacing): RequestHandler<{ id: string }> {
  return async (req, res, next) => {
    const content = await packageContent(deps, req.params.id);
    const caller = callerOf(res);
    paceResponse(res, await pacing.limitsFor(caller));
    if (caller.role !== 'admin') {
      countContentBytes(res, (bytes) => {
        metrics.contentServed(caller.role, bytes);
        const served = { packageId: content.packageId, agentId: caller.agentId, role: caller.role, bytes };
        recordServedBytes(deps.db, served).catch((error: unknown) => {
          // The download itself succeeded; losing one count must not turn into an error for anyone.
          req.log.error({ err: error, packageId: content.packageId, agent: caller.agentId, bytes }, 'could not record bytes served');
        });
      });
    }
    res.type('application/octet-stream');
    res.sendFile(content.relativePath, { root: deps.store.root, dotfiles: 'allow' }, (error) => {
      // Once bytes are on the way, an error is the client hanging up: nothing left to answer.
      if (error && !res.headersSent) next(error);
    });
  };
}

/** Mounts the package routes. */
export function packageRoutes(deps: AppDependencies, guards: Guards, auditTrail: AuditTrail, metrics: ApiMetrics): Router {
  const router = Router();
  router.post('/packages', guards.admin, audited('package.upload'), async (req, res) => {
    const upload = await readPackageUpload(req, deps.store);
    const created = await createPackage(deps, upload);
    describeAudit(res, { subject: `package:${created.id}` });
    await auditTrail.succeeded(req, res);
    res.status(201).json(created);
  });
  router.get('/packages', guards.admin, async (req, res) => {
    res.json(await listPackages(deps.db, parseInput(packagesQuerySchema, req.query, 'query')));
  });
  router.get('/packages/:id', guards.admin, async (req: Request<{ id: string }>, res) => {
    res.json(await getPackage(deps.db, req.params.id));
  });
  router.patch('/packages/:id', guards.admin, jsonBody, audited('package.update', subjectFromId('package')), async (req: Request<{ id: string }>, res) => {
    const { relayExpiresAt } = parseInput(patchPackageSchema, req.body);
    const updated = await updatePackageExpiry(deps.db, req.params.id, relayExpiresAt);
    await auditTrail.succeeded(req, res);
    res.json(updated);
  });
  router.delete('/packages/:id', guards.admin, audited('package.retire', subjectFromId('package')), async (req: Request<{ id: string }>, res) => {
    const retired = await retirePackage(deps, req.params.id);
    await auditTrail.succeeded(req, res);
    res.json(retired);
  });
  router.get('/packages/:id/content', guards.adminOrAgent, sendPackageContent(deps, metrics, new ContentPacing(deps.db, deps.config.serverBandwidthLimit)));
  return router;
}
