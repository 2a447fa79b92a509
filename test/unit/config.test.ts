/**
 * The worker's workflow cache: 20 unless COURIER_WORKER_CACHED_WORKFLOWS says otherwise (0 caches none), and
 * a malformed value is refused rather than replaced by the default.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config.js';

describe('loadConfig: the worker workflow cache', () => {
  it('keeps 20 workflows by default, the size the 100,000-computer benchmark finished with (docs/scaling.md)', () => {
    expect(loadConfig({}).workerCachedWorkflows).toBe(20);
  });

  it('takes COURIER_WORKER_CACHED_WORKFLOWS, 0 included', () => {
    expect(loadConfig({ COURIER_WORKER_CACHED_WORKFLOWS: '100' }).workerCachedWorkflows).toBe(100);
    expect(loadConfig({ COURIER_WORKER_CACHED_WORKFLOWS: '0' }).workerCachedWorkflows).toBe(0);
  });

  it('refuses a value that is not a whole number', () => {
    expect(() => loadConfig({ COURIER_WORKER_CACHED_WORKFLOWS: 'many' })).toThrow('COURIER_WORKER_CACHED_WORKFLOWS must be a non-negative integer, got "many"');
  });
});
