/** `courier packages upload|list|show|set-expiry`. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError } from '../api-client.js';
import { contextOf } from '../context.js';
import { fields, nextPageHint, print, table } from '../output.js';
import { paged, pageQuery, type Page, type PageOptions } from '../paging.js';

interface PackageView {
  id: string;
  name: string;
  version: string;
  size: number;
  format: string;
  fileName: string;
  relayExpiresAt: string;
  createdAt: string;
  relayCopies: { relayName: string; state: string; expiresAt: string }[];
}

function summary(pkg: PackageView): unknown[] {
  return [pkg.id, pkg.name, pkg.version, pkg.format, pkg.size, pkg.relayExpiresAt, pkg.relayCopies.length];
}

const listHead = ['id', 'name', 'version', 'format', 'bytes', 'relays keep it until', 'relay copies'];

/** The manifest from --manifest, or from the flags that describe one. */
async function manifestOf(options: Record<string, string | undefined>): Promise<Record<string, unknown>> {
  if (options.manifest) {
    try {
      return JSON.parse(await readFile(options.manifest, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new CliError(`cannot read the manifest ${options.manifest}: ${(error as Error).message}`, 2);
    }
  }
  const { name, version, installCommand } = options;
  if (!name || !version || !installCommand) throw new CliError('give --name, --version and --install-command, or --manifest FILE', 2);
  return {
    name,
    version,
    installCommand,
    ...(options.timeoutSeconds && { timeoutSeconds: Number(options.timeoutSeconds) }),
    ...(options.relayExpiresAt && { relayExpiresAt: options.relayExpiresAt }),
    ...(options.format && { format: options.format }),
  };
}

/** Adds the package commands to `program`. */
export function packageCommands(program: Command): void {
  const packages = program.command('packages').description('upload and look after packages');
  packages
    .command('upload')
    .description('upload a package: a .tar.gz, a .zip or a single file, with its manifest')
    .argument('<file>', 'the package content')
    .option('--name <name>', 'package name')
    .option('--version <version>', 'package version')
    .option('--install-command <command>', 'run with sh -c in the extracted package')
    .option('--timeout-seconds <seconds>', 'how long the install command may run (default 600)')
    .option('--relay-expires-at <date>', 'until when relays keep their copy (ISO 8601)')
    .option('--format <format>', 'tar.gz, zip or file (default: from the file name)')
    .option('--manifest <file>', 'the whole manifest as a JSON file, instead of the flags above')
    .action(async (file: string, options: Record<string, string | undefined>, command: Command) => {
      const { api, json } = contextOf(command);
      const created = await api.upload<PackageView>(await manifestOf(options), file);
      print(json, created, (pkg) => fields({ id: pkg.id, name: pkg.name, version: pkg.version, format: pkg.format, bytes: pkg.size }));
    });
  paged(packages.command('list').description('packages in use, newest first, a page at a time'), 'packages', 100).action(
    async (options: PageOptions, command: Command) => {
      const { api, json } = contextOf(command);
      print(json, await api.get<Page<PackageView>>(`/packages${pageQuery(options)}`), ({ items, nextCursor }) => {
        return `${table(listHead, items.map(summary))}${nextPageHint(nextCursor)}`;
      });
    },
  );
  packages
    .command('show')
    .description('one package, with its relay copies')
    .argument('<id>', 'package id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      print(json, await api.get<PackageView>(`/packages/${encodeURIComponent(id)}`), (pkg) => {
        const { relayCopies, ...rest } = pkg;
        const copies = table(['relay', 'state', 'expires'], relayCopies.map((copy) => [copy.relayName, copy.state, copy.expiresAt]));
        return `${fields(rest)}\n${copies}`;
      });
    });
  packages
    .command('set-expiry')
    .description("change until when relays keep the package's copies")
    .argument('<id>', 'package id')
    .argument('<date>', 'ISO 8601 date-time in the future')
    .action(async (id: string, date: string, _options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      const updated = await api.patch<PackageView>(`/packages/${encodeURIComponent(id)}`, { relayExpiresAt: date });
      print(json, updated, (pkg) => fields({ id: pkg.id, relayExpiresAt: pkg.relayExpiresAt }));
    });
}
