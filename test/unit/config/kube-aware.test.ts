// Configuration of the Kubernetes-aware parts: addresses from a Service or Ingress, the parity
// section and the parity precheck.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/index.ts';
import { SwitchyardError } from '../../../src/errors.ts';

const head = `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
`;
const kubeClusters = `
clusters:
  - name: east
    addresses: { fromService: { namespace: app, name: web } }
    kubernetes: { kubeconfig: ./east.kubeconfig, context: east }
    probes: [{ kubernetes: { readyz: true } }]
  - name: west
    addresses: { fromIngress: { namespace: app, name: web } }
    kubernetes: { kubeconfig: ./west.kubeconfig }
    probes: [{ kubernetes: { readyz: true } }]
`;

function issuesOf(text: string): string[] {
  try {
    parseConfig(text, {}, '/etc/switchyard');
  } catch (err) {
    assert.ok(err instanceof SwitchyardError);
    assert.equal(err.code, 'SWY_CONFIG_INVALID');
    return (err.details!.issues as Array<{ path: string; message: string }>).map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

test('addresses from a Service or an Ingress', () => {
  const c = parseConfig(head + kubeClusters, {}, '/etc/switchyard');
  assert.deepEqual(c.clusters.map((x) => [x.addresses, x.addressesFrom]), [
    [[], { kind: 'service', namespace: 'app', name: 'web' }],
    [[], { kind: 'ingress', namespace: 'app', name: 'web' }],
  ]);
  assert.equal(c.parity, undefined);
  assert.deepEqual(c.failover.prechecks, []);
});

test('addresses from Kubernetes: bad forms name their key path', () => {
  const bad = (addresses: string, kube = 'kubernetes: {}') => issuesOf(`${head}
clusters:
  - { name: east, addresses: ${addresses}, ${kube}, probes: [{ tcp: { address: "127.0.0.2:80" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:80" } }] }
`);
  assert.deepEqual(bad('{ fromService: { namespace: app, name: web } }', 'healthyWhen: all'), ["clusters[0].kubernetes: is required: addresses from a service are read with the cluster's kubeconfig and context"]);
  assert.deepEqual(bad('{ fromService: { namespace: app } }'), ['clusters[0].addresses.fromService.name: is required']);
  assert.deepEqual(bad('{ fromService: { namespace: App_1, name: web } }'), ['clusters[0].addresses.fromService.namespace: "App_1" is not a Kubernetes namespace name']);
  assert.match(bad('{ fromService: { namespace: app, name: web }, fromIngress: { namespace: app, name: web } }')[0], /^clusters\[0\]\.addresses: expected a list of IP addresses, or exactly one of fromService, fromIngress/);
  assert.match(bad('{ fromPod: { namespace: app, name: web } }')[0], /^clusters\[0\]\.addresses\.fromPod: unknown property/);
  assert.match(bad('[]')[0], /^clusters\[0\]\.addresses: expected at least 1 item/);
});

test('parity: defaults, and the precheck needs the section', () => {
  const c = parseConfig(`${head}${kubeClusters}
parity:
  namespaces:
    - { name: app, deployments: [web], configMaps: [web-config] }
failover: { prechecks: [parity] }
`, {}, '/etc/switchyard');
  assert.deepEqual(c.parity, {
    interval: 60_000, timeout: 10_000, blocking: ['image', 'capacity', 'configmap', 'secret', 'missing'],
    namespaces: [{ name: 'app', deployments: ['web'], configMaps: ['web-config'], secrets: [], services: [], ingresses: [], persistentVolumeClaims: [] }],
  });
  assert.deepEqual(c.failover.prechecks, ['parity']);
  assert.deepEqual(issuesOf(`${head}${kubeClusters}failover: { prechecks: [parity] }\n`), ['failover.prechecks: parity needs a parity section naming what to compare']);
  assert.deepEqual(issuesOf(`${head}${kubeClusters}failover: { prechecks: [lag] }\n`), ['failover.prechecks[0]: expected one of parity, got string "lag"']);
});

test('parity: every error names its key path, and it needs kubernetes on every cluster', () => {
  const issues = issuesOf(`${head}
clusters:
  - { name: east, addresses: [127.0.0.2], kubernetes: {}, probes: [{ tcp: { address: "127.0.0.2:80" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:80" } }] }
parity:
  interval: 10ms
  blocking: [image, colour]
  namespaces:
    - { name: app }
    - { name: app, deployments: [Web] }
`);
  assert.deepEqual(issues.sort(), [
    'clusters[1].kubernetes: is required: parity compares the clusters through their Kubernetes API',
    'parity.blocking[1]: expected one of image, capacity, configmap, secret, missing, got string "colour"',
    'parity.interval: 10ms is out of range 1000ms..86400000ms',
    'parity.namespaces[0]: names nothing to compare: list at least one of deployments, configMaps, secrets, services, ingresses, persistentVolumeClaims',
    'parity.namespaces[1].deployments[0]: "Web" is not a Kubernetes object name',
    'parity.namespaces[1].name: namespace app is listed twice',
  ]);
});

test('cnpg steps: defaults, and the map must name exactly the configured clusters', () => {
  const c = parseConfig(`${head}${kubeClusters}
failover:
  steps:
    - switch-traffic
    - cnpg-demote: { namespace: db, clusters: { east: pg-east, west: pg-west } }
    - cnpg-promote: { namespace: db, clusters: { east: pg-east, west: pg-west } }
`, {}, '/etc/switchyard');
  assert.deepEqual(c.failover.steps.slice(1).map((s) => [s.type, s.timeout, s.onFailure, 'clusters' in s ? s.clusters : null]), [
    ['cnpg-demote', 60_000, 'continue', { east: 'pg-east', west: 'pg-west' }],
    ['cnpg-promote', 120_000, 'hold', { east: 'pg-east', west: 'pg-west' }],
  ]);
  assert.deepEqual(issuesOf(`${head}${kubeClusters}
failover:
  steps:
    - switch-traffic
    - cnpg-promote: { namespace: db, clusters: { east: pg, north: pg-north } }
`).sort(), [
    'failover.steps[1].cnpg-promote.clusters.north: no cluster named north (clusters: east, west)',
    'failover.steps[1].cnpg-promote.clusters: names no CloudNativePG Cluster for cluster west',
  ]);
});

test('dns.workers above 1 is refused while addresses come from Kubernetes (workers would not follow them)', () => {
  assert.deepEqual(issuesOf(`${head}${kubeClusters}dns: { workers: 2 }\n`), ['dns.workers: must be 1 while a cluster takes its addresses from a Service or Ingress (worker threads do not follow them yet)']);
  assert.deepEqual(issuesOf(`${head}${kubeClusters}dns: { workers: 1 }\n`), []);
});
