import { describe, expect, it } from 'vitest';
import { InvalidInput } from '../../api/errors.js';
import {
  DEFAULT_RELAY_EXPIRY_MS,
  enrollSchema,
  formatFromFileName,
  jobRequestSchema,
  offerChoiceSchema,
  parseInput,
  parseManifestPart,
  resolveJobSchedule,
  safeFileName,
} from '../../api/validation.js';

const DAY_MS = 24 * 3600 * 1000;

function rejection(run: () => unknown): InvalidInput {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidInput) return error;
    throw error;
  }
  throw new Error('expected an InvalidInput');
}

function issuePaths(error: InvalidInput): string[] {
  return (error.details as { path: string }[]).map((issue) => issue.path);
}

describe('package manifest', () => {
  const minimal = { name: 'nginx', version: '1.25.3', installCommand: 'sh install.sh' };

  it('fills in the documented defaults', () => {
    const before = Date.now();
    const manifest = parseManifestPart(JSON.stringify(minimal));
    expect(manifest.timeoutSeconds).toBe(600);
    expect(manifest.conditions).toEqual({});
    expect(manifest.format).toBeUndefined();
    const expiry = manifest.relayExpiresAt.getTime();
    expect(expiry).toBeGreaterThanOrEqual(before + DEFAULT_RELAY_EXPIRY_MS);
    expect(expiry).toBeLessThanOrEqual(Date.now() + DEFAULT_RELAY_EXPIRY_MS);
    expect(DEFAULT_RELAY_EXPIRY_MS).toBe(90 * DAY_MS);
  });

  it('keeps given values, including an offset date-time', () => {
    const manifest = parseManifestPart(
      JSON.stringify({
        ...minimal,
        timeoutSeconds: 30,
        relayExpiresAt: '2999-01-31T02:00:00+09:00',
        conditions: { minFreeDiskMb: 100, requires: [{ name: 'openssl', version: '>=3' }] },
        format: 'zip',
      }),
    );
    expect(manifest.timeoutSeconds).toBe(30);
    expect(manifest.relayExpiresAt.toISOString()).toBe('2999-01-30T17:00:00.000Z');
    expect(manifest.conditions.requires?.[0]?.name).toBe('openssl');
    expect(manifest.format).toBe('zip');
  });

  it('rejects a missing name', () => {
    const { name: _name, ...withoutName } = minimal;
    expect(issuePaths(rejection(() => parseManifestPart(JSON.stringify(withoutName))))).toContain('name');
  });

  it('rejects timeouts that are not whole seconds between 1 and 86400', () => {
    for (const timeoutSeconds of [0, -5, 1.5, 86_401, '600']) {
      const error = rejection(() => parseManifestPart(JSON.stringify({ ...minimal, timeoutSeconds })));
      expect(issuePaths(error)).toEqual(['timeoutSeconds']);
    }
  });

  it('rejects a relay expiration date in the past or without a time zone', () => {
    for (const relayExpiresAt of ['2001-01-01T00:00:00Z', '2999-01-01T00:00:00', 'next year']) {
      const error = rejection(() => parseManifestPart(JSON.stringify({ ...minimal, relayExpiresAt })));
      expect(issuePaths(error)).toEqual(['relayExpiresAt']);
    }
  });

  it('rejects bad install conditions', () => {
    const cases = [{ minFreeDiskMb: -1 }, { requires: [{ name: 'x', version: 'not a range' }] }, { unknownRule: true }];
    for (const conditions of cases) {
      const error = rejection(() => parseManifestPart(JSON.stringify({ ...minimal, conditions })));
      expect(issuePaths(error).every((path) => path.startsWith('conditions'))).toBe(true);
    }
  });

  it('rejects an empty install command, unknown fields and text that is not JSON', () => {
    expect(issuePaths(rejection(() => parseManifestPart(JSON.stringify({ ...minimal, installCommand: '  ' }))))).toEqual([
      'installCommand',
    ]);
    expect(rejection(() => parseManifestPart(JSON.stringify({ ...minimal, instalCommand: 'x' }))).code).toBe('invalid_input');
    expect(rejection(() => parseManifestPart('{name: nginx')).code).toBe('invalid_manifest');
  });
});

describe('content file names', () => {
  it('guesses the format from the file name', () => {
    expect(formatFromFileName('app-1.0.tar.gz')).toBe('tar.gz');
    expect(formatFromFileName('APP.TGZ')).toBe('tar.gz');
    expect(formatFromFileName('setup.zip')).toBe('zip');
    expect(formatFromFileName('tool.sh')).toBe('file');
  });

  it('keeps only the last path segment and refuses names that could escape a folder', () => {
    expect(safeFileName('../../etc/passwd')).toBe('passwd');
    expect(safeFileName('C:\\temp\\setup.exe')).toBe('setup.exe');
    expect(safeFileName('..')).toBeUndefined();
    expect(safeFileName('dir/')).toBeUndefined();
    expect(safeFileName(undefined)).toBeUndefined();
    expect(safeFileName('bad\nname')).toBeUndefined();
  });
});

