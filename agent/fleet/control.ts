/**
 * The fleet's control and inspection routes (`/fleet/...` on the fleet's listener, loopback only):
 * statistics for tests and benchmarks, and switching a machine off and on at run time.
 */
import express, { type Router } from 'express';
import type { ContentBytes } from './traffic.js';
import type { OrderStateCounts } from './order-stats.js';
import type { RepeatedInstall } from './simulated-install.js';

/** What `GET /fleet/stats` answers. */
export interface FleetStats {
  computers: number;
  relays: number;
  /** Agents switched off right now. */
  offline: string[];
  /** Simulated install command runs in all, how many failed, and every (computer, job) that ran more than once. */
  installs: { runs: number; failures: number; repeated: RepeatedInstall[] };
  /** computer → job id → runs of the install command, for computers that ran any. */
  installRuns: Record<string, Record<string, number>>;
  /** kind → state → orders, from the order records of every agent that was sent an order. */
  orders: OrderStateCounts;
  /** Content bytes downloaded, by who fetched from where. */
  bytesDownloaded: ContentBytes;
  /** How long enrolment took, relays and computers separately. */
  enrolmentMs: { relays: number; computers: number };
  memory: {
    rssBytes: number;
    heapUsedBytes: number;
    /** Heap the fleet grew by per 1,000 computers while starting them. */
    heapPerThousandComputersBytes: number;
  };
}

/** What the routes need from the fleet. */
export interface FleetControl {
  stats(): Promise<FleetStats>;
  /** False when no agent has that name. */
  setOnline(name: string, online: boolean): boolean;
}

/**
 * `GET /stats`; `POST /agents/:name/offline` and `POST /agents/:name/online` (200 `{name, online}`, 404
 * for an unknown name).
 */
export function controlRoutes(fleet: FleetControl): Router {
  const router = express.Router();
  router.get('/stats', async (_req, res) => {
    res.json(await fleet.stats());
  });
  for (const [path, online] of [['offline', false], ['online', true]] as const) {
    router.post(`/agents/:name/${path}`, (req, res) => {
      const { name } = req.params;
      if (fleet.setOnline(name, online)) res.json({ name, online });
      else res.status(404).json({ error: { code: 'not_found', message: `no agent named ${name} in this fleet` } });
    });
  }
  return router;
}
