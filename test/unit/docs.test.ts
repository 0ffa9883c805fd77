// The operator docs and deploy files against the code: every configuration key the schema
// knows is in docs/configuration.md, its examples validate, its step-default table is the
// validator's, and the alert rules and dashboard use only metric names that src/ registers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parseConfig, parseDuration, type Config } from '../../src/config/index.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { schemaKeyPaths } from '../../scripts/config-docs.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (rel: string): string => readFileSync(join(root, rel), 'utf8');

const configDoc = read('docs/configuration.md');

test('docs/configuration.md names every key the configuration schema knows', () => {
  const paths = schemaKeyPaths();
  const keys = new Set(paths.map((p) => p.split(/\.|\[\]\.?/).filter(Boolean).pop()!));
  // Guard the extraction itself: a change in the schema's shape must fail here, not pass vacuously.
  assert.ok(keys.size >= 90, `only ${keys.size} keys found in the schema: the walk is broken`);
  for (const k of ['zone', 'negativeTtl', 'healthyWhen', 'atLeast', 'endpointSlice', 'confirmInterval', 'cooldown', 'kubernetes-scale',
    'onFailure', 'terminateSessions', 'maxLagSeconds', 'routingKey', 'ipv6PrefixLength', 'clientHeaders', 'shutdownDelay', 'level']) {
    assert.ok(keys.has(k), `the schema walk missed ${k}`);
  }
  // A key is documented as `key` or as the last part of a backquoted path (`zone.soa.refresh`).
  const documented = (k: string) => new RegExp('`(?:[^`\\s]*[.\\]])?' + k.replace(/[-]/g, '\\-') + '`').test(configDoc);
  const missing = [...keys].filter((k) => !documented(k)).sort();
  assert.deepEqual(missing, [], `keys missing from docs/configuration.md: ${missing.join(', ')}`);
});

/** The YAML code blocks of a markdown text, with the heading they sit under. */
function yamlBlocks(md: string): Array<{ heading: string; text: string }> {
  const out: Array<{ heading: string; text: string }> = [];
  let heading = '';
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (/^#+ /.test(lines[i])) heading = lines[i].replace(/^#+ /, '');
    if (lines[i] === '```yaml') {
      const end = lines.indexOf('```', i + 1);
      assert.ok(end > i, `unterminated yaml block at line ${i + 1}`);
      out.push({ heading, text: lines.slice(i + 1, end).join('\n') });
      i = end;
    }
  }
  return out;
}

const EXAMPLE_ENV = {
  EAST_DATABASE_URL: 'postgres://switchyard:secret@east-db:5432/app',
  WEST_DATABASE_URL: 'postgres://switchyard:secret@west-db:5432/app',
  SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/x',
  WEBHOOK_SECRET: 'webhook-secret',
  PD_ROUTING_KEY: 'routing-key',
  SWITCHYARD_ADMIN_TOKEN: 'admin-token',
};

function validates(text: string, what: string, env: Record<string, string> = EXAMPLE_ENV): Config {
  try {
    return parseConfig(text, env, '/etc/switchyard');
  } catch (err) {
    const issues = err instanceof SwitchyardError ? (err.details?.issues as Array<{ path: string; message: string }> | undefined) : undefined;
    assert.fail(`${what} does not validate: ${issues ? issues.map((i) => `${i.path}: ${i.message}`).join('; ') : String(err)}`);
  }
}

test('the full annotated example in docs/configuration.md validates and sets every section', () => {
  const block = yamlBlocks(configDoc).find((b) => b.heading === 'Full annotated example');
  assert.ok(block, 'docs/configuration.md has no yaml block under "## Full annotated example"');
  const config = validates(block.text, 'the full annotated example');
  assert.ok(config.proxy, 'the full example configures the proxy');
  assert.deepEqual([...new Set(config.failover.steps.map((s) => s.type))].sort(),
    ['exec', 'kubernetes-scale', 'postgres-fence', 'postgres-promote', 'switch-traffic', 'webhook']);
  assert.deepEqual([...new Set(config.clusters.flatMap((c) => c.probes.map((p) => p.kind)))].sort(), ['http', 'kubernetes', 'tcp']);
});

