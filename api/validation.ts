/**
 * Zod schemas for the bodies the api accepts (the query strings of paged lists are in list-queries.ts), and
 * the few pure rules that go with them (defaults that depend on the clock or on the uploaded file's name).
 * Routes parse with `parseInput`, so every rejection is a 400 carrying zod's issues; a job's schedule that
 * cannot work with its package is a 422.
 */
import { z } from 'zod';
import { installConditionsSchema } from '../common/conditions.js';
import { labelKeySchema, labelsSchema, labelValueSchema } from '../common/labels.js';
import { rolloutSchema } from '../common/rollout.js';
import { windowNameSchema, windowSchema } from '../common/windows.js';
import { packageFormats, type PackageFormat } from '../common/manifest.js';
import { jobTypes, offerChoices } from '../common/states.js';
import { MAX_DOWNLOAD_SLOTS } from '../common/throughput.js';
import { InvalidInput, Unprocessable } from './errors.js';

const DAY_MS = 24 * 3600 * 1000;
/** How long relays keep a package when the manifest names no expiration date. */
export const DEFAULT_RELAY_EXPIRY_MS = 90 * DAY_MS;

/** Parses `value` or throws InvalidInput listing every issue (path, message) in `details`. */
export function parseInput<Schema extends z.ZodType>(schema: Schema, value: unknown, what = 'request'): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
  throw new InvalidInput('invalid_input', `invalid ${what}: ${summary}`, details);
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else cannot name a row, so callers answer 404 without asking the database. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

const controlCharacter = /\p{Cc}/u;

/** Printable text: names end up in logs, Temporal summaries and agents' file names. */
const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((text) => !controlCharacter.test(text), { error: 'must not contain control characters' });

const dateTime = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone, e.g. 2030-01-31T02:00:00Z' })
  .transform((value) => new Date(value));

const futureDateTime = dateTime.refine((date) => date.getTime() > Date.now(), { error: 'must be in the future' });

/** The `manifest` part of a package upload. */
export const packageManifestSchema = z
  .object({
    name: printable(200),
    version: printable(100),
    installCommand: z
      .string()
      .max(10_000)
      .refine((command) => command.trim().length > 0, { error: 'must not be empty' }),
    timeoutSeconds: z.number().int().min(1).max(86_400).default(600),
    relayExpiresAt: futureDateTime.default(() => new Date(Date.now() + DEFAULT_RELAY_EXPIRY_MS)),
    conditions: installConditionsSchema.default({}),
    format: z.enum(packageFormats).optional(),
  })
  .strict();

/** A validated manifest part, defaults filled in. */
export type PackageManifestInput = z.output<typeof packageManifestSchema>;

/** Parses the manifest part's text: not JSON and not a valid manifest are both plain 400s. */
export function parseManifestPart(text: string): PackageManifestInput {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidInput('invalid_manifest', 'the manifest part is not valid JSON');
  }
  return parseInput(packageManifestSchema, value, 'manifest');
}

/** The format a package has when its manifest does not say: guessed from the content's file name. */
export function formatFromFileName(fileName: string): PackageFormat {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return 'tar.gz';
  if (lower.endsWith('.zip')) return 'zip';
  return 'file';
}

/**
 * The last path segment of an uploaded file's name, or undefined when nothing usable is left. Agents
 * install `file` packages under this name, so it must never climb out of their folder.
 */
export function safeFileName(raw: string | undefined): string | undefined {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  if (base === '' || base === '.' || base === '..' || base.length > 255) return undefined;
  return controlCharacter.test(base) ? undefined : base;
}

/**
 * The body of PATCH /computers/:id: a JSON merge patch (RFC 7396) of its labels. A key set to a value sets
 * it, a key set to null removes it, keys not named stay.
 */
export const patchComputerSchema = z
  .object({ labels: z.record(labelKeySchema, labelValueSchema.nullable()) })
  .strict();

export type ComputerPatch = z.output<typeof patchComputerSchema>;

/** The most a relay's link is ever limited to: 100 Gbit/s. */
const MAX_BANDWIDTH = 12_500_000_000;

/** The body of PATCH /relays/:id: the relay's bandwidth limit in bytes per second (at least 1 KiB/s), or null for none. */
export const patchRelaySchema = z.object({ bandwidthLimit: z.number().int().min(1024).max(MAX_BANDWIDTH).nullable() }).strict();

export type RelayPatch = z.output<typeof patchRelaySchema>;

