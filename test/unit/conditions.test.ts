/** Install conditions as a computer evaluates them just before it installs. */
import { describe, expect, it } from 'vitest';
import { evaluateConditions, installConditionsSchema, type ComputerFacts } from '../../common/conditions.js';

const MB = 1024 * 1024;

function facts(freeMb: number, installed: Record<string, string> = {}): ComputerFacts {
  return { freeDiskBytes: freeMb * MB, installed: new Map(Object.entries(installed)) };
}

describe('free disk space', () => {
  it('passes with exactly the space required and fails with less, saying how much there is', () => {
    expect(evaluateConditions({ minFreeDiskMb: 500 }, facts(500))).toEqual({ ok: true });
    expect(evaluateConditions({ minFreeDiskMb: 500 }, facts(499))).toEqual({
      ok: false,
      reasons: ['needs 500 MB free disk space, has 499 MB'],
    });
  });

  it('does not round a shortfall of less than a megabyte up to success', () => {
    const verdict = evaluateConditions({ minFreeDiskMb: 1 }, { freeDiskBytes: MB - 1, installed: new Map() });
    expect(verdict.ok).toBe(false);
  });
});

describe('required packages', () => {
  it('fails when the package is missing', () => {
    expect(evaluateConditions({ requires: [{ name: 'runtime' }] }, facts(10))).toEqual({
      ok: false,
      reasons: ['requires runtime, which is not installed'],
    });
  });

  it('checks the installed version against a range', () => {
    const conditions = { requires: [{ name: 'runtime', version: '>=2.1.0 <3' }] };
    expect(evaluateConditions(conditions, facts(10, { runtime: '2.4.1' })).ok).toBe(true);
    expect(evaluateConditions(conditions, facts(10, { runtime: '3.0.0' }))).toEqual({
      ok: false,
      reasons: ['requires runtime >=2.1.0 <3, but runtime 3.0.0 is installed'],
    });
  });

  it('understands loose versions such as "2.1" and "10"', () => {
    expect(evaluateConditions({ requires: [{ name: 'runtime', version: '>=2.1' }] }, facts(10, { runtime: '2.1' })).ok).toBe(true);
    expect(evaluateConditions({ requires: [{ name: 'runtime', version: '^2' }] }, facts(10, { runtime: '2.1' })).ok).toBe(true);
    expect(evaluateConditions({ requires: [{ name: 'runtime', version: '<10' }] }, facts(10, { runtime: '10' })).ok).toBe(false);
    expect(evaluateConditions({ requires: [{ name: 'runtime', version: '>=2.1' }] }, facts(10, { runtime: '2.0' })).ok).toBe(false);
  });

  it('fails for a version it cannot read at all', () => {
    expect(evaluateConditions({ requires: [{ name: 'runtime', version: '>=1' }] }, facts(10, { runtime: 'latest' })).ok).toBe(false);
  });
});

describe('conflicting packages', () => {
  it('fails when a conflicting package is installed in a matching version, and only then', () => {
    const conditions = { conflicts: [{ name: 'legacy-agent', version: '<2' }] };
    expect(evaluateConditions(conditions, facts(10))).toEqual({ ok: true });
    expect(evaluateConditions(conditions, facts(10, { 'legacy-agent': '2.0' })).ok).toBe(true);
    expect(evaluateConditions(conditions, facts(10, { 'legacy-agent': '1.9' }))).toEqual({
      ok: false,
      reasons: ['conflicts with legacy-agent <2, and legacy-agent 1.9 is installed'],
    });
  });

  it('treats a conflict without a version as any version', () => {
    expect(evaluateConditions({ conflicts: [{ name: 'old' }] }, facts(10, { old: '0.0.1' })).ok).toBe(false);
  });
});

describe('several conditions', () => {
  it('reports every unmet condition, not just the first', () => {
    const verdict = evaluateConditions(
      { minFreeDiskMb: 100, requires: [{ name: 'runtime' }], conflicts: [{ name: 'old' }] },
      facts(50, { old: '1' }),
    );
    expect(verdict.ok).toBe(false);
    expect(verdict.ok === false && verdict.reasons).toHaveLength(3);
  });

  it('passes an empty set of conditions', () => {
    expect(evaluateConditions({}, facts(0))).toEqual({ ok: true });
  });
});

describe('the conditions schema', () => {
  it('refuses an invalid version range and unknown keys', () => {
    expect(installConditionsSchema.safeParse({ requires: [{ name: 'x', version: 'not a range' }] }).success).toBe(false);
    expect(installConditionsSchema.safeParse({ minFreeDiskMB: 5 }).success).toBe(false);
    expect(installConditionsSchema.safeParse({ requires: [{ name: 'x', version: '2.1' }] }).success).toBe(true);
  });
});
