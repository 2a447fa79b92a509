/**
 * `npm run bench` as a function, on 300 computers behind 3 relays simulated by two processes (as a large
 * fleet is, so the figures must add up over them): it starts its own stack and fleet, and
 * its figures must be true, not merely present — each relay fetched each package exactly once and no
 * computer cost the managing server a byte, every computer installed once, the floor finished every
 * computer, the offer's choices were carried out as made — and it leaves no database behind.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchmark, type BenchResult } from '../../scripts/lib/bench/run.js';

const COMPUTERS = 300;
const RELAYS = 3;
const SIZE = 64 * 1024;

let outDir: string;
let result: BenchResult;
let databasesBefore: Set<string>;

async function benchDatabases(): Promise<Set<string>> {
  const sql = postgres(process.env.COURIER_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => undefined });
  try {
    const rows = await sql<{ datname: string }[]>`select datname from pg_database where datname like 'courier_bench_%'`;
    return new Set(rows.map((row) => row.datname));
  } finally {
    await sql.end({ timeout: 5 });
  }
}

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'courier-bench-test-'));
  databasesBefore = await benchDatabases();
  const options = {
    computers: COMPUTERS,
    relays: RELAYS,
    sizeBytes: SIZE,
    installMs: 200,
    downloadsPerRelay: 25,
    // Two simulator processes, so that the figures are shown to add up over the shards of a large fleet.
    fleetProcesses: 2,
    outDir,
    skipFloor: false,
    skipOffer: false,
    skipTransfer: false,
    // From source: the suite's build (operations.test.ts) may be under way in another file at the same time.
    programs: {},
    command: `npm run bench -- --computers ${COMPUTERS} --relays ${RELAYS} --size ${SIZE} --install-ms 200 --downloads-per-relay 25 --fleet-processes 2`,
  };
  result = await runBenchmark(options, () => undefined);
}, 1_200_000);

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

describe('npm run bench on 300 computers and 3 relays', () => {
  it('installs on every computer once, and the managing server sends each relay the package once and computers nothing', () => {
    const { install } = result.figures;
    expect(install.status).toBe('completed');
    expect(install.counts).toEqual({ installed: COMPUTERS });
    expect(install.fleetInstalls).toEqual({ finished: COMPUTERS, failed: 0, repeated: 0 });
    expect(install.egress).toEqual({ toRelays: SIZE * RELAYS, toComputers: 0, ratio: 1 });
    expect(install.courierMs).toBeGreaterThan(0);
    expect(install.series.at(-1)?.[1]).toBe(COMPUTERS);
  });

  it('runs the floor on every computer, verifying every byte, and compares Courier with it', () => {
    const { install, ratio } = result.figures;
    const floor = result.figures.floor!;
    expect(floor.finished).toBe(COMPUTERS);
    // The floor is bounded per relay as the job was.
    expect([result.figures.config.downloadsPerRelay, floor.downloadsPerRelay]).toEqual([25, 25]);
    expect(floor.bytesVerified).toBe(COMPUTERS * SIZE);
    expect(floor.series.at(-1)?.[1]).toBe(COMPUTERS);
    expect(ratio).toBeCloseTo(install.courierMs / floor.ms, 2);
  });

  it("reads the job's workflows from Temporal, peak memory from the processes and rows from PostgreSQL", () => {
    const { install, peakRssBytes, responseMs } = result.figures;
    expect(install.workflows.workflows).toBeGreaterThanOrEqual(2);
    expect(install.workflows.runs).toBeGreaterThanOrEqual(install.workflows.workflows);
    expect(install.workflows.largestHistory.workflowId).toContain(`job-${install.jobId}`);
    expect(install.workflows.largestHistory.events).toBeGreaterThan(0);
    for (const name of ['api', 'worker', 'fleet-1', 'fleet-2', 'temporal']) expect([name, peakRssBytes[name]]).toEqual([name, expect.any(Number)]);
    expect(peakRssBytes.worker).toBeGreaterThan(10 * 2 ** 20);
    // Each computer's target row is at least written and ended.
    expect(install.postgresRows.perComputer).toBeGreaterThanOrEqual(1);
    expect(responseMs.job).toBeGreaterThan(0);
    expect(responseMs.computers).toBeGreaterThan(0);
  });

  it('reads the CPU time each process used during the job and during the floor', () => {
    const { install } = result.figures;
    const floor = result.figures.floor!;
    // The fleet's agents download and verify every package in both; only Courier's run has the others busy.
    for (const shard of ['fleet-1', 'fleet-2']) {
      expect(install.cpuSeconds[shard]).toBeGreaterThan(0);
      expect(floor.cpuSeconds[shard]).toBeGreaterThan(0);
    }
    for (const name of ['api', 'worker', 'temporal', 'postgres']) expect([name, install.cpuSeconds[name]]).toEqual([name, expect.any(Number)]);
    expect(install.cpuSeconds.api).toBeGreaterThan(0);
    expect(install.cpuSeconds.postgres).toBeGreaterThan(0);
  });

  it('carries out the offer choices as made: a tenth installed, a tenth declined, the rest still offered', () => {
    const offer = result.figures.offer!;
    expect(offer.choices).toEqual({ install: COMPUTERS / 10, decline: COMPUTERS / 10, refused: 0 });
    expect(offer.counts.installed).toBe(COMPUTERS / 10);
    expect(offer.counts.declined).toBe(COMPUTERS / 10);
    expect((offer.counts.offered ?? 0) + (offer.counts.expired ?? 0)).toBe(COMPUTERS - COMPUTERS / 5);
    expect(offer.fleetInstalls).toBe(COMPUTERS / 10);
  });

  it('transfers a new package to every relay, each fetching it once', () => {
    const transfer = result.figures.transfer!;
    expect(transfer.status).toBe('completed');
    expect(Object.values(transfer.relayStates)).toEqual(Array(RELAYS).fill('stored'));
    expect(transfer.egress).toEqual({ toRelays: SIZE * RELAYS, toComputers: 0, ratio: 1 });
  });

  it('writes the figures as JSON, the chart as SVG and a section of benchmarks.md linking both', async () => {
    const { files, figures } = result;
    expect(JSON.parse(await readFile(files.json, 'utf8'))).toEqual(figures);
    const svg = await readFile(files.svg, 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('Courier');
    expect(svg).toContain('floor');
    expect(files.markdown).toBe(join(outDir, 'benchmarks.md'));
    const markdown = await readFile(files.markdown, 'utf8');
    expect(markdown).toContain(figures.command);
    expect(markdown).toContain(`(benchmarks/${COMPUTERS}-computers-${RELAYS}-relays-${SIZE}-bytes-200ms-25-per-relay.svg)`);
    expect(markdown).toContain('25 downloads at once per relay, the fleet simulated by 2 processes');
    expect(markdown).toContain(`${figures.machine.cores} cores`);
  });

  it('leaves no database of its own behind', async () => {
    const left = [...(await benchDatabases())].filter((name) => !databasesBefore.has(name));
    expect(left).toEqual([]);
  });
});
