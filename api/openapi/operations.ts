/**
 * Every route the api serves, as the OpenAPI document describes it: who may call it, the zod schemas of its
 * query and body (the very ones the route parses with) and of its answers (the ones its service's types are
 * inferred from). test/integration/access.test.ts checks that this table and the app's router name the same
 * routes; test/integration/openapi.test.ts checks real answers of each against the document.
 */
import type { z } from 'zod';
import { auditEntrySchema } from '../audit.js';
import { pageSchema } from '../cursor.js';
import { errorAnswerSchema } from '../errors.js';
import {
  auditQuerySchema,
  computerJobsQuerySchema,
  computersQuerySchema,
  inventoryQuerySchema,
  jobQuerySchema,
  jobsQuerySchema,
  packagesQuerySchema,
} from '../list-queries.js';
import { checkInAnswerSchema } from '../services/check-ins.js';
import { agentResetSchema, enrolmentAnswerSchema, rotatedSecretSchema } from '../services/enrolment.js';
import { healthSchema } from '../services/health.js';
import { computerDetailViewSchema, computerViewSchema, relayViewSchema } from '../services/inventory.js';
import { computerJobViewSchema, jobSummaryViewSchema, jobViewSchema } from '../services/job-views.js';
import { choiceReceiptSchema } from '../services/offer-choices.js';
import { reportReceiptSchema } from '../services/order-reports.js';
import { packageDetailViewSchema, packageViewSchema, retiredPackageSchema } from '../services/packages.js';
import {
  checkInSchema,
  enrollSchema,
  jobRequestSchema,
  offerChoiceSchema,
  orderReportSchema,
  packageManifestSchema,
  patchComputerSchema,
  patchPackageSchema,
  patchRelaySchema,
} from '../validation.js';

/** Who may call a route; each maps to the document's security requirements. */
export type Access = 'anyone' | 'admin' | 'enrolment secret' | 'agent' | 'admin or agent' | 'own computer' | 'metrics';

/** What an answer carries besides JSON described by a schema. */
export type RawContent = 'octet-stream' | 'prometheus' | 'html' | 'openapi';

/** One answer of a route: JSON of `schema`, or raw content. */
export interface Answer {
  description: string;
  schema?: z.ZodType;
  raw?: RawContent;
}

/** One route. `path` is the express pattern (`/api/v1/jobs/:id`); `errors` lists the documented refusals. */
export interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  operationId: string;
  tag: 'Packages' | 'Jobs' | 'Agents' | 'Inventory' | 'Operations';
  summary: string;
  description?: string;
  access: Access;
  query?: z.ZodObject;
  /** A JSON body's schema, or `manifest and content` for the multipart package upload. */
  body?: z.ZodType | 'package upload';
  answers: Record<number, Answer>;
  errors: Record<number, string>;
}

/** Bodies clients send that the document names, so the reference page shows each shape once. */
export const requestSchemas = {
  JobRequest: jobRequestSchema,
  PackageManifest: packageManifestSchema,
  EnrollRequest: enrollSchema,
  CheckIn: checkInSchema,
  ComputerPatch: patchComputerSchema,
  OrderReport: orderReportSchema,
  OfferChoice: offerChoiceSchema,
} as const satisfies Record<string, z.ZodType>;

/** Answers the document names. */
export const answerSchemas = {
  JobView: jobViewSchema,
  JobSummaryPage: pageSchema(jobSummaryViewSchema),
  ComputerJobPage: pageSchema(computerJobViewSchema),
  PackagePage: pageSchema(packageViewSchema),
  PackageDetailView: packageDetailViewSchema,
  RetiredPackage: retiredPackageSchema,
  Enrolment: enrolmentAnswerSchema,
  CheckInAnswer: checkInAnswerSchema,
  RelayPage: pageSchema(relayViewSchema),
  ComputerPage: pageSchema(computerViewSchema),
  ComputerDetailView: computerDetailViewSchema,
  AgentReset: agentResetSchema,
  ReportReceipt: reportReceiptSchema,
  ChoiceReceipt: choiceReceiptSchema,
  AuditPage: pageSchema(auditEntrySchema),
  Health: healthSchema,
  ErrorAnswer: errorAnswerSchema,
} as const satisfies Record<string, z.ZodType>;

