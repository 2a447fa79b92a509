/**
 * Child processes with names, logs and readiness: the start command and the integration tests both run
 * Courier as real processes (api, worker, agents) through this.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { stopChild } from './temporal-dev-server.js';

const RECENT_LINES = 200;

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where the process's output goes; kept in memory only when omitted. */
  logFile?: string;
}

/** A running child whose output can be awaited line by line. */
export class ManagedProcess {
  readonly recent: string[] = [];
  private readonly waiters = new Set<(line: string) => void>();

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    logFile?: string,
  ) {
    const log = logFile ? (mkdirSync(dirname(logFile), { recursive: true }), createWriteStream(logFile, { flags: 'a' })) : undefined;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        log?.write(`${line}\n`);
        this.recent.push(line);
        if (this.recent.length > RECENT_LINES) this.recent.shift();
        for (const waiter of this.waiters) waiter(line);
      });
    }
    child.once('exit', () => log?.end());
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first line (from now on, or already seen) that matches; rejects if the process exits. */
  waitForLine(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    for (const line of this.recent) {
      const match = line.match(pattern);
      if (match) return Promise.resolve(match);
    }
    return new Promise((resolve, reject) => {
      const done = (error?: Error, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        this.waiters.delete(onLine);
        this.child.off('exit', onExit);
        if (error) reject(error);
        else resolve(match as RegExpMatchArray);
      };
      const onLine = (line: string) => {
        const match = line.match(pattern);
        if (match) done(undefined, match);
      };
      const onExit = (code: number | null) =>
        done(new Error(`${this.name} exited (code ${code}) before printing ${pattern}:\n${this.recent.slice(-20).join('\n')}`));
      const timer = setTimeout(
        () => done(new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.recent.slice(-20).join('\n')}`)),
        timeoutMs,
      );
      this.waiters.add(onLine);
      this.child.once('exit', onExit);
    });
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }

  /** Kills without warning, as a crash would. */
  kill(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    return this.running ? exited : Promise.resolve();
  }
}

export function spawnProcess(name: string, command: string, args: string[], options: SpawnOptions = {}): ManagedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ManagedProcess(name, child, options.logFile);
}
