/**
 * One cell of the kill matrix: an install job to every computer, one process SIGKILLed once a computer is
 * in the chosen phase (downloading or installing), started again after a while; then the job must end
 * with every target in a true terminal state and no install command run twice. The install command
 * appends its job id to a file in the computer's target folder, so its runs are counted where they happen.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminal, type TargetState } from '../../../common/states.js';
import { RELAY, type ChaosStack, type ChaosTarget } from './chaos-stack.js';

/** The phase of a computer's install order in which the kill comes. */
export type ChaosPhase = 'downloading' | 'installing';

/** What a cell found. */
export interface ScenarioFigures {
  target: ChaosTarget;
  phase: ChaosPhase;
  /** The process killed: its role, and the agent's name for agents. */
  killed: string;
  /** Whether a computer really was in the phase when the kill came (the job may have moved on first). */
  phaseReached: boolean;
  downMs: number;
  /** From the restart to the job's end. */
  recoveryMs: number;
  jobStatus: string;
  /** Each computer's final state, with the reason when it is not installed. */
  states: Record<string, string>;
  /** How many times each computer ran the install command. */
  runs: Record<string, number>;
  /** What did not hold; empty when the cell passed. */
  problems: string[];
}

/** How the matrix runs each cell. */
export interface ScenarioOptions {
  packageBytes: Buffer;
  installSeconds: number;
  downMs: number;
  /** How long a job may take to end after the restart before the cell fails. */
  finishTimeoutMs: number;
}

interface JobView {
  status: string;
  targets: { name: string; state: TargetState; detail?: string | null }[];
}

const finalJobStatuses = new Set(['completed', 'completed_with_errors', 'cancelled', 'failed']);

/** The job's view, through outages of the api or what it depends on. */
async function jobView(stack: ChaosStack, jobId: string, query = ''): Promise<JobView | undefined> {
  const answer = await stack.request<JobView>('GET', `/jobs/${jobId}${query}`);
  return answer?.status === 200 ? answer.body : undefined;
}

/** Waits until a computer is in `phase`; returns its name, or undefined if the job ended first. */
async function computerIn(stack: ChaosStack, jobId: string, phase: ChaosPhase): Promise<string | undefined> {
  for (;;) {
    const view = await jobView(stack, jobId, `?state=${phase}&targetsLimit=1`);
    if (view?.targets[0]) return view.targets[0].name;
    if (view && finalJobStatuses.has(view.status)) return undefined;
    await sleep(25);
  }
}

async function finishedJob(stack: ChaosStack, jobId: string, timeoutMs: number): Promise<JobView | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const view = await jobView(stack, jobId, '?targetsLimit=1000');
    if (view && finalJobStatuses.has(view.status)) return view;
    await sleep(500);
  }
  return undefined;
}

/** Lines of the computer's run log naming `jobId`: the install command's runs for this job. */
async function runsOf(stack: ChaosStack, computer: string, jobId: string): Promise<number> {
  const log = await readFile(join(stack.agentFolder(computer), 'root', 'chaos-runs.log'), 'utf8').catch(() => '');
  return log.split('\n').filter((line) => line === jobId).length;
}

/** Runs cell number `index` of the matrix. */
export async function runScenario(
  stack: ChaosStack,
  index: number,
  target: ChaosTarget,
  phase: ChaosPhase,
  options: ScenarioOptions,
): Promise<ScenarioFigures> {
  const installCommand = `echo "$COURIER_JOB_ID" >> "$COURIER_TARGET_DIR/chaos-runs.log"; sleep ${options.installSeconds}`;
  const packageId = await stack.upload({ name: `chaos-${index}`, version: '1.0.0', installCommand, timeoutSeconds: 300 }, options.packageBytes);
  // One download at a time per relay stretches the downloading phase over every computer.
  const created = await stack.request<{ id: string }>('POST', '/jobs', {
    type: 'install',
    packageId,
    targets: { computers: stack.computers },
    downloadsPerRelay: 1,
  });
  if (created?.status !== 201) throw new Error(`the job was refused: ${JSON.stringify(created?.body)}`);
  const jobId = created.body.id;

  const inPhase = await computerIn(stack, jobId, phase);
  const victim = target === 'computer' ? (inPhase ?? stack.computers[0]!) : target === 'relay' ? RELAY : undefined;
  await stack.kill(target, victim);
  await sleep(options.downMs);
  await stack.restart(target, victim);
  const restartedAt = Date.now();
  const view = await finishedJob(stack, jobId, options.finishTimeoutMs);
  const recoveryMs = Date.now() - restartedAt;

  const figures: ScenarioFigures = {
    target,
    phase,
    killed: victim ? `${target} ${victim}` : target,
    phaseReached: inPhase !== undefined,
    downMs: options.downMs,
    recoveryMs,
    jobStatus: view?.status ?? 'not finished',
    states: {},
    runs: {},
    problems: [],
  };
  if (!view) figures.problems.push(`the job did not end within ${options.finishTimeoutMs / 1000} s of the restart`);
  for (const computer of stack.computers) {
    const runs = await runsOf(stack, computer, jobId);
    figures.runs[computer] = runs;
    if (runs > 1) figures.problems.push(`${computer} ran the install command ${runs} times`);
    const found = view?.targets.find((entry) => entry.name === computer);
    if (!found) continue;
    figures.states[computer] = found.state === 'installed' ? 'installed' : `${found.state}: ${found.detail ?? 'no reason given'}`;
    if (!isTerminal(found.state)) figures.problems.push(`${computer} ended the job ${found.state}`);
    else if (found.state === 'installed' && runs !== 1) figures.problems.push(`${computer} is installed but ran the command ${runs} times`);
    else if (found.state !== 'installed' && !interruptedByTheKill(target, phase, victim, computer, found)) {
      figures.problems.push(`${computer} ended ${found.state} (${found.detail ?? 'no reason'}) though nothing stopped its install`);
    }
  }
  return figures;
}

/**
 * A computer whose own agent was killed while its install command ran cannot know how the command ended:
 * it says so (failed, interrupted) and does not run it again. That is the one true end other than installed.
 */
function interruptedByTheKill(
  target: ChaosTarget,
  phase: ChaosPhase,
  victim: string | undefined,
  computer: string,
  found: { state: TargetState; detail?: string | null },
): boolean {
  return target === 'computer' && phase === 'installing' && victim === computer && found.state === 'failed' && /interrupted/.test(found.detail ?? '');
}
