import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, substituteEnv } from '../../../src/config/index.ts';
import { parseDuration } from '../../../src/config/fields.ts';
import { validateConfig } from '../../../src/config/validate.ts';
import { parse as parseYaml } from 'yaml';
import { SwitchyardError } from '../../../src/errors.ts';

const BASE = `
zone:
  name: Example.COM.
  nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }]
hostnames: [app.example.com]
clusters:
  - name: east
    addresses: [127.0.0.2, "::1"]
    probes: [{ http: { url: "http://127.0.0.2:18081/healthz" } }]
  - name: west
    addresses: [127.0.0.3]
    probes: [{ tcp: { address: "127.0.0.3:5432" } }]
`;

function issuesOf(text: string, env: Record<string, string> = {}): Array<{ path: string; message: string }> {
  try {
    parseConfig(text, env, '/etc/switchyard');
  } catch (err) {
    assert.ok(err instanceof SwitchyardError, `expected SwitchyardError, got ${err}`);
    assert.match(err.code, /^SWY_CONFIG_(INVALID|YAML)$/);
    return err.details!.issues as Array<{ path: string; message: string }>;
  }
  return [];
}

test('a minimal config gets the documented defaults', () => {
  const c = parseConfig(BASE, {}, '/etc/switchyard');
  assert.equal(c.zone.name, 'example.com');
  assert.equal(c.zone.ttl, 30);
  assert.equal(c.zone.soa.mbox, 'hostmaster.example.com');
  assert.deepEqual(c.health, { interval: 1000, timeout: 500, fall: 3, rise: 2, jitter: 100, confirmInterval: 200 });
  assert.equal(c.failover.automatic, true);
  assert.deepEqual(c.failover.steps.map((s) => s.type), ['switch-traffic']);
  assert.deepEqual(c.dns.listen, [{ host: '127.0.0.1', port: 5353, family: 4 }]);
  assert.equal(c.dns.maxUdpSize, 1232);
  assert.equal(c.proxy, undefined);
  assert.deepEqual(c.state, { kind: 'file', file: '/etc/switchyard/switchyard-state.json' });
  assert.equal(c.clusters[1].probes[0].kind, 'tcp');
});

