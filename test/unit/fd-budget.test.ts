// The file-descriptor split: what the proxy and DNS over TCP may hold, given the open-file limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFdLimit, splitFdBudget } from '../../src/fd-budget.ts';

const base = { reserved: 256, listeners: 4, dnsTcp: 1000, upstreamConnections: 256, pools: 2, proxyClients: 10_000 };

test('an ample limit leaves the configured caps', () => {
  assert.deepEqual(splitFdBudget({ ...base, limit: 1_048_576 }), { dnsTcp: 1000, upstreamConnections: 256, proxyClients: 10_000, lowered: [] });
  assert.deepEqual(splitFdBudget({ ...base, limit: undefined }).lowered, []);
});

test('a small limit lowers the caps so that the total stays under the limit minus the reserve', () => {
  for (const limit of [600, 1024, 4096, 8192]) {
    const b = splitFdBudget({ ...base, limit });
    const used = b.dnsTcp + b.upstreamConnections * base.pools + b.proxyClients;
    assert.ok(used <= limit - base.reserved - base.listeners, `limit ${limit}: ${JSON.stringify(b)}`);
    assert.ok(b.proxyClients >= 1 && b.lowered.some((l) => l.startsWith('proxy.maxConnections')), JSON.stringify(b));
  }
  const b = splitFdBudget({ ...base, limit: 4096 });
  assert.deepEqual([b.dnsTcp, b.upstreamConnections, b.proxyClients], [959, 256, 2365]);
});

test('without a proxy only DNS over TCP is budgeted', () => {
  const b = splitFdBudget({ ...base, limit: 1024, proxyClients: 0, pools: 0 });
  assert.deepEqual([b.dnsTcp, b.upstreamConnections, b.proxyClients], [191, 256, 0]);
});

test('readFdLimit reads the soft limit from /proc/self/limits', () => {
  const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            4096                 524288               files\n';
  assert.equal(readFdLimit(() => text), 4096);
  assert.equal(readFdLimit(() => text.replace('4096', 'unlimited')), undefined);
  assert.equal(readFdLimit(() => { throw new Error('ENOENT'); }), undefined);
  const own = readFdLimit();
  assert.ok(own === undefined || own > 0);
});
