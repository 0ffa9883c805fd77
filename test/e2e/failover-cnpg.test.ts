// CloudNativePG replica-cluster switchover, whole process, against two fake API servers whose
// simulated operator moves Cluster status as CloudNativePG does (test/support/README.md says what
// it imitates and what it cannot): the promotion is requested exactly once, also when switchyard
// is killed with SIGKILL in the middle and resumes from its journal; API errors and a target that
// is not the source's replica give clear codes and change nothing.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeKubeApi, type FakeKubeApi } from '../support/fake-kube-api.ts';
import { startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

interface Status { active: string; state: string; reason: string; clusters: Array<{ healthy: boolean | null }>; lastTransition: { outcome?: string; journal: Array<{ step: string; phase: string; detail?: string; error?: string }> } | null }
const status = async (sy: SwitchyardProcess) => (await fetch(`${sy.adminUrl}/v1/status`)).json() as Promise<Status>;
const promotionPatches = (api: FakeKubeApi, name: string) => api.requests().filter((r) => r.method === 'PATCH' && r.path.endsWith(`/clusters/${name}`)).length;

async function pair(opts: { westSystemID?: string } = {}): Promise<[FakeKubeApi, FakeKubeApi]> {
  const east = await startFakeKubeApi({ controllerDelayMs: 300 });
  const west = await startFakeKubeApi({ controllerDelayMs: 300 });
  cleanups.push(() => east.close(), () => west.close());
  east.setCnpgCluster('db', 'pg-east', { primary: 'pg-east', source: 'pg-west', systemID: '7301234567890', lsn: 5000, timelineID: 1 });
  west.setCnpgCluster('db', 'pg-west', { primary: 'pg-east', source: 'pg-east', systemID: opts.westSystemID ?? '7301234567890', lsn: 4000, timelineID: 1 });
  return [east, west];
}

function config(east: FakeKubeApi, west: FakeKubeApi, opts: { demote?: boolean } = {}): string {
  return `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - name: east
    addresses: [127.0.0.2]
    kubernetes: { kubeconfig: "${east.kubeconfigPath('east')}", context: east }
    probes: [{ tcp: { address: "127.0.0.1:\${ADMIN_PORT}" } }]
  - name: west
    addresses: [127.0.0.3]
    kubernetes: { kubeconfig: "${west.kubeconfigPath('west')}", context: west }
    probes: [{ tcp: { address: "127.0.0.1:\${ADMIN_PORT}" } }]
health: { interval: 500ms, timeout: 300ms, fall: 2, rise: 1 }
failover:
  automatic: false
  steps:
    - switch-traffic
${opts.demote === false ? '' : '    - cnpg-demote: { namespace: db, clusters: { east: pg-east, west: pg-west }, timeout: 10s }\n'}    - cnpg-promote: { namespace: db, clusters: { east: pg-east, west: pg-west }, timeout: 20s }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
`;
}

async function healthy(sy: SwitchyardProcess): Promise<void> {
  for (let i = 0; i < 100 && !(await status(sy)).clusters.every((c) => c.healthy === true); i++) await sleep(100);
}

const move = (sy: SwitchyardProcess, body: Record<string, unknown>) => fetch(`${sy.adminUrl}/v1/failover`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: 'west', reason: 'test', ...body }) });

