/**
 * The agent command line (DESIGN §4):
 *   npm run agent -- --role relay|computer --name NAME --server URL --enroll-secret SECRET --port PORT
 *                    --data-dir DIR [--relay RELAYNAME] [--ui-port PORT] [--host 127.0.0.1] [--advertise-url URL]
 *                    [--server-key-fingerprint sha256:HEX] [--label KEY=VALUE ...]
 * Prints `courier agent NAME (ROLE) listening on URL` once it listens and has enrolled (URL is the one it
 * enrolled with), then, with --ui-port, `courier agent NAME self-service page on http://127.0.0.1:PORT`.
 * `--enroll-secret` may instead come from COURIER_ENROLL_SECRET. `--server-key-fingerprint` names the server's
 * signing key (the api logs it at start): trusted from the first enrolment on, and how an agent accepts a key
 * replaced on purpose; without it the agent pins the key of its first enrolment.
 * Exit codes: 0 stopped by SIGTERM/SIGINT, 1 enrolment refused or start failed, 2 bad arguments.
 */
import { parseFlags, UsageError } from '../common/command-line.js';
import { errorMessage } from '../common/errors.js';
import { labelPairSchema, MAX_LABELS, type Labels } from '../common/labels.js';
import { createLogger } from '../common/logger.js';
import { requestLog } from '../common/request-log.js';
import { Agent } from './agent.js';
import { systemClock } from './deps.js';
import type { AgentRole } from './enrolment.js';

const USAGE =
  'usage: npm run agent -- --role relay|computer --name NAME --server URL --enroll-secret SECRET ' +
  '--port PORT --data-dir DIR [--relay RELAYNAME] [--ui-port PORT] [--host 127.0.0.1] [--advertise-url URL] ' +
  '[--server-key-fingerprint sha256:HEX] [--label KEY=VALUE ...]';

interface CliOptions {
  role: AgentRole;
  name: string;
  server: string;
  enrollSecret: string;
  port: number;
  dataDir: string;
  relay?: string;
  uiPort?: number;
  host: string;
  advertiseUrl?: string;
  serverKeyFingerprint?: string;
  labels?: Labels;
}

/** `--label key=value` flags (computers only) as labels; none given is undefined, so enrolment leaves them alone. */
function labelsOf(flags: string[] | undefined): Labels | undefined {
  if (flags === undefined) return undefined;
  const labels: Labels = {};
  for (const flag of flags) {
    const pair = labelPairSchema.safeParse(flag);
    if (!pair.success) throw new UsageError(`--label: ${pair.error.issues[0]?.message ?? 'not key=value'}, got "${flag}"`);
    labels[pair.data[0]] = pair.data[1];
  }
  if (Object.keys(labels).length > MAX_LABELS) throw new UsageError(`--label: at most ${MAX_LABELS} labels`);
  return labels;
}


function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed > 65535) throw new UsageError(`${flag} must be a port number (0-65535), got "${value}"`);
  return parsed;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

/** Parses and checks the command line; throws UsageError with a message for the operator. */
function parseCli(args: string[]): CliOptions {
  const values = parseFlags(args, {
    role: { type: 'string' },
    name: { type: 'string' },
    server: { type: 'string' },
    'enroll-secret': { type: 'string' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    relay: { type: 'string' },
    'ui-port': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    'advertise-url': { type: 'string' },
    'server-key-fingerprint': { type: 'string' },
    label: { type: 'string', multiple: true },
  });
  const role = required(values.role, '--role');
  if (role !== 'relay' && role !== 'computer') throw new UsageError(`--role must be relay or computer, got "${role}"`);
  if (role === 'relay' && values.relay !== undefined) throw new UsageError('--relay applies to computers only');
  if (role === 'relay' && values['ui-port'] !== undefined) throw new UsageError('--ui-port applies to computers only');
  if (role === 'relay' && values.label !== undefined) throw new UsageError('--label applies to computers only');
  const server = required(values.server, '--server');
  if (!URL.canParse(server)) throw new UsageError(`--server must be a URL, got "${server}"`);
  const advertiseUrl = values['advertise-url'];
  if (advertiseUrl !== undefined && !(URL.canParse(advertiseUrl) && /^https?:\/\//.test(advertiseUrl))) {
    throw new UsageError(`--advertise-url must be an http(s) URL, got "${advertiseUrl}"`);
  }
  const serverKeyFingerprint = values['server-key-fingerprint'];
  if (serverKeyFingerprint !== undefined && !/^sha256:[0-9a-f]{64}$/.test(serverKeyFingerprint)) {
    throw new UsageError(`--server-key-fingerprint must be sha256: and 64 lowercase hex digits, as the api logs it; got "${serverKeyFingerprint}"`);
  }
  return {
    role,
    name: required(values.name, '--name'),
    serverKeyFingerprint,
    server,
    // The environment keeps the secret out of process listings (docker-compose passes it that way).
    enrollSecret: required(values['enroll-secret'] ?? process.env.COURIER_ENROLL_SECRET, '--enroll-secret (or COURIER_ENROLL_SECRET)'),
    port: port(required(values.port, '--port'), '--port') ?? 0,
    dataDir: required(values['data-dir'], '--data-dir'),
    relay: values.relay,
    labels: labelsOf(values.label),
    uiPort: port(values['ui-port'], '--ui-port'),
    host: values.host,
    // The managing server appends paths such as /orders to it.
    advertiseUrl: advertiseUrl?.replace(/\/+$/, ''),
  };
}

const PACKAGE_PATH = /^\/packages\/([^/?]+)\//;

/** What an agent's request log lines carry: the package a download is of. */
function agentRequestContext(url: string): Record<string, string> {
  const packageId = PACKAGE_PATH.exec(url)?.[1];
  return packageId ? { packageId } : {};
}

async function main(): Promise<void> {
  let cli: CliOptions;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`courier agent: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  const logger = createLogger('agent', { stderr: true }).child({ agent: cli.name, role: cli.role });
  const agent = new Agent({
    role: cli.role,
    name: cli.name,
    dataDir: cli.dataDir,
    serverUrl: cli.server,
    enrollSecret: cli.enrollSecret,
    serverKeyFingerprint: cli.serverKeyFingerprint,
    relayName: cli.relay,
    labels: cli.labels,
    fetch: (input, init) => fetch(input, init),
    clock: systemClock,
    log: (message, fields) => logger.info(fields ?? {}, message),
    requestLog: requestLog(logger, agentRequestContext),
  });
  let stopping = false;
  const shutDown = (): void => {
    if (stopping) return;
    stopping = true;
    void agent.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', shutDown);
  process.once('SIGINT', shutDown);

  const { url, pageUrl } = await agent.start({ host: cli.host, port: cli.port, advertiseUrl: cli.advertiseUrl, uiPort: cli.uiPort });
  process.stdout.write(`courier agent ${cli.name} (${cli.role}) listening on ${url}\n`);
  if (pageUrl) process.stdout.write(`courier agent ${cli.name} self-service page on ${pageUrl}\n`);
}

main().catch((error: unknown) => {
  // Stopped while still enrolling: a clean exit, not a failure.
  if (error instanceof Error && error.name === 'AbortError') return;
  process.stderr.write(`courier agent: ${errorMessage(error)}\n`);
  process.exit(1);
});
