/**
 * Shape check of an opened order. The signature proves who sent it, not that sender and agent speak the
 * same protocol version: an order this agent cannot read is refused as `bad_order` instead of failing
 * half-way through its work.
 */
import { z } from 'zod';
import { installConditionsSchema } from '../common/conditions.js';
import { packageFormats } from '../common/manifest.js';
import type { Order } from '../common/orders.js';

const id = z.string().min(1).max(200);
const isoDate = z.string().refine((value) => Number.isFinite(Date.parse(value)), { message: 'not a date' });

const signedManifest = z.object({
  manifest: z.object({
    packageId: id,
    name: z.string().min(1),
    version: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    size: z.number().int().nonnegative(),
    format: z.enum(packageFormats),
    fileName: z.string(),
    installCommand: z.string(),
    timeoutSeconds: z.number().positive(),
    conditions: installConditionsSchema,
  }),
  signature: z.string().min(1),
});

const base = { jobId: id, agentId: id, issuedAt: isoDate, validUntil: isoDate };

const orderSchema = z.discriminatedUnion('kind', [
  z.object({ ...base, kind: z.literal('store'), package: signedManifest, sourceUrl: z.url(), expiresAt: isoDate }),
  z.object({ ...base, kind: z.literal('delete'), packageId: id, expiresAt: isoDate }),
  z.object({
    ...base,
    kind: z.literal('install'),
    package: signedManifest,
    source: z.object({ url: z.url(), via: z.enum(['relay', 'server']), ticket: z.string() }),
    reportEveryMs: z.number().int().positive().optional(),
    reinstall: z.boolean().optional(),
    installNotBefore: isoDate.optional(),
  }),
  z.object({ ...base, kind: z.literal('offer'), package: signedManifest, deadline: isoDate }),
  z.object({ ...base, kind: z.literal('withdraw'), packageId: id }),
  z.object({ ...base, kind: z.literal('cancel'), packageId: id }),
]);

/** Why the order is malformed, or undefined when it is well formed. */
export function orderShapeProblem(order: Order): string | undefined {
  const result = orderSchema.safeParse(order);
  if (result.success) return undefined;
  return result.error.issues.map((issue) => `${issue.path.join('.') || 'order'}: ${issue.message}`).join('; ');
}
