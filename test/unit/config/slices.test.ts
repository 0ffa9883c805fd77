// The composition of the areas' slices keeps "every error at once": a problem inside one slice
// (an unknown key, a cluster's own bad value) never hides the checks another slice makes against
// it, and every message keeps its full key path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/index.ts';
import { SwitchyardError } from '../../../src/errors.ts';

function lines(text: string): string[] {
  try {
    parseConfig(text, {}, '/etc/switchyard');
  } catch (err) {
    assert.ok(err instanceof SwitchyardError && err.code === 'SWY_CONFIG_INVALID', String(err));
    return (err.details!.issues as Array<{ path: string; message: string }>).map((i) => `${i.path}: ${i.message}`).sort();
  }
  return [];
}

test('errors in several slices come out together, each with its key path', () => {
  assert.deepEqual(lines(`
zone: { name: example.com, ttl: 300, nameservers: [{ name: ns1.example.com }] }
hostnames: [app.example.org]
clusters:
  - { name: east, addresses: [10.0.0.1], probes: [{ http: { url: "htp://x" } }] }
  - { name: west, addresses: [10.0.0.2], probes: [{ tcp: { address: "10.0.0.2:80", retires: 1 } }] }
failover: { steps: [switch-traffic, postgres-promote, { postgres-fence: { retires: 2 } }] }
`), [
    "clusters[0].database: is required: step postgres-fence (postgres-fence) acts on every cluster's database",
    "clusters[0].database: is required: step postgres-promote (postgres-promote) acts on every cluster's database",
    'clusters[0].probes[0].http.url: expected an http:// or https:// URL, got "htp://x"',
    "clusters[1].database: is required: step postgres-fence (postgres-fence) acts on every cluster's database",
    "clusters[1].database: is required: step postgres-promote (postgres-promote) acts on every cluster's database",
    "clusters[1].probes[0].tcp.retires: unknown property 'retires' (known: name, address, timeout)",
    "failover.steps[2].postgres-fence.retires: unknown property 'retires' (known: name, timeout, retries, backoff, onFailure, mode, terminateSessions)",
    'hostnames[0]: app.example.org is not inside zone example.com',
    'zone.nameservers[0].address: is required: ns1.example.com is inside the zone and needs glue',
    'zone.ttl: 300 is out of range 1..60',
  ]);
});

test('a given but invalid value is reported as itself, not also as missing', () => {
  assert.deepEqual(lines(`
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.2:1" } }], database: { url: "http://db" } }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }], database: {} }
proxy: { listen: "127.0.0.1:8080" }
failover: { steps: [switch-traffic, postgres-promote] }
`), [
    'clusters[0].database.url: "http://db" is not a postgres:// or postgresql:// URL',
    'clusters[0].upstream: is required when proxy is configured',
    'clusters[1].database.url: is required',
    'clusters[1].upstream: is required when proxy is configured',
  ]);
});

test('checks between fields of a slice run while another field of it is invalid', () => {
  const base = `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.2:1" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }] }
`;
  assert.deepEqual(lines(`${base}failover: { cooldown: soon, instances: 3, quorum: 1, steps: [{ webhook: { url: "http://127.0.0.1:9/" } }] }\nstate: { etcd: { endpoints: ["http://127.0.0.1:2379"] } }\n`), [
    'failover.cooldown: expected a duration such as 500ms, 1s, 2m, got string "soon"',
    'failover.quorum: 1 of 3 instances: a single instance could fail over on its own view; use at least 2 (default: a majority, 2)',
    'failover.steps: must contain switch-traffic exactly once (found 0)',
  ]);
  assert.deepEqual(lines(`${base}health: { interval: 1s, timeout: 2s, fall: 0 }\n`), ['health.fall: 0 is out of range 1..100', 'health.timeout: 2000ms is longer than health.interval (1000ms)']);
});

test('zone.records: a record that does not read leaves the others checked against the zone', () => {
  assert.deepEqual(lines(`
zone:
  name: example.com
  nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }]
  records:
    - { name: app.example.com, type: TXT, value: "x" }
    - { name: example.com, type: PTR, value: x.example.com }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.2:1" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }] }
`), [
    'zone.records[0].name: app.example.com is a failover hostname: its answers follow the active cluster; remove this record',
    'zone.records[1].type: "PTR" is not one of A, AAAA, CNAME, MX, TXT, SRV, CAA, NS',
  ]);
});
