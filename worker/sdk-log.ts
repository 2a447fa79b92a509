/**
 * The Temporal SDK's log lines (the worker's own, and what workflows and activities log through it) as
 * Courier's structured logs: the SDK's metadata (workflowId, runId, activityType, taskQueue…) become
 * fields of the line, so an operator filters a job's lines by its workflow id.
 */
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/worker';
import type { Logger } from '../common/logger.js';

const levels = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

export class PinoSdkLogger implements SdkLogger {
  constructor(private readonly logger: Logger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.logger[levels[level]]({ ...meta, source: 'temporal-sdk' }, message);
  }

  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }

  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }

  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }

  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }

  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
