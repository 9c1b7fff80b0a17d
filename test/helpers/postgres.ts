import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './prometheus.ts';

/** Debian's PostgreSQL binaries (the `postgresql` package; ./dev setup installs it). */
const BIN = process.env.TOKENMETER_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** A PostgreSQL server the tests started: its URL, and how to stop, start and remove it. */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth on 127.0.0.1). */
  url: string;
  port: number;
  /** A fresh database on the server, for one test; its URL. */
  database(name?: string): Promise<string>;
  /** Stops the server (fast shutdown: open connections are cut), keeping its data. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its data dir. */
  remove(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;

/**
 * Who runs PostgreSQL: it refuses to run as root, so as root (CI, containers) the `postgres` user
 * Debian's package creates (spawned with its uid and gid: signals reach the server itself, which
 * `runuser` would not pass on), else the current user.
 */
function runAs(): { uid: number; gid: number } | Record<string, never> {
  if (!isRoot) return {};
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0) throw new Error('running as root, but there is no postgres user to run PostgreSQL as: run ./dev setup');
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

let seq = 0;

/**
 * Starts a throwaway PostgreSQL: `initdb` into a temp dir (trust auth), then `postgres` on
 * 127.0.0.1 and a free port, as a plain child process; waits until it accepts connections. Fails
 * with a message saying to run ./dev setup when the binaries are missing.
 */
export async function startPostgres(): Promise<PostgresServer> {
  if (!existsSync(join(BIN, 'postgres')) || !existsSync(join(BIN, 'initdb')))
    throw new Error(`PostgreSQL is not installed (no ${BIN}/postgres): run ./dev setup, or apt-get install postgresql`);
  const dir = mkdtempSync(join(tmpdir(), 'tm-pg-'));
  const data = join(dir, 'data');
  const user = runAs();
  if ('uid' in user) {
    chownSync(dir, user.uid, user.gid);
    chmodSync(dir, 0o700);
  }
  const init = spawnSync(join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--no-locale'], {
    encoding: 'utf8',
    ...user,
    env: { ...process.env, HOME: dir },
  });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout || init.error?.message}`);
  writeFileSync(join(data, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\nlocal all all trust\n');
  const port = await freePort();
  let child: ChildProcess | undefined;
  const log: string[] = [];
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const start = async () => {
    // fsync off: a test server's data need not survive a power cut, and fsync is the slow part here.
    const args = [
      '-D',
      data,
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
    ];
    const c = spawn(join(BIN, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], ...user, env: { ...process.env, HOME: dir } });
    child = c;
    c.stdout?.on('data', (d: Buffer) => log.push(String(d)));
    c.stderr?.on('data', (d: Buffer) => log.push(String(d)));
    let exited = false;
    c.once('exit', () => {
      exited = true;
    });
    const pg = (await import('pg')).default;
    await waitFor(`PostgreSQL on port ${port} (log: ${log.join('').slice(-500)})`, 30_000, async () => {
      if (exited) throw new Error(`postgres exited: ${log.join('').slice(-1000)}`);
      const client = new pg.Client({ connectionString: url });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } finally {
        await client.end().catch(() => {});
      }
    });
  };
  const stop = async () => {
    const c = child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    child = undefined;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    // SIGINT: fast shutdown (clients are cut, the data is kept).
    c.kill('SIGINT');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 15_000))]);
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await gone;
    }
  };
  await start();
  return {
    url,
    port,
    async database(name = `t${process.pid}_${++seq}_${Date.now().toString(36)}`) {
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop,
    start,
    async remove() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
