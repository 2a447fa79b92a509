/**
 * The benchmark (DESIGN §5, §7): Courier against the floor on a simulated fleet, every process its own.
 *
 *   npm run bench -- --computers N --relays R --size BYTES --install-ms MS
 *                    [--downloads-per-relay D] [--fleet-processes P] [--out-dir DIR] [--skip-floor] [--skip-offer]
 *                    [--skip-transfer] [--relay-bandwidth B]
 *
 *   --computers N      computers of the fleet simulator (required)
 *   --relays R         relays (at least 1); computers go round-robin over them (required)
 *   --size BYTES       size of each package, random bytes (required)
 *   --install-ms MS    how long each simulated install takes (required)
 *   --downloads-per-relay D
 *                      computers downloading from one relay at once, in the jobs and in the floor alike
 *                      (default: the server's, 100). The simulator hosts every relay in one process, so
 *                      its downloads at once are D × relays: 200 relays at 100 each would be 20,000.
 *   --fleet-processes P
 *                      run the simulator as P processes (at most R), each some relays with their computers
 *                      (default 1); the floor runs in them too, each shard from its own relays
 *   --out-dir DIR      where figures go: DIR/benchmarks/<configuration>.json and .svg, and the table in
 *                      DIR/benchmarks.md (default: docs/ of this checkout)
 *   --skip-floor       leave out the floor (and so the ratio): for fleets whose floor alone takes long, when
 *                      what is measured is Courier's time per computer
 *   --skip-offer       leave out the offer job
 *   --skip-transfer    leave out the transfer job
 *   --relay-bandwidth B
 *                      limit every relay to B bytes per second (PATCH /relays/:id, at least 1024) before the
 *                      transfer job, and report the rate the slowest relay got
 *
 * Builds Courier as for production (npm run build, into dist/), then starts a Temporal dev server (SQLite in
 * WAL mode), a fresh PostgreSQL database (127.0.0.1:5432, or COURIER_BENCH_DATABASE_URL's server), the api
 * and the worker from the build, and the fleet; runs an install job to every
 * computer, the floor, an offer job and a transfer job; prints the figures and writes them out. Everything
 * it started is stopped and the database dropped at the end, on failure too, and on Ctrl-C.
 * Exit codes: 0 done, 1 the run failed, 2 bad arguments, 130 interrupted.
 */
import { errorMessage } from '../common/errors.js';
import { UsageError } from '../common/command-line.js';
import { BENCH_USAGE, parseBenchCli } from './lib/bench/options.js';
import { formatForTerminal } from './lib/bench/report.js';
import { runBenchmark } from './lib/bench/run.js';

const started = Date.now();
const log = (message: string): void => {
  console.log(`bench ${String(Math.round((Date.now() - started) / 1000)).padStart(5)} s  ${message}`);
};

let options;
try {
  // npm runs scripts in the package's folder; a relative --out-dir means the caller's.
  options = parseBenchCli(process.argv.slice(2), process.env.INIT_CWD || process.cwd());
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`bench: ${error.message}\n${BENCH_USAGE}`);
  process.exit(2);
}

const interrupt = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // A second Ctrl-C does not wait for the clean-up.
    if (interrupt.signal.aborted) process.exit(130);
    log(`${signal}: stopping; Ctrl-C again to leave without cleaning up`);
    interrupt.abort(new Error(`interrupted by ${signal}`));
  });
}

try {
  const { figures, files } = await runBenchmark(options, log, interrupt.signal);
  console.log(formatForTerminal(figures, files));
  process.exit(0);
} catch (error) {
  console.error(`bench: ${interrupt.signal.aborted ? 'interrupted' : `failed: ${errorMessage(error)}`}`);
  process.exit(interrupt.signal.aborted ? 130 : 1);
}
