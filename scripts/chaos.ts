/**
 * The kill matrix (docs/reliability.md): every process of a Courier of its own SIGKILLed in the middle of
 * an install job, while a computer downloads and while one installs, then started again.
 *
 *   npm run chaos -- [--computers N] [--size BYTES] [--install-seconds S] [--down-ms MS] [--only T,T…]
 *                    [--out FILE]
 *
 *   --computers N        computer agents behind the one relay (default 3)
 *   --size BYTES         package size, random bytes (default 64 MiB: downloads long enough to be cut)
 *   --install-seconds S  how long each install command runs (default 4)
 *   --down-ms MS         how long each killed process stays down (default 3000)
 *   --only T,T…          only these processes: api, worker, temporal, postgres, relay, computer
 *   --out FILE           where the page goes (default docs/reliability.md of this checkout)
 *
 * Exit codes: 0 every cell holds, 1 a cell fails or the run failed, 2 bad arguments.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags, UsageError } from '../common/command-line.js';
import { errorMessage } from '../common/errors.js';
import { ChaosStack, chaosTargets, type ChaosTarget } from './lib/chaos/chaos-stack.js';
import { formatForTerminal, writeReliabilityPage, type ChaosRun } from './lib/chaos/report.js';
import { runScenario, type ChaosPhase, type ScenarioFigures } from './lib/chaos/scenario.js';

const USAGE =
  'usage: npm run chaos -- [--computers N] [--size BYTES] [--install-seconds S] [--down-ms MS] [--only T,T…] [--out FILE]';
const root = fileURLToPath(new URL('..', import.meta.url));
const phases: ChaosPhase[] = ['downloading', 'installing'];

function positiveInteger(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return Number(value);
}

function parseCli(args: string[]) {
  const values = parseFlags(args, {
    computers: { type: 'string' },
    size: { type: 'string' },
    'install-seconds': { type: 'string' },
    'down-ms': { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string' },
  });
  const only = values.only?.split(',') ?? [...chaosTargets];
  const unknown = only.filter((target) => !(chaosTargets as readonly string[]).includes(target));
  if (unknown.length > 0) throw new UsageError(`--only takes ${chaosTargets.join(', ')}; not ${unknown.join(', ')}`);
  return {
    computers: positiveInteger(values.computers, '--computers', 3),
    sizeBytes: positiveInteger(values.size, '--size', 64 * 2 ** 20),
    installSeconds: positiveInteger(values['install-seconds'], '--install-seconds', 4),
    downMs: positiveInteger(values['down-ms'], '--down-ms', 3000),
    targets: only as ChaosTarget[],
    // npm runs scripts in the package's folder; a relative --out means the caller's.
    out: resolve(process.env.INIT_CWD || process.cwd(), values.out ?? join(root, 'docs', 'reliability.md')),
  };
}

const started = Date.now();
const log = (message: string): void => {
  console.log(`chaos ${String(Math.round((Date.now() - started) / 1000)).padStart(5)} s  ${message}`);
};

let cli: ReturnType<typeof parseCli>;
try {
  cli = parseCli(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`chaos: ${error.message}\n${USAGE}`);
  process.exit(2);
}

const folder = await mkdtemp(join(tmpdir(), 'courier-chaos-'));
const computers = Array.from({ length: cli.computers }, (_, index) => `pc-${String(index + 1).padStart(2, '0')}`);
const stack = new ChaosStack(folder, computers, log);
const figures: ScenarioFigures[] = [];
let failed = false;
try {
  await stack.start();
  const packageBytes = randomBytes(cli.sizeBytes);
  const options = { packageBytes, installSeconds: cli.installSeconds, downMs: cli.downMs, finishTimeoutMs: 300_000 };
  for (const target of cli.targets) {
    for (const phase of phases) {
      log(`killing ${target} while a computer is ${phase}`);
      const cell = await runScenario(stack, figures.length + 1, target, phase, options);
      figures.push(cell);
      log(`${cell.problems.length === 0 ? 'holds' : `FAILS: ${cell.problems.join('; ')}`} (job ${cell.jobStatus}, runs ${JSON.stringify(cell.runs)})`);
    }
  }
} catch (error) {
  failed = true;
  console.error(`chaos: failed: ${errorMessage(error)} (logs in ${join(folder, 'logs')})`);
} finally {
  await stack.stop().catch((error: unknown) => console.error(`chaos: stopping: ${errorMessage(error)}`));
}

if (figures.length > 0) {
  const run: ChaosRun = {
    command: ['npm run chaos', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    computers: cli.computers,
    sizeBytes: cli.sizeBytes,
    installSeconds: cli.installSeconds,
    downMs: cli.downMs,
    at: new Date().toISOString().slice(0, 10),
    figures,
  };
  console.log(formatForTerminal(run));
  if (!failed) await writeReliabilityPage(cli.out, run);
  if (!failed) log(`wrote ${cli.out}`);
}
if (!failed) await rm(folder, { recursive: true, force: true });
process.exit(failed || figures.some((cell) => cell.problems.length > 0) ? 1 : 0);
