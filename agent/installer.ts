/**
 * A computer's install orders. Download (resumable) → verify the signed manifest and the
 * content's SHA-256 → extract safely into a fresh folder → check install conditions → run the install
 * command with its timeout. Nothing is extracted or run unless every integrity check passed, and a
 * package recorded as installed is never installed again. An order may say when its command may run (its
 * job's maintenance window opens then): the package waits, verified, until that time. Until the command
 * starts, an order ends early when its validity passes or a cancel order stops it; once started, the
 * command runs to its end.
 */
import { mkdir, rm, statfs } from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
import { evaluateConditions } from '../common/conditions.js';
import { errorMessage } from '../common/errors.js';
import type { CancelOrder, InstallOrder } from '../common/orders.js';
import { verifyManifest } from '../trust/signing.js';
import { UnsafeArchiveError } from './archive-guard.js';
import { contentMismatch, download, DownloadError, OversizeContentError } from './download.js';
import { extractPackage } from './extract.js';
import { InstalledPackages, type InstalledPackage } from './installed.js';
import { KeyedLock } from './keyed-lock.js';
import { isFinal, orderKey, type OrderRecord, type StatusUpdate } from './orders-book.js';
import { downloadFile, workFolder } from './paths.js';
import type { RoleDeps } from './role.js';
import { runCommand, type CommandRunner } from './run-command.js';
import { expiredUpdate, hasExpired } from './validity.js';

/** Recorded for an install whose command was cut off by the agent stopping; it is never rerun silently. */
const INTERRUPTED_DETAIL = 'interrupted: the agent stopped while the install command was running';

/** Recorded for an install order a cancel order stopped before its command started. */
const CANCELLED_DETAIL = 'cancelled by the managing server before the install started';

/** Install steps take this lock: one command at a time, and conditions see what is really installed. */
const INSTALL_LOCK = 'install';

/** Install orders, and what is installed; the Computer role hands it its install orders. */
export class Installer {
  private readonly installed: InstalledPackages;
  private readonly lock = new KeyedLock();
  /** Aborts the work of install orders whose command has not started, by order key: what a cancel stops. */
  private readonly cancellable = new Map<string, AbortController>();

  constructor(
    private readonly deps: RoleDeps,
    private readonly run: CommandRunner = runCommand,
  ) {
    this.installed = new InstalledPackages(deps.paths.installed, deps.clock);
  }

  /** Loads what is installed and makes the folders installs work in. */
  async start(): Promise<void> {
    await this.installed.load();
    for (const folder of [this.deps.paths.downloads, this.deps.paths.work, this.deps.paths.target]) {
      await mkdir(folder, { recursive: true });
    }
  }

  /**
   * First receipt: nothing is done for a job cancelled before this order arrived (its cancel order is kept
   * in the book for that), nor for a package already installed (by any job).
   */
  admit(order: InstallOrder): Promise<StatusUpdate> {
    const { manifest } = order.package;
    if (this.deps.book.find(order.jobId, 'cancel', manifest.packageId)) {
      return Promise.resolve({ state: 'cancelled', detail: 'the managing server cancelled this job before this order arrived' });
    }
    const done = this.installedFor(order);
    return Promise.resolve(done ? alreadyInstalled(done.jobId) : { state: 'downloading', bytes: 0 });
  }

  /**
   * The record that makes `order`'s command needless: the package installed by any job, or with
   * `reinstall` only by this job itself (its command ran already; a job installs at most once).
   */
  private installedFor(order: InstallOrder): InstalledPackage | undefined {
    const done = this.installed.get(order.package.manifest.packageId);
    return done && (!order.reinstall || done.jobId === order.jobId) ? done : undefined;
  }

  /**
   * Ends the job's install order as `cancelled` and stops its work, unless its command has started (then
   * it runs to its end) or the order has ended. Returns the install order's record; undefined when the job
   * sent none. The state is read and changed without an await in between, as runInstall marks the start.
   */
  async cancel(order: CancelOrder): Promise<OrderRecord | undefined> {
    const install = this.deps.book.find(order.jobId, 'install', order.packageId);
    if (!install || isFinal(install.status) || install.status.state === 'installing') return install;
    // Aborted before the update, so the stopped work writes no more progress over the final state.
    this.cancellable.get(orderKey(install.order))?.abort();
    await this.deps.book.update(install.order, { state: 'cancelled', detail: CANCELLED_DETAIL });
    return install;
  }

