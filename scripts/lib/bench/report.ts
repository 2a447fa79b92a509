/**
 * The run's output: the figures as JSON and the chart as SVG under `<outDir>/benchmarks/`, a section of
 * `<outDir>/benchmarks.md` (one per configuration, replaced when it runs again), and the same table for
 * the terminal.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { DEFAULT_DOWNLOADS_PER_RELAY } from '../../../common/throughput.js';
import { renderChart } from './chart.js';
import type { BenchFigures, BenchFiles } from './figures.js';

const MARKDOWN_HEADER = `# Benchmarks

Produced by \`npm run bench\` (scripts/bench.ts), which builds Courier as for production and starts a whole
Courier of its own (Temporal dev server on SQLite in WAL mode, a fresh PostgreSQL database, and the api,
the worker and the fleet simulator from the build, \`dist/\`), then runs
an install job to every computer and compares it with the **floor**: the same downloads from the same
relays, bounded the same way per relay, verified and "installed" for the same time by a bare loop with
no Temporal, no database and no orders (DESIGN §5), run inside the fleet's process, so it has the CPU the
simulated computers have. Then an offer job (one user in ten installs, one in ten declines)
and a transfer job of a new package to every relay. One section per configuration; running the same
configuration again replaces its section. The JSON beside each chart holds every figure and sample.
`;

/** What names a configuration: its files and its section. */
export function configurationKey(config: BenchFigures['config']): string {
  const key = `${config.computers}-computers-${config.relays}-relays-${config.sizeBytes}-bytes-${config.installMs}ms`;
  // Runs at the server's default bound keep the keys (and sections) they always had.
  return config.downloadsPerRelay === DEFAULT_DOWNLOADS_PER_RELAY ? key : `${key}-${config.downloadsPerRelay}-per-relay`;
}

const count = (value: number) => value.toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const ratio = (value: number) => value.toFixed(2);

function bytes(value: number): string {
  if (value >= 10 ** 6) return `${(value / 10 ** 6).toLocaleString('en-US', { maximumFractionDigits: 1 })} MB`;
  if (value >= 10 ** 3) return `${(value / 10 ** 3).toLocaleString('en-US', { maximumFractionDigits: 1 })} kB`;
  return `${value} B`;
}

/** Each process's CPU seconds, largest first, with the total and what it comes to per computer. */
function cpuUse(used: Record<string, number>, computers: number): string {
  const total = Object.values(used).reduce((sum, seconds) => sum + seconds, 0);
  const each = Object.entries(used)
    .filter(([, seconds]) => seconds >= 0.05)
    .sort(([, a], [, b]) => b - a)
    .map(([name, seconds]) => `${name} ${seconds.toFixed(1)}`);
  return `${total.toFixed(1)}: ${each.join(', ')} (${((total * 1000) / computers).toFixed(1)} ms per computer)`;
}

/** The fleet's peak RSS: of its one process, or the sum over its processes when it ran as several. */
function fleetRss(rss: Record<string, number>): number {
  return Object.entries(rss).reduce((sum, [name, bytes]) => (/^fleet(-\d+)?$/.test(name) ? sum + bytes : sum), 0);
}

/** One line saying what was run. */
export function describeConfiguration(config: BenchFigures['config']): string {
  return (
    `${count(config.computers)} computers, ${config.relays} relays, ${bytes(config.sizeBytes)} package, ${count(config.installMs)} ms installs, ` +
    `${config.downloadsPerRelay} downloads at once per relay` +
    (config.fleetProcesses > 1 ? `, the fleet simulated by ${config.fleetProcesses} processes` : '')
  );
}

/** The floor and the ratio, or a line saying the run left them out. */
function floorRows({ floor, ratio: courierOverFloor }: BenchFigures): [string, string][] {
  if (!floor || courierOverFloor === null) return [['floor', 'not measured (--skip-floor)']];
  return [
    ['floor: same downloads and installs, no Temporal, no database', `${seconds(floor.ms)} (${count(floor.finished)} computers)`],
    ['Courier ÷ floor', ratio(courierOverFloor)],
  ];
}

/** The headline: Courier's time, and the floor's with the ratio when the run measured it. */
function headline({ install, floor, ratio: courierOverFloor }: BenchFigures): string {
  const courier = `Courier ${seconds(install.courierMs)}`;
  if (!floor || courierOverFloor === null) return `${courier}   (floor not measured)`;
  return `${courier}   floor ${seconds(floor.ms)}   Courier ÷ floor ${ratio(courierOverFloor)}`;
}

