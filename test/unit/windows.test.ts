/** Maintenance windows: inside or outside, and when the next one opens, across zones and midnight. */
import { describe, expect, it } from 'vitest';
import { windowSchema, windowStateAt, type MaintenanceWindow } from '../../common/windows.js';

const at = (iso: string) => Date.parse(iso);

describe('windowStateAt', () => {
  const nightly: MaintenanceWindow = { start: '22:00', end: '06:00', timezone: 'Asia/Tokyo' };

  it('is inside an overnight window on both sides of midnight, in its own time zone', () => {
    // 23:30 and 05:00 in Tokyo (UTC+9).
    expect(windowStateAt(nightly, at('2030-01-15T14:30:00Z'))).toEqual({ inside: true, closesAt: at('2030-01-15T21:00:00Z') });
    expect(windowStateAt(nightly, at('2030-01-15T20:00:00Z'))).toEqual({ inside: true, closesAt: at('2030-01-15T21:00:00Z') });
  });

  it('says when an outside moment next opens', () => {
    // 12:00 in Tokyo: opens at 22:00 Tokyo, 13:00 UTC.
    expect(windowStateAt(nightly, at('2030-01-15T03:00:00Z'))).toEqual({ inside: false, opensAt: at('2030-01-15T13:00:00Z') });
  });

  it('opens only on its days', () => {
    const weekend: MaintenanceWindow = { days: ['sat', 'sun'], start: '09:00', end: '17:00', timezone: 'UTC' };
    // Wednesday 2030-01-16: next opening Saturday 2030-01-19 09:00.
    expect(windowStateAt(weekend, at('2030-01-16T10:00:00Z'))).toEqual({ inside: false, opensAt: at('2030-01-19T09:00:00Z') });
    expect(windowStateAt(weekend, at('2030-01-19T10:00:00Z'))).toEqual({ inside: true, closesAt: at('2030-01-19T17:00:00Z') });
  });

  it('keeps wall-clock times across a daylight saving change', () => {
    const evening: MaintenanceWindow = { start: '20:00', end: '23:00', timezone: 'Europe/Berlin' };
    // Saturday 2030-03-30 21:00 UTC is 22:00 CET; the next day (CEST, UTC+2) opens at 18:00 UTC.
    expect(windowStateAt(evening, at('2030-03-30T22:30:00Z'))).toEqual({ inside: false, opensAt: at('2030-03-31T18:00:00Z') });
  });
});

describe('windowSchema', () => {
  it('refuses what is not a window', () => {
    for (const window of [
      { start: '24:00', end: '06:00', timezone: 'UTC' },
      { start: '22:00', end: '22:00', timezone: 'UTC' },
      { start: '22:00', end: '06:00', timezone: 'Mars/Olympus' },
      { days: ['someday'], start: '22:00', end: '06:00', timezone: 'UTC' },
      { start: '22:00', end: '06:00' },
    ]) {
      expect(windowSchema.safeParse(window).success, JSON.stringify(window)).toBe(false);
    }
  });
});