test('CNPG switchover: demote with a token, promote exactly once; a SIGKILL mid-promotion resumes without a second promotion', { timeout: 120_000 }, async () => {
  const [east, west] = await pair();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-cnpg-'));
  const yaml = config(east, west);
  let sy = await startSwitchyard({ config: yaml, dir });
  cleanups.push(() => sy.stop());
  await healthy(sy);

  // The replica is behind the token's LSN (4000 < 5000): the operator waits, so the promotion is in flight.
  void move(sy, {}).catch(() => {});
  for (let i = 0; i < 200 && promotionPatches(west, 'pg-west') === 0; i++) await sleep(50);
  assert.equal(promotionPatches(west, 'pg-west'), 1, sy.logs().slice(-3000));
  assert.equal(east.get('clusters', 'db', 'pg-east')!.spec && (east.get('clusters', 'db', 'pg-east')!.spec as { replica: { primary: string } }).replica.primary, 'pg-west', 'the source was demoted first');
  const requested = west.get('clusters', 'db', 'pg-west')!;
  assert.equal((requested.spec as { replica: { promotionToken?: string } }).replica.promotionToken, (east.get('clusters', 'db', 'pg-east')!.status as { demotionToken: string }).demotionToken, 'promoted with the demotion token');
  await sy.kill();
  assert.equal(west.cnpgPromotions('db', 'pg-west'), 0, 'not promoted yet when switchyard died');

  sy = await startSwitchyard({ config: yaml, dir, ports: { dns: sy.dnsPort, admin: sy.adminPort } });
  cleanups.push(() => sy.stop());
  west.setCnpgLsn('db', 'pg-west', 5000);   // the replica catches up: the operator can promote
  let s = await status(sy);
  for (let i = 0; i < 300 && s.lastTransition?.outcome !== 'completed'; i++) { await sleep(100); s = await status(sy); }
  assert.equal(s.lastTransition?.outcome, 'completed', sy.logs().slice(-3000));
  assert.equal(s.active, 'west');
  assert.equal(west.cnpgPromotions('db', 'pg-west'), 1, 'promoted exactly once');
  assert.equal(promotionPatches(west, 'pg-west'), 1, 'the promotion was requested once, not again after the restart');
  assert.equal(promotionPatches(east, 'pg-east'), 1, 'the demotion was requested once');
  const journal = s.lastTransition!.journal.filter((e) => e.step === 'cnpg-promote').map((e) => e.phase);
  assert.deepEqual(journal, ['started', 'started', 'done'], 'the step resumed from the journal');
  assert.match(sy.logs(), /already requested by this move/);
  assert.equal((west.get('clusters', 'db', 'pg-west')!.status as { timelineID: number }).timelineID, 2);
});

test('CNPG: a target that is not the source\'s replica, API errors (401, 403, 404, 409, timeouts) and a lost source give clear codes and change nothing', { timeout: 150_000 }, async () => {
  const [east, west] = await pair({ westSystemID: '9999999999999' });
  const sy = await startSwitchyard({ config: config(east, west) });
  cleanups.push(() => sy.stop());
  await healthy(sy);
  const refused = async (code: RegExp, body: Record<string, unknown> = {}) => {
    const res = await move(sy, body);
    const text = await res.text();
    assert.equal(res.status, 409, text);
    assert.match(text, code);
    assert.equal((await status(sy)).active, 'east');
    assert.equal(promotionPatches(west, 'pg-west') + promotionPatches(east, 'pg-east'), 0, 'nothing was written');
  };
  await refused(/SWY_FAILOVER_PRECHECK_FAILED.*SWY_FAILOVER_CNPG_IDENTITY.*system identifier 9999999999999/);

  west.setCnpgCluster('db', 'pg-west', { primary: 'pg-east', source: 'pg-east', systemID: '7301234567890', lsn: 5000 });
  west.failNext('GET', '/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pg-west', 401);
  await refused(/SWY_KUBE_UNAUTHORIZED/);
  west.failNext('GET', '/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pg-west', 403);
  await refused(/SWY_KUBE_FORBIDDEN/);
  west.failNext('GET', '/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pg-west', 404);
  await refused(/SWY_KUBE_NOT_FOUND/);
  west.failNext('GET', '/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pg-west', 'hang');
  await refused(/SWY_FAILOVER_STEP_TIMEOUT|SWY_KUBE_TIMEOUT/);
  // The source is lost: no demotion token can be had, so the lag is unknown and the move is refused.
  east.setReady('close');
  await refused(/SWY_FAILOVER_CNPG_NO_TOKEN/);

  // Break-glass with the source still lost: promoted without a token, once; a 409 on the first write is re-read and retried.
  west.raceNextWrites('db', 'clusters', 'pg-west', 1);
  const res = await move(sy, { force: true });
  const text = await res.text();
  assert.equal(res.status, 200, `${text}\n${sy.logs().slice(-3000)}`);
  assert.equal(west.cnpgPromotions('db', 'pg-west'), 1);
  assert.equal(promotionPatches(west, 'pg-west'), 2, 'the write that met 409 Conflict and the one after it');
  assert.equal((west.get('clusters', 'db', 'pg-west')!.spec as { replica: { promotionToken?: string } }).replica.promotionToken, undefined);
  const s = await status(sy);
  assert.equal(s.active, 'west');
  assert.deepEqual(s.lastTransition!.journal.filter((e) => e.step === 'cnpg-demote').map((e) => e.phase), ['started', 'failed', 'skipped'], 'the lost source is skipped, not retried for minutes');
});

