/** The kill matrix's figures: a table for the terminal, and docs/reliability.md with the same table. */
import { writeFile } from 'node:fs/promises';
import type { ScenarioFigures } from './scenario.js';

/** How the matrix was run, for the page's heading. */
export interface ChaosRun {
  command: string;
  computers: number;
  sizeBytes: number;
  installSeconds: number;
  downMs: number;
  at: string;
  figures: ScenarioFigures[];
}

const HEADER = `# Reliability: the kill matrix

Produced by \`npm run chaos\` (scripts/chaos.ts). It starts a whole Courier of its own, every part a real
process: a PostgreSQL server of its own (so killing it touches nothing else), a Temporal dev server on a
SQLite file, the api, the worker, one relay agent and computer agents behind it. For each process and
each phase of a computer's install order (downloading, installing) it runs an install job to every
computer, SIGKILLs that process as soon as a computer is in the phase, starts it again after a pause, and
checks what an admin would: the job ends, every computer ends in a true terminal state, and no install
command runs twice (the command appends its job id to a file on the computer, so runs are counted where
they happen). A process that never comes back is not part of the matrix: its targets end \`unreachable\` or
\`failed\` at the job's deadline, with the reason (test/integration/crash.test.ts and the job tests).

The one true end other than \`installed\`: a computer whose own agent is killed while its install command
runs cannot know how the command ended. It says so (\`failed\`, interrupted) and never runs it again.
`;

function row(figures: ScenarioFigures): string {
  const installed = Object.values(figures.states).filter((state) => state === 'installed').length;
  const others = Object.entries(figures.states).filter(([, state]) => state !== 'installed');
  const ends = [`${installed} installed`, ...others.map(([name, state]) => `${name} ${state}`)].join('; ');
  const maxRuns = Math.max(0, ...Object.values(figures.runs));
  const phase = figures.phaseReached ? figures.phase : `${figures.phase} (job moved on first)`;
  const verdict = figures.problems.length === 0 ? 'holds' : `**fails**: ${figures.problems.join('; ')}`;
  return `| ${figures.killed} | ${phase} | ${figures.jobStatus} | ${ends} | ${maxRuns} | ${(figures.recoveryMs / 1000).toFixed(1)} s | ${verdict} |`;
}

/** The markdown page. */
export function reliabilityPage(run: ChaosRun): string {
  const held = run.figures.filter((figures) => figures.problems.length === 0).length;
  return [
    HEADER,
    `## Last run`,
    '',
    `\`${run.command}\` on ${run.at}: ${run.computers} computers behind one relay, a ${(run.sizeBytes / 2 ** 20).toFixed(0)} MiB ` +
      `package, ${run.installSeconds} s installs, each process down for ${(run.downMs / 1000).toFixed(1)} s. ` +
      `**${held} of ${run.figures.length} cells hold.**`,
    '',
    '| killed | while a computer was | job ended | computers | most runs of the command on one computer | job end after the restart | verdict |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...run.figures.map(row),
    '',
  ].join('\n');
}

/** The same table, for the terminal. */
export function formatForTerminal(run: ChaosRun): string {
  return run.figures
    .map((figures) => {
      const verdict = figures.problems.length === 0 ? 'holds' : `FAILS: ${figures.problems.join('; ')}`;
      return `${figures.killed.padEnd(22)} ${figures.phase.padEnd(12)} ${figures.jobStatus.padEnd(22)} runs ${JSON.stringify(figures.runs)}  ${verdict}`;
    })
    .join('\n');
}

/** Writes the page. */
export async function writeReliabilityPage(path: string, run: ChaosRun): Promise<void> {
  await writeFile(path, reliabilityPage(run));
}
