/**
 * Starting Courier's own programs (api, worker, agents) as real processes. Each runs in a single Node
 * process with tsx loaded as a hook (not the tsx CLI, which forks a second process that a kill would orphan),
 * or, for the api and the worker, as a production build's compiled JavaScript (`npm run build`).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnProcess, type ManagedProcess } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Waits for a child's readiness line; a child that never gets ready is stopped rather than left behind. */
async function ready(child: ManagedProcess, pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray> {
  try {
    return await child.waitForLine(pattern, timeoutMs);
  } catch (error) {
    await child.stop();
    throw error;
  }
}

function spawnTs(name: string, entry: string, args: string[], env: NodeJS.ProcessEnv, logFile?: string): ManagedProcess {
  return spawnProcess(name, process.execPath, ['--import', 'tsx', `${root}${entry}`, ...args], { cwd: root, env, logFile });
}

/** Where the api and the worker run from: the checkout's TypeScript, or the compiled build in folder `built`. */
export interface ProgramSource {
  built?: string;
}

/** `entry` (`api/main`) from `source`: compiled JavaScript with plain node, else TypeScript through tsx. */
function spawnProgram(name: string, entry: string, env: NodeJS.ProcessEnv, source: ProgramSource, logFile?: string): ManagedProcess {
  if (!source.built) return spawnTs(name, `${entry}.ts`, [], env, logFile);
  return spawnProcess(name, process.execPath, [join(source.built, `${entry}.js`)], { cwd: root, env, logFile });
}

/** Starts the api and resolves with its URL once it listens. */
export async function startApi(env: NodeJS.ProcessEnv, logFile?: string, source: ProgramSource = {}): Promise<{ process: ManagedProcess; url: string }> {
  const api = spawnProgram('api', 'api/main', env, source, logFile);
  const [, url] = await ready(api, /courier api listening on (https?:\/\/[^\s"]+)/);
  return { process: api, url: url as string };
}

/** Starts a worker and resolves once it polls its task queue. */
export async function startWorker(env: NodeJS.ProcessEnv, logFile?: string, source: ProgramSource = {}): Promise<ManagedProcess> {
  const worker = spawnProgram('worker', 'worker/main', env, source, logFile);
  await ready(worker, /courier worker polling/, 120_000);
  return worker;
}

export interface AgentOptions {
  role: 'relay' | 'computer';
  name: string;
  serverUrl: string;
  enrollSecret: string;
  dataDir: string;
  relay?: string;
  /** Computers: `--label key=value` flags. */
  labels?: Record<string, string>;
  port?: number;
  uiPort?: number;
}

export function agentArgs(options: AgentOptions): string[] {
  const args = ['--role', options.role, '--name', options.name, '--server', options.serverUrl];
  args.push('--port', String(options.port ?? 0), '--data-dir', options.dataDir);
  if (options.relay) args.push('--relay', options.relay);
  if (options.uiPort !== undefined) args.push('--ui-port', String(options.uiPort));
  for (const [key, value] of Object.entries(options.labels ?? {})) args.push('--label', `${key}=${value}`);
  return args;
}

/** Where a started agent can be reached: its URL and, when it was given a `uiPort`, its self-service page. */
export interface AgentUrls {
  url: string;
  pageUrl?: string;
}

/**
 * Starts an agent; `ready` resolves once it has enrolled and listens. The process is there at once, for an
 * agent that has to wait (for the api, for its relay) before it can enrol.
 */
export function launchAgent(
  options: AgentOptions,
  env: NodeJS.ProcessEnv = process.env,
  logFile?: string,
): { process: ManagedProcess; ready: Promise<AgentUrls> } {
  // The secret travels in the environment, not in the process listing.
  const agentEnv = { ...env, COURIER_ENROLL_SECRET: options.enrollSecret };
  const agent = spawnTs(`agent ${options.name}`, 'agent/main.ts', agentArgs(options), agentEnv, logFile);
  const urls = async (): Promise<AgentUrls> => {
    const [, url] = await ready(agent, /listening on (http\S+)/);
    if (options.uiPort === undefined) return { url: url as string };
    const [, pageUrl] = await ready(agent, /self-service page on (http\S+)/);
    return { url: url as string, pageUrl: pageUrl as string };
  };
  return { process: agent, ready: urls() };
}

/** Starts an agent and resolves once it has enrolled and listens. */
export async function startAgent(
  options: AgentOptions,
  env: NodeJS.ProcessEnv = process.env,
  logFile?: string,
): Promise<{ process: ManagedProcess } & AgentUrls> {
  const launched = launchAgent(options, env, logFile);
  return { process: launched.process, ...(await launched.ready) };
}
