/**
 * Runs an install command the way an administrator expects: `sh -c` in the package's folder, with a hard
 * timeout that kills everything the command started, and the tail of its output kept for the job report.
 */
import { spawn } from 'node:child_process';

/** How much combined stdout/stderr is kept: enough to show an error, small enough for a status. */
const OUTPUT_TAIL_BYTES = 4096;

/** After the shell exits, how long output from processes it left behind is still awaited. */
const DRAIN_AFTER_EXIT_MS = 1000;

/** One install command to run. */
export interface CommandRequest {
  command: string;
  cwd: string;
  /** Added to the agent's own environment. */
  env: Record<string, string>;
  timeoutMs: number;
  /** Aborting (the agent stopping) kills the command. */
  signal: AbortSignal;
}

/** How the command ended, with the tail of its output in every case. */
export type CommandResult =
  | { outcome: 'exited'; exitCode: number; outputTail: string }
  | { outcome: 'timed_out' | 'aborted'; outputTail: string }
  | { outcome: 'killed'; signal: string; outputTail: string };

/** Keeps the last OUTPUT_TAIL_BYTES of everything written to it. */
class OutputTail {
  private tail = Buffer.alloc(0);

  push(chunk: Buffer): void {
    const joined = Buffer.concat([this.tail, chunk]);
    this.tail = joined.length > OUTPUT_TAIL_BYTES ? joined.subarray(joined.length - OUTPUT_TAIL_BYTES) : joined;
  }

  text(): string {
    return this.tail.toString('utf8');
  }
}

/** Runs an install command; injected into the Installer so the fleet simulator can stand in for `sh -c`. */
export type CommandRunner = (request: CommandRequest) => Promise<CommandResult>;

/** Runs the command to its end, its timeout or the signal's abort; rejects only if it cannot be started. */
export function runCommand(request: CommandRequest): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    // detached puts the shell in a process group of its own, so a timeout kills its children too.
    const child = spawn('sh', ['-c', request.command], {
      cwd: request.cwd,
      env: { ...process.env, ...request.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = new OutputTail();
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));

    let stoppedBy: 'timed_out' | 'aborted' | undefined;
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    };
    const stop = (reason: 'timed_out' | 'aborted'): void => {
      stoppedBy ??= reason;
      killGroup();
    };
    const timer = setTimeout(() => stop('timed_out'), request.timeoutMs);
    const onAbort = (): void => stop('aborted');
    request.signal.addEventListener('abort', onAbort, { once: true });
    if (request.signal.aborted) onAbort();

    let drainTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(drainTimer);
      request.signal.removeEventListener('abort', onAbort);
      const outputTail = output.text();
      if (stoppedBy) resolve({ outcome: stoppedBy, outputTail });
      else if (code !== null) resolve({ outcome: 'exited', exitCode: code, outputTail });
      else resolve({ outcome: 'killed', signal: signal ?? 'unknown', outputTail });
    };
    child.once('error', (error) => {
      clearTimeout(timer);
      request.signal.removeEventListener('abort', onAbort);
      reject(error);
    });
    // 'close' waits for the output pipes; a background process the command left running may hold them
    // open indefinitely, so after 'exit' the output is awaited only briefly.
    child.once('exit', (code, signal) => {
      drainTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code, signal);
      }, DRAIN_AFTER_EXIT_MS);
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => finish(code, signal));
  });
}
