/**
 * Every route the api serves, as the OpenAPI document describes it: who may call it, the zod schemas of its
 * query and body (the very ones the route parses with) and of its answers (the ones its service's types are
 * inferred from). test/integration/access.test.ts checks that this table and the app's router name the same
 * routes; test/integration/openapi.test.ts checks real answers of each against the document.
 */
import { auditQuerySchema } from '../list-queries.js';
import { agentOperations } from './agent-operations.js';
import { jobOperations } from './job-operations.js';
import { adminErrors, invalid, named, type Operation } from './operation.js';
import { packageOperations } from './package-operations.js';

export type { Access, Answer, Operation, RawContent } from './operation.js';
export { answerSchemas, requestSchemas } from './operation.js';

/** Health, the reference itself, the audit trail and metrics. */
const operatorOperations: Operation[] = [
  {
    method: 'get',
    path: '/api/v1/health',
    operationId: 'getHealth',
    tag: 'Operations',
    summary: 'Readiness: PostgreSQL, Temporal and a polling worker',
    access: 'anyone',
    answers: {
      200: { description: 'every check passed', schema: named.Health },
      503: { description: 'a check failed; its `reason` says which and why', schema: named.Health },
    },
    errors: {},
  },
  {
    method: 'get',
    path: '/api/v1/openapi.json',
    operationId: 'getOpenApi',
    tag: 'Operations',
    summary: 'This document',
    access: 'anyone',
    answers: { 200: { description: 'the OpenAPI 3.1 document', raw: 'openapi' } },
    errors: {},
  },
  {
    method: 'get',
    path: '/api/v1/docs',
    operationId: 'getReference',
    tag: 'Operations',
    summary: 'This reference, as a page',
    access: 'anyone',
    answers: { 200: { description: 'the reference page', raw: 'html' } },
    errors: {},
  },
  {
    method: 'get',
    path: '/api/v1/audit',
    operationId: 'listAudit',
    tag: 'Operations',
    summary: 'What admins did and who enrolled, newest first',
    access: 'admin',
    query: auditQuerySchema,
    answers: { 200: { description: 'a page of entries', schema: named.AuditPage } },
    errors: { 400: invalid, ...adminErrors },
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tag: 'Operations',
    summary: "The api's Prometheus metrics",
    description: 'Open while the api listens on loopback only; otherwise the metrics token or the admin token.',
    access: 'metrics',
    answers: { 200: { description: 'Prometheus text format', raw: 'prometheus' } },
    errors: adminErrors,
  },
];

export const operations: Operation[] = [...operatorOperations, ...packageOperations, ...agentOperations, ...jobOperations];
