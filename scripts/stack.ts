/**
 * The start command's body: Temporal dev server (with its UI), PostgreSQL schema, api, worker and, unless
 * COURIER_DEMO=0, a demo relay with three computers. Stops everything on Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadConfig } from '../common/config.js';
import { migrateDatabase } from '../db/migrate.js';
import { startAgent, startApi, startWorker } from './lib/courier-processes.js';
import type { ManagedProcess } from './lib/processes.js';
import { startDevServer, type DevServer } from './lib/temporal-dev-server.js';

const env = { ...process.env };
// Logs a developer reads in .courier/logs: readable lines rather than JSON, unless asked otherwise.
env.COURIER_LOG_PRETTY ??= '1';
env.COURIER_DATA_DIR = resolve(env.COURIER_DATA_DIR || '.courier');
const dataDir = env.COURIER_DATA_DIR;
const logs = `${dataDir}/logs`;
await mkdir(logs, { recursive: true, mode: 0o700 });

/** A secret from the environment, or one generated at first start and kept in the data folder. */
async function secret(name: string, file: string): Promise<string> {
  const given = env[name];
  if (given) return given;
  const path = `${dataDir}/${file}`;
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    const value = randomBytes(24).toString('base64url');
    await writeFile(path, `${value}\n`, { mode: 0o600 });
    return value;
  }
}

const adminToken = await secret('COURIER_ADMIN_TOKEN', 'admin-token');
const enrollSecret = await secret('COURIER_ENROLL_SECRET', 'enroll-secret');
env.COURIER_ADMIN_TOKEN = adminToken;
env.COURIER_ENROLL_SECRET = enrollSecret;
const config = loadConfig(env);
const temporalPort = Number(env.TEMPORAL_PORT || 7233);
const uiPort = Number(env.TEMPORAL_UI_PORT || 8233);
env.TEMPORAL_ADDRESS = config.temporalAddress;

const running: ManagedProcess[] = [];
let temporal: DevServer | undefined;
let stopping = false;
async function stopAll(code: number): Promise<never> {
  stopping = true;
  for (const child of running.reverse()) await child.stop();
  await temporal?.stop();
  process.exit(code);
}
process.once('SIGINT', () => void stopAll(0));
process.once('SIGTERM', () => void stopAll(0));

function supervise(child: ManagedProcess): ManagedProcess {
  running.push(child);
  child.child.once('exit', (code) => {
    if (stopping) return;
    console.error(`courier: ${child.name} stopped (code ${code}); see ${logs}. Stopping the stack.`);
    void stopAll(1);
  });
  return child;
}

/** Brings every process up in order; each is supervised from the moment it is ready. */
async function startStack(): Promise<{ apiUrl: string; demo: string[] }> {
  console.log('courier: migrating the database');
  await migrateDatabase(config.databaseUrl);
  await mkdir(`${dataDir}/temporal`, { recursive: true });
  console.log('courier: starting the Temporal dev server');
  temporal = await startDevServer({
    port: temporalPort,
    uiPort,
    dbFile: `${dataDir}/temporal/temporal.db`,
    logFile: createWriteStream(`${logs}/temporal.log`, { flags: 'a' }),
  });

  const api = await startApi(env, `${logs}/api.log`);
  supervise(api.process);
  supervise(await startWorker(env, `${logs}/worker.log`));

  const demo: string[] = [];
  if (env.COURIER_DEMO !== '0') {
    const agentsDir = `${dataDir}/agents`;
    const base = { serverUrl: api.url, enrollSecret };
    const relay = await startAgent({ ...base, role: 'relay', name: 'demo-relay', dataDir: `${agentsDir}/demo-relay` }, env, `${logs}/demo-relay.log`);
    supervise(relay.process);
    demo.push(`relay demo-relay at ${relay.url}`);
    for (const [index, name] of ['demo-pc-1', 'demo-pc-2', 'demo-pc-3'].entries()) {
      // The third computer has no relay, so the demo shows both download paths.
      const relayName = index < 2 ? 'demo-relay' : undefined;
      const pc = await startAgent(
        { ...base, role: 'computer', name, dataDir: `${agentsDir}/${name}`, uiPort: 0, ...(relayName && { relay: relayName }) },
        env,
        `${logs}/${name}.log`,
      );
      supervise(pc.process);
      demo.push(`computer ${name} at ${pc.url}${relayName ? ` (behind ${relayName})` : ' (served directly)'}`);
    demo.push(`  ${name}'s self-service page: ${pc.pageUrl}`);
    }
  }
  return { apiUrl: api.url, demo };
}

/** The api's health check turns 200 once database, Temporal and a polling worker are all ready. */
async function healthStatus(apiUrl: string): Promise<number> {
  for (let attempt = 0; attempt < 60; attempt++) {
    const response = await fetch(`${apiUrl}/api/v1/health`);
    if (response.status === 200) return 200;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return (await fetch(`${apiUrl}/api/v1/health`)).status;
}
const { apiUrl, demo } = await startStack().catch((error: unknown) => {
  console.error(`courier: could not start: ${error instanceof Error ? error.message : String(error)}`);
  return stopAll(1);
});
const health = await healthStatus(apiUrl);
console.log(`
Courier is running.
  API          ${apiUrl}/api/v1   (health: ${health === 200 ? 'ok' : `HTTP ${health}`})
  Reference    ${apiUrl}/api/v1/docs
  Temporal UI  http://127.0.0.1:${uiPort}
  Admin token  ${adminToken}
  Data folder  ${dataDir}   (logs in ${logs})
${demo.map((line) => `  Demo         ${line}`).join('\n')}
Press Ctrl-C to stop.`);
