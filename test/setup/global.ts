/**
 * Starts one Temporal dev server for the whole suite (faster than one per file) and hands its address to
 * the tests. Each test file makes its own database and task queue, so files never see each other's work.
 */
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startDevServer, type DevServer } from '../../scripts/lib/temporal-dev-server.js';
import { freePort } from '../support/ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

let server: DevServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startDevServer({ port: await freePort() });
  project.provide('temporalAddress', server.address);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