test('the step defaults table in docs/configuration.md is what the validator applies', () => {
  const rows = [...configDoc.matchAll(/^\| `([a-z-]+)` \| `([^`]+)` \| `(\d+)` \| `([^`]+)` \| `(hold|continue)` \|$/gm)];
  const table = new Map(rows.map((r) => [r[1], { timeout: parseDuration(r[2]), retries: Number(r[3]), backoff: parseDuration(r[4]), onFailure: r[5] }]));
  assert.equal(table.size, 8, `expected a defaults row for each of the 8 step types, found ${[...table.keys()].join(', ')}`);
  const config = validates(`
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 192.0.2.53 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [192.0.2.10], probes: [{ tcp: { address: "192.0.2.10:80" } }], kubernetes: {}, database: { url: "postgres://east/app" } }
  - { name: west, addresses: [192.0.2.20], probes: [{ tcp: { address: "192.0.2.20:80" } }], kubernetes: {}, database: { url: "postgres://west/app" } }
failover:
  steps:
    - kubernetes-scale: { namespace: app, deployments: [web], replicas: 2 }
    - switch-traffic
    - postgres-fence
    - postgres-promote
    - cnpg-demote: { namespace: db, clusters: { east: pg-east, west: pg-west } }
    - cnpg-promote: { namespace: db, clusters: { east: pg-east, west: pg-west } }
    - exec: { command: [/bin/true] }
    - webhook: { url: "https://hooks.example.com/x" }
`, 'the step defaults probe config', {});
  for (const s of config.failover.steps) {
    assert.deepEqual(table.get(s.type), { timeout: s.timeout, retries: s.retries, backoff: s.backoff, onFailure: s.onFailure }, `defaults of ${s.type}`);
  }
});

/** Metric names registered anywhere in src/ (`name: 'switchyard_...'`). */
function registeredMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir))) {
      const rel = join(dir, entry);
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (rel.endsWith('.ts')) for (const m of read(rel).matchAll(/\bname: '(switchyard_[a-z0-9_]+)'/g)) names.add(m[1]);
    }
  };
  walk('src');
  return names;
}

/** Metric names a text refers to that src/ does not register (histogram series count as their histogram). */
function unknownMetrics(text: string, registered: Set<string>): { referenced: Set<string>; unknown: string[] } {
  const referenced = new Set([...text.matchAll(/\bswitchyard_[a-z0-9_]+/g)].map((m) => m[0]));
  const known = (n: string) => registered.has(n) || registered.has(n.replace(/_(bucket|sum|count)$/, ''));
  return { referenced, unknown: [...referenced].filter((n) => !known(n)).sort() };
}

test('deploy/prometheus-rule.yaml has the documented alerts and uses only registered metrics', () => {
  const registered = registeredMetrics();
  assert.ok(registered.size >= 20, `only ${registered.size} metric names found in src/: the extraction is broken`);
  const text = read('deploy/prometheus-rule.yaml');
  const rule = parseYaml(text) as { kind: string; spec: { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> } };
  assert.equal(rule.kind, 'PrometheusRule');
  const alerts = rule.spec.groups.flatMap((g) => g.rules);
  const names = alerts.map((a) => a.alert);
  for (const a of ['SwitchyardFailoverHeld', 'SwitchyardFailedOver', 'SwitchyardClusterDown', 'SwitchyardDnsRateLimiting', 'SwitchyardProxyUpstreamErrors', 'SwitchyardDown']) {
    assert.ok(names.includes(a), `alert ${a} is missing`);
  }
  for (const a of alerts) assert.ok(typeof a.expr === 'string' && a.expr.trim() !== '', `alert ${a.alert} has no expr`);
  const runbook = read('docs/runbook.md');
  for (const n of names) assert.ok(runbook.includes(`\`${n}\``), `docs/runbook.md does not explain alert ${n}`);
  const { referenced, unknown } = unknownMetrics(text, registered);
  assert.ok(referenced.size >= 8, `the rules reference only ${referenced.size} switchyard metrics`);
  assert.deepEqual(unknown, [], `metrics in deploy/prometheus-rule.yaml that src/ does not register: ${unknown.join(', ')}`);
});

