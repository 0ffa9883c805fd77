import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configWarnings, parseConfig } from '../../../src/config/index.ts';

const base = (extra: { health?: string; failover?: string; ttl?: number; db?: boolean; tail?: string }) => parseConfig(`
zone: { name: example.com, ttl: ${extra.ttl ?? 30}, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.2:1" } }]${extra.db ? ', database: { url: "postgres://e/db" }' : ''} }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }]${extra.db ? ', database: { url: "postgres://w/db" }' : ''} }
${extra.health ? `health: ${extra.health}` : ''}
${extra.failover ? `failover: ${extra.failover}` : ''}
${extra.tail ?? ''}
`, {}, '/');

const codes = (c: ReturnType<typeof parseConfig>) => configWarnings(c).map((w) => `${w.code} ${w.path}`);

test('the defaults and the README example settings warn about nothing', () => {
  assert.deepEqual(codes(base({})), []);
  assert.deepEqual(codes(base({ db: true, failover: '{ steps: [switch-traffic, postgres-fence, postgres-promote] }' })), []);
});

test('each dangerous setting warns with its code and key path, and only while it is dangerous', () => {
  assert.deepEqual(codes(base({ failover: '{ cooldown: 16m }' })), ['SWY_CONFIG_WARN_COOLDOWN failover.cooldown']);
  assert.deepEqual(codes(base({ failover: '{ cooldown: 15m }' })), []);
  assert.deepEqual(codes(base({ failover: '{ automatic: false, cooldown: 1h }' })), [], 'no automatic failover: nothing to hold');
  assert.deepEqual(codes(base({ db: true })), ['SWY_CONFIG_WARN_NO_DATABASE_STEP failover.steps']);
  assert.deepEqual(codes(base({ db: true, failover: '{ automatic: false }' })), []);
  // interval 5s + jitter 500ms + timeout 2s + 2 × (200ms + 2s) = 11.9 s > 10 s
  const slow = base({ ttl: 10, health: '{ interval: 5s, timeout: 2s, fall: 3, confirmInterval: 200ms }' });
  assert.deepEqual(codes(slow), ['SWY_CONFIG_WARN_TTL_DETECTION zone.ttl']);
  assert.match(configWarnings(slow)[0].message, /need up to 11\.9s to see a failure/);
  assert.deepEqual(codes(base({ ttl: 12, health: '{ interval: 5s, timeout: 2s, fall: 3, confirmInterval: 200ms }' })), []);
});

test('one instance with a quorum of one warns only in a production placement', () => {
  const etcd = 'state: { etcd: { endpoints: ["http://127.0.0.1:2379"] } }';
  assert.deepEqual(codes(base({ tail: etcd })), ['SWY_CONFIG_WARN_SINGLE_OBSERVER failover.instances'], 'a shared store with one observer');
  const wide = base({ tail: 'dns: { listen: ["0.0.0.0:53"] }' });
  assert.deepEqual(codes(wide), ['SWY_CONFIG_WARN_SINGLE_OBSERVER failover.instances'], 'DNS answered beyond loopback by one instance');
  assert.match(configWarnings(wide)[0].message, /dns\.listen serves 0\.0\.0\.0.*failover\.instances: 3/);
  assert.deepEqual(codes(base({ tail: 'dns: { listen: ["127.0.0.1:53", "[::1]:53"] }' })), [], 'a local setup (the demo, tests) is not production');
  assert.deepEqual(codes(base({ failover: '{ automatic: false }', tail: etcd })), [], 'a person decides: no single observer moves anything');
  assert.deepEqual(codes(base({ failover: '{ instances: 3 }', tail: etcd })), [], 'three instances, a majority quorum');
});
