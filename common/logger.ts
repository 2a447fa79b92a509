/**
 * Structured logs (pino): one JSON object per line on stdout, with the program's name and, where they
 * apply, `jobId`, `workflowId`, `target` and `agent`. COURIER_LOG_LEVEL sets the level (info);
 * COURIER_LOG_PRETTY=1 prints readable lines instead (pino-pretty, as `npm start` does).
 *
 * Secrets never reach a log: request serializers keep no headers or bodies, and any field that could hold
 * a token or a secret is censored wherever it appears, as a second guard.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Fields that may hold a secret, at the top level or one level down (`*.token`). */
const SECRET_FIELDS = ['token', 'agentToken', 'adminToken', 'metricsToken', 'enrollSecret', 'secret', 'password', 'authorization', 'ticket'];

const REDACTED = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  'req.headers.authorization',
  'req.headers["x-courier-agent-token"]',
  'req.headers["x-courier-ticket"]',
  'req.headers.cookie',
];

/**
 * The logger of program `name` (api, worker, agent…), configured from the environment; on stdout, or on
 * stderr for a program whose stdout says something else (the agent prints where it listens there).
 */
export function createLogger(name: string, { env = process.env, stderr = false }: { env?: NodeJS.ProcessEnv; stderr?: boolean } = {}): Logger {
  const fd = stderr ? 2 : 1;
  const options = {
    name,
    level: env.COURIER_LOG_LEVEL || 'info',
    redact: { paths: REDACTED, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (env.COURIER_LOG_PRETTY === '1') {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { destination: fd, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  // Written asynchronously: a busy api logs hundreds of requests a second, and a synchronous write to a
  // pipe stalls every request behind the reader. pino flushes what is left when the process exits.
  return pino(options, pino.destination({ fd, sync: false }));
}

/** A logger that writes nothing, for code run inside tests that check its effects, not its lines. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