const cases: Array<[string, string, RegExp]> = [
  ['ttl above 60', BASE.replace('nameservers:', 'ttl: 61\n  nameservers:'), /^zone\.ttl: .*out of range 1\.\.60/],
  ['unknown top-level key', `${BASE}\nbogus: 1\n`, /^bogus: unknown property 'bogus'/],
  ['unknown nested key', BASE.replace('addresses: [127.0.0.3]', 'addresses: [127.0.0.3]\n    adresses: []'), /^clusters\[1\]\.adresses: unknown property/],
  ['bad address', BASE.replace('127.0.0.3]', '127.0.0.300]'), /^clusters\[1\]\.addresses\[0\]: expected an IPv4 or IPv6 address/],
  ['hostname outside zone', BASE.replace('[app.example.com]', '[app.example.org]'), /^hostnames\[0\]: app\.example\.org is not inside zone/],
  ['bad probe url', BASE.replace('http://127.0.0.2:18081/healthz', 'ftp://x'), /^clusters\[0\]\.probes\[0\]\.http\.url: expected an http/],
  ['bad duration', `${BASE}\nhealth: { interval: 5 }\n`, /^health\.interval: expected a duration/],
  ['timeout longer than interval', `${BASE}\nhealth: { interval: 1s, timeout: 2s }\n`, /^health\.timeout: .*longer than health\.interval/],
  ['unknown step', `${BASE}\nfailover: { steps: [switch-traffic, teleport] }\n`, /^failover\.steps\[1\]: unknown step 'teleport'/],
  ['no switch-traffic', `${BASE}\nfailover: { steps: [{ webhook: { url: "http://127.0.0.1:1/" } }] }\n`, /^failover\.steps: must contain switch-traffic exactly once/],
  ['promote needs databases', `${BASE}\nfailover: { steps: [switch-traffic, postgres-promote] }\n`, /^clusters\[0\]\.database: is required/],
  ['one cluster only', BASE.replace(/  - name: west[\s\S]*$/, ''), /^clusters: expected at least 2 items/],
  ['duplicate cluster', BASE.replace('name: west', 'name: east'), /^clusters\[1\]\.name: cluster east is listed twice/],
  ['bad listen', `${BASE}\ndns: { listen: ["localhost:53"] }\n`, /^dns\.listen\[0\]: expected HOST:PORT/],
  ['non-loopback admin without token', `${BASE}\nadmin: { listen: "0.0.0.0:9090" }\n`, /^admin\.listen: .*SWITCHYARD_ADMIN_TOKEN/],
  ['kubernetes state not supported yet', `${BASE}\nstate: { kubernetes: { namespace: ops } }\n`, /^state\.kubernetes: is not supported yet/],
  ['file and etcd together', `${BASE}\nstate: { file: s.json, etcd: { endpoints: ["http://127.0.0.1:2379"] } }\n`, /^state: set either file or etcd/],
  ['etcd without endpoints', `${BASE}\nstate: { etcd: {} }\n`, /^state\.etcd\.endpoints: is required/],
  ['etcd endpoint not a URL', `${BASE}\nstate: { etcd: { endpoints: ["127.0.0.1:2379"] } }\n`, /^state\.etcd\.endpoints\[0\]: /],
  ['etcd endpoint with a path', `${BASE}\nstate: { etcd: { endpoints: ["http://127.0.0.1:2379/v3"] } }\n`, /^state\.etcd\.endpoints\[0\]: expected scheme:\/\/host:port without a path/],
  ['etcd lease below 2 s', `${BASE}\nstate: { etcd: { endpoints: ["http://127.0.0.1:2379"], leaseTtl: 1s } }\n`, /^state\.etcd\.leaseTtl: 1s is out of range/],
  ['etcd lease not whole seconds', `${BASE}\nstate: { etcd: { endpoints: ["http://127.0.0.1:2379"], leaseTtl: 2500ms } }\n`, /^state\.etcd\.leaseTtl: etcd leases are whole seconds/],
  ['etcd prefix ending in /', `${BASE}\nstate: { etcd: { endpoints: ["http://127.0.0.1:2379"], prefix: /a/ } }\n`, /^state\.etcd\.prefix: .* not ending with \//],
  ['etcd cert without key', `${BASE}\nstate: { etcd: { endpoints: ["https://127.0.0.1:2379"], tls: { cert: c.pem } } }\n`, /^state\.etcd\.tls\.key: a client certificate needs both cert and key/],
  ['etcd tls over http', `${BASE}\nstate: { etcd: { endpoints: ["http://127.0.0.1:2379"], tls: { ca: ca.pem } } }\n`, /^state\.etcd\.endpoints\[0\]: state\.etcd\.tls is set: use an https:\/\/ endpoint/],
  ['etcd password without user', `${BASE}\nstate: { etcd: { endpoints: ["http://127.0.0.1:2379"], password: x } }\n`, /^state\.etcd\.password: is set without state\.etcd\.username/],
  ['several instances on a state file', `${BASE}\nfailover: { instances: 3 }\n`, /^failover\.instances: 3 instances need a shared store: set state\.etcd/],
  ['a quorum one instance could satisfy', `${BASE}\nfailover: { instances: 3, quorum: 1 }\nstate: { etcd: { endpoints: ["http://127.0.0.1:2379"] } }\n`, /^failover\.quorum: 1 of 3 instances: a single instance could fail over on its own view/],
  ['a quorum above the instances', `${BASE}\nfailover: { instances: 3, quorum: 4 }\nstate: { etcd: { endpoints: ["http://127.0.0.1:2379"] } }\n`, /^failover\.quorum: 4 is out of range 1\.\.3/],
  ['bad instance name', `${BASE}\ninstance: { name: Edge_East }\n`, /^instance\.name: "Edge_East" is not a lower-case DNS label/],
  ['proxy needs upstreams', `${BASE}\nproxy: { listen: "127.0.0.1:8080" }\n`, /^clusters\[0\]\.upstream: is required when proxy is configured/],
  ['missing env var', BASE.replace('127.0.0.3]', '"${WEST_ADDR}"]'), /^clusters\[1\]\.addresses\[0\]: environment variable WEST_ADDR is not set/],
  ['invalid yaml', 'zone: [', /^line \d+: /],
  ['duplicate yaml key', `${BASE}\nhostnames: [b.example.com]\n`, /^line \d+: .*(unique|duplicate)/i],
];

for (const [name, text, expected] of cases) {
  test(`rejects: ${name}`, () => {
    const issues = issuesOf(text);
    assert.ok(issues.some((i) => expected.test(`${i.path}: ${i.message}`)), `no issue matched ${expected}; got ${JSON.stringify(issues)}`);
  });
}

test('SWITCHYARD_ADMIN_TOKEN: empty or with whitespace is an error, never "no authentication"', () => {
  for (const token of ['', '   ', 'two words']) {
    const issues = issuesOf(BASE, { SWITCHYARD_ADMIN_TOKEN: token });
    assert.ok(issues.some((i) => i.path === 'SWITCHYARD_ADMIN_TOKEN' && /SWY_ADMIN_TOKEN_EMPTY/.test(i.message)), JSON.stringify(issues));
  }
  assert.equal(parseConfig(BASE, { SWITCHYARD_ADMIN_TOKEN: 'x1' }, '/').admin.token, 'x1');
});

test('admin.openReads: open on loopback, closed elsewhere, false needs a token', () => {
  assert.equal(parseConfig(BASE, {}, '/').admin.openReads, true);
  assert.equal(parseConfig(`${BASE}\nadmin: { listen: "127.0.0.1:9090" }\n`, { SWITCHYARD_ADMIN_TOKEN: 't' }, '/').admin.openReads, true);
  assert.equal(parseConfig(`${BASE}\nadmin: { listen: "0.0.0.0:9090" }\n`, { SWITCHYARD_ADMIN_TOKEN: 't' }, '/').admin.openReads, false);
  assert.equal(parseConfig(`${BASE}\nadmin: { listen: "0.0.0.0:9090", openReads: true }\n`, { SWITCHYARD_ADMIN_TOKEN: 't' }, '/').admin.openReads, true);
  const issues = issuesOf(`${BASE}\nadmin: { openReads: false }\n`);
  assert.ok(issues.some((i) => i.path === 'admin.openReads' && /needs SWITCHYARD_ADMIN_TOKEN/.test(i.message)), JSON.stringify(issues));
  const c = parseConfig(`${BASE}\nadmin: { allowedHosts: [Admin.Example.COM.] }\n`, {}, '/');
  assert.deepEqual(c.admin.allowedHosts, ['admin.example.com']);
});

test('several instances on etcd: defaults and normalisation', () => {
  const text = `${BASE}
failover: { instances: 3 }
state:
  etcd:
    endpoints: ["https://10.0.0.1:2379", "https://10.0.1.1:2379"]
    tls: { ca: ca.pem, cert: /pki/c.pem, key: k.pem }
    username: switchyard
    password: "\${ETCD_PASSWORD}"
instance: { name: edge-east }
`;
  const c = parseConfig(text, { ETCD_PASSWORD: 'pw' }, '/etc/switchyard');
  assert.deepEqual(c.state, {
    kind: 'etcd', endpoints: ['https://10.0.0.1:2379', 'https://10.0.1.1:2379'], prefix: '/switchyard/example.com', leaseTtl: 10,
    tls: { ca: '/etc/switchyard/ca.pem', cert: '/pki/c.pem', key: '/etc/switchyard/k.pem' }, username: 'switchyard', password: 'pw',
  });
  assert.deepEqual([c.failover.instances, c.failover.quorum], [3, 2], 'quorum defaults to a majority');
  assert.equal(c.instance.name, 'edge-east');
  const five = parseConfig(`${BASE}\nfailover: { instances: 5, quorum: 4 }\nstate: { etcd: { endpoints: ["http://127.0.0.1:2379"], prefix: /sy/app, leaseTtl: 15s } }\n`, {}, '/');
  assert.deepEqual([five.failover.instances, five.failover.quorum, five.state.kind === 'etcd' && five.state.prefix, five.state.kind === 'etcd' && five.state.leaseTtl], [5, 4, '/sy/app', 15]);
  const one = parseConfig(BASE, {}, '/');
  assert.deepEqual([one.failover.instances, one.failover.quorum], [1, 1]);
});

test('instance.name defaults to the host name, made a DNS label', () => {
  const c = validateConfig(parseYaml(BASE), { baseDir: '/', adminToken: undefined, hostName: 'Edge_West.prod.example.net' });
  assert.equal(c.config?.instance.name, 'edge-west');
});

test('every error is reported in one pass', () => {
  const issues = issuesOf(`${BASE}\nhealth: { fall: 0, rise: abc }\ndns: { maxUdpSize: 100 }\n`);
  assert.deepEqual(issues.map((i) => i.path).sort(), ['dns.maxUdpSize', 'health.fall', 'health.rise']);
});

test('${VAR} substitution happens in values after parsing', () => {
  const c = parseConfig(BASE.replace('127.0.0.3]', '"${WEST_ADDR}"]'), { WEST_ADDR: '127.0.0.9' }, '/');
  assert.deepEqual(c.clusters[1].addresses, ['127.0.0.9']);
  const issues: Array<{ path: string; message: string }> = [];
  assert.equal(substituteEnv('a $${B} c', {}, 'x', issues), 'a ${B} c');
  assert.equal(substituteEnv('${A}: [1]', { A: 'x' }, 'x', issues), 'x: [1]');
  assert.deepEqual(issues, []);
});

test('durations', () => {
  const table: Array<[string, number | undefined]> = [['500ms', 500], ['1s', 1000], ['1.5s', 1500], ['2m', 120000], ['1h', 3600000], ['5', undefined], ['1 d', undefined], ['-1s', undefined]];
  for (const [text, ms] of table) assert.equal(parseDuration(text), ms, text);
});

test('steps are normalised with per-type defaults', () => {
  const c = parseConfig(`${BASE.replace(/probes: \[\{ (http|tcp)/g, 'database: { url: "postgres://x@127.0.0.1/db" }\n    kubernetes: { kubeconfig: k.yaml, context: c }\n    probes: [{ $1')}
failover:
  steps:
    - kubernetes-scale: { namespace: app, deployments: [web], replicas: 6 }
    - switch-traffic
    - postgres-fence
    - postgres-promote: { maxLagBytes: 1024, timeout: 1m }
    - webhook: { url: "http://127.0.0.1:9/hook", format: slack }
    - exec: { name: page-oncall, command: [/bin/true, "--flag"] }
`, {}, '/cfg');
  assert.deepEqual(c.failover.steps.map((s) => [s.type, s.name, s.onFailure]), [
    ['kubernetes-scale', 'kubernetes-scale', 'hold'], ['switch-traffic', 'switch-traffic', 'hold'], ['postgres-fence', 'postgres-fence', 'continue'],
    ['postgres-promote', 'postgres-promote', 'hold'], ['webhook', 'webhook', 'continue'], ['exec', 'page-oncall', 'continue'],
  ]);
  assert.equal(c.failover.steps[3].timeout, 60000);
  assert.equal(c.clusters[0].kubernetes?.kubeconfig, '/cfg/k.yaml');
});

test('postgres steps: a 1 MiB lag bound by default, unbounded only when said, nologin fence by default', () => {
  const withDb = BASE.replace(/probes: \[\{ (http|tcp)/g, 'database: { url: "postgres://x@127.0.0.1/db" }\n    probes: [{ $1');
  const steps = (text: string) => parseConfig(`${withDb}\nfailover:\n  steps:\n${text}\n`, {}, '/cfg').failover.steps;
  const [, fence, promote] = steps('    - switch-traffic\n    - postgres-fence\n    - postgres-promote');
  assert.deepEqual(fence.type === 'postgres-fence' && [fence.mode, fence.terminateSessions], ['nologin', true]);
  assert.deepEqual(promote.type === 'postgres-promote' && [promote.maxLagBytes, promote.maxRecordAge], [1_048_576, 30_000]);
  const [, weak, open] = steps('    - switch-traffic\n    - postgres-fence: { mode: read-only }\n    - postgres-promote: { maxLagBytes: unbounded, maxRecordAge: 2m }');
  assert.equal(weak.type === 'postgres-fence' && weak.mode, 'read-only');
  assert.deepEqual(open.type === 'postgres-promote' && [open.maxLagBytes, open.maxRecordAge], [undefined, 120_000]);
  const bad = (text: string) => issuesOf(`${withDb}\nfailover:\n  steps:\n    - switch-traffic\n${text}\n`).map((i) => `${i.path}: ${i.message}`);
  assert.match(bad('    - postgres-promote: { maxLagBytes: lots }')[0], /^failover\.steps\[1\]\.postgres-promote\.maxLagBytes: expected an integer number of bytes or 'unbounded'/);
  assert.match(bad('    - postgres-promote: { maxRecordAge: soon }')[0], /^failover\.steps\[1\]\.postgres-promote\.maxRecordAge: expected a duration/);
  assert.match(bad('    - postgres-fence: { mode: polite }')[0], /^failover\.steps\[1\]\.postgres-fence\.mode: /);
});

test('proxy.workers: 1 by default, 1..64, and never more than the connection limits it splits', () => {
  const proxied = BASE.replace('addresses: [127.0.0.2, "::1"]', 'addresses: [127.0.0.2, "::1"]\n    upstream: http://127.0.0.2:8080').replace('addresses: [127.0.0.3]', 'addresses: [127.0.0.3]\n    upstream: http://127.0.0.3:8080');
  assert.equal(parseConfig(`${proxied}proxy: { listen: "127.0.0.1:8080" }\n`, {}, '/etc/switchyard').proxy?.workers, 1);
  assert.equal(parseConfig(`${proxied}proxy: { listen: "127.0.0.1:8080", workers: 4 }\n`, {}, '/etc/switchyard').proxy?.workers, 4);
  assert.deepEqual(issuesOf(`${proxied}proxy: { listen: "127.0.0.1:8080", workers: 0 }\n`).map((i) => i.path), ['proxy.workers']);
  assert.deepEqual(issuesOf(`${proxied}proxy: { listen: "127.0.0.1:8080", workers: 65 }\n`).map((i) => i.path), ['proxy.workers']);
  assert.deepEqual(issuesOf(`${proxied}proxy: { listen: "127.0.0.1:8080", workers: 1.5 }\n`).map((i) => i.path), ['proxy.workers']);
  assert.deepEqual(issuesOf(`${proxied}proxy: { listen: "127.0.0.1:8080", workers: 4, maxConnections: 3 }\n`),
    [{ path: 'proxy.workers', message: 'must be at most proxy.maxConnections (3): every worker thread gets a share of the client connections' }]);
  assert.deepEqual(issuesOf(`${proxied}proxy: { listen: "127.0.0.1:8080", workers: 4, upstreamConnections: 2 }\n`),
    [{ path: 'proxy.workers', message: 'must be at most proxy.upstreamConnections (2): every worker thread has its own upstream pools with a share of the connections' }]);
});

test('dns.workers: at most dns.tcp.maxConnections, since every worker gets a share of the TCP connections', () => {
  assert.equal(parseConfig(`${BASE}dns: { workers: 4, tcp: { maxConnections: 4 } }\n`, {}, '/etc/switchyard').dns.workers, 4);
  assert.deepEqual(issuesOf(`${BASE}dns: { workers: 4, tcp: { maxConnections: 3 } }\n`),
    [{ path: 'dns.workers', message: 'must be at most dns.tcp.maxConnections (3): every worker thread gets a share of the TCP connections' }]);
});
