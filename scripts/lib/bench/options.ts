/** The benchmark's command line (documented in scripts/bench.ts), parsed and checked. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags, UsageError } from '../../../common/command-line.js';
import { DEFAULT_DOWNLOADS_PER_RELAY } from '../../../common/throughput.js';
import type { ProgramSource } from '../courier-processes.js';

export const BENCH_USAGE =
  'usage: npm run bench -- --computers N --relays R --size BYTES --install-ms MS [--downloads-per-relay D] [--out-dir DIR] ' +
  '[--fleet-processes P] [--relay-bandwidth B] [--skip-floor] [--skip-offer] [--skip-transfer]';

/** What one benchmark run is asked to do. */
export interface BenchOptions {
  computers: number;
  /** At least one: the floor downloads from relays, as every benchmarked computer does. */
  relays: number;
  /** Bytes of the random package. */
  sizeBytes: number;
  /** How long each simulated install takes. */
  installMs: number;
  /** Computers downloading from one relay at once, in the job and in the floor alike. */
  downloadsPerRelay: number;
  /** Processes the fleet simulator runs as, each a shard of relays and their computers. */
  fleetProcesses: number;
  /** Figures go to `<outDir>/benchmarks/`, the table to `<outDir>/benchmarks.md`. */
  outDir: string;
  skipFloor: boolean;
  skipOffer: boolean;
  skipTransfer: boolean;
  /** Bytes per second every relay is limited to (PATCH /relays/:id) for the transfer job; absent is none. */
  relayBandwidth?: number;
  /** The command that asked for this run, quoted in the report so the run can be repeated. */
  command: string;
  /** Where the api and the worker run from: `npm run bench` measures the production build (dist/). */
  programs: ProgramSource;
}

/** docs/ of this checkout: where `npm run bench` writes unless told otherwise. */
export const DEFAULT_OUT_DIR = fileURLToPath(new URL('../../../docs', import.meta.url));

/**
 * dist/ of this checkout, which `npm run bench` builds first: the api and the worker are measured as they
 * run in production (plain node, the workflows bundled at build time), not under tsx's loader.
 */
export const BUILD_DIR = fileURLToPath(new URL('../../../dist', import.meta.url));

function whole(value: string | undefined, flag: string, min: number): number {
  if (value === undefined) throw new UsageError(`${flag} is required`);
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min) {
    throw new UsageError(`${flag} must be a whole number of at least ${min}, got "${value}"`);
  }
  return parsed;
}

/** The command as an operator would type it again: the npm script and its arguments. */
export function benchCommand(args: readonly string[]): string {
  const quoted = args.map((arg) => (/^[\w./:=@-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`));
  return ['npm run bench --', ...quoted].join(' ');
}

/** Parses and checks `args`; throws UsageError. */
export function parseBenchCli(args: string[], cwd = process.cwd()): BenchOptions {
  const values = parseFlags(args, {
    computers: { type: 'string' },
    relays: { type: 'string' },
    size: { type: 'string' },
    'install-ms': { type: 'string' },
    'downloads-per-relay': { type: 'string' },
    'out-dir': { type: 'string' },
    'fleet-processes': { type: 'string' },
    'skip-floor': { type: 'boolean', default: false },
    'skip-offer': { type: 'boolean', default: false },
    'skip-transfer': { type: 'boolean', default: false },
    'relay-bandwidth': { type: 'string' },
  });
  const computers = whole(values.computers, '--computers', 1);
  const relays = whole(values.relays, '--relays', 1);
  if (relays > computers) throw new UsageError(`--relays (${relays}) cannot exceed --computers (${computers})`);
  // One by default: on a 2-core machine, eight processes of 12,500 computers each spent over half their CPU
  // collecting garbage and starved the managing server (docs/scaling.md).
  const fleetProcesses = values['fleet-processes'] === undefined ? 1 : whole(values['fleet-processes'], '--fleet-processes', 1);
  // A shard is some relays with their computers: it takes at least one relay.
  if (fleetProcesses > relays) throw new UsageError(`--fleet-processes (${fleetProcesses}) cannot exceed --relays (${relays})`);
  return {
    computers,
    relays,
    sizeBytes: whole(values.size, '--size', 1),
    installMs: whole(values['install-ms'], '--install-ms', 0),
    downloadsPerRelay:
      values['downloads-per-relay'] === undefined ? DEFAULT_DOWNLOADS_PER_RELAY : whole(values['downloads-per-relay'], '--downloads-per-relay', 1),
    fleetProcesses,
    outDir: values['out-dir'] === undefined ? DEFAULT_OUT_DIR : resolve(cwd, values['out-dir']),
    skipFloor: values['skip-floor'],
    skipOffer: values['skip-offer'],
    skipTransfer: values['skip-transfer'],
    ...(values['relay-bandwidth'] !== undefined && { relayBandwidth: whole(values['relay-bandwidth'], '--relay-bandwidth', 1024) }),
    command: benchCommand(args),
    programs: { built: BUILD_DIR },
  };
}
