// The three placement overlays of deploy/several: each configuration validates, they differ only
// in instance.name, every instance is a name server of the zone, the state is on etcd with a
// quorum of two of three, and the overlays' etcd members form one cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PLACEMENTS = ['edge-east', 'edge-west', 'witness'];
const ENV = { SWITCHYARD_ADMIN_TOKEN: 't', EAST_DATABASE_URL: 'postgres://e/app', WEST_DATABASE_URL: 'postgres://w/app', ETCD_PASSWORD: 'p', ALERT_WEBHOOK_URL: 'https://hooks.example.com/x' };
const read = (rel: string) => readFileSync(join(root, rel), 'utf8');

test('the three placements: valid configurations, one etcd cluster, every instance a name server', () => {
  const configs = PLACEMENTS.map((p) => parseConfig(read(`deploy/several/${p}/switchyard.yaml`), ENV, '/etc/switchyard'));
  assert.deepEqual(configs.map((c) => c.instance.name), PLACEMENTS);
  for (const c of configs) {
    assert.equal(c.state.kind, 'etcd');
    assert.deepEqual([c.failover.instances, c.failover.quorum], [3, 2]);
    assert.equal(c.zone.nameservers.length, 3, 'one NS record per instance');
    assert.deepEqual({ ...c, instance: null }, { ...configs[0], instance: null }, 'the placements differ only in instance.name');
  }
  const members = PLACEMENTS.map((p) => {
    const k = parseYaml(read(`deploy/several/${p}/kustomization.yaml`)) as { configMapGenerator: { name: string; literals?: string[] }[]; patches: { target?: { name: string }; patch: string }[] };
    const lit = new Map(k.configMapGenerator.find((g) => g.name === 'etcd-member')!.literals!.map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
    const dnsIp = /value: (\S+)/.exec(k.patches.find((x) => x.target?.name === 'switchyard-dns')!.patch)![1];
    return { lit, dnsIp };
  });
  const cluster = members[0].lit.get('ETCD_INITIAL_CLUSTER');
  for (const m of members) {
    assert.equal(m.lit.get('ETCD_INITIAL_CLUSTER'), cluster, 'one initial cluster');
    assert.ok(cluster!.includes(`${m.lit.get('ETCD_NAME')}=${m.lit.get('ETCD_INITIAL_ADVERTISE_PEER_URLS')}`));
    assert.ok(Number(m.lit.get('ETCD_ELECTION_TIMEOUT')) >= 5 * Number(m.lit.get('ETCD_HEARTBEAT_INTERVAL')));
  }
  const etcd = configs[0].state.kind === 'etcd' ? configs[0].state : undefined;
  assert.deepEqual(etcd?.endpoints, members.map((m) => m.lit.get('ETCD_ADVERTISE_CLIENT_URLS')), 'switchyard lists every member');
  assert.deepEqual(configs[0].zone.nameservers.map((n) => n.address).sort(), members.map((m) => m.dnsIp).sort(), 'the NS glue is each instance\'s DNS address');
});
