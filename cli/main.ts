/**
 * `courier`, the admin CLI (DESIGN §7 "Operators"): packages, jobs, computers, relays and maintenance windows
 * over the REST api.
 *
 *   npx courier [--url URL] [--token TOKEN] [--json] <command>
 *
 * The api URL and the admin token come from the flags, COURIER_URL and COURIER_TOKEN, or the config file
 * (cli/config.ts). Readable tables by default, the api's JSON with --json. Exit codes: 0 done, 1 the api
 * refused or could not be reached (its message on stderr) or a watched job did not complete, 2 bad usage.
 */
import { Command, CommanderError } from 'commander';
import { CliError } from './api-client.js';
import { inventoryCommands } from './commands/inventory.js';
import { jobCommands } from './commands/jobs.js';
import { packageCommands } from './commands/packages.js';
import { windowCommands } from './commands/windows.js';

const program = new Command('courier')
  .description('Courier: software distribution for fleets of managed computers')
  .option('--url <url>', 'the api (default: COURIER_URL, the config file, or http://127.0.0.1:3000)')
  .option('--token <token>', 'the admin token (default: COURIER_TOKEN or the config file)')
  .option('--json', 'print the api’s JSON instead of tables')
  .showHelpAfterError()
  .exitOverride();
packageCommands(program);
jobCommands(program);
inventoryCommands(program);
windowCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CliError) {
    process.stderr.write(`courier: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else if (error instanceof CommanderError) {
    // Commander has printed its message (or the help) already.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    throw error;
  }
}
