/**
 * Keyset paging. A list answers one page and a cursor naming where the next begins: the base64url of the
 * JSON of the last row's sort key. Clients treat it as opaque and pass it back unchanged; the api checks it
 * against the list's key schema, so a cursor the list never gave out is a 400 on that parameter, never a
 * query PostgreSQL refuses. Unlike an offset, a key lets the database start at the page through an index
 * instead of reading and dropping every row before it.
 */
import { z } from 'zod';

/** One page of a list; `nextCursor` is null on the last page. */
export interface Page<Item> {
  items: Item[];
  nextCursor: string | null;
}

/** The schema of a page of `item`s, for the OpenAPI document. */
export function pageSchema<Item extends z.ZodType>(item: Item) {
  return z.strictObject({ items: z.array(item), nextCursor: z.string().nullable() });
}

/** The cursor of a sort key. */
export function encodeCursor(key: object): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

const base64url = /^[A-Za-z0-9_-]+$/;

/** The sort key in `cursor`, or undefined when it is not base64url JSON matching `keySchema`. */
export function decodeCursor<Key>(cursor: string, keySchema: z.ZodType<Key>): Key | undefined {
  // Buffer.from skips characters outside the alphabet instead of refusing them.
  if (!base64url.test(cursor)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const key = keySchema.safeParse(value);
  return key.success ? key.data : undefined;
}

/** Longer than any key of two names or ids and a timestamp, base64url-encoded. */
const MAX_CURSOR_LENGTH = 4096;

/** A query parameter holding a cursor of `keySchema`'s keys, decoded to the key. */
export function cursorParam<Key>(keySchema: z.ZodType<Key>, answeredAs: string) {
  return z
    .string()
    .max(MAX_CURSOR_LENGTH)
    .transform((cursor, context): Key => {
      const key = decodeCursor(cursor, keySchema);
      if (key === undefined) {
        context.addIssue({ code: 'custom', message: `is not a cursor this list gave out: pass ${answeredAs} back unchanged` });
        return z.NEVER;
      }
      return key;
    });
}

/**
 * The page in `rows`, read with `limit + 1`: the extra row only shows that another page follows, and the
 * cursor names the last row shown.
 */
export function pageOf<Row>(rows: Row[], limit: number, keyOf: (row: Row) => object): { rows: Row[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const shown = rows.slice(0, limit);
  return { rows: shown, nextCursor: encodeCursor(keyOf(shown[shown.length - 1]!)) };
}

const microsecondTimestamp = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * A timestamptz key as PostgreSQL holds it, to the microsecond, in UTC (`2030-01-31T02:00:00.123456Z`). A JS
 * Date would round it to the millisecond, and a page would then skip or repeat rows created within the
 * same millisecond. Only dates PostgreSQL accepts pass: no year 0, no 31 February.
 */
export const timestampKey = z.string().refine((text) => {
  const match = microsecondTimestamp.exec(text);
  if (!match || match[1] === '0000') return false;
  const milliseconds = `${text.slice(0, 23)}Z`;
  const parsed = new Date(milliseconds);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString() === milliseconds;
});

/** A name in a key: PostgreSQL text holds anything but NUL. */
export const nameKey = z.string().refine((text) => !text.includes('\u0000'));
