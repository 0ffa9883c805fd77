// A local 3-member etcd on loopback for `switchyard demo --instances 3`: Debian's etcd-server
// binary found on PATH, free ports, one temporary data folder per member, stopped (and the
// folders removed) by stop(). Not for production: no TLS, no authentication.
import { spawn, type ChildProcess } from 'node:child_process';
import { fs } from '../node-builtins.ts';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { SwitchyardError } from '../errors.ts';

const { accessSync, constants, mkdtempSync, openSync, closeSync, rmSync } = fs;

export interface LocalEtcd { endpoints: string[]; dir: string; stop(): Promise<void> }

/** The etcd binary on `path` (a PATH value), or null. */
export function findEtcd(path: string | undefined): string | null {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, 'etcd');
    try { accessSync(file, constants.X_OK); return file; } catch { /* not here */ }
  }
  return null;
}

const freePort = () => new Promise<number>((resolve, reject) => {
  const srv = createServer();
  srv.once('error', reject);
  srv.listen(0, '127.0.0.1', () => {
    const { port } = srv.address() as { port: number };
    srv.close(() => resolve(port));
  });
});

export async function startLocalEtcd(options: { path: string | undefined; members?: number }): Promise<LocalEtcd> {
  const bin = findEtcd(options.path);
  if (!bin) {
    throw new SwitchyardError('SWY_STORE_ETCD_NOT_INSTALLED', "etcd is not installed (no etcd on PATH): install Debian's etcd-server package (apt-get install etcd-server), or run the one-instance demo without --instances");
  }
  const n = options.members ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-etcd-'));
  const members: { name: string; client: number; peer: number }[] = [];
  for (let i = 1; i <= n; i++) members.push({ name: `etcd${i}`, client: await freePort(), peer: await freePort() });
  const cluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const procs: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => new Promise<void>((res) => {
      if (p.exitCode !== null || p.signalCode !== null) { res(); return; }
      p.once('exit', () => res());
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 5000).unref();
    })));
    rmSync(dir, { recursive: true, force: true });
  };
  for (const m of members) {
    const log = openSync(join(dir, `${m.name}.log`), 'a');
    const url = `http://127.0.0.1:${m.client}`;
    const peer = `http://127.0.0.1:${m.peer}`;
    procs.push(spawn(bin, [
      '--name', m.name, '--data-dir', join(dir, m.name),
      '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `switchyard-demo-${process.pid}`,
      '--heartbeat-interval', '100', '--election-timeout', '1000',
    ], { stdio: ['ignore', log, log] }));
    closeSync(log);
  }
  const endpoints = members.map((m) => `http://127.0.0.1:${m.client}`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await Promise.all(endpoints.map((e) => fetch(`${e}/health`, { signal: AbortSignal.timeout(1000) })
      .then(async (r) => r.status === 200 && ((await r.json()) as { health?: string }).health === 'true', () => false)));
    if (ok.every(Boolean)) return { endpoints, dir, stop };
    if (procs.some((p) => p.exitCode !== null) || Date.now() > deadline) {
      await stop();
      throw new SwitchyardError('SWY_STORE_UNAVAILABLE', `the local etcd did not become healthy (logs were in ${dir})`);
    }
    await delay(100);
  }
}
