/** What a computer has installed (installed.json): the facts install conditions are checked against. */
import type { Clock } from './deps.js';
import { readJsonIfExists, writeJsonAtomic } from './files.js';

/** One installed package and the job that installed it. */
export interface InstalledPackage {
  name: string;
  version: string;
  jobId: string;
  installedAt: string;
}

/** installed.json, kept in memory and rewritten atomically on every install. */
export class InstalledPackages {
  private packages: Record<string, InstalledPackage> = {};

  constructor(
    private readonly path: string,
    private readonly clock: Clock,
  ) {}

  async load(): Promise<void> {
    this.packages = (await readJsonIfExists<Record<string, InstalledPackage>>(this.path)) ?? {};
  }

  get(packageId: string): InstalledPackage | undefined {
    return this.packages[packageId];
  }

  /** Installed package name → version, as install conditions want it. */
  versionsByName(): Map<string, string> {
    return new Map(Object.values(this.packages).map((entry) => [entry.name, entry.version]));
  }

  async record(packageId: string, entry: Omit<InstalledPackage, 'installedAt'>): Promise<void> {
    this.packages = { ...this.packages, [packageId]: { ...entry, installedAt: this.clock.now().toISOString() } };
    await writeJsonAtomic(this.path, this.packages);
  }
}
