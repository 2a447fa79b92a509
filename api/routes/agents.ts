/** Enrolment (enrolment secret), the inventory of relays and computers, and agent identity (admin). */
import { Router, type Request } from 'express';
import { audited, describeAudit, subjectFromId, type AuditTrail } from '../audit.js';
import { callerOf, type AgentCaller, type Guards } from '../auth.js';
import { jsonBody } from '../body.js';
import type { AppDependencies } from '../dependencies.js';
import { computerJobsQuerySchema, computersQuerySchema, inventoryQuerySchema } from '../list-queries.js';
import { enrollAgent, resetAgent, rotateEnrollSecret, type AgentRole } from '../services/enrolment.js';
import { checkIn } from '../services/check-ins.js';
import { joinDynamicJobs } from '../services/dynamic-jobs.js';
import { patchComputerLabels } from '../services/computer-labels.js';
import { patchRelay } from '../services/relay-settings.js';
import { getComputer, listComputers, listRelays, presenceNow } from '../services/inventory.js';
import { listComputerJobs } from '../services/job-views.js';
import { checkInSchema, enrollSchema, parseInput, patchComputerSchema, patchRelaySchema } from '../validation.js';

/** The header a re-enrolling agent proves its identity with (DESIGN §7). */
const AGENT_TOKEN_HEADER = 'X-Courier-Agent-Token';

/** The subject of an enrolment, from its body as far as it names one. */
function enrolmentSubject(req: Request): string | null {
  const { role, name } = (req.body ?? {}) as { role?: unknown; name?: unknown };
  return typeof role === 'string' && typeof name === 'string' ? `${role}:${name}` : null;
}

/** Mounts enrolment, inventory and identity routes. */
export function agentRoutes(deps: AppDependencies, guards: Guards, auditTrail: AuditTrail): Router {
  const router = Router();
  router.post('/enroll', guards.enrollSecret, jsonBody, audited('agent.enrol', enrolmentSubject), async (req, res) => {
    const request = parseInput(enrollSchema, req.body);
    const { created, provedByToken, ...enrolment } = await enrollAgent(deps, request, req.get(AGENT_TOKEN_HEADER));
    if (provedByToken) describeAudit(res, { actor: `${request.role}:${enrolment.id}` });
    if (request.labels !== undefined) await joinDynamicJobs(deps, enrolment.id);
    await auditTrail.succeeded(req, res, created ? 'created' : 're-enrolled');
    res.status(created ? 201 : 200).json(enrolment);
  });
  router.post('/enroll-secret/rotate', guards.admin, audited('enroll-secret.rotate', () => 'enroll-secret'), async (req, res) => {
    const rotated = await rotateEnrollSecret(deps.db);
    await auditTrail.succeeded(req, res);
    res.status(201).json(rotated);
  });
  router.post('/check-in', guards.agent, jsonBody, async (req, res) => {
    res.json(await checkIn(deps, callerOf(res) as AgentCaller, parseInput(checkInSchema, req.body)));
  });
  const presence = () => presenceNow(deps.config.checkInEveryMs);
  router.get('/relays', guards.admin, async (req, res) => {
    res.json(await listRelays(deps.db, parseInput(inventoryQuerySchema, req.query, 'query'), presence()));
  });
  router.patch('/relays/:id', guards.admin, jsonBody, audited('relay.update', subjectFromId('relay')), async (req: Request<{ id: string }>, res) => {
    const updated = await patchRelay(deps.db, req.params.id, parseInput(patchRelaySchema, req.body), presence());
    describeAudit(res, { subject: `relay:${updated.name}` });
    await auditTrail.succeeded(req, res);
    res.json(updated);
  });
  router.get('/computers', guards.admin, async (req, res) => {
    res.json(await listComputers(deps.db, parseInput(computersQuerySchema, req.query, 'query'), presence()));
  });
  router.get('/computers/:id', guards.admin, async (req: Request<{ id: string }>, res) => {
    res.json(await getComputer(deps.db, req.params.id, presence()));
  });
  router.patch('/computers/:id', guards.admin, jsonBody, audited('computer.update', subjectFromId('computer')), async (req: Request<{ id: string }>, res) => {
    const updated = await patchComputerLabels(deps.db, req.params.id, parseInput(patchComputerSchema, req.body), presence());
    await joinDynamicJobs(deps, updated.id);
    describeAudit(res, { subject: `computer:${updated.name}` });
    await auditTrail.succeeded(req, res);
    res.json(updated);
  });
  router.get('/computers/:id/jobs', guards.admin, async (req: Request<{ id: string }>, res) => {
    res.json(await listComputerJobs(deps.db, req.params.id, parseInput(computerJobsQuerySchema, req.query, 'query')));
  });
  for (const role of ['computer', 'relay'] satisfies AgentRole[]) {
    router.post(`/${role}s/:id/reset`, guards.admin, audited(`${role}.reset`, subjectFromId(role)), async (req: Request<{ id: string }>, res) => {
      const reset = await resetAgent(deps.db, role, req.params.id);
      describeAudit(res, { subject: `${role}:${reset.name}` });
      await auditTrail.succeeded(req, res);
      res.json(reset);
    });
  }
  return router;
}
