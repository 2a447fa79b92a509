/** `courier computers list|show` and `courier relays list`. */
import type { Command } from 'commander';
import { splitLabel } from '../../common/labels.js';
import { CliError } from '../api-client.js';
import { collect } from '../options.js';
import { contextOf } from '../context.js';
import { fields, nextPageHint, print, table } from '../output.js';
import { paged, pageQuery, type Page, type PageOptions } from '../paging.js';

function labelsLine(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

/** `key=value` sets, `key-` removes: the merge patch PATCH /computers/:id takes. */
function labelPatch(changes: string[]): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const change of changes) {
    const pair = splitLabel(change);
    if (pair) patch[pair[0]] = pair[1];
    else if (change.endsWith('-') && change.length > 1) patch[change.slice(0, -1)] = null;
    else throw new CliError(`"${change}" is neither key=value nor key-`, 2);
  }
  return patch;
}

interface ComputerView {
  id: string;
  name: string;
  url: string;
  relay: { id: string; name: string } | null;
  enrolledAt: string;
  labels: Record<string, string>;
  installed?: { packageId: string; name: string; version: string; jobId: string; installedAt: string }[];
}

interface RelayView {
  id: string;
  name: string;
  url: string;
  enrolledAt: string;
  computers: number;
  copies: unknown[];
}

/** Adds the inventory commands to `program`. */
export function inventoryCommands(program: Command): void {
  const computers = program.command('computers').description('the enrolled computers');
  paged(computers.command('list').description('computers by name, a page at a time'), 'computers', 1000)
    .option('--label <key=value>', 'only computers with this label (repeat for several)', collect, [])
    .action(async (options: PageOptions & { label: string[] }, command: Command) => {
      const { api, json } = contextOf(command);
      const query = pageQuery(options, options.label.map((label): [string, string] => ['label', label]));
      print(json, await api.get<Page<ComputerView>>(`/computers${query}`), ({ items, nextCursor }) => {
        const rows = items.map((computer) => [computer.name, computer.relay?.name, labelsLine(computer.labels), computer.url, computer.id]);
        return `${table(['name', 'relay', 'labels', 'url', 'id'], rows)}${nextPageHint(nextCursor)}`;
      });
    });
  computers
    .command('label')
    .description('set labels (key=value) or remove them (key-) on one computer')
    .argument('<computer>', 'name or id')
    .argument('<changes...>', 'key=value to set, key- to remove')
    .action(async (computer: string, changes: string[], _options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      const updated = await api.patch<ComputerView>(`/computers/${encodeURIComponent(computer)}`, { labels: labelPatch(changes) });
      print(json, updated, (view) => fields({ name: view.name, labels: labelsLine(view.labels) }));
    });
  computers
    .command('show')
    .description('one computer and what it has installed')
    .argument('<computer>', 'name or id')
    .action(async (computer: string, _options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      print(json, await api.get<ComputerView>(`/computers/${encodeURIComponent(computer)}`), ({ installed = [], relay, ...rest }) => {
        const packages = table(['package', 'version', 'installed', 'by job'], installed.map((entry) => [entry.name, entry.version, entry.installedAt, entry.jobId]));
        return `${fields({ ...rest, relay: relay?.name ?? null })}\n${packages}`;
      });
    });
  const relays = program.command('relays').description('the enrolled relays');
  paged(relays.command('list').description('relays by name, a page at a time'), 'relays', 1000).action(
    async (options: PageOptions, command: Command) => {
      const { api, json } = contextOf(command);
      print(json, await api.get<Page<RelayView>>(`/relays${pageQuery(options)}`), ({ items, nextCursor }) => {
        const rows = items.map((relay) => [relay.name, relay.computers, relay.copies.length, relay.url, relay.id]);
        return `${table(['name', 'computers', 'copies', 'url', 'id'], rows)}${nextPageHint(nextCursor)}`;
      });
    },
  );
}
