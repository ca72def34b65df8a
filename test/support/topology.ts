import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/**
 * The pieces of a small city on loopback, each a real process: a PostgreSQL primary and a
 * streaming replica made by pg_basebackup (data folders and ports of their own), a Redis of its
 * own, and the service's API and worker processes from dist/. Made and removed by the topology test.
 */
const PG_BIN = process.env.PG_BIN ?? findPgBin();

function findPgBin(): string {
  try {
    const versions = execFileSync('ls', ['/usr/lib/postgresql'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    return join('/usr/lib/postgresql', versions[versions.length - 1], 'bin');
  } catch {
    return '';
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Runs a PostgreSQL program as the postgres user (they refuse to run as root). */
function asPostgres(program: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, program), ...args]] : [join(PG_BIN, program), args];
  execFileSync(command, argv, { stdio: 'pipe', timeout: 120_000 });
}

export class PostgresPair {
  readonly dir = mkdtempSync(join(tmpdir(), 'civic-topology-'));
  primaryPort = 0;
  replicaPort = 0;

  async start(): Promise<void> {
    if (process.getuid?.() === 0) chownSync(this.dir, uid('postgres'), gid('postgres'));
    this.primaryPort = await freePort();
    this.replicaPort = await freePort();
    asPostgres('initdb', ['-D', this.path('primary'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
    this.startServer('primary', this.primaryPort);
    asPostgres('pg_basebackup', ['-h', '127.0.0.1', '-p', String(this.primaryPort), '-U', 'postgres', '-D', this.path('replica'), '-R']);
    this.startServer('replica', this.replicaPort);
  }

  url(which: 'primary' | 'replica', database: string): string {
    return `postgres://postgres@127.0.0.1:${which === 'primary' ? this.primaryPort : this.replicaPort}/${database}`;
  }

  startServer(which: 'primary' | 'replica', port = which === 'primary' ? this.primaryPort : this.replicaPort): void {
    asPostgres('pg_ctl', [
      '-D',
      this.path(which),
      '-l',
      this.path(`${which}.log`),
      '-o',
      `-p ${port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      '-w',
      'start',
    ]);
  }

  stopServer(which: 'primary' | 'replica'): void {
    asPostgres('pg_ctl', ['-D', this.path(which), '-m', 'fast', '-w', 'stop']);
  }

  /** Whether the replica has replayed everything the primary has written. */
  async replicaCaughtUp(): Promise<boolean> {
    const primary = new Client({ connectionString: this.url('primary', 'postgres') });
    const replica = new Client({ connectionString: this.url('replica', 'postgres') });
    await primary.connect();
    await replica.connect();
    try {
      const [{ lsn }] = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows;
      const [{ behind }] = (await replica.query<{ behind: boolean }>('SELECT pg_last_wal_replay_lsn() < $1::pg_lsn AS behind', [lsn])).rows;
      return !behind;
    } finally {
      await primary.end();
      await replica.end();
    }
  }

  async remove(): Promise<void> {
    for (const which of ['replica', 'primary'] as const) {
      try {
        this.stopServer(which);
      } catch {
        // not running
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private path(name: string): string {
    const path = join(this.dir, name);
    if (!name.endsWith('.log')) mkdirSync(this.dir, { recursive: true });
    return path;
  }
}

function uid(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

function gid(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}

/** A Redis of the test's own (it is restarted under load). */
export class OwnRedis {
  port = 0;
  private process?: ChildProcess;

  async start(port?: number): Promise<void> {
    this.port = port ?? (await freePort());
    this.process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await waitForPort(this.port);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const p = this.process;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await exited;
  }
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The children of a process, by the operating system's account. */
export function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
