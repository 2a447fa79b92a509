/**
 * Maintenance windows: when a job's computers may install (`{days?, start, end, timezone}`, e.g. weekdays
 * 22:00-06:00 in Asia/Tokyo). Pure, so the job's workflows compute the next opening deterministically from
 * workflow time, and sleep until then on a durable timer. A window whose end is not after its start runs
 * overnight, into the next day; `days` name the days it opens on (every day when absent).
 */
import { DateTime, IANAZone } from 'luxon';
import { z } from 'zod';

export const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, { error: 'a time of day is HH:MM (or HH:MM:SS), 00:00 to 23:59' });

/** The `window` of a job request. */
export const windowSchema = z
  .object({
    days: z.array(z.enum(weekdays)).min(1).max(7).optional(),
    start: clockTime,
    end: clockTime,
    timezone: z.string().refine((zone) => IANAZone.isValidZone(zone), { error: 'an IANA time zone such as Asia/Tokyo or UTC' }),
  })
  .strict()
  .refine((window) => window.start !== window.end, { error: 'a window opens and closes at different times', path: ['end'] });

export type MaintenanceWindow = z.infer<typeof windowSchema>;

/** The name a window is defined under once (PUT /windows/:name) and that jobs name it by. */
export const windowNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: 'a window name is 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit' });

/** Where `at` stands against the window: inside until `closesAt`, or outside until `opensAt`. */
export type WindowState = { inside: true; closesAt: number } | { inside: false; opensAt: number };

/** The window's openings around `at` (ms since the epoch): from the day before (overnight) to a week on. */
export function windowStateAt(window: MaintenanceWindow, at: number): WindowState {
  const now = DateTime.fromMillis(at, { zone: window.timezone });
  const [startHour, startMinute, startSecond = 0] = window.start.split(':').map(Number) as [number, number, number?];
  const [endHour, endMinute, endSecond = 0] = window.end.split(':').map(Number) as [number, number, number?];
  const overnight = window.end <= window.start;
  let opensAt: number | undefined;
  for (let offset = -1; offset <= 7; offset++) {
    const day = now.startOf('day').plus({ days: offset });
    if (window.days && !window.days.includes(weekdays[day.weekday - 1]!)) continue;
    const open = day.set({ hour: startHour, minute: startMinute, second: startSecond });
    const close = (overnight ? day.plus({ days: 1 }) : day).set({ hour: endHour, minute: endMinute, second: endSecond });
    if (open <= now && now < close) return { inside: true, closesAt: close.toMillis() };
    if (open > now && opensAt === undefined) opensAt = open.toMillis();
  }
  // Some day of any week is in `days`, so an opening always comes within the week looked at.
  return { inside: false, opensAt: opensAt! };
}

/** A window as operators read it: `mon,tue 22:00-06:00 Asia/Tokyo`. */
export function describeWindow(window: MaintenanceWindow): string {
  return `${window.days ? `${window.days.join(',')} ` : ''}${window.start}-${window.end} ${window.timezone}`;
}
