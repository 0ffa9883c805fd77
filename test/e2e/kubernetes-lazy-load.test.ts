// @kubernetes/client-node costs about 85 MiB of memory, so `switchyard serve` loads it only when
// a cluster has kubernetes settings; pg (about 7 MiB) only when a database step runs, and of
// undici (about 14 MiB whole) only the pool, connector and request parts (src/undici-parts.ts). The real command runs with a preload that records every
// module it loads (test/support/record-loads.ts), from start to a clean SIGTERM shutdown.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startFakeKubeApi } from '../support/fake-kube-api.ts';
import { REPO, startSwitchyard } from '../support/switchyard-process.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CLIENT_NODE = '/node_modules/@kubernetes/client-node/';
const PRELOAD = pathToFileURL(join(REPO, 'test/support/record-loads.ts')).href;

/** Serves `clusters` (YAML), lets the probes run, stops it and returns the URLs of the modules it loaded. */
async function modulesLoaded(clusters: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'swy-loads-'));
  const loads = join(dir, 'loads.txt');
  const sy = await startSwitchyard({
    dir,
    env: { NODE_OPTIONS: `--import=${PRELOAD}`, SWITCHYARD_TEST_LOADS: loads },
    config: `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
${clusters}
health: { interval: 200ms, timeout: 100ms, fall: 2, rise: 1 }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
`,
  });
  cleanups.push(() => sy.stop());
  await sleep(1000);
  const status = await (await fetch(`${sy.adminUrl}/v1/status`)).json() as { clusters: Array<{ name: string; healthy: boolean | null }> };
  assert.equal(await sy.stop(), 0, sy.logs().slice(-3000));
  const urls = readFileSync(loads, 'utf8').trim().split('\n');
  assert.ok(urls.some((u) => u.endsWith('/src/main.ts')) && urls.some((u) => u.includes('/node_modules/prom-client/')),
    `the preload saw switchyard's own modules and its packages (${urls.length} URLs)`);
  assert.ok(status.clusters.length === 2 && status.clusters.every((c) => c.healthy !== null), `the probes ran: ${JSON.stringify(status.clusters)}`);
  return urls;
}

test('serve on a configuration without kubernetes settings never loads @kubernetes/client-node', { timeout: 30_000 }, async () => {
  const urls = await modulesLoaded(`
  - { name: east, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.2:1" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ http: { url: "http://127.0.0.3:1/healthz" } }] }
`);
  const kube = urls.filter((u) => u.includes(CLIENT_NODE));
  assert.equal(kube.length, 0, `client-node modules were loaded: ${kube.slice(0, 3).join(', ')}`);
});

test('serve with a kubernetes probe loads @kubernetes/client-node and probes through it', { timeout: 30_000 }, async () => {
  const fake = await startFakeKubeApi();
  cleanups.push(() => fake.close());
  const urls = await modulesLoaded(`
  - name: east
    addresses: [127.0.0.2]
    kubernetes: { kubeconfig: "${fake.kubeconfigPath('east')}", context: east }
    probes: [{ kubernetes: { readyz: true } }]
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }] }
`);
  assert.ok(urls.some((u) => u.includes(CLIENT_NODE)), 'client-node was loaded');
  assert.ok(fake.requests().some((r) => r.method === 'GET' && r.path === '/readyz'), 'the kubernetes probe asked the API server');
});

test('serve with http probes and no database step loads neither pg, undici\'s index nor ajv, only undici\'s pool', { timeout: 30_000 }, async () => {
  const urls = await modulesLoaded(`
  - { name: east, addresses: [127.0.0.2], probes: [{ http: { url: "http://127.0.0.2:1/healthz" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ http: { url: "http://127.0.0.3:1/healthz" } }] }
`);
  assert.ok(urls.some((u) => u.endsWith('/node_modules/undici/lib/dispatcher/pool.js')), 'the http probes loaded undici\'s pool');
  const index = urls.filter((u) => u.endsWith('/node_modules/undici/index.js') || u.endsWith('/node_modules/undici/index-fetch.js'));
  assert.deepEqual(index, [], 'undici\'s index was loaded');
  const pg = urls.filter((u) => /\/node_modules\/pg(-[a-z]+)?\//.test(u));
  assert.deepEqual(pg, [], `pg was loaded: ${pg.slice(0, 3).join(', ')}`);
  const ajv = urls.filter((u) => u.includes('/node_modules/ajv/') || u.includes('/node_modules/@fastify/ajv-compiler/'));
  assert.deepEqual(ajv, [], `fastify's schema compiler was loaded for an admin API without schemas: ${ajv.slice(0, 3).join(', ')}`);
});