describe('job requests', () => {
  const valid = { type: 'install', packageId: '6f1c1f3e-0d4b-4a53-9a39-3f1d2a1c0b7e', targets: { computers: ['pc-1'] } };

  it('accepts a minimal request and parses dates', () => {
    const request = parseInput(jobRequestSchema, { ...valid, scheduledAt: '2030-01-31T02:00:00Z' });
    expect(request.scheduledAt?.toISOString()).toBe('2030-01-31T02:00:00.000Z');
    expect(request.deadline).toBeUndefined();
  });

  it('rejects a request that targets nothing', () => {
    for (const targets of [{}, { computers: [] }, { relays: [], computers: [] }, { all: false }]) {
      expect(issuePaths(rejection(() => parseInput(jobRequestSchema, { ...valid, targets })))[0]).toMatch(/^targets/);
    }
    expect(issuePaths(rejection(() => parseInput(jobRequestSchema, { type: 'install', packageId: valid.packageId })))).toEqual([
      'targets',
    ]);
  });

  it('rejects an unknown job type', () => {
    expect(issuePaths(rejection(() => parseInput(jobRequestSchema, { ...valid, type: 'uninstall' })))).toEqual(['type']);
  });

  it('rejects dates that are not ISO date-times with a time zone', () => {
    for (const scheduledAt of ['tomorrow', '2030-01-31', '2030-01-31T02:00:00', 1_900_000_000_000]) {
      expect(issuePaths(rejection(() => parseInput(jobRequestSchema, { ...valid, scheduledAt })))).toEqual(['scheduledAt']);
    }
  });

  it('defaults scheduledAt to now and deadline to scheduledAt plus the default', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const day = { afterMs: DAY_MS };
    expect(resolveJobSchedule({}, now, day)).toEqual({ scheduledAt: now, deadline: new Date('2030-01-02T00:00:00Z') });
    const scheduledAt = new Date('2030-02-01T00:00:00Z');
    expect(resolveJobSchedule({ scheduledAt }, now, day).deadline).toEqual(new Date('2030-02-02T00:00:00Z'));
  });

  it('rejects a deadline that is not after the execution time', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const at = new Date('2030-02-01T00:00:00Z');
    const day = { afterMs: DAY_MS };
    expect(issuePaths(rejection(() => resolveJobSchedule({ scheduledAt: at, deadline: at }, now, day)))).toEqual([
      'deadline',
    ]);
    expect(() => resolveJobSchedule({ deadline: new Date('2029-12-31T00:00:00Z') }, now, day)).toThrow(InvalidInput);
  });

  it('uses a fixed default deadline (an offer closing at the relay expiration) unless one is given', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const expiry = { at: new Date('2030-03-01T00:00:00Z'), source: "the package's relay expiration date" };
    expect(resolveJobSchedule({}, now, expiry).deadline).toEqual(expiry.at);
    const given = new Date('2030-01-05T00:00:00Z');
    expect(resolveJobSchedule({ deadline: given }, now, expiry).deadline).toEqual(given);
  });

  it('explains a fixed default deadline that is not after the execution time', () => {
    const expiry = { at: new Date('2030-03-01T00:00:00Z'), source: "the package's relay expiration date" };
    const error = rejection(() => resolveJobSchedule({ scheduledAt: new Date('2030-04-01T00:00:00Z') }, new Date(0), expiry));
    expect(error.message).toContain("the package's relay expiration date (2030-03-01T00:00:00.000Z)");
    expect(issuePaths(error)).toEqual(['deadline']);
    // An explicit later deadline is the way out.
    const later = { scheduledAt: new Date('2030-04-01T00:00:00Z'), deadline: new Date('2030-04-02T00:00:00Z') };
    expect(resolveJobSchedule(later, new Date(0), expiry).deadline).toEqual(later.deadline);
  });
});

describe('offer choices', () => {
  it('accepts install and decline, and nothing else', () => {
    expect(parseInput(offerChoiceSchema, { choice: 'install' }).choice).toBe('install');
    expect(parseInput(offerChoiceSchema, { choice: 'decline' }).choice).toBe('decline');
    for (const body of [{ choice: 'later' }, {}, { choice: 'install', computerId: 'someone-else' }, 'install']) {
      expect(rejection(() => parseInput(offerChoiceSchema, body)).code).toBe('invalid_input');
    }
  });
});

describe('enrolment requests', () => {
  it('accepts a computer under a relay and rejects a relay under a relay', () => {
    const computer = { role: 'computer', name: 'pc-1', url: 'http://127.0.0.1:4100', relay: 'relay-1' };
    expect(parseInput(enrollSchema, computer).relay).toBe('relay-1');
    expect(issuePaths(rejection(() => parseInput(enrollSchema, { ...computer, role: 'relay' })))).toEqual(['relay']);
  });

  it('rejects non-http URLs and names that look like ids', () => {
    const relay = { role: 'relay', name: 'relay-1', url: 'http://127.0.0.1:4000' };
    expect(issuePaths(rejection(() => parseInput(enrollSchema, { ...relay, url: 'ftp://host/' })))).toEqual(['url']);
    expect(
      issuePaths(rejection(() => parseInput(enrollSchema, { ...relay, name: '6f1c1f3e-0d4b-4a53-9a39-3f1d2a1c0b7e' }))),
    ).toEqual(['name']);
  });
});
