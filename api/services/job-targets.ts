/**
 * Turns a job's target spec into job_targets rows. Install and offer jobs target computers (`relays` means
 * every computer under those relays, `labels` every computer carrying all of them, `all` every computer;
 * the selectors add up); transfer jobs target relays (`all` every relay). A dynamic job's later joiners are
 * added by db/repositories/job-joiners.ts.
 * A job may target 100,000 computers, and PostgreSQL takes at most 65,535 parameters per statement, so
 * explicit lists travel as single array parameters (`= any($1)`, `unnest`) and whole groups are copied
 * with INSERT ... SELECT without passing through the api at all.
 */
import { eq, or, sql, type SQL } from 'drizzle-orm';
import type { JobType, TargetKind } from '../../common/states.js';
import { computers, jobTargets, relays, type TargetSpec } from '../../db/schema/index.js';
import type { Transaction } from '../dependencies.js';
import { InvalidInput } from '../errors.js';
import { isUuid } from '../validation.js';

/** The kind of target each job type works on. */
export function targetKindOf(type: JobType): TargetKind {
  return type === 'transfer' ? 'relay' : 'computer';
}

interface Agent {
  id: string;
  name: string;
}

type AgentTable = typeof computers | typeof relays;

/** Finds agents given by id or name; returns those found and the references that matched nothing. */
async function resolveRefs(
  tx: Transaction,
  table: AgentTable,
  refs: readonly string[],
): Promise<{ found: Agent[]; unknown: string[] }> {
  if (refs.length === 0) return { found: [], unknown: [] };
  const unique = [...new Set(refs)];
  const ids = unique.filter(isUuid).map((ref) => ref.toLowerCase());
  const rows: Agent[] = await tx
    .select({ id: table.id, name: table.name })
    .from(table)
    .where(
      or(sql`${table.id} = any(${sql.param(ids)}::uuid[])`, sql`${table.name} = any(${sql.param(unique)}::text[])`),
    );
  const byId = new Map(rows.map((row) => [row.id, row]));
  const byName = new Map(rows.map((row) => [row.name, row]));
  const found = new Map<string, Agent>();
  const unknown: string[] = [];
  for (const ref of unique) {
    const agent = byId.get(ref.toLowerCase()) ?? byName.get(ref);
    if (agent) found.set(agent.id, agent);
    else unknown.push(ref);
  }
  return { found: [...found.values()], unknown };
}

async function insertAgents(tx: Transaction, jobId: string, kind: TargetKind, agents: Agent[]): Promise<void> {
  if (agents.length === 0) return;
  const ids = agents.map((agent) => agent.id);
  const names = agents.map((agent) => agent.name);
  await tx.execute(sql`
    insert into job_targets (job_id, kind, target_id, name)
    select ${jobId}::uuid, ${kind}, target.id, target.name
    from unnest(${sql.param(ids)}::uuid[], ${sql.param(names)}::text[]) as target (id, name)
    on conflict do nothing`);
}

/** Copies every row of `from` matching `where` into the job's targets, inside PostgreSQL. */
async function insertSelected(
  tx: Transaction,
  jobId: string,
  kind: TargetKind,
  from: AgentTable,
  where: SQL | undefined,
): Promise<void> {
  await tx.execute(sql`
    insert into job_targets (job_id, kind, target_id, name)
    select ${jobId}::uuid, ${kind}, ${from.id}, ${from.name} from ${from}
    ${where ? sql`where ${where}` : sql``}
    on conflict do nothing`);
}

function rejectUnknown(unknown: { computers: string[]; relays: string[] }): void {
  const count = unknown.computers.length + unknown.relays.length;
  if (count === 0) return;
  const sample = [...unknown.computers, ...unknown.relays].slice(0, 10).join(', ');
  throw new InvalidInput('unknown_targets', `${count} target(s) are not enrolled: ${sample}`, unknown);
}

/**
 * Resolves `spec` and inserts the job's targets in `tx`; returns how many there are. Throws (so the
 * transaction writes nothing) when a reference is unknown or nothing is left to target.
 */
export async function insertJobTargets(
  tx: Transaction,
  jobId: string,
  type: JobType,
  spec: TargetSpec,
): Promise<number> {
  const kind = targetKindOf(type);
  if (kind === 'relay' && ((spec.computers?.length ?? 0) > 0 || spec.labels !== undefined)) {
    throw new InvalidInput('invalid_targets', `${type} jobs target relays: use targets.relays or targets.all (labels are on computers)`);
  }
  const named = {
    computers: await resolveRefs(tx, computers, spec.computers ?? []),
    relays: await resolveRefs(tx, relays, spec.relays ?? []),
  };
  rejectUnknown({ computers: named.computers.unknown, relays: named.relays.unknown });

  if (kind === 'relay') {
    if (spec.all) await insertSelected(tx, jobId, kind, relays, undefined);
    else await insertAgents(tx, jobId, kind, named.relays.found);
  } else if (spec.all) {
    await insertSelected(tx, jobId, kind, computers, undefined);
  } else {
    await insertAgents(tx, jobId, kind, named.computers.found);
    const relayIds = named.relays.found.map((relay) => relay.id);
    if (relayIds.length > 0) {
      const underRelays = sql`${computers.relayId} = any(${sql.param(relayIds)}::uuid[])`;
      await insertSelected(tx, jobId, kind, computers, underRelays);
    }
    if (spec.labels) await insertSelected(tx, jobId, kind, computers, sql`${computers.labels} @> ${JSON.stringify(spec.labels)}::jsonb`);
  }

  const [row] = await tx
    .select({ count: sql<number>`count(*)::int` })
    .from(jobTargets)
    .where(eq(jobTargets.jobId, jobId));
  const count = row?.count ?? 0;
  // A dynamic job may start with none: computers that gain its labels join it later.
  if (count === 0 && !spec.dynamic) {
    throw new InvalidInput('no_targets', `the targets name no ${kind}s (e.g. only relays without computers, or labels no computer carries)`);
  }
  return count;
}
