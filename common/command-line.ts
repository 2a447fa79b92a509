/** What Courier's command-line programs (agent, fleet simulator, benchmark) share in reading their flags. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorMessage } from './errors.js';

/** A command line the program cannot run with; the message is for the operator. */
export class UsageError extends Error {}

/** `--flag value` options only, no positionals; an unknown or malformed flag is a UsageError. */
export function parseFlags<Options extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: Options) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
}
