/** What the CLI prints: readable tables by default, the api's JSON as it came with `--json`. */
import Table from 'cli-table3';

/** A cell as the CLI shows it: absent values as a dash. */
function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'string') return value;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
}

/** A table of `rows` under `head`. */
export function table(head: string[], rows: unknown[][]): string {
  const rendered = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) rendered.push(row.map(cell));
  return rendered.toString();
}

/** A two-column table of a record's fields, for one thing shown whole. */
export function fields(record: Record<string, unknown>): string {
  const rendered = new Table({ style: { head: [], border: [] } });
  for (const [key, value] of Object.entries(record)) rendered.push({ [key]: cell(value) });
  return rendered.toString();
}

/** Prints `value` as JSON when asked to, else what `readable` renders of it. */
export function print<T>(json: boolean, value: T, readable: (value: T) => string): void {
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : readable(value)}\n`);
}

/** Counts by state, largest first: `installed 40, downloading 2`. */
export function countsLine(counts: Record<string, number | undefined>): string {
  const entries = Object.entries(counts).filter((entry): entry is [string, number] => (entry[1] ?? 0) > 0);
  return entries.length === 0 ? 'no targets' : entries.sort((a, b) => b[1] - a[1]).map(([state, count]) => `${state} ${count}`).join(', ');
}

/** A page's hint that more follows. */
export function nextPageHint(nextCursor: string | null): string {
  return nextCursor ? `\nmore: --cursor ${nextCursor}` : '';
}
