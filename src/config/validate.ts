// Validation and normalisation of the whole configuration. Pure: takes the parsed YAML (after
// ${VAR} substitution) and the config file's folder, returns a Config or the list of issues.
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type {
  AddressesFrom, AdminConfig, ClusterConfig, Config, DnsConfig, FailoverConfig, HealthConfig, HealthyWhen, KubernetesAccess,
  InstanceConfig, ListenAddress, NameserverConfig, NotifyConfig, ParityConfig, ParityKind, ParityNamespace, ProbeConfig, ProxyConfig, StateConfig, StepConfig, ZoneConfig,
} from './types.ts';
import { checkZoneRecords, readZoneRecords } from './zone-records.ts';
import {
  bool, dnsName, duration, httpUrl, inZone, int, ipAddress, join, list, listenAddress, mapping, oneOf, required,
  str, stringMap, type Issues,
} from './fields.ts';
import { redactText } from './redact.ts';

const DAY = 86_400_000;
const DEFAULT_MAX_LAG_BYTES = 1_048_576;
const CLUSTER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const STEP_TYPES = ['switch-traffic', 'kubernetes-scale', 'postgres-fence', 'postgres-promote', 'cnpg-demote', 'cnpg-promote', 'exec', 'webhook'] as const;
const STEP_COMMON = ['name', 'timeout', 'retries', 'backoff', 'onFailure'] as const;
const NOTIFY_TYPES = ['webhook', 'exec'] as const;
const NOTIFY_COMMON = ['name', 'timeout', 'retries', 'backoff'] as const;
const NOTIFY_EXEC = ['command', 'env'] as const;
const NOTIFY_WEBHOOK = ['url', 'secret', 'format', 'routingKey', 'headers'] as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const PARITY_KINDS: readonly ParityKind[] = ['image', 'capacity', 'configmap', 'secret', 'missing'];
const PARITY_OBJECTS = ['deployments', 'configMaps', 'secrets', 'services', 'ingresses', 'persistentVolumeClaims'] as const;
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface ValidateOptions {
  baseDir: string;
  adminToken: string | undefined;
  /** The default instance.name (the host name when not given). */
  hostName?: string;
}

export function validateConfig(raw: unknown, opts: ValidateOptions): { config?: Config; issues: Issues } {
  const issues: Issues = [];
  const root = mapping(raw ?? {}, '', issues, ['zone', 'hostnames', 'clusters', 'health', 'failover', 'notify', 'parity', 'dns', 'proxy', 'admin', 'state', 'instance', 'log', 'limits']);
  if (!root) return { issues };
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(opts.baseDir, p));

  const recordPaths: string[] = [];
  const zone = readZone(required(root, 'zone', '', issues), issues, recordPaths);
  const hostnames = readHostnames(required(root, 'hostnames', '', issues), zone?.name, issues);
  if (zone?.records && hostnames) checkZoneRecords(zone.records, recordPaths, zone, hostnames, issues);
  const clusters = readClusters(required(root, 'clusters', '', issues), issues, abs);
  const health = readHealth(root.health ?? {}, issues);
  const failover = readFailover(root.failover ?? {}, clusters, issues);
  const notify = root.notify === undefined || root.notify === null ? [] : readNotify(root.notify, issues);
  const parity = root.parity === undefined || root.parity === null ? undefined : readParity(root.parity, clusters, issues);
  if (failover?.prechecks?.includes('parity') && root.parity === undefined) issues.push({ path: 'failover.prechecks', message: 'parity needs a parity section naming what to compare' });
  const dns = readDns(root.dns ?? {}, issues);
  // Worker threads rebuild their answers from the routing state alone; addresses watched from
  // Kubernetes reach only the main thread's answer table.
  if (dns && dns.workers > 1 && clusters?.some((c) => c.addressesFrom !== undefined)) {
    issues.push({ path: 'dns.workers', message: 'must be 1 while a cluster takes its addresses from a Service or Ingress (worker threads do not follow them yet)' });
  }
  const proxy = root.proxy === undefined || root.proxy === null ? undefined : readProxy(root.proxy, clusters, hostnames, issues);
  const admin = readAdmin(root.admin ?? {}, opts.adminToken, issues);
  const state = readState(root.state ?? {}, zone?.name, issues, abs);
  const instance = readInstance(root.instance ?? {}, opts.hostName ?? hostname(), issues);
  if (failover && state && failover.instances > 1 && state.kind !== 'etcd') {
    issues.push({ path: 'failover.instances', message: `${failover.instances} instances need a shared store: set state.etcd (a state file serves one instance)` });
  }
  const logRec = mapping(root.log ?? {}, 'log', issues, ['level']);
  const level = logRec?.level === undefined ? 'info' : oneOf(logRec.level, 'log.level', issues, LOG_LEVELS);
  const limitsRec = mapping(root.limits ?? {}, 'limits', issues, ['reservedFileDescriptors']);
  const reservedFileDescriptors = limitsRec?.reservedFileDescriptors === undefined ? 256 : int(limitsRec.reservedFileDescriptors, 'limits.reservedFileDescriptors', issues, 32, 1_000_000);

  if (issues.length > 0 || !zone || !hostnames || !clusters || !health || !failover || !notify || !dns || !admin || !state || !instance || !level || reservedFileDescriptors === undefined) {
    if (issues.length === 0) issues.push({ path: '(root)', message: 'invalid configuration' });
    return { issues };
  }
  return { config: { limits: { reservedFileDescriptors }, zone, hostnames, clusters, health, failover, notify, parity, dns, proxy, admin, state, instance, log: { level } }, issues };
}

