/** The paged lists' options (`--limit`, `--cursor`) and query string, the same for every list. */
import type { Command } from 'commander';

/** One page of a list, as the api answers it; `nextCursor` is null on the last page. */
export interface Page<Item> {
  items: Item[];
  nextCursor: string | null;
}

/** What a paged list command was given. */
export interface PageOptions {
  limit?: string;
  cursor?: string;
}

/** Adds `--limit` and `--cursor` to a list command. */
export function paged(command: Command, what: string, defaultLimit: number): Command {
  return command
    .option('--limit <n>', `${what} per page (default ${defaultLimit})`)
    .option('--cursor <cursor>', 'the page after the one that printed it');
}

/** The query string of a page and its list's filters (`[name, value]`, a name may repeat), or nothing. */
export function pageQuery(options: PageOptions, filters: [string, string][] = []): string {
  const query = new URLSearchParams({ ...(options.limit && { limit: options.limit }), ...(options.cursor && { cursor: options.cursor }) });
  for (const [name, value] of filters) query.append(name, value);
  return query.size > 0 ? `?${query.toString()}` : '';
}