test('CNPG: a readable source that was not demoted gives no token, so the promotion holds and nothing is promoted', { timeout: 60_000 }, async () => {
  const [east, west] = await pair();
  const sy = await startSwitchyard({ config: config(east, west, { demote: false }) });
  cleanups.push(() => sy.stop());
  await healthy(sy);
  await (await move(sy, {})).text();
  let s = await status(sy);
  for (let i = 0; i < 200 && !s.lastTransition?.journal.some((e) => e.step === 'cnpg-promote' && e.phase === 'failed'); i++) { await sleep(100); s = await status(sy); }
  const failed = s.lastTransition?.journal.find((e) => e.step === 'cnpg-promote' && e.phase === 'failed');
  assert.ok(failed, JSON.stringify(s.lastTransition) + sy.logs().slice(-2000));
  assert.match(failed.error ?? '', /SWY_FAILOVER_CNPG_NO_TOKEN.*it was not demoted/);
  assert.notEqual(s.lastTransition?.outcome, 'completed');
  assert.equal(promotionPatches(west, 'pg-west'), 0, 'no promotion was requested');
  assert.equal(west.cnpgPromotions('db', 'pg-west'), 0);
});

test('CNPG: a target changed under every promotion write (409 Conflict) gives SWY_KUBE_CONFLICT, holds, and is neither changed nor promoted', { timeout: 90_000 }, async () => {
  const [east, west] = await pair();
  west.setCnpgLsn('db', 'pg-west', 5000);   // caught up: only the conflicts stand in the way
  const sy = await startSwitchyard({ config: config(east, west) });
  cleanups.push(() => sy.stop());
  await healthy(sy);
  const before = structuredClone(west.get('clusters', 'db', 'pg-west')!.spec);
  west.raceNextWrites('db', 'clusters', 'pg-west', 1000);   // another writer wins every time
  await (await move(sy, {})).text();
  let s = await status(sy);
  for (let i = 0; i < 300 && !(s.state === 'held' && s.lastTransition?.journal.some((e) => e.step === 'cnpg-promote' && e.phase === 'failed')); i++) { await sleep(100); s = await status(sy); }
  assert.equal(s.state, 'held', JSON.stringify(s.lastTransition) + sy.logs().slice(-2000));
  const failed = s.lastTransition!.journal.filter((e) => e.step === 'cnpg-promote' && e.phase === 'failed');
  assert.ok(failed.length > 0);
  for (const f of failed) assert.match(f.error ?? '', /SWY_KUBE_CONFLICT: patch cluster\.postgresql\.cnpg\.io db\/pg-west in cluster west/);
  // Three writes per attempt, each decided on a fresh read, and the step's two retries: nine, all refused.
  assert.equal(promotionPatches(west, 'pg-west'), 9);
  assert.deepEqual(west.get('clusters', 'db', 'pg-west')!.spec, before, 'the target Cluster is unchanged');
  assert.equal(west.cnpgPromotions('db', 'pg-west'), 0, 'not promoted');
});
