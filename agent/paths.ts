/** Layout of an agent's data folder: the one place that names its files. */
import { join, resolve } from 'node:path';
import { safeName } from './files.js';

/**
 * Where an agent keeps what it must remember. Each path is joined when asked for (once per order at most),
 * not stored: the fleet simulator holds 100,000 agents in one heap, and the paths no part of an agent keeps
 * for itself (identity, downloads, work, target) are some 400 bytes an agent.
 */
export class AgentPaths {
  /** `dataDir` made absolute, so files can be handed to sendFile. */
  readonly root: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir);
  }

  /** identity.json: the enrolment answer (id, token, server public key), mode 0600. */
  get identity(): string {
    return join(this.root, 'identity.json');
  }

  /** orders/<jobId>.<kind>.<packageId>.json: one record per order with its current status. */
  get orders(): string {
    return join(this.root, 'orders');
  }

  /** Relays: packages/<packageId>.content, .json (metadata) and .partial (a transfer in progress). */
  get packages(): string {
    return join(this.root, 'packages');
  }

  /** Computers: downloads/<jobId>.<packageId>.partial, the content being fetched for one install. */
  get downloads(): string {
    return join(this.root, 'downloads');
  }

  /** Computers: work/<jobId>/, the fresh folder a package is extracted into and its command runs in. */
  get work(): string {
    return join(this.root, 'work');
  }

  /** Computers: root/, handed to install commands as COURIER_TARGET_DIR. */
  get target(): string {
    return join(this.root, 'root');
  }

  /** Computers: installed.json, packageId → what installed it and when. */
  get installed(): string {
    return join(this.root, 'installed.json');
  }

  /** Computers: choices/<jobId>.json, what the user chose on an offer once the managing server took it. */
  get choices(): string {
    return join(this.root, 'choices');
  }
}

/** The work folder of one install job. */
export function workFolder(paths: AgentPaths, jobId: string): string {
  return join(paths.work, safeName(jobId));
}

/** The download file of one install job. */
export function downloadFile(paths: AgentPaths, jobId: string, packageId: string): string {
  return join(paths.downloads, `${safeName(jobId)}.${safeName(packageId)}.partial`);
}
