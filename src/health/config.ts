// The health slice of the configuration: `health` (probe pacing) and `clusters` (addresses,
// probes, how probe verdicts make a cluster verdict, the cluster's Kubernetes and database
// access). Declared once with src/config/schema.ts: the reader, the JSON Schema and the rows of
// docs/configuration.md come from these declarations. src/config composes it.
import * as s from '../config/schema.ts';
import * as f from '../config/fields.ts';
import { join, type Issues } from '../config/fields.ts';
import { redactText } from '../config/redact.ts';

const HOUR = 3_600_000;

export interface HealthConfig { interval: number; timeout: number; fall: number; rise: number; jitter: number; confirmInterval: number }

export const healthSchema = s.object({
  interval: s.duration(100, HOUR, { default: '1s', description: 'time between checks of a probe' }),
  timeout: s.duration(10, 60_000, { default: '500ms', description: "a check that takes longer fails (`SWY_HEALTH_TIMEOUT`); a probe's own `timeout` overrides it", doc: { range: '10ms..60s, at most `interval`' } }),
  fall: s.integer(1, 100, { default: 3, description: 'consecutive failed checks that mark a probe down' }),
  rise: s.integer(1, 100, { default: 2, description: 'consecutive passed checks that mark a probe up' }),
  jitter: s.optional(s.duration(0, HOUR, { description: 'a random delay in [0, jitter) added to each interval, so probes do not fire together' }), { default: 'a tenth of `interval` (rounded down)', range: '0..1h, shorter than `interval`' }),
  confirmInterval: s.optional(s.duration(10, HOUR, { description: 'the pace of the checks that confirm a changing verdict: after a first failure the next checks come this soon' }), { default: 'min(200ms, interval / 4)', range: '10ms..1h, at most `interval`' }),
}, { description: 'How often and how patiently every probe is checked.', default: {} });

export function readHealth(v: unknown, issues: Issues): HealthConfig | undefined {
  const { value: r, fields } = s.readFields(healthSchema, v, 'health', issues);
  const { interval, timeout } = fields;
  if (interval !== undefined) {
    if (timeout !== undefined && timeout > interval) issues.push({ path: 'health.timeout', message: `${timeout}ms is longer than health.interval (${interval}ms)` });
    if (fields.jitter !== undefined && fields.jitter >= interval) issues.push({ path: 'health.jitter', message: `must be shorter than health.interval (${interval}ms)` });
    if (fields.confirmInterval !== undefined && fields.confirmInterval > interval) issues.push({ path: 'health.confirmInterval', message: `must not be longer than health.interval (${interval}ms)` });
  }
  if (!r) return undefined;
  const jitter = r.jitter ?? Math.floor(r.interval / 10);
  const confirmInterval = r.confirmInterval ?? Math.min(200, Math.floor(r.interval / 4));
  return { interval: r.interval, timeout: r.timeout, fall: r.fall, rise: r.rise, jitter, confirmInterval };
}

export type HttpProbeConfig = {
  kind: 'http';
  name: string;
  url: string;
  method: 'GET' | 'HEAD';
  expectStatus: number[];
  bodyContains: string | undefined;
  host: string | undefined;
  sni: string | undefined;
  headers: Record<string, string>;
  ca: string | undefined;          // absolute path of a PEM bundle
  insecureSkipVerify: boolean;
  timeout: number | undefined;     // overrides health.timeout
};
export type TcpProbeConfig = { kind: 'tcp'; name: string; host: string; port: number; timeout: number | undefined };
export type KubernetesProbeConfig = {
  kind: 'kubernetes';
  name: string;
  check:
    | { type: 'readyz' }
    | { type: 'deployment'; namespace: string; name: string; minAvailable: number }
    | { type: 'endpointslice'; namespace: string; service: string; minReady: number };
  timeout: number | undefined;
};
export type ProbeConfig = HttpProbeConfig | TcpProbeConfig | KubernetesProbeConfig;

export type HealthyWhen = { mode: 'all' } | { mode: 'any' } | { mode: 'atLeast'; n: number };

export interface KubernetesAccess { kubeconfig: string | undefined; context: string | undefined }

