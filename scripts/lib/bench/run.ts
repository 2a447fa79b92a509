/**
 * One benchmark run from start to end, as a function (scripts/bench.ts is its command line; the
 * integration test calls it directly): start the stack, run the install job and the floor, the offer and
 * transfer jobs, read the remaining figures, stop and remove everything (also on failure or abort), and
 * write the report.
 */
import { cpus, totalmem } from 'node:os';
import type { BenchFigures, BenchFiles } from './figures.js';
import { floorPhase } from './floor.js';
import { installPhase } from './install-phase.js';
import { medianMs, PeakMemory } from './measures.js';
import { offerPhase } from './offer-phase.js';
import type { BenchOptions } from './options.js';
import { writeReport } from './report.js';
import { BenchStack, type BenchLog } from './stack.js';
import { transferPhase } from './transfer-phase.js';

/** A finished run: its figures and the files they were written to. */
export interface BenchResult {
  figures: BenchFigures;
  files: BenchFiles;
}

/** Runs the benchmark; `signal` (e.g. Ctrl-C) ends it early, still removing everything it started. */
export async function runBenchmark(options: BenchOptions, log: BenchLog, signal?: AbortSignal): Promise<BenchResult> {
  const { computers, relays, sizeBytes, installMs, downloadsPerRelay, fleetProcesses } = options;
  const fleet = { computers, relays, sizeBytes, installMs, downloadsPerRelay, fleetProcesses };
  const date = new Date().toISOString();
  const stack = await BenchStack.start(fleet, options.programs, log, signal);
  const memory = new PeakMemory(stack.pids);
  let figures: BenchFigures;
  try {
    const install = await installPhase(stack, fleet, log);
    if (!options.skipFloor) log('floor: the same downloads and installs, without Temporal or a database');
    const floor = options.skipFloor ? null : await floorPhase(stack, install.pkg, fleet, log);
    const offer = options.skipOffer ? null : await offerPhase(stack, fleet, log);
    const transfer = options.skipTransfer ? null : await transferPhase(stack, fleet, log, options.relayBandwidth);
    const responseMs = {
      job: await medianMs(() => stack.request('GET', `/jobs/${install.figures.jobId}`)),
      computers: await medianMs(() => stack.request('GET', '/computers')),
    };
    figures = {
      command: options.command,
      date,
      machine: { cores: cpus().length, memoryBytes: totalmem(), cpu: cpus()[0]?.model.trim() ?? 'unknown', node: process.version },
      config: fleet,
      install: install.figures,
      floor,
      ratio: floor ? Math.round((install.figures.courierMs / floor.ms) * 100) / 100 : null,
      peakRssBytes: await memory.stop(),
      responseMs,
      offer,
      transfer,
    };
  } catch (error) {
    if (!signal?.aborted) log(`the run failed; the last output of each process:\n${stack.recentOutput()}`);
    // A process that died aborts every wait: its reason says more than the AbortError the wait threw.
    throw stack.signal.aborted && !signal?.aborted ? stack.signal.reason : error;
  } finally {
    await memory.stop();
    log('stopping every process and dropping the database');
    await stack.stop();
  }
  return { figures, files: await writeReport(figures, options.outDir) };
}