/** The body of PATCH /packages/:id: only the relay expiration date may change. */
export const patchPackageSchema = z.object({ relayExpiresAt: futureDateTime }).strict();

/** The body of POST /check-in: where the agent is now, and what it runs. */
export const checkInSchema = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }),
    agentVersion: printable(100),
    os: printable(200),
  })
  .strict();

export type CheckIn = z.output<typeof checkInSchema>;

/** The body of POST /enroll. */
export const enrollSchema = z
  .object({
    role: z.enum(['relay', 'computer']),
    // Targets are given by id or name, so a name that is itself a UUID would be ambiguous.
    name: printable(200).refine((name) => !isUuid(name), { error: 'must not be a UUID' }),
    url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }),
    relay: printable(200).optional(),
    /** The signing key the agent trusts (its fingerprint): a server with another key refuses before changing anything. */
    serverKeyId: z.string().regex(/^sha256:[0-9a-f]{64}$/, { error: 'must be sha256: and 64 lowercase hex digits' }).optional(),
    /** Computers: labels set at each enrolment over those the computer has (an admin's other labels stay). */
    labels: labelsSchema.optional(),
  })
  .strict()
  .refine((request) => request.role === 'computer' || request.relay === undefined, {
    error: 'only computers belong to a relay',
    path: ['relay'],
  })
  .refine((request) => request.role === 'computer' || request.labels === undefined, {
    error: 'only computers carry labels',
    path: ['labels'],
  });

export type EnrollRequest = z.output<typeof enrollSchema>;

const targetRefs = z.array(printable(200)).max(100_000);

/** The body of POST /jobs. */
const downloadSlots = z.number().int().min(1).max(MAX_DOWNLOAD_SLOTS);

export const jobRequestSchema = z
  .object({
    type: z.enum(jobTypes),
    packageId: z.string().min(1).max(200),
    targets: z
      .object({
        computers: targetRefs.optional(),
        relays: targetRefs.optional(),
        /** Install and offer jobs: the computers carrying every one of these labels. */
        labels: labelsSchema.refine((labels) => Object.keys(labels).length > 0, { error: 'name at least one label' }).optional(),
        /** With labels: computers that gain them after the job's creation join it until its deadline. */
        dynamic: z.boolean().optional(),
        all: z.literal(true).optional(),
      })
      .strict()
      .refine((t) => t.all === true || t.labels !== undefined || (t.computers?.length ?? 0) + (t.relays?.length ?? 0) > 0, {
        error: 'name at least one computer, relay or label, or set all: true',
      })
      .refine((t) => t.dynamic !== true || t.labels !== undefined, {
        error: 'dynamic takes in the computers that gain the targeted labels later: name targets.labels',
        path: ['dynamic'],
      }),
    scheduledAt: dateTime.optional(),
    deadline: dateTime.optional(),
    /** Install and offer jobs: computers downloading at once from each relay, and from the managing server. */
    downloadsPerRelay: downloadSlots.optional(),
    serverDownloads: downloadSlots.optional(),
    /** Install jobs: run the command even where another job installed the package (to repair an install). */
    reinstall: z.boolean().optional(),
    /** Install and offer jobs: hand the computers out in waves (common/rollout.ts). */
    rollout: rolloutSchema.optional(),
    /**
     * Install and offer jobs: computers get their orders only inside this window (common/windows.ts), given
     * here or by the name it was defined under.
     */
    window: z.union([windowSchema, windowNameSchema]).optional(),
    /** Install jobs with a window: computers download outside it, and install once it opens. */
    downloadOutsideWindow: z.boolean().optional(),
  })
  .strict()
  .refine((job) => job.type !== 'transfer' || (job.downloadsPerRelay === undefined && job.serverDownloads === undefined), {
    error: 'downloadsPerRelay and serverDownloads bound the downloads of computers: they apply to install and offer jobs',
    path: ['downloadsPerRelay'],
  })
  .refine((job) => job.type !== 'transfer' || job.window === undefined, {
    error: 'a maintenance window says when computers may install: it applies to install and offer jobs',
    path: ['window'],
  })
  .refine((job) => job.downloadOutsideWindow !== true || (job.type === 'install' && job.window !== undefined), {
    error: 'downloadOutsideWindow lets an install job\'s computers download before its window opens: it needs an install job with a window',
    path: ['downloadOutsideWindow'],
  })
  .refine((job) => job.type !== 'transfer' || job.rollout === undefined, {
    error: 'rollout hands computers out in waves: it applies to install and offer jobs',
    path: ['rollout'],
  })
  .refine((job) => job.type === 'install' || job.reinstall === undefined, {
    error: 'reinstall applies to install jobs: an offer installs what its users choose, a transfer installs nothing',
    path: ['reinstall'],
  });

