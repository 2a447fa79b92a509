/**
 * A simulated fleet: relays and computers on the real agent code (order intake, resumable downloads,
 * verification, safe extraction, relay store and serving) in one process, behind one listener, with only
 * the install command simulated. A large fleet can be split over several processes, each running one
 * shard of the same plan (relays with their computers), so that no one heap holds every agent. Enrolment goes through the managing server's real POST /enroll with
 * bounded concurrency, relays first since computers name them.
 */
import { join } from 'node:path';
import { Agent } from '../agent.js';
import type { Clock, FetchLike, Log } from '../deps.js';
import type { OfferChoice } from '../../common/states.js';
import type { ChoiceAnswer } from '../offers.js';
import { controlRoutes, type FleetInstalls, type FleetStats } from './control.js';
import { FloorRun, type FloorProgress, type FloorRequest } from './floor.js';
import { FleetHost } from './host.js';
import { forEachLimited } from '../../common/concurrency.js';
import { countOrderStates } from './order-stats.js';
import { planFleet, shardOf, WHOLE_FLEET, type FleetPlan, type FleetShape, type FleetShard, type PlannedAgent } from './plan.js';
import { seededRandom } from './random.js';
import { SimulatedInstalls } from './simulated-install.js';
import { Traffic } from './traffic.js';

/** Everything a fleet is asked to be. */
export interface FleetOptions extends FleetShape {
  serverUrl: string;
  enrollSecret: string;
  /** Each agent's data folder is `<dataDir>/<name>`. */
  dataDir: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  installMs: number;
  failRate: number;
  /** Seeds the choice of offline computers and of failing installs. */
  seed: number;
  /** Enrolments in flight at once; each is a database transaction on the api. */
  enrolConcurrency: number;
  /** The part of the planned fleet this process runs (default all of it); see shardOf(). */
  shard?: FleetShard;
}

/** The process's memory, as the fleet reports it. */
export interface MemoryFigures {
  rssBytes: number;
  /** After a garbage collection when one can be forced, so that it measures what is kept. */
  heapUsedBytes: number;
}

/** The outside world, injected. */
export interface FleetDeps {
  fetch: FetchLike;
  clock: Clock;
  /** Progress for the operator. */
  log: Log;
  /** What the agents themselves log (retries, unexpected errors). */
  agentLog: Log;
  memory: () => MemoryFigures;
}

/** How often enrolment progress is logged. */
const PROGRESS_EVERY_MS = 2000;

/** A fleet: construct, start() once, stop() (also while it is still starting). */
export class Fleet {
  readonly plan: FleetPlan;
  private readonly host: FleetHost;
  private readonly simulation: SimulatedInstalls;
  private readonly traffic: Traffic;
  /** Every agent started so far, by name. */
  private readonly agents = new Map<string, Agent>();
  private readonly enrolmentMs = { relays: 0, computers: 0 };
  private heapPerThousandComputersBytes = 0;
  private stopping = false;
  private starting: Promise<void> | undefined;
  private floorRun: FloorRun | undefined;

  constructor(
    private readonly options: FleetOptions,
    private readonly deps: FleetDeps,
  ) {
    const random = seededRandom(options.seed);
    this.plan = shardOf(planFleet(options, random), options.shard ?? WHOLE_FLEET);
    this.simulation = new SimulatedInstalls({ installMs: options.installMs, failRate: options.failRate, random });
    this.host = new FleetHost(controlRoutes(this), deps.log, (agent, response) => this.traffic.relayServes(agent, response));
    this.traffic = new Traffic(deps.fetch, (url) => this.host.isAgentUrl(url));
  }

  /** The listener's base URL; agent `name` is at `<url>/agents/<name>`. */
  get url(): string {
    return this.host.url;
  }

  /** Listens, then enrols and starts every relay, then every computer, and switches off the planned ones. */
  start(): Promise<void> {
    this.starting = this.startEverything();
    return this.starting;
  }

