import { describe, expect, it } from 'vitest';
import { InvalidInput, Unprocessable } from '../../api/errors.js';
import { MAX_DOWNLOAD_SLOTS } from '../../common/throughput.js';
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
import { thrown } from '../support/thrown.js';

const DAY_MS = 24 * 3600 * 1000;

function rejection(run: () => unknown): InvalidInput {
  return thrown(InvalidInput, run);
}

function unprocessable(run: () => unknown): Unprocessable {
  return thrown(Unprocessable, run);
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

  it('takes download bounds of install and offer jobs within 1 and the maximum, and none for transfers', () => {
    expect(parseInput(jobRequestSchema, { ...valid, downloadsPerRelay: 20, serverDownloads: 5 })).toMatchObject({ downloadsPerRelay: 20, serverDownloads: 5 });
    for (const downloadsPerRelay of [0, 1.5, MAX_DOWNLOAD_SLOTS + 1, '10']) {
      expect(issuePaths(rejection(() => parseInput(jobRequestSchema, { ...valid, downloadsPerRelay })))).toEqual(['downloadsPerRelay']);
    }
    const transfer = { type: 'transfer', packageId: valid.packageId, targets: { relays: ['relay-1'] }, downloadsPerRelay: 5 };
    expect(issuePaths(rejection(() => parseInput(jobRequestSchema, transfer)))).toEqual(['downloadsPerRelay']);
  });

  it('rejects an unknown job type', () => {
    expect(issuePaths(rejection(() => parseInput(jobRequestSchema, { ...valid, type: 'uninstall' })))).toEqual(['type']);
  });

  it('rejects dates that are not ISO date-times with a time zone', () => {
    for (const scheduledAt of ['tomorrow', '2030-01-31', '2030-01-31T02:00:00', 1_900_000_000_000]) {
      expect(issuePaths(rejection(() => parseInput(jobRequestSchema, { ...valid, scheduledAt })))).toEqual(['scheduledAt']);
    }
  });

  const now = new Date('2030-01-01T00:00:00Z');
  const pkg = { id: 'f0f0f0f0-0000-4000-8000-000000000001', relayExpiresAt: new Date('2030-03-01T00:00:00Z') };
  const day = { now, pkg, defaultDeadlineMs: DAY_MS };
  const offer = { now, pkg };

  it('defaults scheduledAt to now and deadline to scheduledAt plus the default', () => {
    expect(resolveJobSchedule({}, day)).toEqual({ scheduledAt: now, deadline: new Date('2030-01-02T00:00:00Z') });
    const scheduledAt = new Date('2030-02-01T00:00:00Z');
    expect(resolveJobSchedule({ scheduledAt }, day).deadline).toEqual(new Date('2030-02-02T00:00:00Z'));
  });

  it('rejects a deadline that is not after the execution time', () => {
    const at = new Date('2030-02-01T00:00:00Z');
    expect(issuePaths(rejection(() => resolveJobSchedule({ scheduledAt: at, deadline: at }, day)))).toEqual(['deadline']);
    expect(() => resolveJobSchedule({ deadline: new Date('2029-12-31T00:00:00Z') }, day)).toThrow(InvalidInput);
  });

  it("closes an offer at the package's relay expiration date unless a deadline is given", () => {
    expect(resolveJobSchedule({}, offer).deadline).toEqual(pkg.relayExpiresAt);
    const given = new Date('2030-01-05T00:00:00Z');
    expect(resolveJobSchedule({ deadline: given }, offer).deadline).toEqual(given);
  });

  it("caps a default deadline at the package's relay expiration date", () => {
    const lateStart = new Date('2030-02-28T12:00:00Z');
    expect(resolveJobSchedule({ scheduledAt: lateStart }, day)).toEqual({ scheduledAt: lateStart, deadline: pkg.relayExpiresAt });
    expect(resolveJobSchedule({}, { now, pkg, defaultDeadlineMs: 365 * DAY_MS }).deadline).toEqual(pkg.relayExpiresAt);
  });

  it("refuses a deadline after the package's relay expiration date, naming both dates and the way out", () => {
    const deadline = new Date('2030-03-01T00:00:01Z');
    const error = unprocessable(() => resolveJobSchedule({ deadline }, day));
    expect(error.code).toBe('deadline_after_package_expiry');
    expect(error.message).toContain('2030-03-01T00:00:01.000Z');
    expect(error.message).toContain('2030-03-01T00:00:00.000Z');
    expect(error.message).toContain(`PATCH /packages/${pkg.id} with a later relayExpiresAt`);
    expect(error.details).toEqual({ packageId: pkg.id, deadline: deadline.toISOString(), relayExpiresAt: '2030-03-01T00:00:00.000Z' });
    // Up to the expiration itself is fine: the copy is still there until then.
    expect(resolveJobSchedule({ deadline: pkg.relayExpiresAt }, day).deadline).toEqual(pkg.relayExpiresAt);
  });

  it('refuses a package that has expired, or expires before the job would start', () => {
    const passed = unprocessable(() => resolveJobSchedule({}, { ...day, now: new Date('2030-03-02T00:00:00Z') }));
    expect(passed.code).toBe('package_expired');
    expect(passed.message).toContain('has passed');
    const late = unprocessable(() => resolveJobSchedule({ scheduledAt: new Date('2030-04-01T00:00:00Z') }, offer));
    expect(late.code).toBe('package_expired');
    expect(late.message).toContain("is not after the job's execution time (2030-04-01T00:00:00.000Z)");
    // An explicit deadline does not make an expired package usable.
    const explicit = { scheduledAt: new Date('2030-04-01T00:00:00Z'), deadline: new Date('2030-04-02T00:00:00Z') };
    expect(unprocessable(() => resolveJobSchedule(explicit, day)).code).toBe('package_expired');
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
