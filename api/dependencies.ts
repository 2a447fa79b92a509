/** Everything the api needs from outside, passed in by api/main.ts or by a test. */
import type { Client } from '@temporalio/client';
import type { CourierConfig } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import type { Database } from '../db/client.js';
import type { ServerKey } from '../trust/signing.js';
import type { PackageStore } from './package-store.js';

/** The api's dependencies: its database, its Temporal client, configuration, signing key, package store and logger. */
export interface AppDependencies {
  db: Database;
  temporal: Client;
  config: CourierConfig;
  serverKey: ServerKey;
  store: PackageStore;
  logger: Logger;
}

/** A drizzle transaction, for helpers that must run inside one. */
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