/** Addresses that follow a Kubernetes object's status.loadBalancer.ingress in the cluster's own context. */
export interface AddressesFrom { kind: 'service' | 'ingress'; namespace: string; name: string }

export interface ClusterConfig {
  name: string;
  addresses: string[];             // IPv4 and IPv6 literals; empty when addressesFrom is set
  addressesFrom?: AddressesFrom;   // absent: the static addresses
  upstream: string | undefined;    // http(s)://host:port used by the proxy
  hostHeader: string | undefined;  // proxy: overrides the Host passed upstream
  probes: ProbeConfig[];
  healthyWhen: HealthyWhen;
  kubernetes: KubernetesAccess | undefined;
  database: { url: string } | undefined;
}

const CLUSTER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const probeTimeout = () => s.optional(s.duration(10, 60_000, { description: "this probe's check timeout" }), { default: '`health.timeout`' });

const httpProbe = (kind: 'http' | 'https') => s.object({
  name: s.optional(s.string({ description: 'shown in status, the page, CLI output, logs and the `probe` metric label. Two probes whose URLs differ only in the query string need names' }), { default: '`http URL` / `https URL`, with userinfo and query string redacted (`http http://***@10.0.0.1/healthz?***`)' }),
  url: s.httpUrl({ description: 'the URL to request', doc: { range: '`https://` for `https`' } }),
  method: s.oneOf(['GET', 'HEAD'] as const, { default: 'GET', description: 'the request method' }),
  expectStatus: s.list(s.integer(100, 599, { description: 'a status code that passes' }), { min: 1, default: [200], description: 'status codes that pass (`SWY_HEALTH_UNEXPECTED_STATUS` otherwise)', doc: { range: '100..599' } }),
  bodyContains: s.optional(s.string({ description: 'text that must appear in the first 64 KiB of the body (`SWY_HEALTH_BODY_MISMATCH`)' })),
  host: s.optional(s.string({ description: '`Host` header to send (probe an IP but present the application\'s name). Also the TLS name when `sni` is not set' }), { default: "the URL's host" }),
  sni: s.optional(s.string({ description: 'TLS server name, and the name the certificate must carry' }), { default: "`host`, else the URL's host name (none for an IP literal)" }),
  headers: s.stringMap({ default: {}, description: 'extra request headers' }),
  ca: s.optional(s.string({ description: 'PEM bundle that replaces the system CA roots; read once at start (`SWY_HEALTH_CA_READ` if unreadable)', what: 'path' }), { default: 'system roots' }),
  insecureSkipVerify: s.boolean({ default: false, description: 'skip certificate verification' }),
  timeout: probeTimeout(),
}, { description: kind === 'https' ? 'an HTTP probe that insists on an `https://` URL' : 'passes when the URL answers with an expected status' });

const kubeRef = (second: 'name' | 'service', min: 'minAvailable' | 'minReady', what: string) => s.object({
  namespace: s.string({ description: 'the namespace' }),
  [second]: s.string({ description: second === 'service' ? 'the Service name (`kubernetes.io/service-name` label)' : 'the Deployment name' }),
  [min]: s.integer(0, 100000, { default: 1, description: what }),
} as Record<'namespace' | typeof second | typeof min, s.Node<string> | s.Node<number>>, { description: second === 'service' ? 'the Service has enough ready endpoints (summed over its EndpointSlices)' : 'the Deployment has enough available replicas' });

const kubernetesProbe = s.object({
  name: s.optional(s.string({ description: 'shown in status, logs and metric labels' }), { default: '`kubernetes readyz` / `kubernetes deployment` / `kubernetes endpointSlice`' }),
  readyz: s.optional(s.custom({ const: true }, (v, p, issues) => (v === true ? true : (issues.push({ path: p, message: 'expected true' }), undefined)), { type: '`true`', description: "the API server's `/readyz` answers 200" })),
  deployment: s.optional(kubeRef('name', 'minAvailable', 'minimum `status.availableReplicas`')),
  endpointSlice: s.optional(kubeRef('service', 'minReady', 'minimum ready endpoints')),
  timeout: probeTimeout(),
}, { description: "asks the cluster's API server (needs `clusters[].kubernetes`); exactly one of `readyz`, `deployment`, `endpointSlice`" });