const named = { ...requestSchemas, ...answerSchemas };

const invalid = 'invalid query or body: `details` lists each problem with its path';
const noToken = 'no token, or one the api does not know';
const notAdmin = 'the token is not the admin token';

const adminErrors = { 401: noToken, 403: notAdmin };

export const operations: Operation[] = [
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
    method: 'post',
    path: '/api/v1/packages',
    operationId: 'uploadPackage',
    tag: 'Packages',
    summary: 'Upload a package: a manifest and its content',
    description:
      'multipart/form-data with a part `manifest` (JSON, see PackageManifest) and a file part `content`, in either ' +
      'order. The server hashes the content and signs the manifest; agents install nothing else.',
    access: 'admin',
    body: 'package upload',
    answers: { 201: { description: 'the package, signed and stored', schema: named.PackageDetailView } },
    errors: { 400: 'a missing, repeated or unexpected part, or an invalid manifest', ...adminErrors, 409: 'package_exists: this name and version exist', 413: 'the manifest part is too large' },
  },
  {
    method: 'get',
    path: '/api/v1/packages',
    operationId: 'listPackages',
    tag: 'Packages',
    summary: 'Packages not retired, newest first, with their relay copies',
    access: 'admin',
    query: packagesQuerySchema,
    answers: { 200: { description: 'a page of packages', schema: named.PackagePage } },
    errors: { 400: invalid, ...adminErrors },
  },
  {
    method: 'get',
    path: '/api/v1/packages/:id',
    operationId: 'getPackage',
    tag: 'Packages',
    summary: 'One package, with its relay copies and the bytes served of it to each agent',
    access: 'admin',
    answers: { 200: { description: 'the package', schema: named.PackageDetailView } },
    errors: { ...adminErrors, 404: 'package_not_found' },
  },
  {
    method: 'patch',
    path: '/api/v1/packages/:id',
    operationId: 'updatePackage',
    tag: 'Packages',
    summary: "Change a package's relay expiration date",
    description: 'Copies already on relays keep their expiry until a transfer job sends the package again.',
    access: 'admin',
    body: patchPackageSchema,
    answers: { 200: { description: 'the package as it now is', schema: named.PackageDetailView } },
    errors: { 400: invalid, ...adminErrors, 404: 'package_not_found' },
  },
  {
    method: 'delete',
    path: '/api/v1/packages/:id',
    operationId: 'retirePackage',
    tag: 'Packages',
    summary: 'Retire a package: no new job may use it and relays delete their copies',
    access: 'admin',
    answers: { 200: { description: 'the retired package', schema: named.RetiredPackage } },
    errors: { ...adminErrors, 404: 'package_not_found', 409: 'package_in_use: `details.jobs` lists the jobs that have not ended' },
  },
  {
    method: 'get',
    path: '/api/v1/packages/:id/content',
    operationId: 'downloadPackage',
    tag: 'Packages',
    summary: "A package's content; Range and If-Match requests resume a download",
    access: 'admin or agent',
    answers: {
      200: { description: 'the whole content', raw: 'octet-stream' },
      206: { description: 'the requested range', raw: 'octet-stream' },
    },
    errors: { 401: noToken, 404: 'package_not_found, or package_retired', 412: "the request's conditions do not hold", 416: 'the range lies outside the content' },
  },
  {
    method: 'post',
    path: '/api/v1/enroll',
    operationId: 'enroll',
    tag: 'Agents',
    summary: 'Enrol a relay or computer with the enrolment secret',
    description:
      'Enrolling again under a name already enrolled needs that agent\'s current token in `X-Courier-Agent-Token`.',
    access: 'enrolment secret',
    body: named.EnrollRequest,
    answers: {
      201: { description: 'enrolled: the token is shown this once', schema: named.Enrolment },
      200: { description: 're-enrolled: a new token replaces the old one', schema: named.Enrolment },
    },
    errors: { 400: invalid, 401: 'no enrolment secret, or another one', 409: 'already_enrolled, or the agent trusts another signing key' },
  },
  {
    method: 'post',
    path: '/api/v1/enroll-secret/rotate',
    operationId: 'rotateEnrollSecret',
    tag: 'Agents',
    summary: 'Replace the enrolment secret; enrolled agents keep their tokens',
    access: 'admin',
    answers: { 201: { description: 'the new secret, shown this once', schema: rotatedSecretSchema } },
    errors: adminErrors,
  },
  {
    method: 'post',
    path: '/api/v1/check-in',
    operationId: 'checkIn',
    tag: 'Agents',
    summary: 'An agent says where it is and what it runs',
    access: 'agent',
    body: named.CheckIn,
    answers: { 200: { description: 'recorded; check in again after `checkInEveryMs`', schema: named.CheckInAnswer } },
    errors: { 400: invalid, 401: noToken, 403: 'the admin token is not an agent' },
  },
  {
    method: 'get',
    path: '/api/v1/relays',
    operationId: 'listRelays',
    tag: 'Inventory',
    summary: 'Relays by name, with their computers and package copies',
    access: 'admin',
    query: inventoryQuerySchema,
    answers: { 200: { description: 'a page of relays', schema: named.RelayPage } },
    errors: { 400: invalid, ...adminErrors },
  },
  {
    method: 'patch',
    path: '/api/v1/relays/:id',
    operationId: 'updateRelay',
    tag: 'Inventory',
    summary: "Set a relay's bandwidth limit (bytes per second), or null for none",
    description: 'Applies to what the managing server sends the relay at once, and to what the relay serves its computers from its next check-in.',
    access: 'admin',
    body: patchRelaySchema,
    answers: { 200: { description: 'the relay as it now is', schema: relayViewSchema } },
    errors: { 400: invalid, ...adminErrors, 404: 'relay_not_found' },
  },
  {
    method: 'get',
    path: '/api/v1/computers',
    operationId: 'listComputers',
    tag: 'Inventory',
    summary: 'Computers by name; filter by relay, labels, name prefix or online',
    access: 'admin',
    query: computersQuerySchema,
    answers: { 200: { description: 'a page of computers', schema: named.ComputerPage } },
    errors: { 400: invalid, ...adminErrors, 404: 'relay_not_found' },
  },
  {
    method: 'get',
    path: '/api/v1/computers/:id',
    operationId: 'getComputer',
    tag: 'Inventory',
    summary: 'One computer (by id or name) and what it has installed',
    access: 'admin',
    answers: { 200: { description: 'the computer', schema: named.ComputerDetailView } },
    errors: { ...adminErrors, 404: 'computer_not_found' },
  },
  {
    method: 'patch',
    path: '/api/v1/computers/:id',
    operationId: 'labelComputer',
    tag: 'Inventory',
    summary: "Set or remove a computer's labels",
    description: 'A JSON merge patch of the labels: a key with a value sets it, a key with null removes it, other keys stay.',
    access: 'admin',
    body: named.ComputerPatch,
    answers: { 200: { description: 'the computer as it now is', schema: named.ComputerDetailView } },
    errors: { 400: `${invalid}; too_many_labels`, ...adminErrors, 404: 'computer_not_found' },
  },
  {
    method: 'get',
    path: '/api/v1/computers/:id/jobs',
    operationId: 'listComputerJobs',
    tag: 'Inventory',
    summary: "A computer's history: the jobs that targeted it, newest first, with its state in each",
    access: 'admin',
    query: computerJobsQuerySchema,
    answers: { 200: { description: 'a page of jobs', schema: named.ComputerJobPage } },
    errors: { 400: invalid, ...adminErrors, 404: 'computer_not_found' },
  },
  ...(['computer', 'relay'] as const).map(
    (role): Operation => ({
      method: 'post',
      path: `/api/v1/${role}s/:id/reset`,
      operationId: `reset${role === 'computer' ? 'Computer' : 'Relay'}`,
      tag: 'Agents',
      summary: `Revoke a ${role}'s tokens; its name may then enrol afresh`,
      access: 'admin',
      answers: { 200: { description: `the ${role}, whose tokens no longer work`, schema: named.AgentReset } },
      errors: { ...adminErrors, 404: `${role}_not_found` },
    }),
  ),
  {
    method: 'post',
    path: '/api/v1/jobs',
    operationId: 'createJob',
    tag: 'Jobs',
    summary: 'Create an install, transfer or offer job',
    access: 'admin',
    body: named.JobRequest,
    answers: { 201: { description: 'the job, with the first page of its targets', schema: named.JobView } },
    errors: {
      400: `${invalid}; unknown_targets names the targets not enrolled`,
      ...adminErrors,
      404: 'package_not_found',
      409: 'package_retired',
      422: "package_expired or deadline_after_package_expiry: the package's relay expiration date comes first",
    },
  },
  {
    method: 'get',
    path: '/api/v1/jobs',
    operationId: 'listJobs',
    tag: 'Jobs',
    summary: 'Jobs, newest first; filter by status, type, package or computer',
    access: 'admin',
    query: jobsQuerySchema,
    answers: { 200: { description: 'a page of jobs, without their targets', schema: named.JobSummaryPage } },
    errors: { 400: invalid, ...adminErrors, 404: 'computer_not_found' },
  },
  {
    method: 'get',
    path: '/api/v1/jobs/:id',
    operationId: 'getJob',
    tag: 'Jobs',
    summary: 'One job with its counts and a page of its targets (optionally of one state)',
    access: 'admin',
    query: jobQuerySchema,
    answers: { 200: { description: 'the job', schema: named.JobView } },
    errors: { 400: invalid, ...adminErrors, 404: 'job_not_found' },
  },
  {
    method: 'post',
    path: '/api/v1/jobs/:id/cancel',
    operationId: 'cancelJob',
    tag: 'Jobs',
    summary: 'Cancel a job: targets not yet ended end `cancelled`',
    access: 'admin',
    answers: {
      200: { description: 'cancelled at once: the job had not started', schema: named.JobView },
      202: { description: 'its workflow was asked to cancel and records it', schema: named.JobView },
    },
    errors: { ...adminErrors, 404: 'job_not_found', 409: 'job_finished' },
  },
  {
    method: 'post',
    path: '/api/v1/jobs/:id/resume',
    operationId: 'resumeJob',
    tag: 'Jobs',
    summary: 'Resume a rollout paused by a wave above its failure threshold',
    access: 'admin',
    answers: { 202: { description: 'its workflow hands out the next wave and records the job running', schema: named.JobView } },
    errors: { ...adminErrors, 404: 'job_not_found', 409: 'job_not_paused' },
  },
  {
    method: 'post',
    path: '/api/v1/jobs/:id/rerun',
    operationId: 'rerunJob',
    tag: 'Jobs',
    summary: 'A new job for the targets of an ended job that did not succeed',
    access: 'admin',
    answers: { 201: { description: 'the new job', schema: named.JobView } },
    errors: { ...adminErrors, 404: 'job_not_found', 409: 'job_running or nothing_to_rerun' },
  },
  {
    method: 'post',
    path: '/api/v1/jobs/:id/choices',
    operationId: 'chooseOffer',
    tag: 'Jobs',
    summary: "A computer's user installs or declines an offer",
    access: 'own computer',
    body: named.OfferChoice,
    answers: { 202: { description: 'recorded; the offer carries it out', schema: named.ChoiceReceipt } },
    errors: {
      400: invalid,
      401: noToken,
      403: 'not_offered: the offer was not made to this computer',
      404: 'job_not_found',
      409: 'offer_closed, expired, already_decided or not_offered_yet',
    },
  },
  {
    method: 'post',
    path: '/api/v1/jobs/:id/reports',
    operationId: 'reportOrder',
    tag: 'Jobs',
    summary: 'A computer reports on its install order',
    access: 'own computer',
    body: named.OrderReport,
    answers: { 202: { description: "the computer's state as the job now records it", schema: named.ReportReceipt } },
    errors: { 400: invalid, 401: noToken, 403: 'the caller is not a computer', 404: 'job_not_found or order_not_found' },
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
