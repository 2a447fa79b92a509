/**
 * Who is in a simulated fleet: the relays and computers, their names, which relay serves each computer,
 * and which machines are switched off. Pure, so the plan of a run can be reasoned about (and tested) alone.
 */
import type { AgentRole } from '../enrolment.js';
import type { Random } from './random.js';

/** The fleet asked for on the command line. */
export interface FleetShape {
  computers: number;
  relays: number;
  /** How many computers are served by the managing server directly (the first ones); the rest go round-robin over the relays. */
  direct: number;
  /** Fraction (0–1) of computers that enrol and are then switched off. */
  offline: number;
  /** How many relays (the last ones) enrol and are then switched off. */
  deadRelays: number;
  /** Starts every name, so that runs against one api do not collide. */
  prefix: string;
}

/** One agent of the plan. */
export interface PlannedAgent {
  role: AgentRole;
  name: string;
  /** Computers: their relay; absent when served directly. */
  relayName?: string;
  /** Switched off once enrolled. */
  offline: boolean;
}

/** Relays (enrolled first, since computers name them) and computers. */
export interface FleetPlan {
  relays: PlannedAgent[];
  computers: PlannedAgent[];
}

/** One of several processes that share a fleet: shard `index` (0-based) of `count`. */
export interface FleetShard {
  index: number;
  count: number;
}

/** The whole fleet in one process. */
export const WHOLE_FLEET: FleetShard = { index: 0, count: 1 };

/** `prefix-pc-00001`, `prefix-relay-01`: zero-padded so names sort in order, wider only when the count needs it. */
function names(prefix: string, kind: string, count: number, minWidth: number): string[] {
  const width = Math.max(minWidth, String(count).length);
  return Array.from({ length: count }, (_, index) => `${prefix}-${kind}-${String(index + 1).padStart(width, '0')}`);
}

/** `count` distinct indexes below `total`, drawn evenly at random (a partial Fisher–Yates shuffle). */
function pick(total: number, count: number, random: Random): Set<number> {
  const indexes = Uint32Array.from({ length: total }, (_, index) => index);
  for (let i = 0; i < count; i += 1) {
    const j = i + Math.floor(random() * (total - i));
    [indexes[i], indexes[j]] = [indexes[j]!, indexes[i]!];
  }
  return new Set(indexes.subarray(0, count));
}

/** The plan of a fleet; offline computers are drawn at random so that they spread over the relays. */
export function planFleet(shape: FleetShape, random: Random): FleetPlan {
  const relayNames = names(shape.prefix, 'relay', shape.relays, 2);
  const relays = relayNames.map((name, index) => ({ role: 'relay' as const, name, offline: index >= shape.relays - shape.deadRelays }));
  const offline = pick(shape.computers, Math.round(shape.computers * shape.offline), random);
  const computers = names(shape.prefix, 'pc', shape.computers, 5).map((name, index): PlannedAgent => {
    const served = index - shape.direct;
    const relayName = served < 0 || relayNames.length === 0 ? undefined : relayNames[served % relayNames.length];
    return { role: 'computer', name, ...(relayName && { relayName }), offline: offline.has(index) };
  });
  return { relays, computers };
}

/**
 * The part of `plan` that shard `shard` runs: relay i goes to shard i mod count, each computer to its relay's
 * shard (a direct computer by its own index), so a computer and its relay always share a process and the
 * shards' downloads never cross between them.
 */
export function shardOf(plan: FleetPlan, shard: FleetShard): FleetPlan {
  if (shard.count === 1) return plan;
  const relays = plan.relays.filter((_, index) => index % shard.count === shard.index);
  const ours = new Set(relays.map((relay) => relay.name));
  const computers = plan.computers.filter((computer, index) =>
    computer.relayName === undefined ? index % shard.count === shard.index : ours.has(computer.relayName),
  );
  return { relays, computers };
}
