// Whole-process database safety with real PostgreSQL: `switchyard serve` is the real binary,
// DNS is checked with dig, the databases with SQL. A stale standby never gets promoted, the
// fenced old primary never gets traffic back before it is rebuilt (the runbook procedure is run
// as written), a stale or missing position record holds, the fence of a real move withstands
// what undid the old one and a restart, an unfenced old primary is fenced when it returns, and a
// resumed move never takes someone else's promotion for its own.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digShort } from '../support/dig.ts';
import { startHealthEndpoint, type HealthEndpoint } from '../support/health-endpoint.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { createAppRole, disconnectStandby, generateLag, startPostgresPair, waitCaughtUp, type PgPair } from '../support/postgres.ts';
import { REPO, runCli, startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';

interface Status {
  active: string; state: string; reason: string; generation: number; epoch: number;
  clusters: Array<{ name: string; healthy: boolean | null }>;
  lastTransition: null | { kind: string; outcome?: string; journal: Array<{ step: string; phase: string; attempt: number; detail?: string; error?: string }> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async (sy: SwitchyardProcess): Promise<Status> => (await fetch(`${sy.adminUrl}/v1/status`)).json() as Promise<Status>;
const metric = async (sy: SwitchyardProcess, name: string): Promise<number> => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${sy.adminUrl}/metrics`)).text());
  return m ? Number(m[1]) : Number.NaN;
};
const stateFile = (dir: string) => JSON.parse(readFileSync(join(dir, 'switchyard-state.json'), 'utf8'));

/** A webhook receiver on 127.0.0.1 that keeps every JSON body (the notify list's). */
const receivers: WebhookReceiver[] = [];
after(async () => { for (const r of receivers) await r.close(); });
async function receiver(): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver();
  receivers.push(r);
  return r;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, sy?: SwitchyardProcess): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const v = await fn().catch((err) => { last = err; return undefined; });
    if (v) return v;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}${sy ? `\n--- switchyard log ---\n${sy.logs().slice(-6000)}` : ''}`);
}

const inRecovery = async (node: PgPair['primary']) => (await node.query('SELECT pg_is_in_recovery() AS r'))[0].r as boolean;

function config(east: HealthEndpoint, west: HealthEndpoint, db: PgPair, steps: string, extra = ''): string {
  return `
zone: { name: example.com, ttl: 5, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - name: east
    addresses: [127.0.0.2]
    probes: [{ http: { url: "${east.url}" } }]
    database: { url: "${db.primary.url}" }
  - name: west
    addresses: [127.0.0.3]
    probes: [{ http: { url: "${west.url}" } }]
    database: { url: "${db.standby.url}" }
health: { interval: 1s, timeout: 500ms, fall: 3, rise: 2 }
failover:
  cooldown: 0s
  steps:
${steps}
dns: { listen: ["127.0.0.1:\${DNS_PORT}"], rateLimit: { responsesPerSecond: 0 } }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
${extra}`;
}

const STEPS = `    - switch-traffic
    - postgres-fence
    - postgres-promote`;

/** The fenced blocks of docs/runbook.md's rebuild-then-failback procedure, by their `<!-- test: ... -->` marker. */
function runbookBlocks(): Map<string, string> {
  const text = readFileSync(join(REPO, 'docs/runbook.md'), 'utf8');
  const blocks = new Map<string, string>();
  for (const m of text.matchAll(/<!-- test: ([^>]+?) -->\n\s*```(?:sh|sql)\n([\s\S]*?)\n\s*```/g)) {
    blocks.set(m[1], m[2].split('\n').map((l) => l.replace(/^ {3}/, '')).join('\n'));
  }
  return blocks;
}

describe('database safety with real PostgreSQL', { timeout: 240_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

  async function scenario(opts: { synchronous: boolean; steps?: (dir: string) => string; extra?: string }) {
    const east = await startHealthEndpoint('127.0.0.2');
    const west = await startHealthEndpoint('127.0.0.3');
    cleanups.push(() => east.kill(), () => west.kill());
    const db = await startPostgresPair({ synchronous: opts.synchronous });
    cleanups.push(() => db.stop());
    await createAppRole(db.primary);
    await db.primary.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
    await db.primary.query('GRANT ALL ON orders TO app');
    await db.primary.query("INSERT INTO orders SELECT g, 'before' FROM generate_series(1, 200) g");
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'));
    const yaml = config(east, west, db, opts.steps ? opts.steps(dir) : STEPS, opts.extra);
    const sy = await startSwitchyard({ config: yaml, dir });
    cleanups.push(() => sy.stop());
    await until('both clusters healthy', async () => (await status(sy)).clusters.every((c) => c.healthy === true), 10_000, sy);
    return { east, west, db, sy, dir, yaml };
  }

  test('an async standby that stopped receiving 40+ MB ago holds, though it reports no lag of its own', async () => {
    // Default maxLagBytes (1 MiB); a generous maxRecordAge so a loaded machine cannot turn the lag hold into an unknown-position hold.
    const { east, db, sy, dir, yaml } = await scenario({ synchronous: false, steps: () => `    - switch-traffic\n    - postgres-fence\n    - postgres-promote: { maxRecordAge: 2m }` });
    await disconnectStandby(db.standby);
    const lsn = await generateLag(db.primary, { rows: 330_000 });
    await until('the observer recorded the primary past the new WAL', async () => {
      const rec = JSON.parse(readFileSync(join(dir, 'switchyard-state.positions.json'), 'utf8')).records.east;
      const [cmp] = await db.primary.query('SELECT $1::pg_lsn >= $2::pg_lsn AS ok', [rec.lsn, lsn]);
      return cmp.ok;
    }, 10_000, sy);
    const [gap] = await db.standby.query('SELECT ($1::pg_lsn - pg_last_wal_receive_lsn())::bigint AS missing, pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AS self_caught_up', [lsn]);
    assert.ok(Number(gap.missing) > 40_000_000, `the standby misses ${gap.missing} bytes of WAL`);
    assert.equal(gap.self_caught_up, true, 'received minus replayed is 0: the old standby-only measure would have promoted it');

    await db.primary.stop('immediate');
    await east.kill();
    const held = await until('held', async () => { const s = await status(sy); return s.state === 'held' && /blocked by prechecks/.test(s.reason) && s; }, 15_000, sy);
    assert.match(held.reason, /postgres-promote: SWY_FAILOVER_REPLICA_LAG: .*the target is (\d+) bytes behind the source's last recorded WAL position/);
    const behind = Number(/the target is (\d+) bytes behind/.exec(held.reason)![1]);
    assert.ok(behind > 40_000_000, `hold figure ${behind}`);
    assert.equal(held.active, 'east', 'traffic not moved');
    assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.2']);
    assert.equal(await inRecovery(db.standby), true, 'no promotion');

    // A restart during the outage still knows the last position (the positions file), so it
    // holds on the same figure rather than on "unknown".
    await sy.stop();
    const again = await startSwitchyard({ config: yaml, dir });
    cleanups.push(() => again.stop());
    // The state file still holds the first hold's reason: wait for this process's own judgement
    // (it commits 'precheck' before it counts a failure, so a hold seen after the count is new).
    await until('a precheck judged by the restarted process', async () => (await metric(again, 'switchyard_failover_precheck_failures_total{check="postgres-promote"}')) >= 1, 15_000, again);
    const heldAgain = await until('held after the restart', async () => { const s = await status(again); return s.state === 'held' && /blocked by prechecks/.test(s.reason) && s; }, 15_000, again);
    assert.match(heldAgain.reason, /SWY_FAILOVER_REPLICA_LAG: .*the target is \d+ bytes behind the source's last recorded WAL position/);
    assert.equal(await inRecovery(db.standby), true, 'no promotion after the restart either');
  });

  test('a record older than maxRecordAge holds with SWY_FAILOVER_POSITION_UNKNOWN, and so does no record at all, though the standby was sync', async () => {
    // The sync standby would be promoted with RPO 0 on a fresh record (the unfenced test below);
    // here the record is older than maxRecordAge by the time east is judged down.
    const steps = () => `    - switch-traffic\n    - postgres-fence\n    - postgres-promote: { maxRecordAge: 100ms }`;
    const { east, db, sy, dir, yaml } = await scenario({ synchronous: true, steps });
    const positions = join(dir, 'switchyard-state.positions.json');
    await until('a position recorded', async () => existsSync(positions), 10_000, sy);
    await db.primary.stop('immediate');
    await east.kill();
    const held = await until('held', async () => { const s = await status(sy); return s.state === 'held' && /blocked by prechecks/.test(s.reason) && s; }, 15_000, sy);
    assert.match(held.reason, /postgres-promote: SWY_FAILOVER_POSITION_UNKNOWN: .*the source did not answer and its last recorded WAL position is [\d.]+ s old \(maxRecordAge 0\.1 s\): the lag is unknown/);
    assert.equal(held.active, 'east', 'traffic not moved');
    assert.equal(await inRecovery(db.standby), true, 'no promotion');

    // The record lost as well (a new volume): no position was ever recorded, still a hold.
    await sy.stop();
    rmSync(positions);
    const again = await startSwitchyard({ config: yaml, dir });
    cleanups.push(() => again.stop());
    // The state file still holds the first hold's reason: wait for this process's own judgement.
    const heldAgain = await until('held on no record after the restart', async () => { const s = await status(again); return s.state === 'held' && /no WAL position of it was ever recorded/.test(s.reason) && s; }, 15_000, again);
    assert.match(heldAgain.reason, /postgres-promote: SWY_FAILOVER_POSITION_UNKNOWN: .*no WAL position of it was ever recorded/);
    assert.equal(await inRecovery(db.standby), true, 'no promotion after the restart either');
  });

  test('the fence of a real move holds against BEGIN READ WRITE, SET ... = off, a role-level setting and a restart of the old primary', async () => {
    const { east, db, sy } = await scenario({ synchronous: false });
    /** The ways a client tries to write, each in its own session: the SQLSTATE, or WROTE. */
    const writes = async (node: PgPair['primary'], base: number): Promise<string[]> => {
      const out: string[] = [];
      for (const sql of [
        `INSERT INTO orders VALUES (${base + 1}, 'plain')`,
        `BEGIN READ WRITE; INSERT INTO orders VALUES (${base + 2}, 'begin read write'); COMMIT`,
        `SET default_transaction_read_only = off; INSERT INTO orders VALUES (${base + 3}, 'set off')`,
      ]) out.push(await node.queryAs('app', sql).then(() => 'WROTE', (err: { code?: string; message: string }) => err.code ?? err.message));
      return out;
    };
    await east.kill();
    const s = await until('failed over', async () => { const x = await status(sy); return x.state === 'failed-over' && x; }, 15_000, sy);
    assert.match(s.lastTransition!.journal.find((e) => e.step === 'postgres-fence' && e.phase === 'done')?.detail ?? '', /^fenced \(nologin\): LOGIN taken from 1 role\(s\) \(app\)/);
    // The same statements write on the new primary: refusals below are the fence, not the SQL.
    assert.deepEqual(await writes(db.standby, 4000), ['WROTE', 'WROTE', 'WROTE'], 'west takes every write');

    const refused = ['28000', '28000', '28000'];
    assert.deepEqual(await writes(db.primary, 3000), refused, 'east refuses every way of writing');
    // A role-level setting, the thing that undid the old read-only fence, changes nothing.
    await db.primary.query('ALTER ROLE app SET default_transaction_read_only = off');
    assert.deepEqual(await writes(db.primary, 3000), refused, 'a role-level setting does not undo it');
    await db.primary.stop('fast');
    await db.primary.start();
    assert.deepEqual(await writes(db.primary, 3000), refused, 'the fence survives a restart of the old primary');
    const [n] = await db.primary.query('SELECT count(*)::int AS n FROM orders WHERE id > 3000');
    assert.equal(n.n, 0, 'nothing was written on east');
    assert.equal((await status(sy)).active, 'west');
  });

  test('a careless failback onto the never-rebuilt old primary is refused and changes nothing; the runbook procedure, as written, then fails back', async () => {
    const { east, db, sy } = await scenario({ synchronous: true });
    await east.kill();
    await until('failed over', async () => (await status(sy)).state === 'failed-over', 15_000, sy);
    assert.equal(await inRecovery(db.standby), false);
    await db.standby.queryAs('app', "INSERT INTO orders VALUES (1001, 'on west')");
    await assert.rejects(db.primary.queryAs('app', 'SELECT 1'), { code: '28000' }, 'east is fenced');
    await east.revive();
    await until('east healthy again', async () => (await status(sy)).clusters.find((c) => c.name === 'east')?.healthy === true, 10_000, sy);

    const before = await status(sy);
    const r = await runCli(['failback', '--admin', sy.adminUrl]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /SWY_FAILOVER_PRECHECK_FAILED/);
    assert.match(r.stderr, /SWY_FAILOVER_TARGET_NOT_STANDBY/);
    assert.match(r.stderr, /rebuild it as a replica of the current primary first \(docs\/runbook\.md#rebuild-then-failback\)/);
    const afterRefusal = await status(sy);
    assert.equal(afterRefusal.generation, before.generation, 'nothing changed');
    assert.equal(afterRefusal.active, 'west');
    assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.3']);
    assert.equal(await inRecovery(db.primary), false, 'east untouched');
    await assert.rejects(db.primary.queryAs('app', 'SELECT 1'), { code: '28000' }, 'east still fenced');

    // docs/runbook.md, "Rebuild, then failback", block by block.
    const blocks = runbookBlocks();
    assert.deepEqual([...blocks.keys()], ['shell on the old primary', 'psql on the rebuilt standby', 'psql on the current primary']);
    await db.shell(blocks.get('shell on the old primary')!, {
      PGDATA: db.primary.dataDir, PGPORT: String(db.primary.port), PGLOG: db.primary.logFile,
      PRIMARY_HOST: '127.0.0.1', PRIMARY_PORT: String(db.standby.port), REPLICATION_USER: 'postgres', STANDBY_NAME: 'east',
    });
    const psql = (node: PgPair['primary'], sql: string) => db.shell(`psql -X -q -v ON_ERROR_STOP=1 <<'SWITCHYARD_SQL'\n${sql}\nSWITCHYARD_SQL`, { PGHOST: '127.0.0.1', PGPORT: String(node.port), PGUSER: 'postgres', PGDATABASE: 'postgres' });
    // A person re-runs the check until the new standby streams (it connects within a moment).
    await until('the runbook check passes on the rebuilt standby', async () => { await psql(db.primary, blocks.get('psql on the rebuilt standby')!); return true; }, 20_000, sy);
    await psql(db.standby, blocks.get('psql on the current primary')!);
    await waitCaughtUp(db.standby, db.primary);

    const back = await runCli(['failback', '--reason', 'east rebuilt', '--admin', sy.adminUrl]);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    const s = await status(sy);
    assert.equal(s.active, 'east');
    assert.equal(s.state, 'steady');
    assert.deepEqual(await digShort(sy.dnsPort, 'app.example.com'), ['127.0.0.2']);
    assert.equal(await inRecovery(db.primary), false, 'east promoted');
    const [n] = await db.primary.queryAs('app', "INSERT INTO orders VALUES (1002, 'back on east') RETURNING (SELECT count(*)::int FROM orders) AS before");
    assert.equal(n.before, 201, 'every row, including the one written on west, is on east');
    await assert.rejects(db.standby.queryAs('app', 'SELECT 1'), { code: '28000' }, 'west, the new old primary, is fenced');
  });

  test('an old primary that did not answer is recorded unfenced, people are told, and it is fenced the moment it returns', async () => {
    const hook = await receiver();
    const { east, db, sy, dir } = await scenario({ synchronous: true, extra: `notify:\n  - webhook: { name: ops, url: "${hook.url}" }\n` });
    await until('a position recorded', async () => existsSync(join(dir, 'switchyard-state.positions.json')), 10_000, sy);
    await db.primary.stop('immediate');
    await east.kill();
    const s = await until('failed over', async () => { const x = await status(sy); return x.state === 'failed-over' && x; }, 15_000, sy);
    const promote = s.lastTransition!.journal.find((e) => e.step === 'postgres-promote' && e.phase === 'done');
    assert.match(promote?.detail ?? '', /sync standby in the source's last record .*RPO 0/, 'the sync standby was promoted against the record');
    assert.match(s.lastTransition!.journal.find((e) => e.step === 'postgres-fence' && e.phase === 'done')?.detail ?? '', /unreachable; not fenced/);
    assert.equal(stateFile(dir).unfenced?.cluster, 'east');
    assert.equal(await metric(sy, 'switchyard_failover_old_primary_unfenced'), 1);
    const told = await until('the unfenced notification', async () => hook.bodies.find((b) => b.kind === 'unfenced'), 10_000, sy);
    assert.equal(told.cluster, 'east');
    assert.match(String(told.summary), /old primary east could not be fenced .*switchyard fences it the moment it answers/);

    await db.primary.start();
    await until('east fenced on its return', async () => stateFile(dir).unfenced === undefined, 15_000, sy);
    await assert.rejects(db.primary.queryAs('app', 'SELECT 1'), { code: '28000' });
    // The state file shows the change before the commit returns (the store writes its copy after
    // the file), and the gauge follows on the commit: wait for it rather than race it.
    await until('the unfenced gauge back to 0', async () => (await metric(sy, 'switchyard_failover_old_primary_unfenced')) === 0, 5000, sy);
    assert.equal((await status(sy)).active, 'west');
    assert.match(sy.logs(), /old primary east answered and is fenced now/);
    const fenced = await until('the fenced notification', async () => hook.bodies.find((b) => b.kind === 'fenced'), 10_000, sy);
    assert.match(String(fenced.summary), /old primary east \(source of move \d+\) answered and was fenced: fenced \(nologin\)/);
  });

  test('a resume after a crash never counts a foreign promotion as its own', async () => {
    const steps = (dir: string) => `    - switch-traffic
    - exec: { name: slow, timeout: 60s, command: [/bin/sh, -c, 'echo start >> ${join(dir, 'slow.log')}; sleep 4'] }
    - postgres-promote`;
    const { east, db, sy, dir, yaml } = await scenario({ synchronous: true, steps });
    await east.kill();
    await until('the slow step started', async () => existsSync(join(dir, 'slow.log')), 15_000, sy);
    await sy.kill();
    assert.equal(stateFile(dir).state, 'failing-over');
    await db.standby.query('SELECT pg_promote(wait => true)');   // someone promotes west by hand meanwhile
    const again = await startSwitchyard({ config: yaml, dir });
    cleanups.push(() => again.stop());
    const held = await until('held', async () => { const x = await status(again); return x.state === 'held' && x; }, 30_000, again);
    assert.match(held.reason, /step postgres-promote failed after 1 attempt\(s\): SWY_FAILOVER_PROMOTION_UNVERIFIED: .*this transition had not started a promotion/);
    const journal = held.lastTransition!.journal;
    assert.ok(journal.some((e) => e.step === 'postgres-promote' && e.phase === 'precheck'), 'the precheck recorded identity and timeline');
    assert.equal(journal.filter((e) => e.step === 'postgres-promote' && e.phase === 'done').length, 0, 'not counted as done');
  });
});
