// The three-sites harness itself (test/support/three-sites.ts), without switchyard: each site
// reaches the others' health endpoints and etcd members through the bridge; a cut isolates a
// site's member (no linearizable read through it) and its health endpoint; a block drops one
// destination from one site only; PostgreSQL answers inside a namespace through its Unix socket.
// If these did not hold, the several-instances scenarios would prove nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgresPair } from '../support/postgres.ts';
import { SITES, startThreeSites, type ThreeSites } from '../support/three-sites.ts';

let three: ThreeSites;
before(async () => { three = await startThreeSites(); });
after(async () => { await three?.close(); });

const get = (from: keyof ThreeSites['sites'], url: string) =>
  three.sites[from].agent.call<{ status: number }>({ op: 'http', url, timeoutMs: 1500 }).then((r) => r.status, () => 'unreachable');

const rangeThrough = async (n: keyof ThreeSites['sites']) => {
  const s = three.sites[n];
  // serializable: false (the default) needs the raft quorum: an isolated member cannot answer it.
  const r = await s.agent.call<{ status: number; text: string }>({ op: 'http', method: 'POST', url: `${s.endpoints[0]}/v3/kv/range`, body: JSON.stringify({ key: Buffer.from('/x').toString('base64') }), timeoutMs: 3000 })
    .catch(() => ({ status: 0, text: '' }));
  return r.status;
};

test('sites reach each other; a cut isolates a site; a block drops one destination; the database answers through its socket', { timeout: 180_000 }, async () => {
  const d = await three.deploy({ steps: '    - switch-traffic', only: [] });
  try {
    for (const n of SITES) {
      assert.equal(await get(n, d.health.a.url), 200, `${n} reaches a's health endpoint`);
      assert.equal(await get(n, d.health.b.url), 200, `${n} reaches b's health endpoint`);
      assert.equal(await rangeThrough(n), 200, `${n}'s etcd member answers a linearizable read`);
    }
    three.cut('a');
    try {
      assert.equal(await get('w', d.health.a.url), 'unreachable', 'w no longer reaches a');
      assert.equal(await get('a', d.health.a.url), 200, 'a still reaches its own health endpoint');
      assert.notEqual(await rangeThrough('a'), 200, 'the isolated member cannot answer a linearizable read');
      assert.equal(await rangeThrough('w'), 200, 'the majority still answers');
    } finally {
      three.heal('a');
    }
    three.block('b', d.health.a.host, d.health.a.port);
    try {
      assert.equal(await get('b', d.health.a.url), 'unreachable', 'b is blocked from a\'s health endpoint');
      assert.equal(await get('w', d.health.a.url), 200, 'w is not');
    } finally {
      three.unblock('b', d.health.a.host, d.health.a.port);
    }
    assert.equal(await get('b', d.health.a.url), 200, 'unblocked');
    await d.healthMode('a', 'fail');
    assert.equal(await get('w', d.health.a.url), 503, 'a failing health endpoint answers 503');
  } finally {
    await d.stop();
  }

  const pg = await startPostgresPair({ synchronous: false });
  try {
    const rows = await three.sites.w.agent.call<Array<{ r: boolean }>>({ op: 'sql', url: pg.standby.socketUrl, sql: 'SELECT pg_is_in_recovery() AS r' });
    assert.deepEqual(rows, [{ r: true }], 'the standby answers from inside a namespace');
  } finally {
    await pg.stop();
  }
});