export type JobRequest = z.output<typeof jobRequestSchema>;

/** When a job starts and when it stops retrying, defaults resolved. */
export interface JobSchedule {
  scheduledAt: Date;
  deadline: Date;
}

/** The package a job distributes, as far as its schedule is concerned. */
export interface ScheduledPackage {
  id: string;
  /** Relays treat their copy as expired from this moment on, so no job may still need it later. */
  relayExpiresAt: Date;
}

/** What a job's schedule is checked against besides the request itself. */
export interface ScheduleRules {
  now: Date;
  pkg: ScheduledPackage;
  /**
   * How long after scheduledAt the deadline falls when the request names none; undefined means at the
   * package's relay expiration date (offers close then). Capped at that date either way.
   */
  defaultDeadlineMs?: number;
}

/** The way out named by both expiry refusals. */
function patchExpiryHint(pkg: ScheduledPackage): string {
  return `PATCH /packages/${pkg.id} with a later relayExpiresAt`;
}

/**
 * Fills in a job's defaults (scheduledAt now, then the default deadline) and checks them against each
 * other (400) and against the package's relay expiration date (422): a relay stores its copy only until
 * then, so a job still running afterwards would have computers behind it fail on a copy already gone.
 */
export function resolveJobSchedule(request: Pick<JobRequest, 'scheduledAt' | 'deadline'>, rules: ScheduleRules): JobSchedule {
  const { now, pkg } = rules;
  const scheduledAt = request.scheduledAt ?? now;
  const expiry = pkg.relayExpiresAt;
  if (request.deadline !== undefined && request.deadline.getTime() <= scheduledAt.getTime()) {
    throw new InvalidInput('invalid_input', 'deadline must be later than scheduledAt', [
      { path: 'deadline', message: `must be later than ${scheduledAt.toISOString()}` },
    ]);
  }
  const start = Math.max(scheduledAt.getTime(), now.getTime());
  if (expiry.getTime() <= start) {
    const when =
      expiry.getTime() <= now.getTime() ? 'has passed' : `is not after the job's execution time (${scheduledAt.toISOString()})`;
    throw new Unprocessable(
      'package_expired',
      `package ${pkg.id} expires on relays at ${expiry.toISOString()}, which ${when}: relays would treat their copy ` +
        `as expired at once. ${patchExpiryHint(pkg)} first`,
      { packageId: pkg.id, relayExpiresAt: expiry.toISOString(), scheduledAt: scheduledAt.toISOString() },
    );
  }
  if (request.deadline !== undefined) {
    if (request.deadline.getTime() > expiry.getTime()) {
      throw new Unprocessable(
        'deadline_after_package_expiry',
        `the deadline ${request.deadline.toISOString()} is after package ${pkg.id}'s relay expiration date ` +
          `${expiry.toISOString()}: relays would drop their copy while the job still needs it. Choose a deadline ` +
          `no later than ${expiry.toISOString()}, or ${patchExpiryHint(pkg)}`,
        { packageId: pkg.id, deadline: request.deadline.toISOString(), relayExpiresAt: expiry.toISOString() },
      );
    }
    return { scheduledAt, deadline: request.deadline };
  }
  const span = rules.defaultDeadlineMs;
  const deadline = span === undefined ? expiry.getTime() : Math.min(scheduledAt.getTime() + span, expiry.getTime());
  return { scheduledAt, deadline: new Date(deadline) };
}

/** The body of POST /jobs/:id/choices. */
export const offerChoiceSchema = z.object({ choice: z.enum(offerChoices) }).strict();

/** States an install order reports (common/orders.ts OrderReport). */
const installOrderStates = ['downloading', 'waiting_for_window', 'installing', 'installed', 'failed', 'rejected', 'conditions_not_met', 'expired', 'cancelled'] as const;

/** A computer's report on its install order. Unknown fields are dropped: a newer agent may say more. */
export const orderReportSchema = z.object({
  kind: z.literal('install'),
  packageId: z.uuid(),
  state: z.enum(installOrderStates),
  detail: z.string().max(10_000).optional(),
  exitCode: z.number().int().optional(),
  outputTail: z.string().max(100_000).optional(),
  bytes: z.number().int().nonnegative().optional(),
  updatedAt: z.iso.datetime({ offset: true }),
});