function readZone(v: unknown, issues: Issues, recordPaths: string[]): ZoneConfig | undefined {
  if (v === undefined) return undefined;
  const rec = mapping(v, 'zone', issues, ['name', 'ttl', 'nameservers', 'soa', 'records']);
  if (!rec) return undefined;
  const name = dnsName(required(rec, 'name', 'zone', issues), 'zone.name', issues);
  const ttl = rec.ttl === undefined ? 30 : int(rec.ttl, 'zone.ttl', issues, 1, 60);
  const nameservers: NameserverConfig[] = [];
  const nsList = list(required(rec, 'nameservers', 'zone', issues), 'zone.nameservers', issues, 1) ?? [];
  nsList.forEach((item, i) => {
    const p = join('zone.nameservers', i);
    const ns = mapping(item, p, issues, ['name', 'address']);
    if (!ns) return;
    const nsName = dnsName(required(ns, 'name', p, issues), join(p, 'name'), issues);
    const address = ns.address === undefined ? undefined : ipAddress(ns.address, join(p, 'address'), issues);
    if (nsName && name && inZone(nsName, name) && address === undefined && ns.address === undefined) {
      issues.push({ path: join(p, 'address'), message: `is required: ${nsName} is inside the zone and needs glue` });
    }
    if (nsName) nameservers.push({ name: nsName, address });
  });
  const soaRec = rec.soa === undefined ? {} : mapping(rec.soa, 'zone.soa', issues, ['mbox', 'negativeTtl', 'refresh', 'retry', 'expire']);
  const records = readZoneRecords(rec.records, name, issues, recordPaths);
  if (!soaRec || !name || ttl === undefined || !records) return undefined;
  const mbox = soaRec.mbox === undefined ? `hostmaster.${name}` : dnsName(soaRec.mbox, 'zone.soa.mbox', issues);
  const negativeTtl = soaRec.negativeTtl === undefined ? ttl : int(soaRec.negativeTtl, 'zone.soa.negativeTtl', issues, 0, 86400);
  const refresh = soaRec.refresh === undefined ? 3600 : int(soaRec.refresh, 'zone.soa.refresh', issues, 1, 2 ** 31 - 1);
  const retry = soaRec.retry === undefined ? 600 : int(soaRec.retry, 'zone.soa.retry', issues, 1, 2 ** 31 - 1);
  const expire = soaRec.expire === undefined ? 604800 : int(soaRec.expire, 'zone.soa.expire', issues, 1, 2 ** 31 - 1);
  if (!mbox || negativeTtl === undefined || refresh === undefined || retry === undefined || expire === undefined) return undefined;
  return { name, ttl, nameservers, soa: { mbox, negativeTtl, refresh, retry, expire }, records };
}

function readHostnames(v: unknown, zone: string | undefined, issues: Issues): string[] | undefined {
  if (v === undefined) return undefined;
  const items = list(v, 'hostnames', issues, 1);
  if (!items) return undefined;
  const out: string[] = [];
  items.forEach((item, i) => {
    const p = join('hostnames', i);
    const name = dnsName(item, p, issues);
    if (!name) return;
    if (zone && !inZone(name, zone)) issues.push({ path: p, message: `${name} is not inside zone ${zone}` });
    else if (out.includes(name)) issues.push({ path: p, message: `${name} is listed twice` });
    else out.push(name);
  });
  return out;
}

