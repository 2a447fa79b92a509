/** Layout of an agent's data folder: the one place that names its files. */
import { join, resolve } from 'node:path';
import { safeName } from './files.js';

/** Where an agent keeps what it must remember. */
export interface AgentPaths {
  root: string;
  /** identity.json: the enrolment answer (id, token, server public key), mode 0600. */
  identity: string;
  /** orders/<jobId>.<kind>.<packageId>.json: one record per order with its current status. */
  orders: string;
  /** Relays: packages/<packageId>.content, .json (metadata) and .partial (a transfer in progress). */
  packages: string;
  /** Computers: downloads/<jobId>.<packageId>.partial, the content being fetched for one install. */
  downloads: string;
  /** Computers: work/<jobId>/, the fresh folder a package is extracted into and its command runs in. */
  work: string;
  /** Computers: root/, handed to install commands as COURIER_TARGET_DIR. */
  target: string;
  /** Computers: installed.json, packageId → what installed it and when. */
  installed: string;
  /** Computers: choices/<jobId>.json, what the user chose on an offer once the managing server took it. */
  choices: string;
}

/** The paths of the data folder `dataDir` (made absolute, so files can be handed to sendFile). */
export function agentPaths(dataDir: string): AgentPaths {
  const root = resolve(dataDir);
  return {
    root,
    identity: join(root, 'identity.json'),
    orders: join(root, 'orders'),
    packages: join(root, 'packages'),
    downloads: join(root, 'downloads'),
    work: join(root, 'work'),
    target: join(root, 'root'),
    installed: join(root, 'installed.json'),
    choices: join(root, 'choices'),
  };
}

/** The work folder of one install job. */
export function workFolder(paths: AgentPaths, jobId: string): string {
  return join(paths.work, safeName(jobId));
}

/** The download file of one install job. */
export function downloadFile(paths: AgentPaths, jobId: string, packageId: string): string {
  return join(paths.downloads, `${safeName(jobId)}.${safeName(packageId)}.partial`);
}