  /** Downloads, verifies, extracts and installs; see RoleService.carryOut. */
  async carryOut(record: OrderRecord, stop: AbortSignal): Promise<void> {
    const order = record.order as InstallOrder;
    let outcome: StatusUpdate | undefined;
    // Only a restart finds an order in this state: its command may have done anything, so report, never rerun.
    if (record.status.state === 'installing') outcome = { state: 'failed', detail: INTERRUPTED_DETAIL };
    else if (hasExpired(order, this.deps.clock.now())) outcome = expiredUpdate(order);
    else outcome = await this.cancellableInstall(order, stop);
    // Undefined: a cancel stopped the work and has recorded the outcome itself.
    if (outcome) await this.deps.book.update(order, outcome);
    await this.cleanUp(order);
  }

  /** The install, its work stopped by the agent stopping or, until the command starts, by a cancel. */
  private async cancellableInstall(order: InstallOrder, stop: AbortSignal): Promise<StatusUpdate | undefined> {
    const key = orderKey(order);
    const cancel = new AbortController();
    this.cancellable.set(key, cancel);
    try {
      const outcome = await this.install(order, AbortSignal.any([stop, cancel.signal]), stop);
      return cancel.signal.aborted ? undefined : outcome;
    } catch (error) {
      if (cancel.signal.aborted) return undefined;
      throw error;
    } finally {
      this.cancellable.delete(key);
    }
  }

  /** `signal` stops the work before the command; `stop` (the agent stopping) also stops the command. */
  private async install(order: InstallOrder, signal: AbortSignal, stop: AbortSignal): Promise<StatusUpdate> {
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
          onProgress: (bytes) => {
            if (!signal.aborted) deps.book.progress(order, bytes);
          },
          // A relay or server away for a while is waited for as long as the job still wants the install.
          keepTrying: () => !hasExpired(order, deps.clock.now()),
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
    await this.untilInstallTime(order, downloaded.size, signal);
    if (this.lock.busy(INSTALL_LOCK)) {
      const detail = 'verified and extracted; waiting for another install on this computer to finish';
      await deps.book.update(order, { state: 'downloading', bytes: downloaded.size, detail });
    }
    return this.lock.run(INSTALL_LOCK, () => this.runInstall(order, folder, signal, stop));
  }

  /**
   * Waits, with the package verified and extracted, for the order's `installNotBefore` (the opening of its
   * job's maintenance window). A cancel or the agent stopping ends the wait; a restarted agent downloads
   * what it lacks, verifies again and waits again.
   */
  private async untilInstallTime(order: InstallOrder, bytes: number, signal: AbortSignal): Promise<void> {
    if (!order.installNotBefore) return;
    const waitMs = Date.parse(order.installNotBefore) - this.deps.clock.now().getTime();
    if (waitMs <= 0) return;
    const detail = `downloaded and verified; installs when the maintenance window opens at ${order.installNotBefore}`;
    await this.deps.book.update(order, { state: 'waiting_for_window', bytes, detail });
    await setTimeout(waitMs, undefined, { signal });
  }

  /** Conditions, validity and the command, under the install lock. */
  private async runInstall(order: InstallOrder, folder: string, signal: AbortSignal, stop: AbortSignal): Promise<StatusUpdate> {
    const { deps } = this;
    const { manifest } = order.package;
    // Another job may have installed the package while this one was downloading.
    const done = this.installedFor(order);
    if (done) return alreadyInstalled(done.jobId);
    const disk = await statfs(deps.paths.root);
    const verdict = evaluateConditions(manifest.conditions, {
      freeDiskBytes: disk.bavail * disk.bsize,
      installed: this.installed.versionsByName(),
    });
    if (!verdict.ok) return { state: 'conditions_not_met', detail: verdict.reasons.join('; ') };

    // The download may have ended long after the order was received: the job may have given up meanwhile.
    if (hasExpired(order, deps.clock.now())) return expiredUpdate(order);
    signal.throwIfAborted();
    // From here on a cancel no longer stops the order: a half-run installer is worse than a finished one.
    this.cancellable.delete(orderKey(order));
    await deps.book.update(order, { state: 'installing', detail: `running: ${manifest.installCommand}` });
    const result = await this.run({
      command: manifest.installCommand,
      cwd: folder,
      env: {
        COURIER_TARGET_DIR: deps.paths.target,
        COURIER_PACKAGE_NAME: manifest.name,
        COURIER_PACKAGE_VERSION: manifest.version,
        COURIER_JOB_ID: order.jobId,
      },
      timeoutMs: manifest.timeoutSeconds * 1000,
      signal: stop,
    });
    const { outputTail } = result;
    switch (result.outcome) {
      case 'aborted':
        // Left recorded as `installing`: the next start reports it as interrupted.
        throw stop.reason;
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
