/**
 * The fleet simulator (DESIGN §7): N computers and R relays in one process, on the real agent code with
 * only the install command simulated, all behind one HTTP listener.
 *
 *   npm run fleet -- --computers N [--relays R] [--install-ms MS] [--fail-rate F] [--server URL]
 *                    [--enroll-secret S] [--name-prefix P] [--direct D] [--offline F] [--dead-relays K]
 *                    [--data-dir DIR] [--host H] [--port P] [--enroll-concurrency C] [--seed N] [--shard I/K]
 *
 *   --computers N          computer agents, named P-pc-00001… (required)
 *   --relays R             relay agents, named P-relay-01… (default 0); computers go round-robin over them
 *   --install-ms MS        how long the simulated install command takes (default 500)
 *   --fail-rate F          probability (0–1) that it exits with code 1 (default 0)
 *   --server URL           the managing server's api (default http://127.0.0.1:3000)
 *   --enroll-secret S      or COURIER_ENROLL_SECRET, or else the file enroll-secret in COURIER_DATA_DIR
 *                          (default .courier), where `npm start` keeps a generated one
 *   --name-prefix P        starts every name (default fleet-XXXX, random), so runs do not collide
 *   --direct D             the first D computers have no relay: the managing server serves them (default 0)
 *   --offline F            fraction (0–1) of computers, drawn at random, that enrol and are then switched
 *                          off: their connections are dropped, as by a machine that is off (default 0)
 *   --dead-relays K        the last K relays enrol and are then switched off the same way (default 0)
 *   --data-dir DIR         agents' data folders, DIR/<name> (default a temporary folder, removed at exit)
 *   --host H, --port P     the listener (default 127.0.0.1, port 0 = a free one); agent NAME is at
 *                          http://H:P/agents/NAME
 *   --enroll-concurrency C enrolments in flight at once (default 16)
 *   --seed N               seeds the offline draw and the install failures (default 1)
 *   --shard I/K            run only the I-th of K shards of the fleet planned above: relay r (1-based) goes to
 *                          shard ((r-1) mod K) + 1 with the computers it serves, so K processes started with
 *                          the same flags run the whole fleet between them, each with its own listener
 *
 * Once every agent has enrolled it prints one JSON line on stdout:
 *   {"ready":true,"url":"http://127.0.0.1:PORT","computers":N,"relays":R,"offline":[names],"deadRelays":[names],...}
 * and progress on stderr. Control routes on the same listener, loopback only: GET /fleet/stats,
 * GET /fleet/installs, POST /fleet/agents/NAME/offline, POST /fleet/agents/NAME/online and
 * POST /fleet/agents/NAME/choices {jobId, choice}. SIGTERM/SIGINT stop every agent.
 * Exit codes: 0 stopped by a signal, 1 an agent could not start (e.g. enrolment refused), 2 bad arguments.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '../common/errors.js';
import { systemClock } from '../agent/deps.js';
import { Fleet } from '../agent/fleet/fleet.js';
import { UsageError } from '../common/command-line.js';
import { parseFleetCli, USAGE } from './lib/fleet-cli.js';

/** The secret `npm start` generated, when none is given: the usual case on a developer's machine. */
function storedEnrollSecret(): string | undefined {
  try {
    return readFileSync(join(process.env.COURIER_DATA_DIR || '.courier', 'enroll-secret'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Heap after a collection when node runs with --expose-gc (the npm script does), so figures show what is kept. */
function memory(): { rssBytes: number; heapUsedBytes: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rssBytes: rss, heapUsedBytes: heapUsed };
}

const log = (message: string): void => {
  process.stderr.write(`courier fleet: ${message}\n`);
};

async function main(): Promise<void> {
  let cli;
  try {
    cli = parseFleetCli(process.argv.slice(2), {
      enrollSecret: process.env.COURIER_ENROLL_SECRET || storedEnrollSecret(),
      namePrefix: `fleet-${randomBytes(2).toString('hex')}`,
    });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`courier fleet: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  const temporary = cli.dataDir === undefined;
  const dataDir = cli.dataDir ?? (await mkdtemp(join(tmpdir(), 'courier-fleet-')));
  await mkdir(dataDir, { recursive: true });
  const fleet = new Fleet(
    { ...cli, dataDir },
    {
      fetch: (input, init) => fetch(input, init),
      clock: systemClock,
      log,
      agentLog: (message) => process.stderr.write(`${message}\n`),
      memory,
    },
  );

  let stopping: Promise<void> | undefined;
  const stop = (code: number): Promise<void> =>
    (stopping ??= (async () => {
      log('stopping');
      await fleet.stop();
      // A folder of our own making holds nothing a later run could use: its names were random.
      if (temporary) await rm(dataDir, { recursive: true, force: true });
      process.exit(code);
    })());
  process.once('SIGTERM', () => void stop(0));
  process.once('SIGINT', () => void stop(0));

  try {
    await fleet.start();
  } catch (error) {
    // Stopped while still enrolling: the signal handler finishes the exit.
    if (stopping) return;
    log(`cannot start the fleet: ${errorMessage(error)}`);
    await stop(1);
    return;
  }
  const stats = await fleet.stats();
  const ready = {
    ready: true,
    url: fleet.url,
    computers: fleet.plan.computers.length,
    relays: fleet.plan.relays.length,
    offline: fleet.plan.computers.filter((agent) => agent.offline).map((agent) => agent.name),
    deadRelays: fleet.plan.relays.filter((agent) => agent.offline).map((agent) => agent.name),
    namePrefix: cli.prefix,
    dataDir,
    enrolmentMs: stats.enrolmentMs,
    memory: stats.memory,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  const { rssBytes, heapPerThousandComputersBytes } = stats.memory;
  log(
    `ready: ${ready.computers} computers, ${ready.relays} relays at ${fleet.url}/agents/<name>; ` +
      `enrolment ${stats.enrolmentMs.relays + stats.enrolmentMs.computers} ms; ` +
      `RSS ${mebibytes(rssBytes)} MiB, heap ${mebibytes(heapPerThousandComputersBytes)} MiB per 1,000 computers`,
  );
}

function mebibytes(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

main().catch((error: unknown) => {
  log(errorMessage(error));
  process.exit(1);
});
