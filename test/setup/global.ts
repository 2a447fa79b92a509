/**
 * Starts one Temporal dev server for the whole suite (faster than one per file) and hands its address to
 * the tests. Each test file makes its own database and task queue, so files never see each other's work.
 */
import { createServer } from 'node:net';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startDevServer, type DevServer } from '../../scripts/lib/temporal-dev-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

let server: DevServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startDevServer({ port: await freePort() });
  project.provide('temporalAddress', server.address);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
