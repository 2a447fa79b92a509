/** The query strings of paged lists: defaults, bounds, cursors, and the offset parameters that are gone. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../../api/cursor.js';
import { InvalidInput } from '../../api/errors.js';
import { inventoryQuerySchema, jobQuerySchema, jobsQuerySchema } from '../../api/list-queries.js';
import { parseInput } from '../../api/validation.js';
import { thrown } from '../support/thrown.js';

function rejection(run: () => unknown): InvalidInput {
  return thrown(InvalidInput, run);
}

describe('inventory and jobs queries', () => {
  it('default and bound the page size', () => {
    expect(parseInput(inventoryQuerySchema, {})).toEqual({ limit: 1000 });
    expect(parseInput(jobsQuerySchema, {})).toEqual({ limit: 50 });
    expect(parseInput(inventoryQuerySchema, { limit: '10000' }).limit).toBe(10_000);
    expect(() => parseInput(inventoryQuerySchema, { limit: '10001' })).toThrow(InvalidInput);
    expect(() => parseInput(jobsQuerySchema, { limit: '501' })).toThrow(InvalidInput);
    expect(() => parseInput(jobsQuerySchema, { limit: '0' })).toThrow(InvalidInput);
  });

  it("decode each list's own cursor", () => {
    const id = randomUUID();
    expect(parseInput(inventoryQuerySchema, { cursor: encodeCursor({ name: 'pc-7' }) }).cursor).toEqual({ name: 'pc-7' });
    const jobKey = { createdAt: '2030-01-31T02:00:00.123456Z', id };
    expect(parseInput(jobsQuerySchema, { cursor: encodeCursor(jobKey) }).cursor).toEqual(jobKey);
    // A key of another list, or a job's time as a Date would give it, is not a cursor of this one.
    expect(rejection(() => parseInput(jobsQuerySchema, { cursor: encodeCursor({ name: 'pc-7' }) })).details).toEqual([
      expect.objectContaining({ path: 'cursor' }),
    ]);
    expect(() => parseInput(jobsQuerySchema, { cursor: encodeCursor({ createdAt: '2030-01-31T02:00:00.123Z', id }) })).toThrow(
      InvalidInput,
    );
    expect(() => parseInput(jobsQuerySchema, { cursor: encodeCursor({ createdAt: jobKey.createdAt, id: 'not-a-uuid' }) })).toThrow(
      InvalidInput,
    );
  });

  it('refuse offset, saying to page by cursor', () => {
    for (const schema of [inventoryQuerySchema, jobsQuerySchema]) {
      const error = rejection(() => parseInput(schema, { limit: '10', offset: '20' }, 'query'));
      expect(error.code).toBe('invalid_input');
      expect(error.message).toBe(
        "invalid query: offset is no longer accepted: lists page by cursor (pass the previous page's nextCursor as cursor)",
      );
    }
  });

  it('refuse unknown parameters, naming those the route takes', () => {
    const error = rejection(() => parseInput(inventoryQuerySchema, { nextCursor: 'abc' }, 'query'));
    expect(error.message).toBe('invalid query: unknown parameter nextCursor (this route takes limit, cursor)');
    expect(rejection(() => parseInput(jobsQuerySchema, { toString: '1' }, 'query')).message).toContain('unknown parameter toString');
  });
});

describe('job query', () => {
  it('defaults to the first 1,000 targets in every state', () => {
    expect(parseInput(jobQuerySchema, {})).toEqual({ targetsLimit: 1000 });
    expect(() => parseInput(jobQuerySchema, { targetsLimit: '10001' })).toThrow(InvalidInput);
  });

  it('takes a targets cursor and a state', () => {
    const key = { name: 'pc-3', id: randomUUID() };
    expect(parseInput(jobQuerySchema, { targetsCursor: encodeCursor(key), state: 'failed' })).toEqual({
      targetsLimit: 1000,
      targetsCursor: key,
      state: 'failed',
    });
    const malformed = rejection(() => parseInput(jobQuerySchema, { targetsCursor: 'x' }, 'query'));
    expect(malformed.message).toBe('invalid query: targetsCursor: is not a cursor this list gave out: pass targetsNextCursor back unchanged');
  });

  it('refuses targetsOffset, saying to page by targetsCursor', () => {
    const error = rejection(() => parseInput(jobQuerySchema, { targetsOffset: '1000' }, 'query'));
    expect(error.message).toBe(
      "invalid query: targetsOffset is no longer accepted: targets page by cursor (pass the previous answer's targetsNextCursor as targetsCursor)",
    );
  });
});