const probeSchema = s.exactlyOne({
  http: httpProbe('http'),
  https: httpProbe('https'),
  tcp: s.object({
    name: s.optional(s.string({ description: 'shown in status, logs and metric labels' }), { default: '`tcp ADDRESS`' }),
    address: s.listen({ description: 'where to connect (`HOST:PORT`, an IP literal)' }),
    timeout: probeTimeout(),
  }, { description: 'passes when a TCP connection opens' }),
  kubernetes: kubernetesProbe,
}, { description: 'one probe: exactly one of `http`, `https`, `tcp`, `kubernetes`', none: (n) => `expected exactly one of http, https, tcp, kubernetes, got ${n}` });

function readProbe(v: unknown, path: string, issues: Issues, abs: (p: string) => string): ProbeConfig | undefined {
  const probe = s.readNode(probeSchema, v, path, issues);
  if (!probe) return undefined;
  const before = issues.length;
  const p = join(path, probe.kind);
  if (probe.kind === 'http' || probe.kind === 'https') {
    const r = probe.value;
    if (probe.kind === 'https' && !r.url.startsWith('https:')) issues.push({ path: join(p, 'url'), message: 'an https probe needs an https:// URL' });
    // A derived name shows up in status, the page, metric labels and logs: no userinfo, no query.
    const name = r.name ?? `${probe.kind} ${redactText(r.url)}`;
    if (issues.length !== before) return undefined;
    return { kind: 'http', name, url: r.url, method: r.method, expectStatus: r.expectStatus, bodyContains: r.bodyContains, host: r.host, sni: r.sni, headers: r.headers, ca: r.ca && abs(r.ca), insecureSkipVerify: r.insecureSkipVerify, timeout: r.timeout };
  }
  if (probe.kind === 'tcp') {
    const r = probe.value;
    const raw = (v as { tcp: { address: unknown } }).tcp.address;
    return { kind: 'tcp', name: r.name ?? `tcp ${String(raw)}`, host: r.address.host, port: r.address.port, timeout: r.timeout };
  }
  const r = probe.value;
  const checks = (['readyz', 'deployment', 'endpointSlice'] as const).filter((k) => r[k] !== undefined);
  if (checks.length !== 1) {
    issues.push({ path: p, message: 'expected exactly one of readyz: true, deployment: {...}, endpointSlice: {...}' });
    return undefined;
  }
  const check: KubernetesProbeConfig['check'] = r.readyz ? { type: 'readyz' }
    : r.deployment ? { type: 'deployment', namespace: r.deployment.namespace as string, name: r.deployment.name as string, minAvailable: r.deployment.minAvailable as number }
      : { type: 'endpointslice', namespace: r.endpointSlice!.namespace as string, service: r.endpointSlice!.service as string, minReady: r.endpointSlice!.minReady as number };
  return { kind: 'kubernetes', name: r.name ?? `kubernetes ${checks[0]}`, check, timeout: r.timeout };
}

const kubeObject = (what: string) => s.object({
  namespace: s.string({ description: 'the namespace', pattern: K8S_NAME, what: 'a Kubernetes namespace name' }),
  name: s.string({ description: `the ${what}'s name`, pattern: K8S_NAME, what: 'a Kubernetes object name' }),
}, { description: `the IPs in that ${what}'s \`status.loadBalancer.ingress\`, in this cluster's own context. Needs \`clusters[].kubernetes\`` });
const addressesFromSchema = s.exactlyOne({ fromService: kubeObject('Service'), fromIngress: kubeObject('Ingress') }, {
  description: 'addresses that follow a Kubernetes object', none: () => 'expected a list of IP addresses, or exactly one of fromService, fromIngress',
});
const addressListSchema = s.list(s.ipAddress({ description: 'an address served while this cluster is active' }), { min: 1, description: 'the A/AAAA addresses' });

