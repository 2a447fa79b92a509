/**
 * Install conditions: checked by the computer's agent just before it installs, against facts it gathers
 * itself (free disk space, what it has installed). Evaluation is pure so it is tested without a disk.
 */
import semver from 'semver';
import { z } from 'zod';

const packageRequirement = z.object({
  name: z.string().min(1),
  /** A semver range such as `>=2.1` or `^1.4.0`; absent means any version. */
  version: z
    .string()
    .refine((range) => semver.validRange(range) !== null, { message: 'not a valid version range' })
    .optional(),
});

/** The `conditions` of a manifest, checked by the computer just before it installs. */
export const installConditionsSchema = z
  .object({
    /** Free space the install needs on the agent's data volume, in megabytes. */
    minFreeDiskMb: z.number().int().nonnegative().optional(),
    /** Packages that must be installed (in a matching version) first. */
    requires: z.array(packageRequirement).optional(),
    /** Packages that must not be installed (in a matching version). */
    conflicts: z.array(packageRequirement).optional(),
  })
  .strict();

export type InstallConditions = z.infer<typeof installConditionsSchema>;
export type PackageRequirement = z.infer<typeof packageRequirement>;

/** What the agent knows about its computer when it checks conditions. */
export interface ComputerFacts {
  freeDiskBytes: number;
  /** Installed package name → version. */
  installed: ReadonlyMap<string, string>;
}

/** Whether the install may go ahead, and every reason it may not. */
export type ConditionsVerdict = { ok: true } | { ok: false; reasons: string[] };

/** Versions are compared as semver, coercing loose ones such as `2.1` or `10`. */
function versionMatches(version: string, range: string | undefined): boolean {
  if (range === undefined) return true;
  const coerced = semver.coerce(version);
  return coerced !== null && semver.satisfies(coerced, range);
}

function describe(requirement: PackageRequirement): string {
  return requirement.version ? `${requirement.name} ${requirement.version}` : requirement.name;
}

/** Checks every condition and collects all failures, so the admin sees every reason at once. */
export function evaluateConditions(conditions: InstallConditions, facts: ComputerFacts): ConditionsVerdict {
  const reasons: string[] = [];
  if (conditions.minFreeDiskMb !== undefined) {
    const freeMb = Math.floor(facts.freeDiskBytes / (1024 * 1024));
    if (freeMb < conditions.minFreeDiskMb) {
      reasons.push(`needs ${conditions.minFreeDiskMb} MB free disk space, has ${freeMb} MB`);
    }
  }
  for (const requirement of conditions.requires ?? []) {
    const installed = facts.installed.get(requirement.name);
    if (installed === undefined) reasons.push(`requires ${describe(requirement)}, which is not installed`);
    else if (!versionMatches(installed, requirement.version)) {
      reasons.push(`requires ${describe(requirement)}, but ${requirement.name} ${installed} is installed`);
    }
  }
  for (const conflict of conditions.conflicts ?? []) {
    const installed = facts.installed.get(conflict.name);
    if (installed !== undefined && versionMatches(installed, conflict.version)) {
      reasons.push(`conflicts with ${describe(conflict)}, and ${conflict.name} ${installed} is installed`);
    }
  }
  return reasons.length === 0 ? { ok: true } : { ok: false, reasons };
}
