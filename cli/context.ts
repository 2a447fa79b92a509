/** What every command needs: the api client and whether to print JSON, from the global options. */
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { resolveConnection } from './config.js';

/** The global options every command inherits. */
export interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

export interface CommandContext {
  api: ApiClient;
  json: boolean;
}

/** The context of the running command, from its own and its parents' options. */
export function contextOf(command: Command): CommandContext {
  const options = command.optsWithGlobals<GlobalOptions>();
  return { api: new ApiClient(resolveConnection(options)), json: options.json === true };
}