type Addresses = { addresses: string[]; addressesFrom: AddressesFrom | undefined };
const addressesSchema = s.custom<Addresses>({ anyOf: [addressListSchema, addressesFromSchema] }, (v, p, issues) => {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const from = s.readNode(addressesFromSchema, v, p, issues);
    return from && { addresses: [], addressesFrom: { kind: from.kind === 'fromService' ? 'service' : 'ingress', namespace: from.value.namespace, name: from.value.name } };
  }
  const addresses = s.readNode(addressListSchema, v, p, issues);
  return addresses && { addresses, addressesFrom: undefined };
}, { type: 'list of IP addresses (at least 1), or one of `fromService`, `fromIngress`', walk: addressesFromSchema, description: 'A/AAAA records served for every hostname while this cluster is active; see [addresses from Kubernetes](#addresses-from-kubernetes) for the second form' });

const atLeastSchema = s.object({
  atLeast: s.integer(1, 1_000_000, { description: 'the cluster is up when at least this many of its probes are up', doc: { range: '1..number of probes' } }),
}, { description: 'the mapping form of `healthyWhen`' });
const healthyWhenSchema = s.custom<HealthyWhen | { mode: 'atLeast?'; n: number }>({
  anyOf: [{ enum: ['all', 'any'] }, atLeastSchema],
}, (v, p, issues) => {
  if (v === 'all') return { mode: 'all' };
  if (v === 'any') return { mode: 'any' };
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const r = s.readNode(atLeastSchema, v, p, issues);
    return r && { mode: 'atLeast?', n: r.atLeast };
  }
  issues.push({ path: p, message: 'expected all, any or { atLeast: N }' });
  return undefined;
}, { type: '`all`, `any` or `{ atLeast: N }`', default: 'all', walk: atLeastSchema, description: 'how probe verdicts make the cluster verdict, see below', doc: { range: 'N: 1..number of probes' } });

export const probeNode = probeSchema;

