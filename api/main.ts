/**
 * `npm run api`: the managing server's REST API process. Configuration comes from the environment
 * (common/config.ts); COURIER_API_HOST chooses the listening address, loopback by default so a fresh
 * install is not reachable from the network until an operator says so.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { connectDatabase } from '../db/client.js';
import { migrateDatabase } from '../db/migrate.js';
import { loadOrCreateServerKey } from '../trust/signing.js';
import { createApp } from './app.js';
import { PackageStore } from './package-store.js';
import { launchUnlaunchedJobs } from './services/job-recovery.js';

const config = loadConfig(process.env);
const logger = createLogger('api');
const missing = [
  ...(config.adminToken ? [] : ['COURIER_ADMIN_TOKEN']),
  ...(config.enrollSecret ? [] : ['COURIER_ENROLL_SECRET']),
].join(' and ');
if (missing) {
  logger.fatal(`set ${missing}; the api refuses to start without its secrets`);
  process.exit(1);
}
const host = config.apiHost;

/** Stops with one readable line instead of a stack trace when a dependency is missing at start. */
function startFailed(step: string, error: unknown): never {
  logger.fatal({ err: error }, `cannot ${step}`);
  process.exit(1);
}

/** The certificate chain and key COURIER_TLS_CERT_FILE and COURIER_TLS_KEY_FILE name. */
function readTls(files: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  } catch (error) {
    return startFailed('read the TLS certificate and key', error);
  }
}

await migrateDatabase(config.databaseUrl).catch((error: unknown) => startFailed('migrate the database', error));
const serverKey = await loadOrCreateServerKey(config.signingKeyFile).catch((error: unknown) =>
  startFailed(`read the signing key ${config.signingKeyFile}`, error),
);
const database = connectDatabase(config.databaseUrl);
// Lazy: the api starts (and health reports Temporal as down) even while Temporal is still starting.
const connection = Connection.lazy({ address: config.temporalAddress });
const temporal = new Client({ connection, namespace: config.temporalNamespace });
const store = new PackageStore(config.storeDir);

const app = createApp({ db: database.db, temporal, config, serverKey, store, logger });
const { tls } = config;
const server = tls ? createHttpsServer(readTls(tls), app) : createHttpServer(app);
server.on('error', (error) => {
  logger.fatal({ err: error }, `cannot listen on ${host}:${config.apiPort}`);
  process.exit(1);
});
server.listen(config.apiPort, host, () => {
  const { port } = server.address() as { port: number };
  logger.info(`courier api listening on ${tls ? 'https' : 'http'}://${host}:${port}`);
  // Operators give this to agents (--server-key-fingerprint) to pin the key before their first enrolment.
  logger.info({ keyId: serverKey.keyId }, `orders are signed with key ${serverKey.keyId}`);
});

/** How often the api looks for jobs a crash left written but never handed to Temporal. */
const STRANDED_JOBS_SWEEP_MS = 30_000;

async function handOverStrandedJobs(): Promise<void> {
  try {
    const launched = await launchUnlaunchedJobs({ db: database.db, temporal, config, logger });
    if (launched > 0) logger.info(`started the workflows of ${launched} job(s) written before a crash`);
  } catch (error) {
    logger.error({ err: error }, 'could not hand stranded jobs to Temporal yet');
  }
}
void handOverStrandedJobs();

/** An upload untouched this long is no longer in progress anywhere (its file grows while it is). */
const ABANDONED_UPLOAD_MS = 24 * 3600_000;
store
  .sweepAbandonedUploads(ABANDONED_UPLOAD_MS)
  .then((removed) => removed > 0 && logger.info(`removed ${removed} upload(s) abandoned by a crash`))
  .catch((error: unknown) => logger.error({ err: error }, 'could not sweep abandoned uploads'));
const sweep = setInterval(() => void handOverStrandedJobs(), STRANDED_JOBS_SWEEP_MS);
sweep.unref();

/** Long downloads get this long to finish before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

async function shutdown(signal: string): Promise<void> {
  logger.info(`${signal}, closing`);
  clearInterval(sweep);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
  await closed;
  await connection.close();
  await database.close();
  process.exit(0);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void shutdown(signal));
}
