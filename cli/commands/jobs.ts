/** `courier jobs create|list|show|watch|cancel|resume|rerun`. */
import { Option, type Command } from 'commander';
import { splitLabel } from '../../common/labels.js';
import { CliError } from '../api-client.js';
import { collect } from '../options.js';
import { contextOf, type CommandContext } from '../context.js';
import { hasEnded, type JobView } from '../job-view.js';
import { countsLine, fields, nextPageHint, print, table } from '../output.js';
import { paged, pageQuery, type Page, type PageOptions } from '../paging.js';
import { watchJob } from '../watch.js';

function positive(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new CliError(`${flag} must be a positive integer, got "${value}"`, 2);
    return Number(value);
  };
}

/** `key=value` labels as the api takes them. */
function labelsOf(pairs: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const text of pairs) {
    const pair = splitLabel(text);
    if (!pair) throw new CliError(`--label takes key=value, got "${text}"`, 2);
    labels[pair[0]] = pair[1];
  }
  return labels;
}

/** `--wave` values: a count of computers, or a percentage kept as the api takes it ("10%"). */
function waveOf(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}

function jobFields(job: JobView): string {
  const { targets, targetsNextCursor, counts, rollout, waves, ...rest } = job;
  const rolloutLine = rollout && `waves ${rollout.waves.join(', ')}; pause ${rollout.pauseSeconds} s; failure threshold ${rollout.failureThreshold ?? 'none'}`;
  const summary = fields({ ...rest, counts: countsLine(counts), ...(rolloutLine && { rollout: rolloutLine }) });
  const waveTable = waves && waves.length > 0 ? `\n${table(['wave', 'computers', 'targets'], waves.map((wave) => [wave.index + 1, wave.size, countsLine(wave.counts)]))}` : '';
  if (!targets) return summary + waveTable;
  const rows = targets.map((target) => [target.name, target.kind, target.state, target.detail]);
  return `${summary}${waveTable}\n${table(['target', 'kind', 'state', 'detail'], rows)}${nextPageHint(targetsNextCursor ?? null)}`;
}

/** Follows the job to its end and sets the exit code: 0 only when it completed. */
async function follow({ api, json }: CommandContext, id: string): Promise<void> {
  const ended = await watchJob(api, id, json ? process.stderr : process.stdout);
  if (json) print(true, ended, jobFields);
  if (ended.status !== 'completed') {
    process.exitCode = 1;
    if (!json) process.stderr.write(`job ${id} ended ${ended.status}${ended.detail ? `: ${ended.detail}` : ''}\n`);
  }
}

