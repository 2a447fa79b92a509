/** `courier windows list|set|delete`: maintenance windows defined once, for jobs to name (`jobs create --window`). */
import type { Command } from 'commander';
import { collect } from '../options.js';
import { contextOf } from '../context.js';
import { fields, nextPageHint, print, table } from '../output.js';
import { paged, pageQuery, type Page, type PageOptions } from '../paging.js';

interface NamedWindow {
  name: string;
  window: { days?: string[]; start: string; end: string; timezone: string };
  updatedAt: string;
}

function windowLine({ window }: NamedWindow): string {
  return `${window.days?.join(',') ?? 'every day'} ${window.start}-${window.end} ${window.timezone}`;
}

/** Adds the window commands to `program`. */
export function windowCommands(program: Command): void {
  const windows = program.command('windows').description('maintenance windows defined once, for jobs to name');
  paged(windows.command('list').description('named windows, by name'), 'windows', 1000).action(async (options: PageOptions, command: Command) => {
    const { api, json } = contextOf(command);
    print(json, await api.get<Page<NamedWindow>>(`/windows${pageQuery(options)}`), ({ items, nextCursor }) => {
      const rows = items.map((named) => [named.name, windowLine(named), named.updatedAt]);
      return `${table(['name', 'window', 'updated'], rows)}${nextPageHint(nextCursor)}`;
    });
  });
  windows
    .command('set')
    .description('define a window by name, or replace its definition (later jobs only)')
    .argument('<name>', 'letters, digits, ".", "_" or "-"')
    .requiredOption('--start <HH:MM>', 'when it opens, local time')
    .requiredOption('--end <HH:MM>', 'when it closes; not after --start runs overnight')
    .requiredOption('--timezone <zone>', 'an IANA time zone such as Asia/Tokyo or UTC')
    .option('--day <day>', 'mon, tue, …, sun: a day it opens on (repeatable; default every day)', collect)
    .action(async (name: string, options: { start: string; end: string; timezone: string; day?: string[] }, command: Command) => {
      const { api, json } = contextOf(command);
      const window = { ...(options.day && { days: options.day }), start: options.start, end: options.end, timezone: options.timezone };
      const defined = await api.put<NamedWindow>(`/windows/${encodeURIComponent(name)}`, window);
      print(json, defined, (view) => fields({ name: view.name, window: windowLine(view), updatedAt: view.updatedAt }));
    });
  windows
    .command('delete')
    .description('delete a named window; jobs that copied it keep their copy')
    .argument('<name>', 'the window')
    .action(async (name: string, _options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      const deleted = await api.delete<NamedWindow>(`/windows/${encodeURIComponent(name)}`);
      print(json, deleted, (view) => `window ${view.name} deleted`);
    });
}
