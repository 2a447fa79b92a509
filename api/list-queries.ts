/**
 * The query strings of the paged routes: a page size and a cursor (api/cursor.ts), and for one job's
 * targets a state filter. Lists page one way only: an unknown parameter is a 400, as an unknown body field
 * is, and the offsets these routes took before (`offset`, `targetsOffset`) are refused naming the cursor to
 * pass instead, never ignored: a client stepping an ignored offset would read the first page forever.
 */
import { z } from 'zod';
import { labelPairSchema, MAX_LABELS, type Labels } from '../common/labels.js';
import { computerStates, jobStatuses, jobTypes, relayStates } from '../common/states.js';
import { cursorParam, nameKey, timestampKey } from './cursor.js';
import { isUuid } from './validation.js';

const uuidKey = z.string().refine(isUuid);

/** Sort key of GET /relays and GET /computers: names are unique. */
const byNameKey = z.strictObject({ name: nameKey });
/** Sort key of GET /jobs and GET /packages, newest first; the id orders rows created in the same microsecond. */
const createdKeySchema = z.strictObject({ createdAt: timestampKey, id: uuidKey });
/** Sort key of GET /audit, newest first: entries are numbered as they are written. */
const auditKeySchema = z.strictObject({ id: z.number().int().positive() });
/** Sort key of a job's targets (all of one kind): by name, the id orders equal names. */
const targetKeySchema = z.strictObject({ name: nameKey, id: uuidKey });

/** Parameters the paged routes used to take, and what replaces each. */
const replacedBy = new Map([
  ['offset', "lists page by cursor (pass the previous page's nextCursor as cursor)"],
  ['targetsOffset', "targets page by cursor (pass the previous answer's targetsNextCursor as targetsCursor)"],
]);

/** A query string of `shape`'s parameters only. */
function pagedQuery<Shape extends z.ZodRawShape>(shape: Shape) {
  const accepted = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      return issue.keys
        .map((key) => {
          const replacement = replacedBy.get(key);
          return replacement ? `${key} is no longer accepted: ${replacement}` : `unknown parameter ${key} (this route takes ${accepted})`;
        })
        .join('; ');
    },
  });
}

const inventoryPage = {
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  cursor: cursorParam(byNameKey, 'nextCursor').optional(),
};

/** GET /relays. */
export const inventoryQuerySchema = pagedQuery(inventoryPage);

export type InventoryQuery = z.output<typeof inventoryQuerySchema>;

/** GET /computers, optionally only those behind one relay (id or name) or whose names start with a prefix. */
export const computersQuerySchema = pagedQuery({
  ...inventoryPage,
  relay: z.string().min(1).optional(),
  prefix: z.string().min(1).max(200).optional(),
  online: z.enum(['true', 'false'], { error: 'must be true or false' }).transform((value) => value === 'true').optional(),
  /** `key=value`, repeated for computers carrying every one of these labels. */
  label: z
    .union([labelPairSchema.transform((pair) => [pair]), z.array(labelPairSchema).min(1).max(MAX_LABELS)])
    .transform((pairs): Labels => Object.fromEntries(pairs))
    .optional(),
});

export type ComputersQuery = z.output<typeof computersQuerySchema>;

const jobsPage = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: cursorParam(createdKeySchema, 'nextCursor').optional(),
};

/** GET /jobs, optionally only the jobs of one status, type or package, or that target one computer (id or name). */
export const jobsQuerySchema = pagedQuery({
  ...jobsPage,
  status: z.enum(jobStatuses).optional(),
  type: z.enum(jobTypes).optional(),
  packageId: z.string().refine(isUuid, { error: 'must be a package id' }).optional(),
  computer: z.string().min(1).optional(),
});

export type JobsQuery = z.output<typeof jobsQuerySchema>;

/** GET /computers/:id/jobs: a computer's jobs, newest first. */
export const computerJobsQuerySchema = pagedQuery(jobsPage);

export type ComputerJobsQuery = z.output<typeof computerJobsQuerySchema>;

/** GET /packages. */
export const packagesQuerySchema = pagedQuery({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: cursorParam(createdKeySchema, 'nextCursor').optional(),
});

export type PackagesQuery = z.output<typeof packagesQuerySchema>;

/** GET /audit. */
export const auditQuerySchema = pagedQuery({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: cursorParam(auditKeySchema, 'nextCursor').optional(),
});

export type AuditQuery = z.output<typeof auditQuerySchema>;

/** GET /jobs/:id: a page of targets, optionally only those in one state. */
export const jobQuerySchema = pagedQuery({
  targetsLimit: z.coerce.number().int().min(1).max(10_000).default(1000),
  targetsCursor: cursorParam(targetKeySchema, 'targetsNextCursor').optional(),
  state: z.union([z.enum(computerStates), z.enum(relayStates)]).optional(),
});

export type JobQuery = z.output<typeof jobQuerySchema>;
