/**
 * Configuration of the managing server's processes (api, worker), read from the environment with working
 * defaults. Pure: the caller passes the environment, so tests build configs without touching process.env.
 */
import { DEFAULT_TASK_QUEUE } from './names.js';
import { DEFAULT_REPORT_EVERY_MS } from './orders.js';
import { DEFAULT_DOWNLOADS_PER_RELAY, DEFAULT_SERVER_DOWNLOADS } from './throughput.js';

/** The managing server's settings, as loadConfig derives them. */
export interface CourierConfig {
  databaseUrl: string;
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  apiPort: number;
  /** The address the api listens on: loopback unless an operator opens it to the network. */
  apiHost: string;
  /** The URL agents and relays use to reach the api (downloads, enrolment). */
  publicUrl: string;
  adminToken: string | undefined;
  /** A read-only secret for Prometheus: it may scrape the api's GET /metrics and call nothing else. */
  metricsToken: string | undefined;
  enrollSecret: string | undefined;
  /** The api serves HTTPS with this certificate chain and key (PEM files) when both are set. */
  tls: { certFile: string; keyFile: string } | undefined;
  dataDir: string;
  /** Content-addressed package store. */
  storeDir: string;
  signingKeyFile: string;
  /** How long a job keeps retrying unreachable targets when it was given no deadline. */
  defaultDeadlineMs: number;
  /** How often an activity re-sends an order to ask a relay how a store is getting on. */
  agentPollMs: number;
  /** How often computers report on an install order they hold; three missed reports make a computer silent. */
  reportEveryMs: number;
  /** A job's download slots per relay and on the managing server, unless the job sets its own. */
  downloadsPerRelay: number;
  serverDownloads: number;
  /** How often agents check in (their answer tells them); one unheard of for three intervals is offline. */
  checkInEveryMs: number;
  /** Bytes per second the managing server sends of package content to all agents together; 0 is no limit. */
  serverBandwidthLimit: number;
  /** Where the worker serves its metrics (Courier's and the Temporal SDK's); port 0 serves none. */
  workerMetrics: { host: string; port: number };
  /** Workflows the worker keeps in memory between their tasks (docs/scaling.md). */
  workerCachedWorkflows: number;
}

/** Environment variables, as process.env holds them. */
export type Environment = Record<string, string | undefined>;

function integer(env: Environment, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function positive(env: Environment, name: string, fallback: number): number {
  const value = integer(env, name, fallback);
  if (value === 0) throw new Error(`${name} must be at least 1`);
  return value;
}

/** COURIER_TLS_CERT_FILE and COURIER_TLS_KEY_FILE: both or neither, since half a certificate serves nothing. */
function tlsFiles(env: Environment): CourierConfig['tls'] {
  const certFile = env.COURIER_TLS_CERT_FILE || undefined;
  const keyFile = env.COURIER_TLS_KEY_FILE || undefined;
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new Error('set both COURIER_TLS_CERT_FILE and COURIER_TLS_KEY_FILE to serve HTTPS, or neither');
  }
  return { certFile, keyFile };
}

/** How often agents check in unless COURIER_CHECK_IN_EVERY_MS says otherwise: a larger fleet wants longer (docs/scaling.md). */
export const DEFAULT_CHECK_IN_EVERY_MS = 5 * 60_000;

/**
 * Workflows the worker keeps in memory unless COURIER_WORKER_CACHED_WORKFLOWS says otherwise. The SDK's
 * default follows the heap limit (about 2,300 on a machine of 16 GiB or more), so every batch of a
 * 100,000-computer job stayed cached; one evicted is replayed from its history at its next task (a
 * batch's run has a few hundred events: it continues as new before it grows). The benchmark measured 20
 * and 100: at 10,000 computers the job took the same time and CPU with either; at 100,000, with 100 it
 * stalled with the worker at 591 MiB, with 20 one run finished with the worker at 476 MiB (a later one, on
 * a slower machine, stalled at the fleet simulator's door at 546 MiB; docs/scaling.md). 0 caches none.
 */
export const DEFAULT_WORKER_CACHED_WORKFLOWS = 20;

/** Reads the configuration; throws on a malformed number rather than fall back silently. */
export function loadConfig(env: Environment): CourierConfig {
  const apiPort = integer(env, 'COURIER_API_PORT', 3000);
  const dataDir = env.COURIER_DATA_DIR || '.courier';
  return {
    databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/courier',
    temporalAddress: env.TEMPORAL_ADDRESS || `127.0.0.1:${integer(env, 'TEMPORAL_PORT', 7233)}`,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.COURIER_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    apiPort,
    apiHost: env.COURIER_API_HOST || '127.0.0.1',
    publicUrl: (env.COURIER_PUBLIC_URL || `${env.COURIER_TLS_CERT_FILE ? 'https' : 'http'}://127.0.0.1:${apiPort}`).replace(/\/+$/, ''),
    adminToken: env.COURIER_ADMIN_TOKEN || undefined,
    metricsToken: env.COURIER_METRICS_TOKEN || undefined,
    enrollSecret: env.COURIER_ENROLL_SECRET || undefined,
    tls: tlsFiles(env),
    dataDir,
    storeDir: `${dataDir}/store`,
    signingKeyFile: env.COURIER_SIGNING_KEY_FILE || `${dataDir}/keys/server-ed25519.pem`,
    defaultDeadlineMs: integer(env, 'COURIER_DEFAULT_DEADLINE_SECONDS', 24 * 3600) * 1000,
    agentPollMs: integer(env, 'COURIER_AGENT_POLL_MS', 1000),
    reportEveryMs: positive(env, 'COURIER_REPORT_EVERY_MS', DEFAULT_REPORT_EVERY_MS),
    downloadsPerRelay: positive(env, 'COURIER_DOWNLOADS_PER_RELAY', DEFAULT_DOWNLOADS_PER_RELAY),
    serverDownloads: positive(env, 'COURIER_SERVER_DOWNLOADS', DEFAULT_SERVER_DOWNLOADS),
    checkInEveryMs: positive(env, 'COURIER_CHECK_IN_EVERY_MS', DEFAULT_CHECK_IN_EVERY_MS),
    serverBandwidthLimit: integer(env, 'COURIER_SERVER_BANDWIDTH_LIMIT', 0),
    workerMetrics: { host: env.COURIER_WORKER_METRICS_HOST || '127.0.0.1', port: integer(env, 'COURIER_WORKER_METRICS_PORT', 9464) },
    workerCachedWorkflows: integer(env, 'COURIER_WORKER_CACHED_WORKFLOWS', DEFAULT_WORKER_CACHED_WORKFLOWS),
  };
}
