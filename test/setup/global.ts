/**
 * Starts one Temporal dev server for the whole suite (faster than one per file) and hands its address to
 * the tests. Each test file makes its own database and task queue, so files never see each other's work.
 */
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startDevServer, type DevServer } from '../../scripts/lib/temporal-dev-server.js';
import { freePort } from '../../common/ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

let server: DevServer | undefined;

/**
 * Temporal suggests continuing as new at this many history events (4,096 by default): low enough that
 * the suite's jobs of a few thousand computers continue as new many times over, in every workflow that
 * can, so that path is proven at every test's scale rather than only at 100,000 computers.
 */
export const SUGGEST_CONTINUE_AS_NEW_AT = 40;

export async function setup(project: TestProject): Promise<void> {
  server = await startDevServer({
    port: await freePort(),
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': SUGGEST_CONTINUE_AS_NEW_AT },
  });
  project.provide('temporalAddress', server.address);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
