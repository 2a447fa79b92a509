/** What the activities need from the outside world, injected so tests can pass their own. */
import type { Client } from '@temporalio/client';
import type { Database } from '../db/client.js';
import type { ServerKey } from '../trust/signing.js';
import type { AgentClient } from './agent-client.js';

export interface ActivityDependencies {
  db: Database;
  agents: AgentClient;
  key: ServerKey;
  /** Starts and signals the workflows that own relay copies. */
  temporal: Client;
  taskQueue: string;
  /** Base URL agents and relays download package content from (the api). */
  publicUrl: string;
  /** Pause between two status queries to a relay that is still storing a package. */
  agentPollMs: number;
  /** How often computers report on an install order they hold (sent in the order); silence is measured in these. */
  reportEveryMs: number;
  /** Download slots of a job, unless the job sets its own (common/throughput.ts). */
  downloads: { perRelay: number; server: number };
  clock: () => Date;
}