/** Adds the job commands to `program`. */
export function jobCommands(program: Command): void {
  const jobs = program.command('jobs').description('create, follow and control jobs');
  jobs
    .command('create')
    .description('create a job, as POST /api/v1/jobs does')
    .addOption(new Option('--type <type>', 'what the job does').choices(['install', 'transfer', 'offer']).makeOptionMandatory())
    .requiredOption('--package <id>', 'package id')
    .option('--computer <name>', 'a target computer, by name or id (repeatable)', collect)
    .option('--relay <name>', 'a target relay (transfer) or every computer under it (install, offer); repeatable', collect)
    .option('--label <key=value>', 'every computer carrying this label (install, offer); repeat to require several', collect)
    .option('--dynamic', 'with --label: computers that gain the labels later join the job until its deadline')
    .option('--all', 'every computer (install, offer) or relay (transfer)')
    .option('--at <date>', 'execution time, ISO 8601 (default: now)')
    .option('--deadline <date>', 'ISO 8601; default: the execution time plus the server default')
    .option('--downloads-per-relay <n>', 'computers downloading from one relay at once', positive('--downloads-per-relay'))
    .option('--server-downloads <n>', 'computers downloading from the managing server at once', positive('--server-downloads'))
    .option('--reinstall', 'install jobs: run the command even where another job installed the package')
    .option('--wave <end>', 'roll out in waves: where each ends, a count or a percentage such as 10% (repeatable)', collect)
    .option('--pause-seconds <n>', 'with --wave: wait this long between waves')
    .option('--failure-threshold <fraction>', 'with --wave: pause the job when more than this fraction (0-1) of a wave fails')
    .option('--window <name>', 'install and offer jobs: computers get their orders only inside this named window (courier windows set)')
    .option('--download-outside-window', 'with --window, install jobs: download before the window opens, install once it does')
    .option('--watch', 'follow the job until it ends')
    .action(async (options: Record<string, unknown>, command: Command) => {
      const context = contextOf(command);
      if ((options.pauseSeconds !== undefined || options.failureThreshold !== undefined) && !options.wave) {
        throw new CliError('--pause-seconds and --failure-threshold shape a rollout: give its waves with --wave', 2);
      }
      if (options.dynamic && !options.label) throw new CliError('--dynamic takes in the computers that gain the labels later: give them with --label', 2);
      const targets = {
        ...(options.computer ? { computers: options.computer } : {}),
        ...(options.relay ? { relays: options.relay } : {}),
        ...(options.label ? { labels: labelsOf(options.label as string[]) } : {}),
        ...(options.dynamic ? { dynamic: true } : {}),
        ...(options.all ? { all: true } : {}),
      };
      const created = await context.api.post<JobView>('/jobs', {
        type: options.type,
        packageId: options.package,
        targets,
        ...(options.at ? { scheduledAt: options.at } : {}),
        ...(options.deadline ? { deadline: options.deadline } : {}),
        ...(options.downloadsPerRelay ? { downloadsPerRelay: options.downloadsPerRelay } : {}),
        ...(options.serverDownloads ? { serverDownloads: options.serverDownloads } : {}),
        ...(options.reinstall ? { reinstall: true } : {}),
        ...(options.window ? { window: options.window } : {}),
        ...(options.downloadOutsideWindow ? { downloadOutsideWindow: true } : {}),
        ...(options.wave
          ? {
              rollout: {
                waves: (options.wave as string[]).map(waveOf),
                ...(options.pauseSeconds !== undefined && { pauseSeconds: Number(options.pauseSeconds) }),
                ...(options.failureThreshold !== undefined && { failureThreshold: Number(options.failureThreshold) }),
              },
            }
          : {}),
      });
      if (!options.watch) return print(context.json, created, jobFields);
      if (!context.json) process.stdout.write(`job ${created.id} created\n`);
      await follow(context, created.id);
    });
  paged(jobs.command('list').description('jobs, newest first'), 'jobs', 50).action(async (options: PageOptions, command: Command) => {
    const { api, json } = contextOf(command);
    print(json, await api.get<Page<JobView>>(`/jobs${pageQuery(options)}`), ({ items, nextCursor }) => {
      const rows = items.map((job) => [job.id, job.type, job.status, `${job.progress}%`, countsLine(job.counts), job.scheduledAt]);
      return `${table(['id', 'type', 'status', 'progress', 'targets', 'execution time'], rows)}${nextPageHint(nextCursor)}`;
    });
  });
  jobs
    .command('show')
    .description('one job, its counts and a page of its targets')
    .argument('<id>', 'job id')
    .option('--state <state>', 'only targets in this state')
    .action(async (id: string, options: { state?: string }, command: Command) => {
      const { api, json } = contextOf(command);
      const query = options.state ? `?state=${encodeURIComponent(options.state)}` : '';
      print(json, await api.get<JobView>(`/jobs/${encodeURIComponent(id)}${query}`), jobFields);
    });
  jobs
    .command('watch')
    .description('follow a job until it ends: a progress bar on a terminal, a line per change in a pipe')
    .argument('<id>', 'job id')
    .action(async (id: string, _options: unknown, command: Command) => {
      await follow(contextOf(command), id);
    });
  jobs
    .command('cancel')
    .description('cancel a job: what has not started never runs')
    .argument('<id>', 'job id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      const job = await api.post<JobView>(`/jobs/${encodeURIComponent(id)}/cancel`);
      print(json, job, (view) => `job ${view.id} ${hasEnded(view) ? view.status : 'is being cancelled'}`);
    });
  jobs
    .command('resume')
    .description('resume a rollout paused by a wave above its failure threshold')
    .argument('<id>', 'job id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      print(json, await api.post<JobView>(`/jobs/${encodeURIComponent(id)}/resume`), (view) => `job ${view.id} resumes with its next wave`);
    });
  jobs
    .command('rerun')
    .description('a new job for the targets of a finished job that did not succeed')
    .argument('<id>', 'job id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      print(json, await api.post<JobView>(`/jobs/${encodeURIComponent(id)}/rerun`), jobFields);
    });
}
