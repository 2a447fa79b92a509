/** `courier computers list|show` and `courier relays list`. */
import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { fields, nextPageHint, print, table } from '../output.js';
import { paged, pageQuery, type Page, type PageOptions } from '../paging.js';

interface ComputerView {
  id: string;
  name: string;
  url: string;
  relay: { id: string; name: string } | null;
  enrolledAt: string;
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
  paged(computers.command('list').description('computers by name, a page at a time'), 'computers', 1000).action(
    async (options: PageOptions, command: Command) => {
      const { api, json } = contextOf(command);
      print(json, await api.get<Page<ComputerView>>(`/computers${pageQuery(options)}`), ({ items, nextCursor }) => {
        const rows = items.map((computer) => [computer.name, computer.relay?.name, computer.url, computer.enrolledAt, computer.id]);
        return `${table(['name', 'relay', 'url', 'enrolled', 'id'], rows)}${nextPageHint(nextCursor)}`;
      });
    },
  );
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