test('deploy/grafana-dashboard.json is JSON and uses only registered metrics', () => {
  const text = read('deploy/grafana-dashboard.json');
  const dashboard = JSON.parse(text) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  assert.ok(dashboard.panels.length >= 6, 'the dashboard has panels');
  for (const p of dashboard.panels) assert.ok(p.targets.length > 0 && p.targets.every((t) => t.expr.includes('switchyard_')), `panel ${p.title} queries switchyard metrics`);
  const { unknown } = unknownMetrics(text, registeredMetrics());
  assert.deepEqual(unknown, [], `metrics in deploy/grafana-dashboard.json that src/ does not register: ${unknown.join(', ')}`);
});

test('deploy/ YAML parses, the kustomize base is complete and its sample configuration validates', () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir))) {
      const rel = join(dir, entry);
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (/\.ya?ml$/.test(rel)) files.push(rel);
    }
  };
  walk('deploy');
  assert.ok(files.length >= 10, `only ${files.length} YAML files under deploy/`);
  const objects: Array<Record<string, any>> = [];
  for (const f of files) {
    const docs = parseAllDocuments(read(f));
    for (const d of docs) assert.deepEqual(d.errors.map((e) => e.message), [], `${f} is not valid YAML`);
    if (!f.endsWith('switchyard.yaml')) {   // switchyard configurations, not Kubernetes objects
      for (const d of docs) {
        const o = d.toJS() as Record<string, any>;
        assert.ok(typeof o?.apiVersion === 'string' && typeof o.kind === 'string', `${f}: every document has apiVersion and kind`);
        objects.push(o);
      }
    }
  }

  const kustomization = parseYaml(read('deploy/kubernetes/kustomization.yaml')) as { resources: string[]; configMapGenerator: Array<{ name: string; files: string[] }> };
  const inBase = readdirSync(join(root, 'deploy/kubernetes'));
  for (const r of kustomization.resources) assert.ok(inBase.includes(r), `kustomization.yaml lists ${r}, which does not exist`);
  const kinds = kustomization.resources.map((r) => (parseYaml(read(`deploy/kubernetes/${r}`)) as { kind: string }).kind);
  for (const k of ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'Deployment', 'Service', 'PersistentVolumeClaim']) assert.ok(kinds.includes(k), `the base has no ${k}`);
  const generated = kustomization.configMapGenerator.find((g) => g.name === 'switchyard-config');
  assert.ok(generated && generated.files.includes('switchyard.yaml'), 'the configuration ConfigMap is generated from switchyard.yaml');

  const config = validates(read('deploy/kubernetes/switchyard.yaml'), 'deploy/kubernetes/switchyard.yaml', {
    SWITCHYARD_ADMIN_TOKEN: 'token', EAST_DATABASE_URL: EXAMPLE_ENV.EAST_DATABASE_URL, WEST_DATABASE_URL: EXAMPLE_ENV.WEST_DATABASE_URL,
    ALERT_WEBHOOK_URL: 'https://hooks.example.com/x',
  });

  // The Deployment and the sample configuration agree on paths and ports.
  const deployment = objects.find((o) => o.kind === 'Deployment')!;
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const mountOf = (volume: (v: any) => boolean) => {
    const v = pod.volumes.find(volume);
    assert.ok(v, 'volume present');
    return container.volumeMounts.find((m: any) => m.name === v.name).mountPath as string;
  };
  const configDir = mountOf((v) => v.configMap?.name === 'switchyard-config');
  assert.deepEqual(container.args, ['serve', '--config', `${configDir}/switchyard.yaml`]);
  assert.equal(config.state.kind, 'file');
  assert.ok(config.state.kind === 'file' && config.state.file.startsWith(`${mountOf((v) => v.persistentVolumeClaim !== undefined)}/`), 'the state file is on the PVC');
  const kubeDir = mountOf((v) => v.secret?.secretName === 'switchyard-kubeconfigs');
  for (const c of config.clusters) assert.ok(c.kubernetes?.kubeconfig?.startsWith(`${kubeDir}/`), `${c.name}'s kubeconfig is in the mounted Secret`);
  const ports = new Map(container.ports.map((p: any) => [p.name, p.containerPort]));
  assert.equal(ports.get('admin'), config.admin.listen.port);
  assert.equal(ports.get('proxy'), config.proxy?.listen.port);
  assert.deepEqual(config.dns.listen.map((l) => l.port), [ports.get('dns-udp')]);
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > config.admin.shutdownDelay, 'the grace period outlasts the lame-duck delay');
});
