/**
 * Runs the Temporal CLI's dev server as a child process with Courier's search attributes registered, and
 * waits until it answers. Used by the start command and by the test suite's global setup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { searchAttributes } from '../../common/names.js';

export interface DevServerOptions {
  port: number;
  /** Web UI port; omitted runs the server headless. */
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; omitted keeps them in memory. */
  dbFile?: string;
  logFile?: NodeJS.WritableStream;
  /**
   * SQLite pragmas for the file store (`--sqlite-pragma NAME=VALUE`), e.g. `journal_mode: 'WAL'`: its default
   * journal mode is slow (DESIGN §5).
   */
  sqlitePragmas?: Record<string, string>;
  /** Dynamic config values (`--dynamic-config-value KEY=VALUE`), e.g. a low continue-as-new threshold in tests. */
  dynamicConfig?: Record<string, number | string | boolean>;
}

export interface DevServer {
  address: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Path of the cached Temporal CLI, building it first when it is missing (scripts/temporal-cli.sh). */
export function temporalCliPath(): string {
  const script = fileURLToPath(new URL('../temporal-cli.sh', import.meta.url));
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

function devServerArgs(options: DevServerOptions): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(options.port), '--log-level', 'warn'];
  args.push(...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]));
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  for (const [name, value] of Object.entries(options.sqlitePragmas ?? {})) args.push('--sqlite-pragma', `${name}=${value}`);
  for (const key of Object.values(searchAttributes)) args.push('--search-attribute', `${key.name}=Keyword`);
  for (const [key, value] of Object.entries(options.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  return args;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const child = spawn(temporalCliPath(), devServerArgs(options), { stdio: ['ignore', 'pipe', 'pipe'] });
  if (options.logFile) {
    child.stdout?.pipe(options.logFile, { end: false });
    child.stderr?.pipe(options.logFile, { end: false });
  } else {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  const address = `127.0.0.1:${options.port}`;
  await waitUntilServing(address, child);
  return {
    address,
    process: child,
    stop: () => stopChild(child),
  };
}

async function waitUntilServing(address: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  let lastError: unknown;
  while (Date.now() - started < timeoutMs) {
    if (child.exitCode !== null) throw new Error(`Temporal dev server exited with code ${child.exitCode}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`Temporal dev server at ${address} did not answer within ${timeoutMs} ms: ${String(lastError)}`);
}

/** Stops a child politely, then firmly. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
