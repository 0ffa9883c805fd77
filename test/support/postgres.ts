// A real PostgreSQL primary and streaming standby on loopback, for tests. Uses Debian's
// postgresql package (/usr/lib/postgresql/<version>/bin); when the process runs as root (CI),
// initdb and the servers run as the `postgres` OS user through runuser. Every wait is bounded
// and fails with the tail of the server logs.
import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, appendFile, writeFile, access } from 'node:fs/promises';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from './ports.ts';

export interface PgNode {
  name: string;
  port: number;
  url: string;          // postgres://postgres@127.0.0.1:PORT/postgres
  dataDir: string;
  logFile: string;
  query(sql: string, params?: unknown[]): Promise<any[]>;
  /** Runs SQL as another role (e.g. an application role); the connection error is what a refused login looks like. */
  queryAs(user: string, sql: string, params?: unknown[]): Promise<any[]>;
  /** postgres://USER@127.0.0.1:PORT/postgres */
  urlAs(user: string): string;
  /**
   * The same server through its Unix socket (postgres://postgres@localhost:PORT/postgres?host=<socket folder>):
   * reachable from processes inside network namespaces, which share the file system but not 127.0.0.1.
   */
  socketUrl: string;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
}

export interface PgPair {
  primary: PgNode;
  standby: PgNode;
  /** The PostgreSQL bin folder in use (pg_ctl, pg_basebackup, psql). */
  binDir: string;
  /** Runs a shell script (sh -e) as the postgres OS user (when root), with binDir first on PATH. */
  shell(script: string, env?: Record<string, string>): Promise<string>;
  stop(): Promise<void>;
}

const DEBIAN_ROOT = '/usr/lib/postgresql';
const WAIT_MS = 30_000;
const STANDBY_NAME = 'standby';
const NOT_FOUND = "PostgreSQL not found: install Debian's postgresql package";

interface Runner {
  binDir: string;
  asPostgres: boolean;
  uid: number;
  gid: number;
}

function run(file: string, args: string[], options: { cwd: string; timeout?: number; env?: Record<string, string> }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: options.cwd, timeout: options.timeout ?? WAIT_MS, killSignal: 'SIGKILL', maxBuffer: 4 << 20, env: options.env ? { ...process.env, ...options.env } : process.env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}${stdout}`.trim()));
      else resolve(stdout);
    });
  });
}

async function findBinDir(): Promise<string> {
  let versions: string[];
  try {
    versions = (await readdir(DEBIAN_ROOT)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch {
    throw new Error(`${NOT_FOUND} (no ${DEBIAN_ROOT})`);
  }
  for (const v of versions) {
    const dir = join(DEBIAN_ROOT, v, 'bin');
    try {
      await access(join(dir, 'initdb'));
      await access(join(dir, 'pg_basebackup'));
      return dir;
    } catch { /* try the next version */ }
  }
  throw new Error(`${NOT_FOUND} (no initdb under ${DEBIAN_ROOT}/*/bin)`);
}

async function createRunner(cwd: string): Promise<Runner> {
  const binDir = await findBinDir();
  const asPostgres = process.getuid?.() === 0;
  if (!asPostgres) return { binDir, asPostgres, uid: -1, gid: -1 };
  const uid = Number((await run('id', ['-u', 'postgres'], { cwd })).trim());
  const gid = Number((await run('id', ['-g', 'postgres'], { cwd })).trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('running as root but the postgres OS user does not exist: install Debian\'s postgresql package');
  return { binDir, asPostgres, uid, gid };
}

function pgRun(runner: Runner, tool: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const bin = join(runner.binDir, tool);
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return runner.asPostgres ? run('runuser', ['-u', 'postgres', '--', 'env', ...envArgs, bin, ...args], { cwd }) : run(bin, args, { cwd, env });
}

function shellAsPostgres(runner: Runner, script: string, cwd: string, env: Record<string, string>): Promise<string> {
  const all = { ...env, PATH: `${runner.binDir}:/usr/bin:/bin` };
  const envArgs = Object.entries(all).map(([k, v]) => `${k}=${v}`);
  return runner.asPostgres ? run('runuser', ['-u', 'postgres', '--', 'env', ...envArgs, 'sh', '-ec', script], { cwd, timeout: 2 * WAIT_MS }) : run('sh', ['-ec', script], { cwd, env: all, timeout: 2 * WAIT_MS });
}

async function ownedDir(runner: Runner, path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  if (runner.asPostgres) await chown(path, runner.uid, runner.gid);
}

async function logTail(path: string, lines = 30): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return `(no log at ${path})`;
  }
}

async function query(url: string, sql: string, params?: unknown[]): Promise<any[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, query_timeout: WAIT_MS, application_name: 'test' });
  client.on('error', () => { /* reported through the pending query */ });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface NodeInternals extends PgNode { logFile: string; running: boolean }