/** The figures as (figure, value) rows, Courier and the floor first. */
export function figureRows(figures: BenchFigures): [string, string][] {
  const { install, floor, offer, transfer, config } = figures;
  const rss = figures.peakRssBytes;
  const rows: [string, string][] = [
    ['Courier: install job, execution time → job end', `${seconds(install.courierMs)} (${install.status}; ${count(install.counts.installed ?? 0)} installed)`],
    ['Courier: time per computer', `${(install.courierMs / config.computers).toFixed(1)} ms`],
    ...floorRows(figures),
    [
      'managing-server egress ÷ (size × relays)',
      `${ratio(install.egress.ratio)} (${bytes(install.egress.toRelays)} to relays, ${bytes(install.egress.toComputers)} to computers)`,
    ],
    [
      "largest history of the job's workflows",
      `${count(install.workflows.largestHistory.events)} events (${install.workflows.largestHistory.workflowId})`,
    ],
    ["the job's workflows", `${count(install.workflows.workflows)} (${count(install.workflows.runs)} runs)`],
    ['peak RSS: api, worker', `${mib(rss.api ?? 0)}, ${mib(rss.worker ?? 0)} (fleet ${mib(fleetRss(rss))}, Temporal ${mib(rss.temporal ?? 0)})`],
    ['PostgreSQL rows written per computer (install job)', `${install.postgresRows.perComputer} (${count(install.postgresRows.total)} in all)`],
    ['CPU used by the install job (core-seconds)', cpuUse(install.cpuSeconds, config.computers)],
    ...(floor ? [['CPU used by the floor (core-seconds)', cpuUse(floor.cpuSeconds, config.computers)] as [string, string]] : []),
    ['GET /jobs/:id, GET /computers (median of 5)', `${figures.responseMs.job} ms, ${figures.responseMs.computers} ms`],
  ];
  if (offer) {
    rows.push(['offer: every computer reads offered', `${seconds(offer.offeredMs)} after the execution time`]);
    rows.push([
      `offer: ${count(offer.choices.install)} Install and ${count(offer.choices.decline)} Decline choices carried out`,
      `${seconds(offer.carriedOutMs)} after the first choice (sending them took ${seconds(offer.choosingMs)})`,
    ]);
  }
  if (transfer) {
    rows.push([`transfer of a new package to ${config.relays} relays`, `${seconds(transfer.ms)}; egress ÷ (size × relays) ${ratio(transfer.egress.ratio)}`]);
    if (transfer.bandwidth) {
      const { limit, slowestRelayRate } = transfer.bandwidth;
      rows.push([`transfer with every relay limited to ${count(limit)} bytes/s`, `the slowest relay got ${count(Math.round(slowestRelayRate))} bytes/s`]);
    }
  }
  return rows;
}

/** The figures for the terminal: Courier and the floor side by side, then every figure. */
export function formatForTerminal(figures: BenchFigures, files?: BenchFiles): string {
  const rows = figureRows(figures);
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = [
    '',
    `${describeConfiguration(figures.config)}`,
    headline(figures),
    '',
    ...rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`),
  ];
  if (files) lines.push('', `written: ${files.json}, ${files.svg}, ${files.markdown}`);
  return lines.join('\n');
}

/** The markdown section of one run. */
function markdownSection(key: string, figures: BenchFigures, chart: string, json: string): string {
  const { machine } = figures;
  const table = figureRows(figures).map(([name, value]) => `| ${name} | ${value.replaceAll('|', '\\|')} |`);
  return [
    `<!-- bench:${key} -->`,
    `## ${describeConfiguration(figures.config)}`,
    '',
    '```sh',
    figures.command,
    '```',
    '',
    `Run on ${figures.date.slice(0, 10)}: ${machine.cores} cores (${machine.cpu}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, Node ${machine.node}.`,
    '',
    '| figure | value |',
    '| --- | --- |',
    ...table,
    '',
    `![Computers finished over time${figures.floor ? ', Courier against the floor' : ''}](${chart})`,
    '',
    `All figures and samples: [${json}](${json}).`,
    `<!-- /bench:${key} -->`,
  ].join('\n');
}

/** Puts `section` in place of the one with the same key, or appends it. */
export function upsertSection(markdown: string, key: string, section: string): string {
  const start = markdown.indexOf(`<!-- bench:${key} -->`);
  const endMarker = `<!-- /bench:${key} -->`;
  const end = markdown.indexOf(endMarker);
  if (start >= 0 && end > start) return `${markdown.slice(0, start)}${section}${markdown.slice(end + endMarker.length)}`;
  return `${markdown.trimEnd()}\n\n${section}\n`;
}

/** Writes the JSON, the SVG and the markdown section; returns their paths. */
export async function writeReport(figures: BenchFigures, outDir: string): Promise<BenchFiles> {
  const key = configurationKey(figures.config);
  const folder = join(outDir, 'benchmarks');
  await mkdir(folder, { recursive: true });
  const files: BenchFiles = { json: join(folder, `${key}.json`), svg: join(folder, `${key}.svg`), markdown: join(outDir, 'benchmarks.md') };
  await writeFile(files.json, `${JSON.stringify(figures, null, 2)}\n`);
  const series = [{ name: 'Courier', points: figures.install.series }];
  if (figures.floor) series.push({ name: 'floor', points: figures.floor.series });
  const svg = await renderChart(describeConfiguration(figures.config), series);
  await writeFile(files.svg, svg);
  const existing = await readFile(files.markdown, 'utf8').catch(() => MARKDOWN_HEADER);
  const link = (path: string) => relative(outDir, path).split('\\').join('/');
  await writeFile(files.markdown, upsertSection(existing, key, markdownSection(key, figures, link(files.svg), link(files.json))));
  return files;
}