function readClusters(v: unknown, issues: Issues, abs: (p: string) => string): ClusterConfig[] | undefined {
  if (v === undefined) return undefined;
  const items = list(v, 'clusters', issues, 2);
  if (!items) return undefined;
  const out: ClusterConfig[] = [];
  items.forEach((item, i) => {
    const p = join('clusters', i);
    const rec = mapping(item, p, issues, ['name', 'addresses', 'upstream', 'hostHeader', 'probes', 'healthyWhen', 'kubernetes', 'database']);
    if (!rec) return;
    const name = str(required(rec, 'name', p, issues), join(p, 'name'), issues, { pattern: CLUSTER_NAME, what: 'a lower-case DNS label (a-z, 0-9, -)' });
    if (name && out.some((c) => c.name === name)) issues.push({ path: join(p, 'name'), message: `cluster ${name} is listed twice` });
    const rawAddresses = required(rec, 'addresses', p, issues);
    const fromKube = rawAddresses !== null && typeof rawAddresses === 'object' && !Array.isArray(rawAddresses);
    const addressesFrom = fromKube ? readAddressesFrom(rawAddresses, join(p, 'addresses'), issues) : undefined;
    const addrs = fromKube || rawAddresses === undefined ? [] : list(rawAddresses, join(p, 'addresses'), issues, 1) ?? [];
    const addresses = addrs.map((a, j) => ipAddress(a, join(join(p, 'addresses'), j), issues)).filter((a): a is string => a !== undefined);
    const upstream = rec.upstream === undefined ? undefined : httpUrl(rec.upstream, join(p, 'upstream'), issues);
    const hostHeader = rec.hostHeader === undefined ? undefined : str(rec.hostHeader, join(p, 'hostHeader'), issues);
    const probeItems = list(required(rec, 'probes', p, issues), join(p, 'probes'), issues, 1) ?? [];
    const probes = probeItems.map((pr, j) => readProbe(pr, join(join(p, 'probes'), j), issues, abs)).filter((x): x is ProbeConfig => x !== undefined);
    probes.forEach((pr, j) => {
      if (pr.name === 'passive') issues.push({ path: join(join(p, 'probes'), j), message: "the probe name 'passive' is reserved for the proxy's passive health signal; set another name" });
      if (probes.findIndex((q) => q.name === pr.name) !== j) issues.push({ path: join(join(p, 'probes'), j), message: `probe name ${pr.name} is used twice; set a distinct name` });
    });
    const healthyWhen = readHealthyWhen(rec.healthyWhen, join(p, 'healthyWhen'), probes.length, issues);
    let kubernetes: KubernetesAccess | undefined;
    if (rec.kubernetes !== undefined) {
      const kp = join(p, 'kubernetes');
      const k = mapping(rec.kubernetes, kp, issues, ['kubeconfig', 'context']);
      if (k) {
        const kubeconfig = k.kubeconfig === undefined ? undefined : str(k.kubeconfig, join(kp, 'kubeconfig'), issues);
        const context = k.context === undefined ? undefined : str(k.context, join(kp, 'context'), issues);
        kubernetes = { kubeconfig: kubeconfig && abs(kubeconfig), context };
      }
    }
    if (addressesFrom && !kubernetes) {
      issues.push({ path: join(p, 'kubernetes'), message: `is required: addresses from a ${addressesFrom.kind} are read with the cluster's kubeconfig and context` });
    }
    if (probes.some((pr) => pr.kind === 'kubernetes') && !kubernetes) {
      issues.push({ path: join(p, 'kubernetes'), message: 'is required: a kubernetes probe needs the cluster\'s kubeconfig and context' });
    }
    let database: { url: string } | undefined;
    if (rec.database !== undefined) {
      const dp = join(p, 'database');
      const d = mapping(rec.database, dp, issues, ['url']);
      const url = d && str(required(d, 'url', dp, issues), join(dp, 'url'), issues, { pattern: /^postgres(ql)?:\/\//, what: 'a postgres:// or postgresql:// URL' });
      if (url) database = { url };
    }
    if (name && (addresses.length > 0 || addressesFrom) && healthyWhen) {
      out.push({ name, addresses, addressesFrom, upstream, hostHeader, probes, healthyWhen, kubernetes, database });
    }
  });
  return out.length === items.length ? out : undefined;
}

/** A required Kubernetes name at rec[key]; one issue when missing, one when malformed. */
function kubeName(rec: Record<string, unknown>, key: string, path: string, issues: Issues, what: string): string | undefined {
  const v = required(rec, key, path, issues);
  return v === undefined ? undefined : str(v, join(path, key), issues, { pattern: K8S_NAME, what });
}

/** `{ fromService: { namespace, name } }` or `{ fromIngress: { namespace, name } }`. */
function readAddressesFrom(v: unknown, path: string, issues: Issues): AddressesFrom | undefined {
  const rec = mapping(v, path, issues, ['fromService', 'fromIngress']);
  if (!rec) return undefined;
  const keys = Object.keys(rec);
  if (keys.length !== 1) {
    issues.push({ path, message: `expected a list of IP addresses, or exactly one of fromService, fromIngress` });
    return undefined;
  }
  const p = join(path, keys[0]);
  const r = mapping(rec[keys[0]], p, issues, ['namespace', 'name']);
  const namespace = r && kubeName(r, 'namespace', p, issues, 'a Kubernetes namespace name');
  const name = r && kubeName(r, 'name', p, issues, 'a Kubernetes object name');
  if (!namespace || !name) return undefined;
  return { kind: keys[0] === 'fromService' ? 'service' : 'ingress', namespace, name };
}

function readParity(v: unknown, clusters: ClusterConfig[] | undefined, issues: Issues): ParityConfig | undefined {
  const r = mapping(v, 'parity', issues, ['interval', 'timeout', 'blocking', 'namespaces']);
  if (!r) return undefined;
  const interval = r.interval === undefined ? 60_000 : r.interval === '0s' ? 0 : duration(r.interval, 'parity.interval', issues, 1000, DAY);
  const timeout = r.timeout === undefined ? 10_000 : duration(r.timeout, 'parity.timeout', issues, 100, 600_000);
  const blockingItems = r.blocking === undefined ? [...PARITY_KINDS] : list(r.blocking, 'parity.blocking', issues) ?? [];
  const blocking = blockingItems.map((k, i) => oneOf(k, join('parity.blocking', i), issues, PARITY_KINDS)).filter((k): k is ParityKind => k !== undefined);
  const nsItems = list(required(r, 'namespaces', 'parity', issues), 'parity.namespaces', issues, 1) ?? [];
  const namespaces: ParityNamespace[] = [];
  nsItems.forEach((item, i) => {
    const p = join('parity.namespaces', i);
    const n = mapping(item, p, issues, ['name', ...PARITY_OBJECTS]);
    if (!n) return;
    const name = kubeName(n, 'name', p, issues, 'a Kubernetes namespace name');
    if (name && namespaces.some((x) => x.name === name)) issues.push({ path: join(p, 'name'), message: `namespace ${name} is listed twice` });
    const names = (k: (typeof PARITY_OBJECTS)[number]) => n[k] === undefined ? [] : (list(n[k], join(p, k), issues) ?? [])
      .map((x, j) => str(x, join(join(p, k), j), issues, { pattern: K8S_NAME, what: 'a Kubernetes object name' })).filter((x): x is string => x !== undefined);
    const entry = { deployments: names('deployments'), configMaps: names('configMaps'), secrets: names('secrets'), services: names('services'), ingresses: names('ingresses'), persistentVolumeClaims: names('persistentVolumeClaims') };
    if (PARITY_OBJECTS.every((k) => n[k] === undefined || (Array.isArray(n[k]) && n[k].length === 0))) issues.push({ path: p, message: `names nothing to compare: list at least one of ${PARITY_OBJECTS.join(', ')}` });
    if (name) namespaces.push({ name, ...entry });
  });
  (clusters ?? []).forEach((c, i) => {
    if (!c.kubernetes) issues.push({ path: `clusters[${i}].kubernetes`, message: 'is required: parity compares the clusters through their Kubernetes API' });
  });
  if (interval === undefined || timeout === undefined || blocking.length !== blockingItems.length || namespaces.length !== nsItems.length) return undefined;
  return { interval, timeout, blocking, namespaces };
}

function readHealthyWhen(v: unknown, path: string, probeCount: number, issues: Issues): HealthyWhen | undefined {
  if (v === undefined || v === 'all') return { mode: 'all' };
  if (v === 'any') return { mode: 'any' };
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const rec = mapping(v, path, issues, ['atLeast']);
    const n = rec && int(required(rec, 'atLeast', path, issues), join(path, 'atLeast'), issues, 1, Math.max(1, probeCount));
    return n === undefined || n === null ? undefined : { mode: 'atLeast', n };
  }
  issues.push({ path, message: `expected all, any or { atLeast: N }` });
  return undefined;
}

function readProbe(v: unknown, path: string, issues: Issues, abs: (p: string) => string): ProbeConfig | undefined {
  const rec = mapping(v, path, issues, ['http', 'https', 'tcp', 'kubernetes']);
  if (!rec) return undefined;
  const keys = Object.keys(rec);
  if (keys.length !== 1) {
    issues.push({ path, message: `expected exactly one of http, https, tcp, kubernetes, got ${keys.length}` });
    return undefined;
  }
  const kind = keys[0];
  const p = join(path, kind);
  if (kind === 'http' || kind === 'https') {
    const r = mapping(rec[kind], p, issues, ['name', 'url', 'method', 'expectStatus', 'bodyContains', 'host', 'sni', 'headers', 'ca', 'insecureSkipVerify', 'timeout']);
    if (!r) return undefined;
    const url = httpUrl(required(r, 'url', p, issues), join(p, 'url'), issues);
    if (url && kind === 'https' && !url.startsWith('https:')) issues.push({ path: join(p, 'url'), message: 'an https probe needs an https:// URL' });
    const method = r.method === undefined ? 'GET' : oneOf(r.method, join(p, 'method'), issues, ['GET', 'HEAD'] as const);
    const statusItems = r.expectStatus === undefined ? [200] : list(r.expectStatus, join(p, 'expectStatus'), issues, 1) ?? [];
    const expectStatus = statusItems.map((s, i) => int(s, join(join(p, 'expectStatus'), i), issues, 100, 599)).filter((s): s is number => s !== undefined);
    const bodyContains = r.bodyContains === undefined ? undefined : str(r.bodyContains, join(p, 'bodyContains'), issues);
    const host = r.host === undefined ? undefined : str(r.host, join(p, 'host'), issues);
    const sni = r.sni === undefined ? undefined : str(r.sni, join(p, 'sni'), issues);
    const headers = r.headers === undefined ? {} : stringMap(r.headers, join(p, 'headers'), issues);
    const ca = r.ca === undefined ? undefined : str(r.ca, join(p, 'ca'), issues);
    const insecureSkipVerify = r.insecureSkipVerify === undefined ? false : bool(r.insecureSkipVerify, join(p, 'insecureSkipVerify'), issues);
    const timeout = r.timeout === undefined ? undefined : duration(r.timeout, join(p, 'timeout'), issues, 10, 60_000);
    // A derived name shows up in status, the page, metric labels and logs: no userinfo, no query.
    const name = r.name === undefined ? (url ? `${kind} ${redactText(url)}` : kind) : str(r.name, join(p, 'name'), issues);
    if (!url || !method || !headers || insecureSkipVerify === undefined || !name) return undefined;
    return { kind: 'http', name, url, method, expectStatus, bodyContains, host, sni, headers, ca: ca && abs(ca), insecureSkipVerify, timeout };
  }
  if (kind === 'tcp') {
    const r = mapping(rec.tcp, p, issues, ['name', 'address', 'timeout']);
    if (!r) return undefined;
    const addr = listenAddress(required(r, 'address', p, issues), join(p, 'address'), issues);
    const timeout = r.timeout === undefined ? undefined : duration(r.timeout, join(p, 'timeout'), issues, 10, 60_000);
    const name = r.name === undefined ? `tcp ${String(r.address)}` : str(r.name, join(p, 'name'), issues);
    if (!addr || !name) return undefined;
    return { kind: 'tcp', name, host: addr.host, port: addr.port, timeout };
  }
  const r = mapping(rec.kubernetes, p, issues, ['name', 'readyz', 'deployment', 'endpointSlice', 'timeout']);
  if (!r) return undefined;
  const timeout = r.timeout === undefined ? undefined : duration(r.timeout, join(p, 'timeout'), issues, 10, 60_000);
  const checks = ['readyz', 'deployment', 'endpointSlice'].filter((k) => r[k] !== undefined);
  if (checks.length !== 1) {
    issues.push({ path: p, message: 'expected exactly one of readyz: true, deployment: {...}, endpointSlice: {...}' });
    return undefined;
  }
  let check: Extract<ProbeConfig, { kind: 'kubernetes' }>['check'] | undefined;
  if (checks[0] === 'readyz') {
    if (r.readyz !== true) issues.push({ path: join(p, 'readyz'), message: 'expected true' });
    else check = { type: 'readyz' };
  } else if (checks[0] === 'deployment') {
    const dp = join(p, 'deployment');
    const d = mapping(r.deployment, dp, issues, ['namespace', 'name', 'minAvailable']);
    const namespace = d && str(required(d, 'namespace', dp, issues), join(dp, 'namespace'), issues);
    const name = d && str(required(d, 'name', dp, issues), join(dp, 'name'), issues);
    const minAvailable = d && (d.minAvailable === undefined ? 1 : int(d.minAvailable, join(dp, 'minAvailable'), issues, 0, 100000));
    if (namespace && name && minAvailable !== undefined && minAvailable !== null) check = { type: 'deployment', namespace, name, minAvailable };
  } else {
    const ep = join(p, 'endpointSlice');
    const d = mapping(r.endpointSlice, ep, issues, ['namespace', 'service', 'minReady']);
    const namespace = d && str(required(d, 'namespace', ep, issues), join(ep, 'namespace'), issues);
    const service = d && str(required(d, 'service', ep, issues), join(ep, 'service'), issues);
    const minReady = d && (d.minReady === undefined ? 1 : int(d.minReady, join(ep, 'minReady'), issues, 0, 100000));
    if (namespace && service && minReady !== undefined && minReady !== null) check = { type: 'endpointslice', namespace, service, minReady };
  }
  const name = r.name === undefined ? `kubernetes ${checks[0]}` : str(r.name, join(p, 'name'), issues);
  if (!check || !name) return undefined;
  return { kind: 'kubernetes', name, check, timeout };
}

function readHealth(v: unknown, issues: Issues): HealthConfig | undefined {
  const r = mapping(v, 'health', issues, ['interval', 'timeout', 'fall', 'rise', 'jitter', 'confirmInterval']);
  if (!r) return undefined;
  const interval = r.interval === undefined ? 1000 : duration(r.interval, 'health.interval', issues, 100, 3_600_000);
  const timeout = r.timeout === undefined ? 500 : duration(r.timeout, 'health.timeout', issues, 10, 60_000);
  const fall = r.fall === undefined ? 3 : int(r.fall, 'health.fall', issues, 1, 100);
  const rise = r.rise === undefined ? 2 : int(r.rise, 'health.rise', issues, 1, 100);
  const jitter = r.jitter === undefined ? (interval === undefined ? 0 : Math.floor(interval / 10)) : duration(r.jitter, 'health.jitter', issues, 0, 3_600_000);
  const confirmInterval = r.confirmInterval === undefined ? (interval === undefined ? 0 : Math.min(200, Math.floor(interval / 4))) : duration(r.confirmInterval, 'health.confirmInterval', issues, 10, 3_600_000);
  if (interval === undefined || timeout === undefined || fall === undefined || rise === undefined || jitter === undefined || confirmInterval === undefined) return undefined;
  if (timeout > interval) issues.push({ path: 'health.timeout', message: `${timeout}ms is longer than health.interval (${interval}ms)` });
  if (jitter >= interval) issues.push({ path: 'health.jitter', message: `must be shorter than health.interval (${interval}ms)` });
  if (r.confirmInterval !== undefined && confirmInterval > interval) issues.push({ path: 'health.confirmInterval', message: `must not be longer than health.interval (${interval}ms)` });
  return { interval, timeout, fall, rise, jitter, confirmInterval };
}

function readFailover(v: unknown, clusters: ClusterConfig[] | undefined, issues: Issues): FailoverConfig | undefined {
  const r = mapping(v, 'failover', issues, ['automatic', 'cooldown', 'prechecks', 'steps', 'instances', 'quorum']);
  if (!r) return undefined;
  const instances = r.instances === undefined ? 1 : int(r.instances, 'failover.instances', issues, 1, 9);
  let quorum = instances === undefined ? undefined : r.quorum === undefined ? Math.floor(instances / 2) + 1 : int(r.quorum, 'failover.quorum', issues, 1, instances);
  if (instances !== undefined && instances > 1 && quorum === 1) {
    issues.push({ path: 'failover.quorum', message: `1 of ${instances} instances: a single instance could fail over on its own view; use at least 2 (default: a majority, ${Math.floor(instances / 2) + 1})` });
    quorum = undefined;
  }
  const automatic = r.automatic === undefined ? true : bool(r.automatic, 'failover.automatic', issues);
  const precheckItems = r.prechecks === undefined ? [] : list(r.prechecks, 'failover.prechecks', issues) ?? [];
  const prechecks = [...new Set(precheckItems.map((x, i) => oneOf(x, join('failover.prechecks', i), issues, ['parity'] as const)).filter((x): x is 'parity' => x !== undefined))];
  const cooldown = r.cooldown === undefined ? 300_000 : duration(r.cooldown, 'failover.cooldown', issues, 0, DAY);
  const items = r.steps === undefined ? ['switch-traffic'] : list(r.steps, 'failover.steps', issues, 1) ?? [];
  const steps = items.map((s, i) => readStep(s, join('failover.steps', i), issues)).filter((s): s is StepConfig => s !== undefined);
  if (steps.length === items.length) {
    const switches = steps.filter((s) => s.type === 'switch-traffic').length;
    if (switches !== 1) issues.push({ path: 'failover.steps', message: `must contain switch-traffic exactly once (found ${switches})` });
    const seen = new Set<string>();
    steps.forEach((s, i) => {
      if (seen.has(s.name)) issues.push({ path: join(join('failover.steps', i), 'name'), message: `step name ${s.name} is used twice; set a distinct name` });
      seen.add(s.name);
      if ((s.type === 'cnpg-demote' || s.type === 'cnpg-promote') && clusters) {
        for (const k of Object.keys(s.clusters)) {
          if (!clusters.some((c) => c.name === k)) issues.push({ path: join(join(join(join('failover.steps', i), s.type), 'clusters'), k), message: `no cluster named ${k} (clusters: ${clusters.map((c) => c.name).join(', ')})` });
        }
      }
      for (const c of clusters ?? []) {
        if ((s.type === 'postgres-promote' || s.type === 'postgres-fence') && !c.database) {
          issues.push({ path: `clusters[${clusters!.indexOf(c)}].database`, message: `is required: step ${s.name} (${s.type}) acts on every cluster's database` });
        }
        if ((s.type === 'kubernetes-scale' || s.type === 'cnpg-demote' || s.type === 'cnpg-promote') && !c.kubernetes) {
          issues.push({ path: `clusters[${clusters!.indexOf(c)}].kubernetes`, message: `is required: step ${s.name} (${s.type}) acts on every cluster` });
        }
        if ((s.type === 'cnpg-demote' || s.type === 'cnpg-promote') && s.clusters[c.name] === undefined) {
          issues.push({ path: join(join(join('failover.steps', i), s.type), 'clusters'), message: `names no CloudNativePG Cluster for cluster ${c.name}` });
        }
      }
    });
  }
  if (automatic === undefined || cooldown === undefined || steps.length !== items.length || instances === undefined || quorum === undefined) return undefined;
  return { automatic, cooldown, prechecks, steps, instances, quorum };
}

function readStep(v: unknown, path: string, issues: Issues): StepConfig | undefined {
  let type: string;
  let body: unknown;
  if (typeof v === 'string') { type = v; body = {}; }
  else {
    const rec = mapping(v, path, issues, STEP_TYPES);
    if (!rec) return undefined;
    const keys = Object.keys(rec);
    if (keys.length !== 1) {
      issues.push({ path, message: `expected exactly one step type (${STEP_TYPES.join(', ')}), got ${keys.length}` });
      return undefined;
    }
    type = keys[0];
    body = rec[type] ?? {};
  }
  if (!(STEP_TYPES as readonly string[]).includes(type)) {
    issues.push({ path, message: `unknown step '${type}' (known: ${STEP_TYPES.join(', ')})` });
    return undefined;
  }
  const p = typeof v === 'string' ? path : join(path, type);
  const own: Record<string, readonly string[]> = {
    'switch-traffic': [],
    'kubernetes-scale': ['namespace', 'deployments', 'hpas', 'replicas', 'wait'],
    'postgres-fence': ['mode', 'terminateSessions'],
    'postgres-promote': ['maxLagBytes', 'maxLagSeconds', 'maxRecordAge'],
    'cnpg-demote': ['namespace', 'clusters'],
    'cnpg-promote': ['namespace', 'clusters'],
    exec: ['command', 'env'],
    webhook: ['url', 'secret', 'format', 'routingKey', 'headers'],
  };
  const r = mapping(body, p, issues, [...STEP_COMMON, ...own[type]]);
  if (!r) return undefined;
  const notify = type === 'webhook' || type === 'exec';
  const name = r.name === undefined ? type : str(r.name, join(p, 'name'), issues, { pattern: /^[a-z0-9][a-z0-9-]*$/, what: 'a lower-case name (a-z, 0-9, -)' });
  const timeout = r.timeout === undefined ? (type === 'kubernetes-scale' || type === 'cnpg-promote' ? 120_000 : type === 'cnpg-demote' ? 60_000 : 30_000) : duration(r.timeout, join(p, 'timeout'), issues, 10, DAY);
  const retries = r.retries === undefined ? (type === 'switch-traffic' ? 0 : 2) : int(r.retries, join(p, 'retries'), issues, 0, 100);
  const backoff = r.backoff === undefined ? 1000 : duration(r.backoff, join(p, 'backoff'), issues, 0, 3_600_000);
  const onFailure = r.onFailure === undefined ? (notify || type === 'postgres-fence' || type === 'cnpg-demote' ? 'continue' : 'hold') : oneOf(r.onFailure, join(p, 'onFailure'), issues, ['hold', 'continue'] as const);
  if (!name || timeout === undefined || retries === undefined || backoff === undefined || !onFailure) return undefined;
  const common = { name, timeout, retries, backoff, onFailure };
  switch (type) {
    case 'switch-traffic':
      return { ...common, type };
    case 'kubernetes-scale': {
      const namespace = str(required(r, 'namespace', p, issues), join(p, 'namespace'), issues);
      const names = (key: string) => r[key] === undefined ? [] : (list(r[key], join(p, key), issues) ?? []).map((d, i) => str(d, join(join(p, key), i), issues)).filter((d): d is string => d !== undefined);
      const deployments = names('deployments');
      const hpas = names('hpas');
      if (deployments.length + hpas.length === 0) issues.push({ path: p, message: 'needs at least one entry in deployments or hpas' });
      const replicas = int(required(r, 'replicas', p, issues), join(p, 'replicas'), issues, 0, 100000);
      const wait = r.wait === undefined ? false : bool(r.wait, join(p, 'wait'), issues);
      if (!namespace || replicas === undefined || wait === undefined) return undefined;
      return { ...common, type, namespace, deployments, hpas, replicas, wait };
    }
    case 'postgres-fence': {
      const mode = r.mode === undefined ? 'nologin' : oneOf(r.mode, join(p, 'mode'), issues, ['nologin', 'read-only'] as const);
      const terminateSessions = r.terminateSessions === undefined ? true : bool(r.terminateSessions, join(p, 'terminateSessions'), issues);
      return terminateSessions === undefined || mode === undefined ? undefined : { ...common, type, mode, terminateSessions };
    }
    case 'postgres-promote': {
      // Patroni's maximum_lag_on_failover default: 1 MiB. `unbounded` is the explicit opt-out.
      const maxLagBytes = r.maxLagBytes === undefined ? DEFAULT_MAX_LAG_BYTES : r.maxLagBytes === 'unbounded' ? undefined
        : typeof r.maxLagBytes === 'string' ? (issues.push({ path: join(p, 'maxLagBytes'), message: `expected an integer number of bytes or 'unbounded', got ${JSON.stringify(r.maxLagBytes)}` }), null)
          : int(r.maxLagBytes, join(p, 'maxLagBytes'), issues, 0, Number.MAX_SAFE_INTEGER) ?? null;
      const maxLagSeconds = r.maxLagSeconds === undefined ? undefined : int(r.maxLagSeconds, join(p, 'maxLagSeconds'), issues, 0, 86400);
      const maxRecordAge = r.maxRecordAge === undefined ? 30_000 : duration(r.maxRecordAge, join(p, 'maxRecordAge'), issues, 100, DAY);
      if (maxLagBytes === null || maxRecordAge === undefined) return undefined;
      return { ...common, type, maxLagBytes, maxLagSeconds, maxRecordAge };
    }
    case 'cnpg-demote':
    case 'cnpg-promote': {
      const namespace = kubeName(r, 'namespace', p, issues, 'a Kubernetes namespace name');
      const cp = join(p, 'clusters');
      const map = stringMap(required(r, 'clusters', p, issues) ?? {}, cp, issues);
      const names = map && Object.entries(map).map(([k, n]) => [k, str(n, join(cp, k), issues, { pattern: K8S_NAME, what: 'a CloudNativePG Cluster name' })] as const);
      if (!namespace || !names || names.some(([, n]) => n === undefined)) return undefined;
      if (new Set(names.map(([, n]) => n)).size !== names.length) issues.push({ path: cp, message: 'each cluster needs its own CloudNativePG Cluster (the names of a replica-cluster pair differ)' });
      return { ...common, type, namespace, clusters: Object.fromEntries(names) as Record<string, string> };
    }
    case 'exec': {
      const opts = readExecOptions(r, p, issues);
      return opts && { ...common, type, ...opts };
    }
    default: {
      const opts = readWebhookOptions(r, p, issues);
      return opts && { ...common, type: 'webhook', ...opts };
    }
  }
}

type ExecOptions = Pick<Extract<StepConfig, { type: 'exec' }>, 'command' | 'env'>;
type WebhookOptions = Pick<Extract<StepConfig, { type: 'webhook' }>, 'url' | 'secret' | 'format' | 'routingKey' | 'headers'>;

/** The options of an exec step or notify entry (already checked against the known keys). */
function readExecOptions(r: Record<string, unknown>, p: string, issues: Issues): ExecOptions | undefined {
  const argv = (list(required(r, 'command', p, issues), join(p, 'command'), issues, 1) ?? []).map((a, i) => str(a, join(join(p, 'command'), i), issues));
  const env = r.env === undefined ? {} : stringMap(r.env, join(p, 'env'), issues);
  if (argv.length === 0 || argv.some((a) => a === undefined) || !env) return undefined;
  return { command: argv as string[], env };
}

/** The options of a webhook step or notify entry (already checked against the known keys). */
function readWebhookOptions(r: Record<string, unknown>, p: string, issues: Issues): WebhookOptions | undefined {
  const url = httpUrl(required(r, 'url', p, issues), join(p, 'url'), issues);
  const secret = r.secret === undefined ? undefined : str(r.secret, join(p, 'secret'), issues);
  const format = r.format === undefined ? 'json' : oneOf(r.format, join(p, 'format'), issues, ['json', 'slack', 'pagerduty'] as const);
  const routingKey = r.routingKey === undefined ? undefined : str(r.routingKey, join(p, 'routingKey'), issues);
  if (format === 'pagerduty' && routingKey === undefined) issues.push({ path: join(p, 'routingKey'), message: 'is required with format: pagerduty' });
  const headers = r.headers === undefined ? {} : stringMap(r.headers, join(p, 'headers'), issues);
  if (!url || !format || !headers) return undefined;
  return { url, secret, format, routingKey, headers };
}

/** `notify:` (people are told, never blocking): a list of `- webhook: {...}` or `- exec: {...}`. */
function readNotify(v: unknown, issues: Issues): NotifyConfig[] | undefined {
  const items = list(v, 'notify', issues) ?? [];
  const out: NotifyConfig[] = [];
  items.forEach((item, i) => {
    const path = join('notify', i);
    const rec = mapping(item, path, issues, NOTIFY_TYPES);
    if (!rec) return;
    const keys = Object.keys(rec);
    if (keys.length !== 1) {
      issues.push({ path, message: `expected exactly one of ${NOTIFY_TYPES.join(', ')}, got ${keys.length}` });
      return;
    }
    const type = keys[0];
    if (!(NOTIFY_TYPES as readonly string[]).includes(type)) return;
    const p = join(path, type);
    const r = type === 'exec' ? mapping(rec[type] ?? {}, p, issues, [...NOTIFY_COMMON, ...NOTIFY_EXEC]) : mapping(rec[type] ?? {}, p, issues, [...NOTIFY_COMMON, ...NOTIFY_WEBHOOK]);
    if (!r) return;
    const name = r.name === undefined ? `${type}-${i}` : str(r.name, join(p, 'name'), issues, { pattern: /^[a-z0-9][a-z0-9-]*$/, what: 'a lower-case name (a-z, 0-9, -)' });
    if (name && out.some((n) => n.name === name)) issues.push({ path: join(p, 'name'), message: `notify name ${name} is used twice; set a distinct name` });
    const timeout = r.timeout === undefined ? 10_000 : duration(r.timeout, join(p, 'timeout'), issues, 10, 3_600_000);
    const retries = r.retries === undefined ? 5 : int(r.retries, join(p, 'retries'), issues, 0, 100);
    const backoff = r.backoff === undefined ? 1000 : duration(r.backoff, join(p, 'backoff'), issues, 0, 3_600_000);
    if (!name || timeout === undefined || retries === undefined || backoff === undefined) return;
    const common = { name, timeout, retries, backoff };
    if (type === 'exec') {
      const opts = readExecOptions(r, p, issues);
      if (opts) out.push({ ...common, type: 'exec', ...opts });
    } else {
      const opts = readWebhookOptions(r, p, issues);
      if (opts) out.push({ ...common, type: 'webhook', ...opts });
    }
  });
  return out.length === items.length ? out : undefined;
}

function readDns(v: unknown, issues: Issues): DnsConfig | undefined {
  const r = mapping(v, 'dns', issues, ['listen', 'maxUdpSize', 'rateLimit', 'tcp', 'workers']);
  if (!r) return undefined;
  const items = r.listen === undefined ? ['127.0.0.1:5353'] : list(r.listen, 'dns.listen', issues, 1) ?? [];
  const listen = items.map((a, i) => listenAddress(a, join('dns.listen', i), issues)).filter((a): a is ListenAddress => a !== undefined);
  const maxUdpSize = r.maxUdpSize === undefined ? 1232 : int(r.maxUdpSize, 'dns.maxUdpSize', issues, 512, 4096);
  const rl = mapping(r.rateLimit ?? {}, 'dns.rateLimit', issues, ['responsesPerSecond', 'slip', 'window', 'ipv4PrefixLength', 'ipv6PrefixLength']);
  const tcpRec = mapping(r.tcp ?? {}, 'dns.tcp', issues, ['idleTimeout', 'maxConnections', 'maxConnectionsPerSource', 'messageTimeout']);
  if (!rl || !tcpRec) return undefined;
  const responsesPerSecond = rl.responsesPerSecond === undefined ? 200 : int(rl.responsesPerSecond, 'dns.rateLimit.responsesPerSecond', issues, 0, 10_000_000);
  const slip = rl.slip === undefined ? 2 : int(rl.slip, 'dns.rateLimit.slip', issues, 0, 10);
  const window = rl.window === undefined ? 15_000 : duration(rl.window, 'dns.rateLimit.window', issues, 1000, 3_600_000);
  const ipv4PrefixLength = rl.ipv4PrefixLength === undefined ? 24 : int(rl.ipv4PrefixLength, 'dns.rateLimit.ipv4PrefixLength', issues, 8, 32);
  const ipv6PrefixLength = rl.ipv6PrefixLength === undefined ? 56 : int(rl.ipv6PrefixLength, 'dns.rateLimit.ipv6PrefixLength', issues, 16, 128);
  const idleTimeout = tcpRec.idleTimeout === undefined ? 10_000 : duration(tcpRec.idleTimeout, 'dns.tcp.idleTimeout', issues, 100, 3_600_000);
  const maxConnections = tcpRec.maxConnections === undefined ? 1000 : int(tcpRec.maxConnections, 'dns.tcp.maxConnections', issues, 1, 1_000_000);
  const maxConnectionsPerSource = tcpRec.maxConnectionsPerSource === undefined ? Math.min(32, maxConnections ?? 32) : int(tcpRec.maxConnectionsPerSource, 'dns.tcp.maxConnectionsPerSource', issues, 1, 1_000_000);
  const messageTimeout = tcpRec.messageTimeout === undefined ? 2000 : duration(tcpRec.messageTimeout, 'dns.tcp.messageTimeout', issues, 10, 600_000);
  const workers = r.workers === undefined ? 1 : int(r.workers, 'dns.workers', issues, 1, 64);
  if (listen.length !== items.length || maxUdpSize === undefined || workers === undefined || responsesPerSecond === undefined || slip === undefined || window === undefined
    || ipv4PrefixLength === undefined || ipv6PrefixLength === undefined || idleTimeout === undefined || maxConnections === undefined
    || maxConnectionsPerSource === undefined || messageTimeout === undefined) return undefined;
  return { listen, maxUdpSize, rateLimit: { responsesPerSecond, slip, window, ipv4PrefixLength, ipv6PrefixLength }, tcp: { idleTimeout, maxConnections, maxConnectionsPerSource, messageTimeout }, workers };
}

function readProxy(v: unknown, clusters: ClusterConfig[] | undefined, hostnames: string[] | undefined, issues: Issues): ProxyConfig | undefined {
  const r = mapping(v, 'proxy', issues, ['listen', 'timeouts', 'maxHeaderSize', 'maxUrlLength', 'maxConnections', 'maxConnectionsPerSource', 'upstreamConnections', 'trustForwarded', 'workers']);
  if (!r) return undefined;
  const listen = listenAddress(required(r, 'listen', 'proxy', issues), 'proxy.listen', issues);
  const workers = r.workers === undefined ? 1 : int(r.workers, 'proxy.workers', issues, 1, 64);
  const t = mapping(r.timeouts ?? {}, 'proxy.timeouts', issues, ['connect', 'headers', 'idle', 'clientHeaders', 'clientIdle']);
  if (!t) return undefined;
  const connect = t.connect === undefined ? 2000 : duration(t.connect, 'proxy.timeouts.connect', issues, 10, 600_000);
  const headers = t.headers === undefined ? 30_000 : duration(t.headers, 'proxy.timeouts.headers', issues, 10, 3_600_000);
  const idle = t.idle === undefined ? 60_000 : duration(t.idle, 'proxy.timeouts.idle', issues, 10, 3_600_000);
  const clientHeaders = t.clientHeaders === undefined ? 10_000 : duration(t.clientHeaders, 'proxy.timeouts.clientHeaders', issues, 100, 600_000);
  const maxHeaderSize = r.maxHeaderSize === undefined ? 16_384 : int(r.maxHeaderSize, 'proxy.maxHeaderSize', issues, 1024, 1_048_576);
  const maxUrlLength = r.maxUrlLength === undefined ? 8192 : int(r.maxUrlLength, 'proxy.maxUrlLength', issues, 64, 1_048_576);
  const clientIdle = t.clientIdle === undefined ? 5000 : duration(t.clientIdle, 'proxy.timeouts.clientIdle', issues, 100, 600_000);
  const maxConnections = r.maxConnections === undefined ? 10_000 : int(r.maxConnections, 'proxy.maxConnections', issues, 1, 1_000_000);
  const maxConnectionsPerSource = r.maxConnectionsPerSource === undefined ? Math.min(256, maxConnections ?? 256) : int(r.maxConnectionsPerSource, 'proxy.maxConnectionsPerSource', issues, 1, 1_000_000);
  const upstreamConnections = r.upstreamConnections === undefined ? 256 : int(r.upstreamConnections, 'proxy.upstreamConnections', issues, 1, 100_000);
  const trustForwarded = r.trustForwarded === undefined ? false : bool(r.trustForwarded, 'proxy.trustForwarded', issues);
  // Each worker thread gets its share of the connection limits: at least one of each.
  if (workers !== undefined && maxConnections !== undefined && workers > maxConnections) issues.push({ path: 'proxy.workers', message: `must be at most proxy.maxConnections (${maxConnections}): every worker thread gets a share of the client connections` });
  if (workers !== undefined && upstreamConnections !== undefined && workers > upstreamConnections) issues.push({ path: 'proxy.workers', message: `must be at most proxy.upstreamConnections (${upstreamConnections}): every worker thread has its own upstream pools with a share of the connections` });
  (clusters ?? []).forEach((c, i) => {
    if (!c.upstream) issues.push({ path: `clusters[${i}].upstream`, message: 'is required when proxy is configured' });
  });
  if (!listen || connect === undefined || headers === undefined || idle === undefined || clientHeaders === undefined || maxHeaderSize === undefined || maxUrlLength === undefined
    || clientIdle === undefined || maxConnections === undefined || maxConnectionsPerSource === undefined || upstreamConnections === undefined || trustForwarded === undefined
    || workers === undefined) return undefined;
  return {
    listen, timeouts: { connect, headers, idle, clientHeaders, clientIdle }, maxConnections, maxConnectionsPerSource, upstreamConnections, trustForwarded, workers,
    maxHeaderSize, maxUrlLength, hostnames: hostnames ?? [],
  };
}

const isLoopback = (host: string): boolean => host === '::1' || host.startsWith('127.');

function readAdmin(v: unknown, token: string | undefined, issues: Issues): AdminConfig | undefined {
  const r = mapping(v, 'admin', issues, ['listen', 'shutdownDelay', 'allowedHosts', 'openReads']);
  if (!r) return undefined;
  const listen = r.listen === undefined ? { host: '127.0.0.1', port: 9090, family: 4 as const } : listenAddress(r.listen, 'admin.listen', issues);
  const shutdownDelay = r.shutdownDelay === undefined ? 0 : duration(r.shutdownDelay, 'admin.shutdownDelay', issues, 0, 600_000);
  const hostItems = r.allowedHosts === undefined ? [] : list(r.allowedHosts, 'admin.allowedHosts', issues) ?? [];
  const allowedHosts = hostItems.map((h, i) => dnsName(h, join('admin.allowedHosts', i), issues)).filter((h): h is string => h !== undefined);
  if (token !== undefined && token.trim() === '') {
    issues.push({ path: 'SWITCHYARD_ADMIN_TOKEN', message: 'is set but empty: an empty token is not "no authentication"; unset it or set a real token (SWY_ADMIN_TOKEN_EMPTY)' });
    return undefined;
  }
  if (token !== undefined && /\s/.test(token)) {
    issues.push({ path: 'SWITCHYARD_ADMIN_TOKEN', message: 'contains whitespace, which a bearer token cannot carry (SWY_ADMIN_TOKEN_EMPTY)' });
    return undefined;
  }
  if (!listen || shutdownDelay === undefined || allowedHosts.length !== hostItems.length) return undefined;
  const loopback = isLoopback(listen.host);
  const openReads = r.openReads === undefined ? loopback || token === undefined : bool(r.openReads, 'admin.openReads', issues);
  if (openReads === undefined) return undefined;
  if (!loopback && token === undefined) {
    issues.push({ path: 'admin.listen', message: `${listen.host} is not a loopback address: set SWITCHYARD_ADMIN_TOKEN (SWY_ADMIN_TOKEN_REQUIRED)` });
    return undefined;
  }
  if (!openReads && token === undefined) {
    issues.push({ path: 'admin.openReads', message: 'false needs SWITCHYARD_ADMIN_TOKEN: without a token there is nothing to ask readers for' });
    return undefined;
  }
  return { listen, token, shutdownDelay, allowedHosts, openReads };
}

function readState(v: unknown, zone: string | undefined, issues: Issues, abs: (p: string) => string): StateConfig | undefined {
  const r = mapping(v, 'state', issues, ['file', 'etcd', 'kubernetes']);
  if (!r) return undefined;
  if (r.kubernetes !== undefined) {
    issues.push({ path: 'state.kubernetes', message: 'is not supported yet (a Kubernetes Lease store in a third, management cluster is a later adapter); use state.file for one instance or state.etcd for several' });
    return undefined;
  }
  if (r.etcd !== undefined) {
    if (r.file !== undefined) {
      issues.push({ path: 'state', message: 'set either file or etcd, not both' });
      return undefined;
    }
    return readEtcd(r.etcd, zone, issues, abs);
  }
  const file = r.file === undefined ? './switchyard-state.json' : str(r.file, 'state.file', issues);
  return file ? { kind: 'file', file: abs(file) } : undefined;
}

function readEtcd(v: unknown, zone: string | undefined, issues: Issues, abs: (p: string) => string): StateConfig | undefined {
  const r = mapping(v, 'state.etcd', issues, ['endpoints', 'prefix', 'leaseTtl', 'tls', 'username', 'password']);
  if (!r) return undefined;
  const items = list(required(r, 'endpoints', 'state.etcd', issues), 'state.etcd.endpoints', issues, 1) ?? [];
  const endpoints = items.map((e, i) => httpUrl(e, join('state.etcd.endpoints', i), issues));
  endpoints.forEach((e, i) => {
    if (e !== undefined && new URL(e).pathname !== '/') issues.push({ path: join('state.etcd.endpoints', i), message: `expected scheme://host:port without a path, got ${JSON.stringify(e)}` });
  });
  const prefix = r.prefix === undefined ? (zone ? `/switchyard/${zone}` : undefined) : str(r.prefix, 'state.etcd.prefix', issues, { pattern: /^\/[^\s]*[^/\s]$/, what: 'a key prefix starting with / and not ending with /' });
  const ttlMs = r.leaseTtl === undefined ? 10_000 : duration(r.leaseTtl, 'state.etcd.leaseTtl', issues, 2000, 120_000);
  if (ttlMs !== undefined && ttlMs % 1000 !== 0) issues.push({ path: 'state.etcd.leaseTtl', message: `etcd leases are whole seconds, got ${ttlMs}ms` });
  let tls: { ca: string | undefined; cert: string | undefined; key: string | undefined } | undefined;
  if (r.tls !== undefined) {
    const t = mapping(r.tls, 'state.etcd.tls', issues, ['ca', 'cert', 'key']);
    if (t) {
      const path = (k: 'ca' | 'cert' | 'key') => (t[k] === undefined ? undefined : str(t[k], `state.etcd.tls.${k}`, issues));
      const ca = path('ca');
      const cert = path('cert');
      const key = path('key');
      if ((cert === undefined) !== (key === undefined)) issues.push({ path: cert === undefined ? 'state.etcd.tls.cert' : 'state.etcd.tls.key', message: 'a client certificate needs both cert and key' });
      tls = { ca: ca && abs(ca), cert: cert && abs(cert), key: key && abs(key) };
      endpoints.forEach((e, i) => {
        if (e !== undefined && e.startsWith('http:')) issues.push({ path: join('state.etcd.endpoints', i), message: 'state.etcd.tls is set: use an https:// endpoint' });
      });
    }
  }
  const username = r.username === undefined ? undefined : str(r.username, 'state.etcd.username', issues);
  const password = r.password === undefined ? undefined : str(r.password, 'state.etcd.password', issues);
  if (password !== undefined && r.username === undefined) issues.push({ path: 'state.etcd.password', message: 'is set without state.etcd.username' });
  if (prefix === undefined || ttlMs === undefined || endpoints.some((e) => e === undefined) || items.length === 0) return undefined;
  return { kind: 'etcd', endpoints: endpoints as string[], prefix, leaseTtl: Math.round(ttlMs / 1000), tls, username, password };
}

const INSTANCE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function readInstance(v: unknown, host: string, issues: Issues): InstanceConfig | undefined {
  const r = mapping(v, 'instance', issues, ['name']);
  if (!r) return undefined;
  if (r.name !== undefined) {
    const name = str(r.name, 'instance.name', issues, { pattern: INSTANCE_NAME, what: 'a lower-case DNS label (a-z, 0-9, -, 1..63 characters)' });
    return name ? { name } : undefined;
  }
  // The host name, made a label: the first label, lower-case, other characters as '-'.
  const name = host.split('.')[0].toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'switchyard';
  return { name };
}
