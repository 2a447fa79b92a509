/**
 * Admins label computers (PATCH /computers/:id): a JSON merge patch of the computer's labels, applied in
 * one statement so two admins' patches to different keys both hold.
 */
import { eq, sql } from 'drizzle-orm';
import { MAX_LABELS } from '../../common/labels.js';
import { computers } from '../../db/schema/index.js';
import type { AppDependencies } from '../dependencies.js';
import { InvalidInput } from '../errors.js';
import type { ComputerPatch } from '../validation.js';
import { computerIdOf, getComputer, type ComputerDetailView, type Presence } from './inventory.js';

type Db = AppDependencies['db'];

/** Sets the patch's labels and removes those it names null; refused (and nothing changed) above MAX_LABELS. */
export async function patchComputerLabels(db: Db, idOrName: string, patch: ComputerPatch, presence: Presence): Promise<ComputerDetailView> {
  const id = await computerIdOf(db, idOrName);
  const entries = Object.entries(patch.labels);
  const set = Object.fromEntries(entries.filter(([, value]) => value !== null));
  const removed = entries.filter(([, value]) => value === null).map(([key]) => key);
  await db.transaction(async (tx) => {
    const [row] = await tx
      .update(computers)
      .set({ labels: sql`(${computers.labels} || ${JSON.stringify(set)}::jsonb) - ${sql.param(removed)}::text[]` })
      .where(eq(computers.id, id))
      .returning({ labels: computers.labels });
    const count = Object.keys(row?.labels ?? {}).length;
    if (count > MAX_LABELS) {
      throw new InvalidInput('too_many_labels', `a computer carries at most ${MAX_LABELS} labels; this patch would leave ${count}`, [
        { path: 'labels', message: `at most ${MAX_LABELS} labels` },
      ]);
    }
  });
  return getComputer(db, id, presence);
}