function createNode(runner: Runner, root: string, name: string, port: number): NodeInternals {
  const dataDir = join(root, name);
  const socketDir = join(root, 'sock');
  const logFile = join(root, `${name}.log`);
  const node: NodeInternals = {
    name,
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    logFile,
    running: false,
    query: (sql, params) => query(node.url, sql, params),
    queryAs: (user, sql, params) => query(node.urlAs(user), sql, params),
    urlAs: (user) => `postgres://${user}@127.0.0.1:${port}/postgres`,
    socketUrl: `postgres://postgres@localhost:${port}/postgres?host=${encodeURIComponent(socketDir)}`,
    async start() {
      try {
        // The port comes from the environment (PGPORT), not postgresql.conf, so that a data
        // directory copied from the other node (pg_basebackup) starts on its own port.
        await pgRun(runner, 'pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', String(WAIT_MS / 1000), 'start'], root, { PGPORT: String(port) });
      } catch (err) {
        throw new Error(`PostgreSQL ${name} on 127.0.0.1:${port} did not start: ${(err as Error).message}\n--- ${logFile} ---\n${await logTail(logFile)}`);
      }
      node.running = true;
    },
    async stop(mode = 'fast') {
      // Also when a test stopped or started it by other means (a runbook script): pg_ctl knows.
      const status = await pgRun(runner, 'pg_ctl', ['-D', dataDir, 'status'], root).then(() => 'running', () => 'stopped');
      node.running = false;
      if (status === 'stopped') return;
      await pgRun(runner, 'pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', String(WAIT_MS / 1000), 'stop'], root);
    },
  };
  return node;
}

async function waitFor(what: string, nodes: NodeInternals[], check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (err) {
      last = err;
    }
    await delay(100);
  }
  const tails = await Promise.all(nodes.map(async (n) => `--- ${n.logFile} ---\n${await logTail(n.logFile)}`));
  throw new Error(`timed out after ${WAIT_MS}ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}\n${tails.join('\n')}`);
}

/** SIGQUIT (immediate shutdown) to a postmaster, from its pid file; for the exit hook, which must be synchronous. */
function killPostmasterSync(dataDir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGQUIT');
  } catch { /* not running */ }
}

/** The same for both nodes (the port comes from PGPORT at start), so a copied postgresql.conf is right on either. */
function serverSettings(socketDir: string): string {
  return [
    '',
    '# switchyard test harness',
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${socketDir}'`,
    'fsync = off',
    'full_page_writes = off',
    'synchronous_commit = on',
    'shared_buffers = 16MB',
    'max_connections = 40',
    'max_wal_senders = 4',
    'max_replication_slots = 4',
    'wal_receiver_status_interval = 1s',
    'autovacuum = off',
    "log_line_prefix = '%m [%p] %a '",
    '',
  ].join('\n');
}

const HBA = [
  'local all all trust',
  'local replication all trust',
  'host all all 127.0.0.1/32 trust',
  'host replication all 127.0.0.1/32 trust',
  '',
].join('\n');

/**
 * Starts a primary and a streaming standby (physical slot `standby`, application_name
 * `standby`). With `synchronous` (the default) the primary lists the standby in
 * synchronous_standby_names and this resolves once pg_stat_replication shows it as `sync`.
 */
