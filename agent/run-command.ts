/**
 * Runs an install command the way an administrator expects: `sh -c` in the package's folder, with a
 * timeout, and the tail of its output kept for the job report. The command sees only an allowlisted
 * environment, never the agent's secrets. A command stopped (by its timeout or by the agent stopping) is
 * sent SIGTERM, with everything it started, and SIGKILL only if it has not ended a grace period later.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** How much combined stdout/stderr is kept: enough to show an error, small enough for a status. */
const OUTPUT_TAIL_BYTES = 4096;

/** After the shell exits, how long output from processes it left behind is still awaited. */
const DRAIN_AFTER_EXIT_MS = 1000;

/** How long a stopped command has, after SIGTERM, to end before it is killed. */
export const DEFAULT_KILL_GRACE_MS = 10_000;

/**
 * The agent's environment variables an install command inherits: what a shell needs to find programs and
 * speak the locale. Everything else (the enrolment secret, tokens, a database URL in a shared container)
 * stays with the agent; the command gets the COURIER_* variables of its order on top.
 */
export const INHERITED_ENVIRONMENT: readonly string[] = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'];

/** One install command to run. */
export interface CommandRequest {
  command: string;
  cwd: string;
  /** Added to the allowlisted part of the agent's environment (INHERITED_ENVIRONMENT). */
  env: Record<string, string>;
  timeoutMs: number;
  /** Aborting (the agent stopping) stops the command. */
  signal: AbortSignal;
  /** Between SIGTERM and SIGKILL when the command is stopped; DEFAULT_KILL_GRACE_MS unless given. */
  killGraceMs?: number;
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
      env: { ...inheritedEnvironment(), ...request.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = new OutputTail();
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));

    const group = new ProcessGroup(child.pid);
    let stoppedBy: 'timed_out' | 'aborted' | undefined;
    let killAt = 0;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (reason: 'timed_out' | 'aborted'): void => {
      if (stoppedBy) return;
      stoppedBy = reason;
      group.signal('SIGTERM');
      const graceMs = request.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
      killAt = Date.now() + graceMs;
      // For a shell that ignores SIGTERM: it never exits on its own.
      killTimer = setTimeout(() => group.signal('SIGKILL'), graceMs);
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
      if (!stoppedBy) {
        resolve(code !== null ? { outcome: 'exited', exitCode: code, outputTail } : { outcome: 'killed', signal: signal ?? 'unknown', outputTail });
        return;
      }
      // The shell has ended; what it started gets the rest of the grace period, then SIGKILL.
      const outcome = stoppedBy;
      void group.endBy(killAt).then(() => {
        clearTimeout(killTimer);
        resolve({ outcome, outputTail });
      });
    };
    child.once('error', (error) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
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

/** How often a stopped command's process group is checked for processes still running. */
const GROUP_POLL_MS = 100;

/** The process group a command runs in (the shell is its leader), signalled and watched as one. */
class ProcessGroup {
  constructor(private readonly leader: number | undefined) {}

  signal(signal: NodeJS.Signals | 0): boolean {
    if (this.leader === undefined) return false;
    try {
      process.kill(-this.leader, signal);
      return true;
    } catch {
      // ESRCH: no process of the group is left.
      return false;
    }
  }

  /** Waits until no process of the group is left, SIGKILLing what is left at `killAt`. */
  async endBy(killAt: number): Promise<void> {
    while (this.signal(0) && Date.now() < killAt) await sleep(GROUP_POLL_MS);
    this.signal('SIGKILL');
  }
}

/** The allowlisted variables of the agent's own environment that are set. */
function inheritedEnvironment(): Record<string, string> {
  const inherited: Record<string, string> = {};
  for (const name of INHERITED_ENVIRONMENT) {
    const value = process.env[name];
    if (value !== undefined) inherited[name] = value;
  }
  return inherited;
}
