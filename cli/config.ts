/**
 * Where the CLI finds the api and the admin token: its flags first, then COURIER_URL and COURIER_TOKEN,
 * then the config file (COURIER_CONFIG, default ~/.config/courier/config.json: `{"url": …, "token": …}`),
 * then, for the URL only, the api `npm start` serves on this machine.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError, type Connection } from './api-client.js';

const configFileSchema = z.object({ url: z.string().optional(), token: z.string().optional() }).strict();

/** The api `npm start` serves on this machine. */
const DEFAULT_URL = 'http://127.0.0.1:3000';

function configFile(env: NodeJS.ProcessEnv): { path: string; values: z.infer<typeof configFileSchema> } {
  const path = env.COURIER_CONFIG || join(homedir(), '.config', 'courier', 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { path, values: {} };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not JSON`);
  }
  const values = configFileSchema.safeParse(parsed);
  if (!values.success) throw new CliError(`${path} may hold only "url" and "token", as strings`);
  return { path, values: values.data };
}

/** The connection the flags, the environment and the config file describe; a missing token is an error. */
export function resolveConnection(flags: { url?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): Connection {
  const file = configFile(env);
  const url = flags.url ?? (env.COURIER_URL || undefined) ?? file.values.url ?? DEFAULT_URL;
  const token = flags.token ?? (env.COURIER_TOKEN || undefined) ?? file.values.token;
  if (!token) {
    throw new CliError(`no admin token: pass --token, set COURIER_TOKEN, or put "token" in ${file.path}`, 2);
  }
  if (!URL.canParse(url)) throw new CliError(`the api URL "${url}" is not a URL`, 2);
  return { url, token };
}