  /**
   * Stops listening first (so the server sees unreachable machines, not refusals), then every agent, and
   * waits for a start in progress to give up.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.host.close();
    await Promise.allSettled([...this.agents.values()].map((agent) => agent.stop()));
    // An agent still starting makes its folders before it notices the stop: wait, so nothing writes after this.
    await this.starting?.catch(() => undefined);
    // A start stopped while binding the listener may have bound it since.
    await this.host.close();
  }

  private async startEverything(): Promise<void> {
    await this.host.listen(this.options.host, this.options.port);
    this.deps.log(`listening on ${this.url}; enrolling with ${this.options.serverUrl}`);
    this.enrolmentMs.relays = await this.startAll(this.plan.relays, 'relays');
    // Measured from here, once the relays have loaded what loads lazily (fetch, the router), so the figure is per computer.
    const heapBefore = this.deps.memory().heapUsedBytes;
    this.enrolmentMs.computers = await this.startAll(this.plan.computers, 'computers');
    const grown = this.deps.memory().heapUsedBytes - heapBefore;
    this.heapPerThousandComputersBytes = Math.round((grown / Math.max(1, this.plan.computers.length)) * 1000);
  }

  /** Switches an agent off (connections dropped) or back on; false when no agent has that name. */
  setOnline(name: string, online: boolean): boolean {
    return this.host.setOnline(name, online);
  }

  /** How far each job's install commands have come; from memory, cheap at any fleet size. */
  installs(): FleetInstalls {
    return { jobs: this.simulation.progressByJob() };
  }

  /**
   * A user's choice on computer `name`, made as on its self-service page; undefined when no agent has that
   * name (a relay answers 404 itself). A computer that is switched off has no user at it: 409.
   */
  async choose(name: string, jobId: string, choice: OfferChoice): Promise<ChoiceAnswer | undefined> {
    const agent = this.agents.get(name);
    if (!agent) return undefined;
    if (this.host.offline().includes(name)) {
      return { status: 409, body: { error: { code: 'offline', message: `${name} is switched off: nobody can choose on it` } } };
    }
    return agent.choose(jobId, choice);
  }

  /** Starts the floor (agent/fleet/floor.ts) on this fleet's loopback and CPU; false while one runs. */
  startFloor(request: FloorRequest): boolean {
    if (this.floorRun?.progress().running) return false;
    this.floorRun = new FloorRun(request, this.deps.fetch);
    void this.floorRun.start();
    return true;
  }

  floor(): FloorProgress | undefined {
    return this.floorRun?.progress();
  }

  /** See FleetStats; reads the order records of every agent that was sent an order. */
  async stats(): Promise<FleetStats> {
    const memory = this.deps.memory();
    return {
      computers: this.plan.computers.length,
      relays: this.plan.relays.length,
      offline: this.host.offline(),
      installs: this.simulation.summary(),
      installRuns: this.simulation.runsByComputer(),
      orders: await countOrderStates([...this.host.ordered].map((name) => this.dataDirOf(name)), this.deps.agentLog),
      bytesDownloaded: this.traffic.totals(),
      peakDownloadsPerRelay: this.traffic.peakDownloadsPerRelay(),
      enrolmentMs: { ...this.enrolmentMs },
      memory: { ...memory, heapPerThousandComputersBytes: this.heapPerThousandComputersBytes },
    };
  }

  /** Starts `planned` with bounded concurrency, logging progress; returns how long it took. */
  private async startAll(planned: readonly PlannedAgent[], what: string): Promise<number> {
    const started = this.deps.clock.now().getTime();
    let enrolled = 0;
    const progress = (): void => {
      const seconds = (this.deps.clock.now().getTime() - started) / 1000;
      this.deps.log(`enrolled ${enrolled}/${planned.length} ${what} (${Math.round(enrolled / Math.max(seconds, 0.001))}/s)`);
    };
    const ticker = setInterval(progress, PROGRESS_EVERY_MS).unref();
    try {
      await forEachLimited(planned, this.options.enrolConcurrency, async (agent) => {
        await this.startOne(agent);
        enrolled += 1;
      });
    } finally {
      clearInterval(ticker);
    }
    progress();
    return this.deps.clock.now().getTime() - started;
  }

  private async startOne(planned: PlannedAgent): Promise<void> {
    // A stop() during start leaves the rest unstarted; the agents in flight see their enrolment aborted.
    if (this.stopping) throw new DOMException('the fleet is stopping', 'AbortError');
    const agent = new Agent({
      role: planned.role,
      name: planned.name,
      dataDir: this.dataDirOf(planned.name),
      serverUrl: this.options.serverUrl,
      enrollSecret: this.options.enrollSecret,
      relayName: planned.relayName,
      fetch: this.traffic.fetchFor(planned.role),
      clock: this.deps.clock,
      log: this.deps.agentLog,
      ...(planned.role === 'computer' && { runCommand: this.simulation.runnerFor(planned.name) }),
    });
    this.agents.set(planned.name, agent);
    await agent.start({ shared: this.host });
    if (planned.offline) this.host.setOnline(planned.name, false);
  }

  private dataDirOf(name: string): string {
    return join(this.options.dataDir, name);
  }
}
