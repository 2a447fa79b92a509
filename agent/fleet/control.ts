/**
 * The fleet's control and inspection routes (`/fleet/...` on the fleet's listener, loopback only):
 * statistics for tests and benchmarks, switching a machine off and on at run time, and a user's choice on
 * an offer, made on the computer as on its self-service page.
 */
import express, { type Router } from 'express';
import { offerChoices, type OfferChoice } from '../../common/states.js';
import type { ChoiceAnswer } from '../offers.js';
import type { FloorProgress, FloorRequest } from './floor.js';
import type { ContentBytes } from './traffic.js';
import type { OrderStateCounts } from './order-stats.js';
import type { JobInstallProgress, RepeatedInstall } from './simulated-install.js';

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
  /** Relay name → the most computers that downloaded from it at once. */
  peakDownloadsPerRelay: Record<string, number>;
  /** How long enrolment took, relays and computers separately. */
  enrolmentMs: { relays: number; computers: number };
  memory: {
    rssBytes: number;
    heapUsedBytes: number;
    /** Heap the fleet grew by per 1,000 computers while starting them. */
    heapPerThousandComputersBytes: number;
  };
}

/** What `GET /fleet/installs` answers: read from memory, so it can be polled several times a second. */
export interface FleetInstalls {
  /** job id → how far its install commands have come across the fleet. */
  jobs: Record<string, JobInstallProgress>;
}

/** What the routes need from the fleet. */
export interface FleetControl {
  stats(): Promise<FleetStats>;
  installs(): FleetInstalls;
  /** False when no agent has that name. */
  setOnline(name: string, online: boolean): boolean;
  /** The computer's answer to its user's choice; undefined when no computer has that name. */
  choose(name: string, jobId: string, choice: OfferChoice): Promise<ChoiceAnswer | undefined>;
  /** Starts a floor run; false when one is running already. */
  startFloor(request: FloorRequest): boolean;
  /** The last floor run's progress; undefined before the first. */
  floor(): FloorProgress | undefined;
}

function notFound(name: string): { error: { code: string; message: string } } {
  return { error: { code: 'not_found', message: `no agent named ${name} in this fleet` } };
}

/** The body of `POST /agents/:name/choices`, or undefined when it is not one. */
function choiceRequest(body: unknown): { jobId: string; choice: OfferChoice } | undefined {
  const { jobId, choice } = (body ?? {}) as { jobId?: unknown; choice?: unknown };
  if (typeof jobId !== 'string' || jobId === '' || !offerChoices.includes(choice as OfferChoice)) return undefined;
  return { jobId, choice: choice as OfferChoice };
}

/** The body of `POST /floor`, or undefined when it is not one. */
function floorRequest(body: unknown): FloorRequest | undefined {
  const request = (body ?? {}) as Partial<FloorRequest>;
  const counts = [request.size, request.installMs, request.downloadsPerRelay];
  if (typeof request.packageId !== 'string' || typeof request.sha256 !== 'string') return undefined;
  if (!counts.every((count) => Number.isInteger(count) && (count as number) >= 0) || !Array.isArray(request.computers)) return undefined;
  const wellFormed = request.computers.every((computer) => typeof computer?.relayUrl === 'string' && typeof computer.ticket === 'string');
  return wellFormed && (request.downloadsPerRelay as number) > 0 ? (request as FloorRequest) : undefined;
}

/**
 * `GET /stats`; `GET /installs`; `POST /floor` (202; 409 while one runs) and `GET /floor` (its progress,
 * agent/fleet/floor.ts); `POST /agents/:name/offline` and `POST /agents/:name/online` (200
 * `{name, online}`, 404 for an unknown name); `POST /agents/:name/choices` with `{jobId, choice}`, answered
 * with the status and body the computer's self-service page would get (202 once the managing server took it).
 */
export function controlRoutes(fleet: FleetControl): Router {
  const router = express.Router();
  router.get('/stats', async (_req, res) => {
    res.json(await fleet.stats());
  });
  router.get('/installs', (_req, res) => {
    res.json(fleet.installs());
  });
  router.post('/floor', express.json({ limit: '100mb' }), (req, res) => {
    const request = floorRequest(req.body);
    if (!request) {
      res.status(400).json({ error: { code: 'invalid_input', message: 'send {packageId, sha256, size, installMs, downloadsPerRelay, computers: [{relayUrl, ticket}]}' } });
      return;
    }
    if (fleet.startFloor(request)) res.status(202).json(fleet.floor());
    else res.status(409).json({ error: { code: 'floor_running', message: 'a floor run is under way' } });
  });
  router.get('/floor', (_req, res) => {
    const progress = fleet.floor();
    if (progress) res.json(progress);
    else res.status(404).json({ error: { code: 'not_found', message: 'no floor has run yet' } });
  });
  router.post('/agents/:name/choices', express.json(), async (req, res) => {
    const { name } = req.params;
    const request = choiceRequest(req.body);
    if (!request) {
      res.status(400).json({ error: { code: 'invalid_input', message: `send {"jobId": "...", "choice": "${offerChoices.join('" | "')}"}` } });
      return;
    }
    const answer = await fleet.choose(name, request.jobId, request.choice);
    if (answer) res.status(answer.status).json(answer.body);
    else res.status(404).json(notFound(name));
  });
  for (const [path, online] of [['offline', false], ['online', true]] as const) {
    router.post(`/agents/:name/${path}`, (req, res) => {
      const { name } = req.params;
      if (fleet.setOnline(name, online)) res.json({ name, online });
      else res.status(404).json(notFound(name));
    });
  }
  return router;
}
