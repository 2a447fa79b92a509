/** The fleet simulator's command line (documented in scripts/fleet.ts), parsed and checked. */
import { parseFlags, UsageError } from '../../common/command-line.js';
import type { FleetOptions } from '../../agent/fleet/fleet.js';
import { WHOLE_FLEET, type FleetShard } from '../../agent/fleet/plan.js';

export const USAGE =
  'usage: npm run fleet -- --computers N [--relays R] [--install-ms MS] [--fail-rate F] [--server URL] ' +
  '[--enroll-secret S] [--name-prefix P] [--direct D] [--offline F] [--dead-relays K] [--data-dir DIR] ' +
  '[--host H] [--port P] [--enroll-concurrency C] [--seed N] [--shard I/K]';

/** The parsed command line: the fleet's options, with the data folder left out when none was given. */
export type FleetCli = Omit<FleetOptions, 'dataDir'> & { dataDir?: string };

/** Values that come from outside the command line when it does not name them. */
export interface FleetCliDefaults {
  enrollSecret: string | undefined;
  namePrefix: string;
}

function integer(value: string | undefined, flag: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed > max) throw new UsageError(`${flag} must be a whole number from 0 to ${max}, got "${value}"`);
  return parsed;
}

function fraction(value: string | undefined, flag: string): number {
  if (value === undefined) return 0;
  const parsed = Number(value);
  if (value.trim() === '' || !(parsed >= 0 && parsed <= 1)) throw new UsageError(`${flag} must be a number from 0 to 1, got "${value}"`);
  return parsed;
}

/** `--shard I/K`: the I-th of K processes (1-based on the command line, 0-based inside). */
function shard(value: string | undefined): FleetShard {
  if (value === undefined) return WHOLE_FLEET;
  const match = /^(\d+)\/(\d+)$/.exec(value);
  const [index, count] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  if (!(index >= 1 && index <= count)) throw new UsageError(`--shard must be I/K with 1 ≤ I ≤ K, got "${value}"`);
  return { index: index - 1, count };
}

/** Parses and checks `args`; throws UsageError. */
export function parseFleetCli(args: string[], defaults: FleetCliDefaults): FleetCli {
  const values = parseFlags(args, {
    computers: { type: 'string' },
    relays: { type: 'string' },
    'install-ms': { type: 'string' },
    'fail-rate': { type: 'string' },
    server: { type: 'string', default: 'http://127.0.0.1:3000' },
    'enroll-secret': { type: 'string' },
    'name-prefix': { type: 'string' },
    direct: { type: 'string' },
    offline: { type: 'string' },
    'dead-relays': { type: 'string' },
    'data-dir': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    'enroll-concurrency': { type: 'string' },
    seed: { type: 'string' },
    shard: { type: 'string' },
  });
  if (values.computers === undefined) throw new UsageError('--computers is required');
  const computers = integer(values.computers, '--computers', 0);
  const relays = integer(values.relays, '--relays', 0);
  const direct = integer(values.direct, '--direct', 0);
  if (direct > computers) throw new UsageError(`--direct (${direct}) cannot exceed --computers (${computers})`);
  const deadRelays = integer(values['dead-relays'], '--dead-relays', 0);
  if (deadRelays > relays) throw new UsageError(`--dead-relays (${deadRelays}) cannot exceed --relays (${relays})`);
  if (!URL.canParse(values.server)) throw new UsageError(`--server must be a URL, got "${values.server}"`);
  const enrollSecret = values['enroll-secret'] ?? defaults.enrollSecret;
  if (!enrollSecret) throw new UsageError('--enroll-secret (or COURIER_ENROLL_SECRET) is required');
  const namePrefix = values['name-prefix'] ?? defaults.namePrefix;
  // Names travel in URL paths and become folder names: keep them to characters that need no escaping.
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(namePrefix)) throw new UsageError(`--name-prefix must be letters, digits, - and _, got "${namePrefix}"`);
  const enrolConcurrency = integer(values['enroll-concurrency'], '--enroll-concurrency', 16);
  if (enrolConcurrency === 0) throw new UsageError('--enroll-concurrency must be at least 1');
  return {
    computers,
    relays,
    direct,
    offline: fraction(values.offline, '--offline'),
    deadRelays,
    prefix: namePrefix,
    installMs: integer(values['install-ms'], '--install-ms', 500),
    failRate: fraction(values['fail-rate'], '--fail-rate'),
    serverUrl: values.server.replace(/\/+$/, ''),
    enrollSecret,
    dataDir: values['data-dir'],
    host: values.host,
    port: integer(values.port, '--port', 0, 65535),
    enrolConcurrency,
    seed: integer(values.seed, '--seed', 1),
    shard: shard(values.shard),
  };
}
