/**
 * A PostgreSQL server of the chaos run's own, in a folder of its own on a free port, so the run can kill
 * it with SIGKILL and start it again without touching the machine's cluster or anything else using it.
 * PostgreSQL refuses to run as root: when the run is root, initdb and the server run as the `postgres` user
 * (setpriv execs in place, so the process the run kills is the postmaster itself).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { freePort } from '../../../common/ports.js';
import { spawnProcess, type ManagedProcess } from '../processes.js';

/** Debian installs each major version's programs under /usr/lib/postgresql/<major>/bin. */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((name) => /^\d+$/.test(name)) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL server programs under ${root}; install Debian's postgresql package`);
  return join(root, newest, 'bin');
}

/** The command line that runs `program` as a user PostgreSQL accepts. */
function asServerUser(program: string, args: string[]): [string, string[]] {
  if (userInfo().uid !== 0) return [program, args];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', program, ...args]];
}

/** The private server; `start()` it, then `kill()` and `start()` as the run needs, `stop()` at the end. */
export class PrivatePostgres {
  private server: ManagedProcess | undefined;
  private port = 0;

  constructor(
    private readonly folder: string,
    private readonly logFile: string,
  ) {}

  /** The URL of database `name` on this server. */
  url(name = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`;
  }

  /** Creates the cluster (once) and starts the server; resolves once it accepts connections. */
  async start(): Promise<void> {
    const data = join(this.folder, 'data');
    if (!existsSync(data)) {
      mkdirSync(data, { recursive: true, mode: 0o700 });
      if (userInfo().uid === 0) {
        const { uid, gid } = postgresUser();
        for (const folder of [this.folder, data]) chownSync(folder, uid, gid);
      }
      const [program, args] = asServerUser(join(binDir(), 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
      execFileSync(program, args, { stdio: 'ignore' });
      this.port = await freePort();
    }
    const settings = ['-c', `port=${this.port}`, '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${this.folder}`];
    const [program, args] = asServerUser(join(binDir(), 'postgres'), ['-D', data, ...settings]);
    this.server = spawnProcess('postgres', program, args, { logFile: this.logFile });
    await this.waitUntilAccepting();
  }

  /** SIGKILL to the postmaster, as a crash (or the OOM killer) would. */
  async kill(): Promise<void> {
    await this.server?.kill();
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }

  private async waitUntilAccepting(timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (this.server && !this.server.running) throw new Error(`postgres exited at start:\n${this.server.recent.slice(-10).join('\n')}`);
      const client = postgres(this.url(), { max: 1, connect_timeout: 1, onnotice: () => undefined });
      try {
        await client`select 1`;
        return;
      } catch (error) {
        // Starting up, or recovering after the kill: try again shortly.
        if (Date.now() > until) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        await client.end({ timeout: 1 });
      }
    }
  }
}

/** The `postgres` user's ids, which own the cluster's folders when the run is root. */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}
