// `switchyard serve` with dns.workers: 2, queried by real dig and c-ares (node:dns) clients from
// fresh source ports (so both workers' reusePort sockets are hit), over UDP and TCP. A failover
// through the admin API answers once the transition completed, which includes switch-traffic
// being journaled done only after both workers acknowledged the new generation: so from that
// moment on no query, to whichever worker, may get the old address.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as dnsPromises } from 'node:dns';
import { startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';

const TOKEN = 'e2e-dns-workers-token';

/** dig +short for app.example.com A; a missing dig fails the test (Debian package dnsutils). */
function dig(port: number, extra: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+time=3', '+tries=1', '+short', 'app.example.com', 'A', ...extra], { timeout: 15_000 }, (err, stdout) => {
      if (err) { reject(new Error(`dig failed (install dnsutils if it is missing): ${err.message}`)); return; }
      resolve(stdout.trim());
    });
  });
}

function cares(port: number): Promise<string[]> {
  const r = new dnsPromises.Resolver({ timeout: 2000, tries: 2 });
  r.setServers([`127.0.0.1:${port}`]);
  return r.resolve4('app.example.com');
}

async function answersAfterMove(port: number): Promise<string[]> {
  const seen: string[] = [];
  for (let batch = 0; batch < 4; batch++) {
    const digs = Array.from({ length: 8 }, (_, i) => dig(port, i % 4 === 0 ? ['+tcp'] : []));
    const resolvers = Array.from({ length: 8 }, () => cares(port).then((a) => a.join(',')));
    seen.push(...await Promise.all([...digs, ...resolvers]));
  }
  return seen;
}

describe('serve with dns.workers: 2', { timeout: 180_000 }, () => {
  let sy: SwitchyardProcess;
  before(async () => {
    sy = await startSwitchyard({
      env: { SWITCHYARD_ADMIN_TOKEN: TOKEN },
      config: `
zone: { name: example.com, ttl: 30, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.1:\${ADMIN_PORT}" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.1:\${ADMIN_PORT}" } }] }
health: { interval: 1s, timeout: 500ms, fall: 3, rise: 2 }
failover: { automatic: false, cooldown: 0s, steps: [switch-traffic] }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"], workers: 2, rateLimit: { responsesPerSecond: 0 } }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
state: { file: ./state.json }
`,
    });
  });
  after(async () => { await sy?.stop(); });

  test('after each move returns, every dig and c-ares answer, UDP and TCP, is the new address', async () => {
    assert.deepEqual([...new Set(await answersAfterMove(sy.dnsPort))], ['127.0.0.2']);
    for (const [path, to, address] of [['/v1/failover', 'west', '127.0.0.3'], ['/v1/failback', 'east', '127.0.0.2'], ['/v1/failover', 'west', '127.0.0.3']] as const) {
      const res = await fetch(`${sy.adminUrl}${path}`, {
        method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...(path === '/v1/failover' ? { to } : {}), reason: 'e2e: every worker follows', force: true }),
      });
      assert.ok(res.ok, `${path} accepted: ${res.status} ${await res.text()}`);
      const seen = await answersAfterMove(sy.dnsPort);
      assert.deepEqual([...new Set(seen)], [address], `after ${path} to ${to} returned, ${seen.length} answers\n${sy.logs().slice(-2000)}`);
    }
    const status = await (await fetch(`${sy.adminUrl}/v1/status`)).json() as { active: string; generation: number };
    assert.equal(status.active, 'west');
    const metrics = await (await fetch(`${sy.adminUrl}/metrics`)).text();
    const generation = Number(/^switchyard_dns_answer_table_generation (\d+)/m.exec(metrics)?.[1]);
    assert.equal(generation, status.generation, 'the workers\' lowest generation is the one in force');
    const replies = [...metrics.matchAll(/^switchyard_dns_queries_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
    assert.ok(replies >= 4 * 32, `the metrics count the workers' replies: ${replies}`);
    assert.match(sy.logs(), /DNS answered by 2 worker threads/);
    assert.equal(await sy.stop(), 0, `a clean shutdown closes both workers\n${sy.logs().slice(-2000)}`);
  });
});
