// `switchyard demo --instances 3`: without etcd on PATH it names the Debian package and exits 1;
// with it, it starts a local 3-member etcd and three campaigning instances, one of which leads,
// and cleans everything up when it stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BIN, NODE } from '../support/switchyard-process.ts';
import { etcdInstalled, ETCD_MISSING } from '../support/etcd.ts';

function run(args: string[], env: Record<string, string | undefined>, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

test('demo --instances 3 without etcd on PATH names the Debian package', async () => {
  const r = await run(['demo', '--instances', '3'], { PATH: '/nonexistent-bin' }, 20_000);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /SWY_STORE_ETCD_NOT_INSTALLED: etcd is not installed .*etcd-server/);
});

test('demo --instances 2 is a usage error', async () => {
  const r = await run(['demo', '--instances', '2'], { PATH: process.env.PATH }, 20_000);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--instances 2: the demo runs 1 or 3 instances/);
});

test('demo --instances 3 starts a local etcd and three instances, one leads; all is cleaned up', async () => {
  assert.ok(etcdInstalled(), ETCD_MISSING);
  const r = await run(['demo', '--instances', '3', '--exit-after', '8s'], { PATH: process.env.PATH }, 60_000);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const leads = [...r.stdout.matchAll(/edge-\d leads \(term (\d+)\)/g)];
  assert.equal(leads.length, 1, r.stdout);
  const dir = /data in (\S+)\)/.exec(r.stdout)?.[1];
  assert.ok(dir, r.stdout);
  assert.equal(existsSync(dir), false, 'the etcd data folder is removed');
});
