/**
 * The one thing the fleet simulator fakes: the install command. It takes --install-ms, fails with
 * probability --fail-rate, and ends the way a real command does (an exit code and output), so everything
 * around it (the install lock, status records, reports) is the real agent's. Every run is counted by
 * computer and job, which is how tests prove that nothing was installed twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommandRequest, CommandResult, CommandRunner } from '../run-command.js';
import type { Random } from './random.js';

/** How the simulated command behaves. */
export interface SimulationOptions {
  /** How long each install takes. */
  installMs: number;
  /** Probability (0–1) that an install exits with code 1. */
  failRate: number;
  random: Random;
}

/** A (computer, job) whose install command ran more than once. */
export interface RepeatedInstall {
  computer: string;
  jobId: string;
  runs: number;
}

/** How far one job's install commands have come across the fleet. */
export interface JobInstallProgress {
  /** Commands started. */
  started: number;
  /** Commands that ended (exited or timed out), failures included; not those interrupted by a stop. */
  finished: number;
  /** Of the finished, those that exited non-zero or timed out. */
  failed: number;
}

/** The simulated install command of a whole fleet, and the count of its runs. */
export class SimulatedInstalls {
  /** computer → job → runs; only computers that ran something have an entry, so idle ones cost nothing. */
  private readonly runs = new Map<string, Map<string, number>>();
  /** job → progress: a few numbers per job, cheap enough to read several times a second at any fleet size. */
  private readonly progress = new Map<string, JobInstallProgress>();
  private failures = 0;

  constructor(private readonly options: SimulationOptions) {}

  /** The runner to inject into one computer's agent. */
  runnerFor(computer: string): CommandRunner {
    return (request) => this.run(computer, request);
  }

  /** computer → job id → how many times its install command ran. */
  runsByComputer(): Record<string, Record<string, number>> {
    return Object.fromEntries([...this.runs].map(([computer, jobs]) => [computer, Object.fromEntries(jobs)]));
  }

  /** job id → how far its install commands have come. */
  progressByJob(): Record<string, JobInstallProgress> {
    return Object.fromEntries([...this.progress].map(([jobId, progress]) => [jobId, { ...progress }]));
  }

  /** Totals, and every (computer, job) that ran more than once: an empty list is the no-double-install guarantee. */
  summary(): { runs: number; failures: number; repeated: RepeatedInstall[] } {
    let runs = 0;
    const repeated: RepeatedInstall[] = [];
    for (const [computer, jobs] of this.runs) {
      for (const [jobId, count] of jobs) {
        runs += count;
        if (count > 1) repeated.push({ computer, jobId, runs: count });
      }
    }
    return { runs, failures: this.failures, repeated };
  }

  private async run(computer: string, request: CommandRequest): Promise<CommandResult> {
    // The Installer hands every command the job it belongs to.
    const jobId = request.env.COURIER_JOB_ID ?? 'unknown';
    const jobs = this.runs.get(computer) ?? new Map<string, number>();
    this.runs.set(computer, jobs.set(jobId, (jobs.get(jobId) ?? 0) + 1));
    const progress = this.progress.get(jobId) ?? { started: 0, finished: 0, failed: 0 };
    this.progress.set(jobId, progress);
    progress.started += 1;
    const what = `${request.env.COURIER_PACKAGE_NAME ?? 'package'} ${request.env.COURIER_PACKAGE_VERSION ?? ''}`.trim();
    const timedOut = this.options.installMs > request.timeoutMs;
    try {
      await sleep(Math.min(this.options.installMs, request.timeoutMs), undefined, { signal: request.signal });
    } catch {
      // Only the abort rejects: the agent is stopping, exactly as it would kill a real command.
      return { outcome: 'aborted', outputTail: `simulated install of ${what} interrupted\n` };
    }
    progress.finished += 1;
    if (timedOut) {
      progress.failed += 1;
      return { outcome: 'timed_out', outputTail: `simulated install of ${what} still running\n` };
    }
    if (this.options.random() < this.options.failRate) {
      this.failures += 1;
      progress.failed += 1;
      return { outcome: 'exited', exitCode: 1, outputTail: `simulated install of ${what} failed (fleet --fail-rate)\n` };
    }
    return { outcome: 'exited', exitCode: 0, outputTail: `simulated install of ${what} done in ${this.options.installMs} ms\n` };
  }
}
