/**
 * The worker process: runs Courier's workflows and activities on the configured task queue. Stateless apart
 * from PostgreSQL and Temporal, so several can run side by side.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { AgentClient } from '../activities/agent-client.js';
import { createActivities } from '../activities/index.js';
import { loadConfig } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { connectDatabase } from '../db/client.js';
import { migrateDatabase } from '../db/migrate.js';
import { loadOrCreateServerKey } from '../trust/signing.js';
import { WorkerMetrics } from './metrics.js';
import { PinoSdkLogger } from './sdk-log.js';
import { workflowBundle } from './workflow-bundle.js';

const config = loadConfig(process.env);
const logger = createLogger('worker');
await migrateDatabase(config.databaseUrl);
const database = connectDatabase(config.databaseUrl);
const key = await loadOrCreateServerKey(config.signingKeyFile);
const metrics = new WorkerMetrics();
const serveMetrics = config.workerMetrics.port !== 0;
// Before the first connection, which creates the SDK's runtime with whatever is installed by then.
Runtime.install({
  logger: new PinoSdkLogger(logger),
  ...(serveMetrics && { telemetryOptions: { metrics: await metrics.sdkMetricsOptions() } }),
});
const connection = await NativeConnection.connect({ address: config.temporalAddress });
// Activities start and signal the workflows that own relay copies, through an ordinary client.
const clientConnection = await Connection.connect({ address: config.temporalAddress });
const temporal = new Client({ connection: clientConnection, namespace: config.temporalNamespace });

const worker = await Worker.create({
  connection,
  namespace: config.temporalNamespace,
  taskQueue: config.taskQueue,
  workflowBundle: await workflowBundle(),
  maxCachedWorkflows: config.workerCachedWorkflows,
  activities: createActivities({
    db: database.db,
    agents: new AgentClient({ key, observe: metrics.orderRoundTrip }),
    key,
    temporal,
    taskQueue: config.taskQueue,
    publicUrl: config.publicUrl,
    agentPollMs: config.agentPollMs,
    reportEveryMs: config.reportEveryMs,
    downloads: { perRelay: config.downloadsPerRelay, server: config.serverDownloads },
    clock: () => new Date(),
  }),
});

const metricsServer = serveMetrics ? await metrics.serve(config.workerMetrics) : undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => worker.shutdown());
if (serveMetrics) logger.info(`courier worker metrics at http://${config.workerMetrics.host}:${config.workerMetrics.port}/metrics`);
logger.info({ taskQueue: config.taskQueue }, `courier worker polling task queue ${config.taskQueue} at ${config.temporalAddress}`);
await worker.run();
metricsServer?.close();
await database.close();
await clientConnection.close();
await connection.close();
