/** The figures one benchmark run produces: what the JSON file holds and what the report prints. */
import type { Egress, JobWorkflows, Point } from './measures.js';

/** The install job against the floor (steps 1–3 of the run). */
export interface InstallFigures {
  jobId: string;
  status: string;
  counts: Record<string, number>;
  /** From the job's execution time to its end (its `finishedAt`). */
  courierMs: number;
  /** How late POST /jobs answered after the execution time it asked for (0 normally). */
  startedLateMs: number;
  /** Install commands the fleet ran for the job, and how many (computer, job) pairs ran more than once. */
  fleetInstalls: { finished: number; failed: number; repeated: number };
  /** Computers finished over time, seconds from the execution time. */
  series: Point[];
  egress: Egress & { ratio: number };
  workflows: JobWorkflows;
  /** Rows PostgreSQL wrote during the job (inserts, updates, deletes), in all and per computer. */
  postgresRows: { total: number; perComputer: number };
  /** CPU seconds each process used from the execution time to the job's end (PostgreSQL: all its processes). */
  cpuSeconds: Record<string, number>;
}

/** The same downloads and installs with no Temporal and no database. */
export interface FloorFigures {
  ms: number;
  finished: number;
  bytesVerified: number;
  retries: number;
  downloadsPerRelay: number;
  series: Point[];
  /** CPU seconds each process used while the floor ran. */
  cpuSeconds: Record<string, number>;
}

/** The offer job (step 4). */
export interface OfferFigures {
  jobId: string;
  /** From its execution time until every computer's target read `offered`. */
  offeredMs: number;
  choices: { install: number; decline: number; refused: number };
  /** Sending the choices through the computers' agents, each accepted by the api (202). */
  choosingMs: number;
  /** From the first choice sent until the job counted every Install installed and every Decline declined. */
  carriedOutMs: number;
  /** The job's counts once the choices were carried out. */
  counts: Record<string, number>;
  /** Install commands the fleet ran for the offer job. */
  fleetInstalls: number;
}

/** The transfer job of a new package to every relay (step 5). */
export interface TransferFigures {
  jobId: string;
  status: string;
  ms: number;
  /** relay name → target state. */
  relayStates: Record<string, string>;
  egress: Egress & { ratio: number };
  /** With --relay-bandwidth: each relay's limit, and the rate the slowest relay got (size ÷ the job's time). */
  bandwidth?: { limit: number; slowestRelayRate: number };
}

/** Everything a run measured, and where it was written. */
export interface BenchFigures {
  command: string;
  date: string;
  machine: { cores: number; memoryBytes: number; cpu: string; node: string };
  config: { computers: number; relays: number; sizeBytes: number; installMs: number; downloadsPerRelay: number; fleetProcesses: number };
  install: InstallFigures;
  /** Null when the run was asked to leave the floor out (--skip-floor). */
  floor: FloorFigures | null;
  /** Courier's time ÷ the floor's; null without a floor. */
  ratio: number | null;
  /** Peak RSS (VmHWM) in bytes of api, worker, fleet and Temporal dev server. */
  peakRssBytes: Record<string, number>;
  /** Median response time of GET /jobs/:id (the install job) and GET /computers, at the end of the run. */
  responseMs: { job: number; computers: number };
  offer: OfferFigures | null;
  transfer: TransferFigures | null;
}

/** Where a run's output went. */
export interface BenchFiles {
  json: string;
  svg: string;
  markdown: string;
}
