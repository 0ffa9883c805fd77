// `switchyard demo --instances 3`: without etcd on PATH it names the Debian package and exits 1;
// with it, it starts a local 3-member etcd and three real serve processes on it, all answering
// DNS, one of which leads; kill -9 of the leader hands over; it cleans everything up when it stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BIN, NODE } from '../support/switchyard-process.ts';
import { etcdInstalled, ETCD_MISSING } from '../support/etcd.ts';
import { setTimeout as delay } from 'node:timers/promises';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { freePort } from '../support/ports.ts';
import { digShort } from '../support/dig.ts';

const tcpFree = (port: number) => new Promise<boolean>((resolve) => {
  const srv = createServer();
  srv.once('error', () => resolve(false));
  srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
});
const udpFree = (port: number) => new Promise<boolean>((resolve) => {
  const sock = createSocket('udp4');
  sock.once('error', () => { sock.close(); resolve(false); });
  sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
});

/** A first port whose next two are free too (TCP and UDP), as the demo uses port, +1, +2; bounded tries on a shared machine. */
async function threeFreePorts(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p + 2 > 65535) continue;
    let ok = true;
    for (const q of [p + 1, p + 2]) ok = ok && await tcpFree(q) && await udpFree(q);
    if (ok) return p;
  }
  throw new Error('no three consecutive free ports on 127.0.0.1 in 50 tries');
}

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

test('demo --instances 3 runs three instances on a local etcd: all answer DNS, one leads; kill -9 of the leader hands over with a higher term; all is cleaned up', { timeout: 180_000 }, async () => {
  assert.ok(etcdInstalled(), ETCD_MISSING);
  // Instance i uses port + i.
  const dnsPort = await threeFreePorts();
  let adminPort = await threeFreePorts();
  for (let i = 0; i < 20 && Math.abs(adminPort - dnsPort) < 3; i++) adminPort = await threeFreePorts();
  const child = spawn(NODE, [BIN, 'demo', '--instances', '3', '--dns-port', String(dnsPort), '--admin-port', String(adminPort), '--app-port', String(await freePort('127.0.0.2')), '--health-port', String(await freePort('127.0.0.2')), '--exit-after', '150s'], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const waitFor = async (what: string, re: RegExp, from = 0, ms = 90_000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = re.exec(out.slice(from));
        if (m) return m;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${what}: not seen\n${out}`);
        await delay(100);
      }
    };
    await waitFor('the demo is up', /Watching the leadership/);
    const first = await waitFor('a leader', /\] (edge-\d) leads \(term (\d+)\); east active/);
    for (let i = 0; i < 3; i++) assert.deepEqual(await digShort(dnsPort + i, 'app.example.com'), ['127.0.0.2'], `instance ${i + 1} answers east`);
    const pid = Number(new RegExp(`${first[1]}: pid (\\d+)`).exec(out)?.[1]);
    assert.ok(pid > 0, out);
    const mark = out.length;
    process.kill(pid, 'SIGKILL');
    const next = await waitFor('another leader', new RegExp(`\\] (?!${first[1]} )(edge-\\d) leads \\(term (\\d+)\\)`), mark, 30_000);
    assert.notEqual(next[1], first[1]);
    assert.ok(Number(next[2]) > Number(first[2]), `terms only increase: ${first[2]} → ${next[2]}`);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, out);
  const dir = /data in (\S+)\)/.exec(out)?.[1];
  assert.ok(dir, out);
  assert.equal(existsSync(dir), false, 'the etcd data folder is removed');
});
