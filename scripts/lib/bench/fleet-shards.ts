/**
 * The benchmark's fleet as one: the simulator runs as one process, or for large fleets as several (each a
 * shard of the same plan: some relays and the computers they serve, agent/fleet/plan.ts), and this asks
 * each shard its part and adds the answers up. A choice goes to the shard that runs the computer; a floor
 * run is split by relay, so each shard downloads from its own relays, as its computers did in the job.
 */
import type { FloorProgress, FloorRequest } from '../../../agent/fleet/floor.js';
import { planFleet, shardOf } from '../../../agent/fleet/plan.js';
import { seededRandom } from '../../../agent/fleet/random.js';
import type { JobInstallProgress, RepeatedInstall } from '../../../agent/fleet/simulated-install.js';
import type { OfferChoice } from '../../../common/states.js';

/** A control route's answer. */
export interface ShardAnswer<T> {
  status: number;
  body: T;
}

/** The shards of one fleet, by their listeners' base URLs (shard i at urls[i]). */
export class FleetShards {
  /** Computer name → the shard that runs it. */
  private readonly shardByName = new Map<string, number>();

  constructor(
    private readonly urls: readonly string[],
    shape: { computers: number; relays: number; prefix: string },
    private readonly signal: AbortSignal,
  ) {
    const plan = planFleet({ ...shape, direct: 0, offline: 0, deadRelays: 0 }, seededRandom(1));
    urls.forEach((_, index) => {
      for (const computer of shardOf(plan, { index, count: urls.length }).computers) this.shardByName.set(computer.name, index);
    });
  }

  /** What the fleet's install commands did for `jobId` so far, from every shard's memory. */
  async installsOf(jobId: string): Promise<JobInstallProgress> {
    const answers = await this.everyShard<{ jobs: Record<string, JobInstallProgress> }>('GET', '/installs');
    const total = { started: 0, finished: 0, failed: 0 };
    for (const { jobs } of answers) {
      const progress = jobs[jobId];
      if (!progress) continue;
      total.started += progress.started;
      total.finished += progress.finished;
      total.failed += progress.failed;
    }
    return total;
  }

  /** Every (computer, job) whose install command ran more than once. */
  async repeatedInstalls(): Promise<RepeatedInstall[]> {
    const answers = await this.everyShard<{ installs: { repeated: RepeatedInstall[] } }>('GET', '/stats');
    return answers.flatMap((stats) => stats.installs.repeated);
  }

  /** A user's choice on computer `name`, made on its own shard as on its self-service page. */
  choose(name: string, jobId: string, choice: OfferChoice): Promise<ShardAnswer<unknown>> {
    const shard = this.shardByName.get(name);
    if (shard === undefined) throw new Error(`no shard of the fleet runs a computer named ${name}`);
    return this.request(shard, 'POST', `/agents/${name}/choices`, { jobId, choice });
  }

  /** Starts the floor on every shard, each for the computers whose relay it runs. */
  async startFloor(request: FloorRequest): Promise<FloorProgress> {
    const parts = this.urls.map((url) => ({ ...request, computers: request.computers.filter((computer) => computer.relayUrl.startsWith(`${url}/`)) }));
    const placed = parts.reduce((sum, part) => sum + part.computers.length, 0);
    if (placed !== request.computers.length) throw new Error(`floor: ${request.computers.length - placed} computers have a relay no shard runs`);
    const answers = await Promise.all(parts.map((part, shard) => this.request<FloorProgress>(shard, 'POST', '/floor', part)));
    const refused = answers.find((answer) => answer.status !== 202);
    if (refused) throw new Error(`floor: the fleet answered HTTP ${refused.status}: ${JSON.stringify(refused.body)}`);
    return mergeFloors(answers.map((answer) => answer.body));
  }

  /** The floor's progress on every shard, as one run. */
  async floor(): Promise<FloorProgress> {
    return mergeFloors(await this.everyShard<FloorProgress>('GET', '/floor'));
  }

  private async everyShard<T>(method: string, path: string): Promise<T[]> {
    return Promise.all(
      this.urls.map(async (_, shard) => {
        const { status, body } = await this.request<T>(shard, method, path);
        if (status !== 200) throw new Error(`${method} /fleet${path} on fleet process ${shard + 1}: HTTP ${status}`);
        return body;
      }),
    );
  }

  private async request<T>(shard: number, method: string, path: string, body?: unknown): Promise<ShardAnswer<T>> {
    const response = await fetch(`${this.urls[shard]}/fleet${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: this.signal,
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
}

/**
 * The shards' floor runs as one: it runs while any does and takes as long as the slowest. The shards start
 * within milliseconds of each other, so their finish times are put on one time line as they are.
 */
function mergeFloors(parts: readonly FloorProgress[]): FloorProgress {
  const running = parts.some((part) => part.running);
  const sum = (field: 'computers' | 'finished' | 'bytes' | 'retries') => parts.reduce((total, part) => total + part[field], 0);
  const error = parts.find((part) => part.error)?.error;
  return {
    running,
    computers: sum('computers'),
    finished: sum('finished'),
    bytes: sum('bytes'),
    retries: sum('retries'),
    finishedAtMs: running ? [] : parts.flatMap((part) => part.finishedAtMs).sort((a, b) => a - b),
    ...(!running && { ms: Math.max(...parts.map((part) => part.ms ?? 0)) }),
    ...(error !== undefined && { error }),
  };
}
