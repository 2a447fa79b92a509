/**
 * The fleet simulator (scripts/fleet.ts) as a child process for tests: started against a stack's api,
 * ready once it prints its JSON line, inspected and steered through its loopback control routes.
 */
import { fileURLToPath } from 'node:url';
import { spawnProcess, type ManagedProcess } from '../../scripts/lib/processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The fleet's ready line. */
export interface FleetReady {
  ready: true;
  url: string;
  computers: number;
  relays: number;
  offline: string[];
  deadRelays: string[];
  namePrefix: string;
  dataDir: string;
  enrolmentMs: { relays: number; computers: number };
  memory: { rssBytes: number; heapUsedBytes: number; heapPerThousandComputersBytes: number };
}

/** The command-line options of scripts/fleet.ts, by their flag names without `--`. */
export interface FleetOptions {
  server: string;
  enrollSecret: string;
  computers: number;
  relays?: number;
  installMs?: number;
  failRate?: number;
  namePrefix?: string;
  direct?: number;
  offline?: number;
  deadRelays?: number;
  dataDir?: string;
  enrollConcurrency?: number;
  seed?: number;
}

/** `namePrefix` → `--name-prefix`. */
function flag(name: string): string {
  return `--${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** A running fleet process. */
export class RunningFleet {
  private constructor(
    readonly process: ManagedProcess,
    readonly ready: FleetReady,
  ) {}

  /** Starts the fleet and resolves once every agent has enrolled (or rejects, the process stopped). */
  static async start(options: FleetOptions, readyTimeoutMs = 120_000): Promise<RunningFleet> {
    const { enrollSecret, ...flags } = options;
    const args = Object.entries(flags).flatMap(([name, value]) => (value === undefined ? [] : [flag(name), String(value)]));
    // The secret travels in the environment, not in the process listing; tsx as a hook keeps it one process.
    const child = spawnProcess('fleet', process.execPath, ['--expose-gc', '--import', 'tsx', `${root}scripts/fleet.ts`, ...args], {
      cwd: root,
      env: { ...process.env, COURIER_ENROLL_SECRET: enrollSecret },
    });
    try {
      const [line] = await child.waitForLine(/^\{"ready":true.*\}$/, readyTimeoutMs);
      return new RunningFleet(child, JSON.parse(line) as FleetReady);
    } catch (error) {
      await child.stop();
      throw error;
    }
  }

  /** Where the managing server sends agent `name` its orders. */
  agentUrl(name: string): string {
    return `${this.ready.url}/agents/${name}`;
  }

  /** GET /fleet/stats. */
  async stats(): Promise<any> {
    return this.control('GET', '/stats');
  }

  /** Switches a machine off: its connections are dropped from now on. */
  async switchOff(name: string): Promise<void> {
    await this.control('POST', `/agents/${name}/offline`);
  }

  /** Switches a machine back on. */
  async switchOn(name: string): Promise<void> {
    await this.control('POST', `/agents/${name}/online`);
  }

  stop(): Promise<void> {
    return this.process.stop();
  }

  private async control(method: string, path: string): Promise<any> {
    const response = await fetch(`${this.ready.url}/fleet${path}`, { method });
    if (!response.ok) throw new Error(`fleet ${method} ${path}: HTTP ${response.status} ${await response.text()}`);
    return response.json();
  }
}
