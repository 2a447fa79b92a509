/**
 * The api as an express app in the test's own process, on a PostgreSQL database of its own and the
 * suite's Temporal dev server (no worker): for tests that call routes by the thousand or read the app's
 * own route table, where a process per request would only add noise.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Express } from 'express';
import { inject } from 'vitest';
import { createApp } from '../../api/app.js';
import { PackageStore } from '../../api/package-store.js';
import { loadConfig } from '../../common/config.js';
import { loadOrCreateServerKey } from '../../trust/signing.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { silentLogger } from '../../common/logger.js';

/** A running in-process api; `stop()` closes it and drops its database and folder. */
export interface InProcessApi {
  app: Express;
  /** http://127.0.0.1:PORT, without /api/v1. */
  base: string;
  database: TestDatabase;
  storeDir: string;
  adminToken: string;
  enrollSecret: string;
  metricsToken: string;
  stop(): Promise<void>;
}

/** Starts one; `name` tells its folder and task queue from other test files'. */
export async function startInProcessApi(name: string): Promise<InProcessApi> {
  const adminToken = `admin-${randomBytes(8).toString('hex')}`;
  const enrollSecret = `enrol-${randomBytes(8).toString('hex')}`;
  const metricsToken = `metrics-${randomBytes(8).toString('hex')}`;
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), `courier-${name}-`));
  const config = loadConfig({
    COURIER_DATA_DIR: dataDir,
    COURIER_ADMIN_TOKEN: adminToken,
    COURIER_ENROLL_SECRET: enrollSecret,
    COURIER_METRICS_TOKEN: metricsToken,
    COURIER_TASK_QUEUE: `${name}-test-${randomBytes(4).toString('hex')}`,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    // The api as deployed on a network (it still listens on loopback here): the routes that are open on a
    // loopback-only api, such as GET /metrics, then ask for their tokens.
    COURIER_API_HOST: '0.0.0.0',
  });
  const connection = await Connection.connect({ address: config.temporalAddress });
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  const serverKey = await loadOrCreateServerKey(config.signingKeyFile);
  const app = createApp({ db: database.db, temporal, config, serverKey, store: new PackageStore(config.storeDir), logger: silentLogger() });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  return {
    app,
    base: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    database,
    storeDir: config.storeDir,
    adminToken,
    metricsToken,
    enrollSecret,
    async stop() {
      await new Promise((resolve) => server.close(resolve));
      await connection.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