export async function startPostgresPair(options: { synchronous?: boolean } = {}): Promise<PgPair> {
  const synchronous = options.synchronous ?? true;
  const root = await mkdtemp('/tmp/switchyard-pg-');
  const runner = await createRunner(root).catch(async (err) => {
    await rm(root, { recursive: true, force: true });
    throw err;
  });
  if (runner.asPostgres) await chown(root, runner.uid, runner.gid);
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const primary = createNode(runner, root, 'primary', primaryPort);
  const standby = createNode(runner, root, 'standby', standbyPort);
  const onExit = () => {
    killPostmasterSync(standby.dataDir);
    killPostmasterSync(primary.dataDir);
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    await Promise.all([standby, primary].map((n) => n.stop('immediate').catch(() => killPostmasterSync(n.dataDir))));
    await rm(root, { recursive: true, force: true });
  };
  try {
    const socketDir = join(root, 'sock');
    await ownedDir(runner, socketDir);

    await pgRun(runner, 'initdb', ['-D', primary.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], root);
    await appendFile(join(primary.dataDir, 'postgresql.conf'), serverSettings(socketDir));
    await writeFile(join(primary.dataDir, 'pg_hba.conf'), HBA);
    await primary.start();

    await pgRun(runner, 'pg_basebackup', [
      '-d', `host=127.0.0.1 port=${primaryPort} user=postgres application_name=${STANDBY_NAME}`,
      '-D', standby.dataDir, '-R', '-C', '-S', STANDBY_NAME, '-X', 'stream', '--checkpoint=fast', '--no-sync',
    ], root);
    const auto = await readFile(join(standby.dataDir, 'postgresql.auto.conf'), 'utf8');
    if (!auto.includes(`application_name=${STANDBY_NAME}`)) {
      throw new Error(`pg_basebackup -R did not carry application_name=${STANDBY_NAME} into primary_conninfo:\n${auto}`);
    }
    await standby.start();

    if (synchronous) {
      await primary.query(`ALTER SYSTEM SET synchronous_standby_names = '${STANDBY_NAME}'`);
      await primary.query('SELECT pg_reload_conf()');
    }
    const wanted = synchronous ? 'sync' : 'async';
    await waitFor(`the standby to stream from the primary as ${wanted}`, [primary, standby], async () => {
      const rows = await primary.query('SELECT state, sync_state FROM pg_stat_replication WHERE application_name = $1', [STANDBY_NAME]);
      return rows.length === 1 && rows[0].state === 'streaming' && rows[0].sync_state === wanted;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { primary, standby, binDir: runner.binDir, shell: (script, env = {}) => shellAsPostgres(runner, script, root, env), stop };
}

/** Pauses WAL replay on a standby and waits until it is paused. WAL keeps being received. */
export async function pauseReplay(standby: PgNode): Promise<void> {
  await standby.query('SELECT pg_wal_replay_pause()');
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const [row] = await standby.query('SELECT pg_get_wal_replay_pause_state() AS state');
    if (row.state === 'paused') return;
    await delay(50);
  }
  throw new Error(`replay on 127.0.0.1:${standby.port} did not pause within ${WAIT_MS}ms`);
}

export async function resumeReplay(standby: PgNode): Promise<void> {
  await standby.query('SELECT pg_wal_replay_resume()');
}

/**
 * Writes `rows` rows (about 100 bytes each) to table `switchyard_lag` on the primary in one
 * transaction and returns the primary's WAL position after the commit. synchronous_commit
 * defaults to `local` so the commit never waits for the standby. With a paused replay,
 * `on` (remote flush) does not block either: the standby still receives and flushes WAL;
 * only `remote_apply` waits for replay.
 */
export async function generateLag(primary: PgNode, options: { rows?: number; synchronousCommit?: 'on' | 'local' | 'off' | 'remote_apply' } = {}): Promise<string> {
  const rows = options.rows ?? 1000;
  const mode = options.synchronousCommit ?? 'local';
  await primary.query('CREATE TABLE IF NOT EXISTS switchyard_lag (id bigserial PRIMARY KEY, payload text NOT NULL)');
  await primary.query(`BEGIN; SET LOCAL synchronous_commit = ${mode}; INSERT INTO switchyard_lag (payload) SELECT repeat('x', 100) FROM generate_series(1, ${Math.trunc(rows)}); COMMIT`);
  const [row] = await primary.query('SELECT pg_current_wal_lsn()::text AS lsn');
  return row.lsn;
}

/**
 * Breaks the standby's primary_conninfo (a port nothing listens on) and waits until its WAL
 * receiver is gone: an async standby that silently stopped receiving, while the primary goes on.
 */
export async function disconnectStandby(standby: PgNode): Promise<void> {
  await standby.query(`ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=postgres application_name=${STANDBY_NAME} connect_timeout=1'`);
  await standby.query('SELECT pg_reload_conf()');
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const rows = await standby.query("SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'");
    if (rows.length === 0) return;
    await delay(50);
  }
  throw new Error(`the WAL receiver of 127.0.0.1:${standby.port} kept streaming after primary_conninfo was broken`);
}

/** A login role for the application: owns table `orders`-style data through CREATE on schema public. */
export async function createAppRole(primary: PgNode, name = 'app'): Promise<void> {
  await primary.query(`CREATE ROLE ${name} LOGIN`);
  await primary.query(`GRANT CREATE ON SCHEMA public TO ${name}`);
}

/** Waits until the standby has replayed everything the primary wrote so far. */
export async function waitCaughtUp(primary: PgNode, standby: PgNode): Promise<void> {
  const [row] = await primary.query('SELECT pg_current_wal_lsn()::text AS lsn');
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const [r] = await standby.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [row.lsn]);
    if (r.ok) return;
    await delay(50);
  }
  throw new Error(`standby 127.0.0.1:${standby.port} did not replay up to ${row.lsn} within ${WAIT_MS}ms`);
}
