/** Keyset cursors: what a list gives out comes back as the same key, and nothing else gets through. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cursorParam, decodeCursor, encodeCursor, nameKey, pageOf, timestampKey } from '../../api/cursor.js';
import { InvalidInput } from '../../api/errors.js';
import { parseInput } from '../../api/validation.js';

const keySchema = z.strictObject({ name: nameKey, id: z.string() });
const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

describe('encodeCursor and decodeCursor', () => {
  it('give back the key, whatever the name holds', () => {
    for (const name of ['pc-1', 'Zürich/Büro 3', '名前 🚀', 'a"b\\c', '']) {
      const cursor = encodeCursor({ name, id: 'x' });
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(cursor, keySchema)).toEqual({ name, id: 'x' });
    }
  });

  it('refuse what is not base64url JSON of a key of the schema', () => {
    const malformed = [
      '',
      'not a cursor!',
      'eyJuYW1lIjoicGMtMSJ9==', // base64 padding is not base64url
      `${encodeCursor({ name: 'pc-1', id: 'x' })}+`,
      base64url('{"name": "pc-1"'), // cut short
      base64url('"pc-1"'),
      base64url('null'),
      base64url('{"name": "pc-1"}'), // no id
      base64url('{"name": 7, "id": "x"}'),
      base64url('{"name": "pc-1", "id": "x", "offset": 5}'),
      base64url('{"name": "pc\\u0000", "id": "x"}'), // PostgreSQL text cannot hold NUL
    ];
    for (const cursor of malformed) expect(decodeCursor(cursor, keySchema), cursor).toBeUndefined();
  });
});

describe('cursorParam', () => {
  const query = z.strictObject({ cursor: cursorParam(keySchema, 'nextCursor').optional() });

  it('decodes a cursor to its key and leaves an absent one undefined', () => {
    expect(parseInput(query, { cursor: encodeCursor({ name: 'pc-9', id: 'y' }) })).toEqual({ cursor: { name: 'pc-9', id: 'y' } });
    expect(parseInput(query, {})).toEqual({});
  });

  it('answers a malformed cursor with an invalid_input issue on the parameter', () => {
    for (const cursor of ['%%%', base64url('{"name": 1}'), ['a', 'b'], 'a'.repeat(5000)]) {
      let error: unknown;
      try {
        parseInput(query, { cursor }, 'query');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidInput);
      expect((error as InvalidInput).code).toBe('invalid_input');
      expect((error as InvalidInput).details).toEqual([expect.objectContaining({ path: 'cursor' })]);
    }
    expect(() => parseInput(query, { cursor: '%%%' }, 'query')).toThrow(/cursor: is not a cursor this list gave out: pass nextCursor back unchanged/);
  });
});

describe('pageOf', () => {
  const keyOf = (row: { name: string }) => ({ name: row.name });
  const rows = (...names: string[]) => names.map((name) => ({ name }));

  it('shows `limit` rows and names the last one when the extra row shows more follow', () => {
    const page = pageOf(rows('a', 'b', 'c'), 2, keyOf);
    expect(page.rows).toEqual(rows('a', 'b'));
    expect(decodeCursor(page.nextCursor!, z.object({ name: z.string() }))).toEqual({ name: 'b' });
  });

  it('has no next cursor on the last page, full or not', () => {
    expect(pageOf(rows('a', 'b'), 2, keyOf)).toEqual({ rows: rows('a', 'b'), nextCursor: null });
    expect(pageOf(rows('a'), 2, keyOf)).toEqual({ rows: rows('a'), nextCursor: null });
    expect(pageOf([], 2, keyOf)).toEqual({ rows: [], nextCursor: null });
  });
});

describe('timestampKey', () => {
  it('takes UTC timestamps to the microsecond', () => {
    for (const text of ['2030-01-31T02:00:00.123456Z', '2024-02-29T23:59:59.999999Z', '0001-01-01T00:00:00.000000Z']) {
      expect(timestampKey.safeParse(text).success, text).toBe(true);
    }
  });

  it('refuses other forms and dates PostgreSQL would refuse', () => {
    const refused = [
      '2030-01-31T02:00:00.123Z', // milliseconds: not the key PostgreSQL compares
      '2030-01-31T02:00:00.123456+01:00',
      '2030-01-31 02:00:00.123456Z',
      '2023-02-29T00:00:00.000000Z',
      '2030-13-01T00:00:00.000000Z',
      '2030-01-01T24:00:00.000000Z',
      '0000-01-01T00:00:00.000000Z',
      'yesterday',
    ];
    for (const text of refused) expect(timestampKey.safeParse(text).success, text).toBe(false);
  });
});