/** A cluster; `abs` resolves relative paths against the configuration file's folder. */
export const clusterSchema = (abs: (p: string) => string = (p) => p) => s.object({
  name: s.string({ description: 'the cluster\'s name in the CLI, the API, metrics and logs. Unique. Renaming a cluster that the state file says is active stops switchyard from starting (`SWY_STATE_UNKNOWN_CLUSTER`)', pattern: CLUSTER_NAME, what: 'a lower-case DNS label (a-z, 0-9, -)', doc: { type: 'string', range: 'a lower-case DNS label: `a-z`, `0-9`, `-`, 1..63 characters, not starting or ending with `-`' } }),
  addresses: addressesSchema,
  upstream: s.optional(s.httpUrl({ description: 'where the proxy sends requests while this cluster is active; only the origin (scheme, host, port) is used, a path is ignored. **Required on every cluster when `proxy` is configured**', doc: { range: '`http://` or `https://`' } })),
  hostHeader: s.optional(s.string({ description: 'proxy: the `Host` sent upstream for this cluster' }), { default: "none (the client's `Host` is passed through)" }),
  probes: s.list(s.custom<ProbeConfig>(JSON.parse(JSON.stringify(probeSchema)) as Record<string, unknown>, (v, p, i) => readProbe(v, p, i, abs), { type: 'probe', description: 'one probe: exactly one of `http`, `https`, `tcp`, `kubernetes`', walk: probeSchema }), { min: 1, description: 'health probes, see [probes](#probes)' }),
  healthyWhen: healthyWhenSchema,
  kubernetes: s.optional(s.object({
    kubeconfig: s.optional(s.string({ description: 'kubeconfig file for this cluster', what: 'path' }), { default: 'the default kubeconfig: `KUBECONFIG`, `~/.kube/config`, else the in-cluster service account' }),
    context: s.optional(s.string({ description: 'the context to use in that file' }), { default: "the file's current context" }),
  }, { description: "access to this cluster's API server. **Required** when the cluster has a `kubernetes` probe, and on every cluster when a `kubernetes-scale` step is configured" })),
  database: s.optional(s.object({
    url: s.string({ description: 'connection URL (libpq style, as the `pg` client takes it). Use `${VAR}` to keep the password out of the file', pattern: /^postgres(ql)?:\/\//, what: 'a postgres:// or postgresql:// URL', doc: { type: 'string', range: '`postgres://` or `postgresql://`' } }),
  }, { description: "this cluster's PostgreSQL. **Required on every cluster** when a `postgres-fence` or `postgres-promote` step is configured" })),
}, { description: 'one cluster' });

export const clustersSchema = (abs?: (p: string) => string) => s.list(clusterSchema(abs), {
  min: 2, description: 'the clusters, in order of preference: the first is the *preferred* (primary) cluster. It is active on the very first start, automatic failover only ever moves traffic *away* from it, and `switchyard failback` returns to it',
});

/**
 * What other slices check against each cluster as written (`name` when it is a string; whether
 * `database`, `kubernetes`, `upstream` are given), also for a cluster that has errors of its own,
 * so those checks are reported beside them.
 */
export interface ClusterFacts { name: string | undefined; database: boolean; kubernetes: boolean; upstream: boolean }
export function clusterFacts(v: unknown): ClusterFacts[] | undefined {
  if (!Array.isArray(v)) return undefined;
  return v.map((item: unknown) => {
    const r = item !== null && typeof item === 'object' && !Array.isArray(item) ? item as Record<string, unknown> : {};
    const given = (k: string) => r[k] !== undefined && r[k] !== null;
    return { name: typeof r.name === 'string' ? r.name : undefined, database: given('database'), kubernetes: given('kubernetes'), upstream: given('upstream') };
  });
}

export function readClusters(v: unknown, issues: Issues, abs: (p: string) => string): ClusterConfig[] | undefined {
  const items = f.list(v, 'clusters', issues, 2);
  if (!items) return undefined;
  const node = clusterSchema(abs);
  const out: ClusterConfig[] = [];
  items.forEach((item, i) => {
    const p = join('clusters', i);
    const { value: r, fields } = s.readFields(node, item, p, issues);
    const name = (item as { name?: unknown } | null)?.name;
    if (typeof name === 'string' && out.some((c) => c.name === name)) issues.push({ path: join(p, 'name'), message: `cluster ${name} is listed twice` });
    const probes = fields.probes ?? [];
    const given = (k: string) => (item as Record<string, unknown> | null)?.[k] !== undefined;
    probes.forEach((pr, j) => {
      if (pr.name === 'passive') issues.push({ path: join(join(p, 'probes'), j), message: "the probe name 'passive' is reserved for the proxy's passive health signal; set another name" });
      if (probes.findIndex((q) => q.name === pr.name) !== j) issues.push({ path: join(join(p, 'probes'), j), message: `probe name ${pr.name} is used twice; set a distinct name` });
    });
    const atLeast = fields.healthyWhen?.mode === 'atLeast?' ? fields.healthyWhen.n : undefined;
    const atLeastBad = atLeast !== undefined && fields.probes !== undefined && atLeast > Math.max(1, probes.length);
    if (atLeastBad) issues.push({ path: join(join(p, 'healthyWhen'), 'atLeast'), message: `${atLeast} is out of range 1..${Math.max(1, probes.length)}` });
    const kubernetes = fields.kubernetes && { kubeconfig: fields.kubernetes.kubeconfig && abs(fields.kubernetes.kubeconfig), context: fields.kubernetes.context };
    const addressesFrom = fields.addresses?.addressesFrom;
    if (addressesFrom && !given('kubernetes')) issues.push({ path: join(p, 'kubernetes'), message: `is required: addresses from a ${addressesFrom.kind} are read with the cluster's kubeconfig and context` });
    if (probes.some((pr) => pr.kind === 'kubernetes') && !given('kubernetes')) issues.push({ path: join(p, 'kubernetes'), message: 'is required: a kubernetes probe needs the cluster\'s kubeconfig and context' });
    if (!r || atLeastBad) return;
    const healthyWhen: HealthyWhen = r.healthyWhen.mode === 'atLeast?' ? { mode: 'atLeast', n: r.healthyWhen.n } : r.healthyWhen;
    out.push({ name: r.name, addresses: r.addresses.addresses, addressesFrom, upstream: r.upstream, hostHeader: r.hostHeader, probes, healthyWhen, kubernetes, database: r.database });
  });
  return out.length === items.length ? out : undefined;
}
