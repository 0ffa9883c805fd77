// Whole-process failover scenarios with a real PostgreSQL primary and synchronous standby:
// `switchyard serve` is the real binary, DNS is checked with dig, the database with SQL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { digShort } from '../support/dig.ts';
import { startHealthEndpoint, type HealthEndpoint } from '../support/health-endpoint.ts';
import { generateLag, pauseReplay, startPostgresPair, type PgPair } from '../support/postgres.ts';
import { runCli, startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';

interface Status {
  active: string; state: string; reason: string; generation: number; epoch: number;
  lastTransition: null | { kind: string; outcome?: string; forced: boolean; journal: Array<{ step: string; phase: string; attempt: number }> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async (sy: SwitchyardProcess): Promise<Status> => (await fetch(`${sy.adminUrl}/v1/status`)).json() as Promise<Status>;

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, sy?: SwitchyardProcess): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${sy ? `\n--- switchyard log ---\n${sy.logs().slice(-6000)}` : ''}`);
}

function config(east: HealthEndpoint, west: HealthEndpoint, db: PgPair | null, steps: string, extra = ''): string {
  return `
zone: { name: example.com, ttl: 5, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - name: east
    addresses: [127.0.0.2]
    probes: [{ http: { url: "${east.url}" } }]
${db ? `    database: { url: "${db.primary.url}" }` : ''}
  - name: west
    addresses: [127.0.0.3]
    probes: [{ http: { url: "${west.url}" } }]
${db ? `    database: { url: "${db.standby.url}" }` : ''}
health: { interval: 1s, timeout: 500ms, fall: 3, rise: 2 }
failover:
  cooldown: 0s
  steps:
${steps}
dns: { listen: ["127.0.0.1:\${DNS_PORT}"], rateLimit: { responsesPerSecond: 0 } }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
${extra}
`;
}

const PG_STEPS = (dir: string) => `    - switch-traffic
    - postgres-fence
    - postgres-promote: { maxLagBytes: 65536 }
    - exec: { name: record, command: [/bin/sh, -c, 'echo "$SWITCHYARD_EPOCH $SWITCHYARD_IDEMPOTENCY_KEY" >> ${join(dir, 'record.log')}'] }`;

async function healthyPair(sy: SwitchyardProcess) {
  await until('both clusters healthy', async () => {
    const s = await fetch(`${sy.adminUrl}/v1/status`).then((r) => r.json()) as { clusters: Array<{ healthy: boolean | null }> };
    return s.clusters.every((c) => c.healthy === true);
  }, 10_000, sy);
}

describe('failover with real PostgreSQL', { timeout: 240_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

  async function scenario(opts: { steps?: (dir: string) => string; db?: boolean; extra?: string; env?: Record<string, string> } = {}) {
    const east = await startHealthEndpoint('127.0.0.2');
    const west = await startHealthEndpoint('127.0.0.3');
    cleanups.push(() => east.kill(), () => west.kill());
    const db = opts.db === false ? null : await startPostgresPair({ synchronous: true });
    if (db) cleanups.push(() => db.stop());
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'));
    const yaml = config(east, west, db, (opts.steps ?? PG_STEPS)(dir), opts.extra);
    const sy = await startSwitchyard({ config: yaml, dir, env: opts.env });
    cleanups.push(() => sy.stop());
    await healthyPair(sy);
    return { east, west, db, sy, dir, yaml };
  }

  test('1. the active health endpoint dies: DNS moves, the standby is promoted once, no committed row is lost', async () => {
    const { east, db, sy, dir } = await scenario();
    await db!.primary.query('CREATE ROLE app LOGIN');
    await db!.primary.query('CREATE TABLE orders (id int primary key, note text)');
    await db!.primary.query('GRANT ALL ON orders TO app');
    await db!.primary.query("INSERT INTO orders SELECT g, 'before failure' FROM generate_series(1, 500) g");
    assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.2']);
    const killedAt = Date.now();
    await east.kill();
    await until('DNS answers west', async () => (await digShort(sy.dnsPort, 'app.example.com'))[0] === '127.0.0.3', 8000, sy);
    const switchMs = Date.now() - killedAt;
    const s = await until('failover completed', async () => { const x = await status(sy); return x.state === 'failed-over' && x; }, 20_000, sy);
    assert.equal(s.active, 'west');
    assert.ok(switchMs < 4000, `DNS changed ${switchMs} ms after the health endpoint died (interval 1s, fall 3)`);
    const [rec] = await db!.standby.query('SELECT pg_is_in_recovery() AS r');
    assert.equal(rec.r, false, 'the standby is promoted');
    const [count] = await db!.standby.query('SELECT count(*)::int AS n FROM orders');
    assert.equal(count.n, 500, 'every row committed before the failure is there');
    await assert.rejects(db!.primary.queryAs('app', 'SELECT 1'), { code: '28000' }, 'the old primary is fenced: the application role cannot log in');
    await db!.standby.queryAs('app', 'INSERT INTO orders VALUES (501, \'after failover\')');
    assert.deepEqual(s.lastTransition!.journal.map((e) => `${e.step}:${e.phase}`), [
      'postgres-promote:precheck', 'switch-traffic:started', 'switch-traffic:done', 'postgres-fence:started', 'postgres-fence:done',
      'postgres-promote:started', 'postgres-promote:done', 'record:started', 'record:running', 'record:done',
    ]);
    assert.equal(readFileSync(join(dir, 'record.log'), 'utf8'), '1 switchyard:1:record\n', 'hooks get the epoch and an idempotency key');
    const metrics = await (await fetch(`${sy.adminUrl}/metrics`)).text();
    assert.match(metrics, /switchyard_failover_transitions_total\{kind="failover",outcome="completed"\} 1/);
  });

  test('2. a lagging replica holds the failover; --force moves it', async () => {
    const { east, db, sy } = await scenario();
    await pauseReplay(db!.standby);
    await generateLag(db!.primary, { rows: 20_000, synchronousCommit: 'local' });
    await east.kill();
    const held = await until('held', async () => { const x = await status(sy); return x.state === 'held' && x; }, 10_000, sy);
    assert.match(held.reason, /postgres-promote: SWY_FAILOVER_REPLICA_LAG/);
    assert.equal(held.active, 'east', 'traffic not moved');
    assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.2']);
    const [rec] = await db!.standby.query('SELECT pg_is_in_recovery() AS r');
    assert.equal(rec.r, true, 'no promotion');
    const metrics = await (await fetch(`${sy.adminUrl}/metrics`)).text();
    assert.match(metrics, /^switchyard_failover_held 1$/m, 'the alert metric is set');

    const r = await runCli(['failover', '--to', 'west', '--force', '--reason', 'break glass: east is gone', '--admin', sy.adminUrl]);
    assert.equal(r.code, 0, r.stderr);
    const s = await status(sy);
    assert.equal(s.active, 'west');
    assert.equal(s.lastTransition!.forced, true);
    assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.3']);
    const [rec2] = await db!.standby.query('SELECT pg_is_in_recovery() AS r');
    assert.equal(rec2.r, false);
  });

  test('3. probes flapping for less than fall never fail over', async () => {
    const { east, sy } = await scenario({ db: false, steps: () => '    - switch-traffic' });
    const gen = (await status(sy)).generation;
    east.mode = 'flap';
    const states = new Set<string>();
    const end = Date.now() + 6000;
    while (Date.now() < end) {
      const s = await status(sy);
      states.add(s.state);
      assert.equal(s.active, 'east');
      await sleep(100);
    }
    assert.ok(east.hits > 6, `the endpoint was probed (${east.hits} hits)`);
    assert.ok(!states.has('failing-over') && !states.has('held'), `states seen: ${[...states].join(', ')}`);
    assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.2']);
    assert.equal((await status(sy)).epoch, 0);
    assert.ok((await status(sy)).generation >= gen);
  });

  test('4. SIGKILL while a slow step runs: the restart resumes and the promotion runs once', async () => {
    const slowSteps = (dir: string) => `    - switch-traffic
    - exec: { name: slow, timeout: 60s, command: [/bin/sh, -c, 'echo start >> ${join(dir, 'slow.log')}; sleep 4; echo end >> ${join(dir, 'slow.log')}'] }
    - postgres-promote: { maxLagBytes: 65536 }
    - exec: { name: record, command: [/bin/sh, -c, 'echo "$SWITCHYARD_EPOCH" >> ${join(dir, 'record.log')}'] }`;
    const { east, db, sy, dir, yaml } = await scenario({ steps: slowSteps });
    await east.kill();
    await until('the slow step started', async () => existsSync(join(dir, 'slow.log')), 10_000, sy);
    await sy.kill();
    const mid = JSON.parse(readFileSync(join(dir, 'switchyard-state.json'), 'utf8'));
    assert.equal(mid.state, 'failing-over');
    assert.equal(mid.active, 'west', 'traffic had switched before the crash');
    const again = await startSwitchyard({ config: yaml, dir });
    cleanups.push(() => again.stop());
    const s = await until('failover completed after restart', async () => { const x = await status(again); return x.state === 'failed-over' && x; }, 30_000, again);
    const journal = s.lastTransition!.journal;
    const count = (step: string, phase: string) => journal.filter((e) => e.step === step && e.phase === phase).length;
    assert.equal(count('switch-traffic', 'done'), 1, 'traffic switched once');
    assert.equal(count('postgres-promote', 'started'), 1, 'the promotion ran once');
    assert.equal(count('slow', 'started'), 2, 'the interrupted step ran again');
    assert.equal(count('slow', 'done'), 1);
    assert.equal(readFileSync(join(dir, 'record.log'), 'utf8'), '1\n', 'the step after it ran once, same epoch');
    const [rec] = await db!.standby.query('SELECT pg_is_in_recovery() AS r');
    assert.equal(rec.r, false);
    assert.deepEqual(await digShort(again.dnsPort, 'app.example.com'), ['127.0.0.3']);
  });

  test('5. the old primary comes back healthy: no failback until `switchyard failback`', async () => {
    const { east, sy } = await scenario({ db: false, steps: () => '    - switch-traffic' });
    await east.kill();
    await until('failed over', async () => (await status(sy)).state === 'failed-over', 10_000, sy);
    await east.revive();
    await until('east healthy again', async () => {
      const s = await fetch(`${sy.adminUrl}/v1/status`).then((r) => r.json()) as { clusters: Array<{ name: string; healthy: boolean }> };
      return s.clusters.find((c) => c.name === 'east')?.healthy === true;
    }, 10_000, sy);
    await sleep(3000);
    const s = await status(sy);
    assert.equal(s.active, 'west', 'no automatic failback');
    assert.equal(s.state, 'failed-over');
    assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.3']);
    const r = await runCli(['failback', '--admin', sy.adminUrl]);
    assert.equal(r.code, 0, r.stderr);
    const back = await status(sy);
    assert.equal(back.active, 'east');
    assert.equal(back.state, 'steady');
    assert.equal(back.lastTransition!.kind, 'failback');
    assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.2']);
  });

  describe('6. bad input gets a clear 4xx with a code and changes nothing', () => {
    let sy: SwitchyardProcess;
    let gen: number;
    const TOKEN = 's3cret-token';
    before(async () => {
      ({ sy } = await scenario({ db: false, steps: () => '    - switch-traffic', env: { SWITCHYARD_ADMIN_TOKEN: TOKEN } }));
      gen = (await status(sy)).generation;
    });
    const post = (path: string, body: string, token?: string) => fetch(`${sy.adminUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
    const cases: Array<[string, string, string, string | undefined, number, string]> = [
      ['missing token', '/v1/failover', '{"to":"west"}', undefined, 401, 'SWY_ADMIN_UNAUTHORIZED'],
      ['wrong token', '/v1/failover', '{"to":"west"}', 'nope', 401, 'SWY_ADMIN_UNAUTHORIZED'],
      ['unknown cluster', '/v1/failover', '{"to":"north"}', TOKEN, 404, 'SWY_FAILOVER_UNKNOWN_CLUSTER'],
      ['target not a string', '/v1/failover', '{"to":42}', TOKEN, 400, 'SWY_ADMIN_BAD_REQUEST'],
      ['missing target', '/v1/failover', '{}', TOKEN, 400, 'SWY_ADMIN_BAD_REQUEST'],
      ['unknown field', '/v1/failover', '{"to":"west","forse":true}', TOKEN, 400, 'SWY_ADMIN_BAD_REQUEST'],
      ['malformed JSON', '/v1/failover', '{"to":', TOKEN, 400, 'SWY_ADMIN_BAD_REQUEST'],
      ['already active', '/v1/failover', '{"to":"east"}', TOKEN, 409, 'SWY_FAILOVER_ALREADY_ACTIVE'],
      ['failback to where we are', '/v1/failback', '{}', TOKEN, 409, 'SWY_FAILOVER_ALREADY_ACTIVE'],
      ['failback with a target', '/v1/failback', '{"to":"west"}', TOKEN, 400, 'SWY_ADMIN_BAD_REQUEST'],
    ];
    for (const [name, path, body, token, code, errorCode] of cases) {
      test(name, async () => {
        const res = await post(path, body, token);
        assert.equal(res.status, code);
        const json = await res.json() as { error: { code: string; message: string } };
        assert.equal(json.error.code, errorCode);
        assert.ok(json.error.message.length > 10);
        const s = await status(sy);
        assert.equal(s.generation, gen, 'nothing changed');
        assert.equal(s.active, 'east');
      });
    }
    test('the CLI reports the code and exits 2', async () => {
      const r = await runCli(['failover', '--to', 'north', '--admin', sy.adminUrl], { env: { SWITCHYARD_ADMIN_TOKEN: TOKEN } });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /SWY_FAILOVER_UNKNOWN_CLUSTER/);
      const noToken = await runCli(['failover', '--to', 'west', '--admin', sy.adminUrl]);
      assert.equal(noToken.code, 2);
      assert.match(noToken.stderr, /SWY_ADMIN_UNAUTHORIZED/);
      assert.equal((await status(sy)).generation, gen);
    });
  });
});
