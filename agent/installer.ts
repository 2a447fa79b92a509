/**
 * A computer's install orders. Download (resumable) → verify the signed manifest and the
 * content's SHA-256 → extract safely into a fresh folder → check install conditions → run the install
 * command with its timeout. Nothing is extracted or run unless every integrity check passed, and a
 * package recorded as installed is never installed again.
 */
import { mkdir, rm, statfs } from 'node:fs/promises';
import { evaluateConditions } from '../common/conditions.js';
import { errorMessage } from '../common/errors.js';
import type { InstallOrder } from '../common/orders.js';
import { verifyManifest } from '../trust/signing.js';
import { UnsafeArchiveError } from './archive-guard.js';
import { contentMismatch, download, DownloadError, OversizeContentError } from './download.js';
import { extractPackage } from './extract.js';
import { InstalledPackages } from './installed.js';
import { KeyedLock } from './keyed-lock.js';
import type { OrderRecord, StatusUpdate } from './orders-book.js';
import { downloadFile, workFolder } from './paths.js';
import type { RoleDeps } from './role.js';
import { runCommand } from './run-command.js';

/** Recorded for an install whose command was cut off by the agent stopping; it is never rerun silently. */
const INTERRUPTED_DETAIL = 'interrupted: the agent stopped while the install command was running';

/** Install steps take this lock: one command at a time, and conditions see what is really installed. */
const INSTALL_LOCK = 'install';

/** Install orders, and what is installed; the Computer role hands it its install orders. */
export class Installer {
  private readonly installed: InstalledPackages;
  private readonly lock = new KeyedLock();

  constructor(private readonly deps: RoleDeps) {
    this.installed = new InstalledPackages(deps.paths.installed, deps.clock);
  }

  /** Loads what is installed and makes the folders installs work in. */
  async start(): Promise<void> {
    await this.installed.load();
    for (const folder of [this.deps.paths.downloads, this.deps.paths.work, this.deps.paths.target]) {
      await mkdir(folder, { recursive: true });
    }
  }

  /** First receipt: a package already installed (by any job) is not installed again. */
  admit(order: InstallOrder): Promise<StatusUpdate> {
    const { manifest } = order.package;
    const done = this.installed.get(manifest.packageId);
    return Promise.resolve(done ? alreadyInstalled(done.jobId) : { state: 'downloading', bytes: 0 });
  }

  /** Downloads, verifies, extracts and installs; see RoleService.carryOut. */
  async carryOut(record: OrderRecord, signal: AbortSignal): Promise<void> {
    const order = record.order as InstallOrder;
    // Only a restart finds an order in this state: its command may have done anything, so report, never rerun.
    const outcome: StatusUpdate =
      record.status.state === 'installing'
        ? { state: 'failed', detail: INTERRUPTED_DETAIL }
        : await this.install(order, signal);
    await this.deps.book.update(order, outcome);
    await this.cleanUp(order);
  }

  private async install(order: InstallOrder, signal: AbortSignal): Promise<StatusUpdate> {
    const { deps } = this;
    const { manifest } = order.package;
    if (!verifyManifest(deps.identity().serverPublicKey, order.package)) {
      return { state: 'rejected', detail: "the package manifest's signature does not verify against the managing server's key" };
    }
    const contentPath = downloadFile(deps.paths, order.jobId, manifest.packageId);
    const credentials: Record<string, string> =
      order.source.via === 'relay'
        ? { 'x-courier-ticket': order.source.ticket }
        : { authorization: `Bearer ${deps.identity().token}` };
    let downloaded;
    try {
      downloaded = await download(
        {
          url: order.source.url,
          headers: credentials,
          partialPath: contentPath,
          expectedSize: manifest.size,
          fetch: deps.fetch,
          signal,
          onProgress: (bytes) => deps.book.progress(order, bytes),
        },
        deps.retryDelaysMs,
        deps.log,
      );
    } catch (error) {
      signal.throwIfAborted();
      if (error instanceof OversizeContentError) return { state: 'rejected', detail: error.message };
      if (error instanceof DownloadError) return { state: 'failed', detail: `download failed: ${error.message}` };
      throw error;
    }
    const mismatch = contentMismatch(downloaded, manifest);
    if (mismatch) return { state: 'rejected', detail: mismatch };

    const folder = workFolder(deps.paths, order.jobId);
    // A folder left by an extraction the agent did not finish is not trusted: start from an empty one.
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder, { recursive: true });
    try {
      await extractPackage(contentPath, manifest.format, manifest.fileName, folder);
    } catch (error) {
      if (error instanceof UnsafeArchiveError) return { state: 'rejected', detail: `unsafe package: ${error.message}` };
      return { state: 'failed', detail: `extraction failed: ${errorMessage(error)}` };
    }
    signal.throwIfAborted();
    if (this.lock.busy(INSTALL_LOCK)) {
      const detail = 'verified and extracted; waiting for another install on this computer to finish';
      await deps.book.update(order, { state: 'downloading', bytes: downloaded.size, detail });
    }
    return this.lock.run(INSTALL_LOCK, () => this.runInstall(order, folder, signal));
  }

  /** Conditions and the command, under the install lock. */
  private async runInstall(order: InstallOrder, folder: string, signal: AbortSignal): Promise<StatusUpdate> {
    const { deps } = this;
    const { manifest } = order.package;
    // Another job may have installed the package while this one was downloading.
    const done = this.installed.get(manifest.packageId);
    if (done) return alreadyInstalled(done.jobId);
    const disk = await statfs(deps.paths.root);
    const verdict = evaluateConditions(manifest.conditions, {
      freeDiskBytes: disk.bavail * disk.bsize,
      installed: this.installed.versionsByName(),
    });
    if (!verdict.ok) return { state: 'conditions_not_met', detail: verdict.reasons.join('; ') };

    signal.throwIfAborted();
    await deps.book.update(order, { state: 'installing', detail: `running: ${manifest.installCommand}` });
    const result = await runCommand({
      command: manifest.installCommand,
      cwd: folder,
      env: {
        COURIER_TARGET_DIR: deps.paths.target,
        COURIER_PACKAGE_NAME: manifest.name,
        COURIER_PACKAGE_VERSION: manifest.version,
        COURIER_JOB_ID: order.jobId,
      },
      timeoutMs: manifest.timeoutSeconds * 1000,
      signal,
    });
    const { outputTail } = result;
    switch (result.outcome) {
      case 'aborted':
        // Left recorded as `installing`: the next start reports it as interrupted.
        throw signal.reason;
      case 'timed_out':
        return { state: 'failed', detail: `install command timed out after ${manifest.timeoutSeconds}s`, outputTail };
      case 'killed':
        return { state: 'failed', detail: `install command was killed by signal ${result.signal}`, outputTail };
      case 'exited':
        if (result.exitCode !== 0) {
          const detail = `install command exited with code ${result.exitCode}`;
          return { state: 'failed', detail, exitCode: result.exitCode, outputTail };
        }
        await this.installed.record(manifest.packageId, { name: manifest.name, version: manifest.version, jobId: order.jobId });
        return { state: 'installed', exitCode: 0, outputTail };
    }
  }

  /** The download and the work folder are only needed until the order ends. */
  private async cleanUp(order: InstallOrder): Promise<void> {
    await rm(downloadFile(this.deps.paths, order.jobId, order.package.manifest.packageId), { force: true });
    await rm(workFolder(this.deps.paths, order.jobId), { recursive: true, force: true });
  }
}

function alreadyInstalled(jobId: string): StatusUpdate {
  return { state: 'installed', detail: `already installed by job ${jobId}` };
}
