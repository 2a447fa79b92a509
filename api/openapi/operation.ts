/**
 * What every entry of the route table (operations.ts) is made of: who may call a route, its schemas, its
 * answers; the request and answer schemas the document names as components; and the refusals most routes
 * share.
 */
import type { z } from 'zod';
import { windowSchema } from '../../common/windows.js';
import { auditEntrySchema } from '../audit.js';
import { pageSchema } from '../cursor.js';
import { errorAnswerSchema } from '../errors.js';
import { checkInAnswerSchema } from '../services/check-ins.js';
import { agentResetSchema, enrolmentAnswerSchema } from '../services/enrolment.js';
import { healthSchema } from '../services/health.js';
import { computerDetailViewSchema, computerViewSchema, relayViewSchema } from '../services/inventory.js';
import { computerJobViewSchema, jobSummaryViewSchema, jobViewSchema } from '../services/job-views.js';
import { choiceReceiptSchema } from '../services/offer-choices.js';
import { namedWindowViewSchema } from '../services/named-windows.js';
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
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
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
  MaintenanceWindow: windowSchema,
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
  NamedWindow: namedWindowViewSchema,
  NamedWindowPage: pageSchema(namedWindowViewSchema),
  AuditPage: pageSchema(auditEntrySchema),
  Health: healthSchema,
  ErrorAnswer: errorAnswerSchema,
} as const satisfies Record<string, z.ZodType>;

export const named = { ...requestSchemas, ...answerSchemas };

export const invalid = 'invalid query or body: `details` lists each problem with its path';
export const noToken = 'no token, or one the api does not know';
const notAdmin = 'the token is not the admin token';

export const adminErrors = { 401: noToken, 403: notAdmin };

