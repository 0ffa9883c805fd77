// The address book: the current addresses of every cluster whose `addresses` come from a
// Kubernetes Service or Ingress (`status.loadBalancer.ingress`), watched in that cluster's own
// context. It is the AddressSource the DNS answer table is built from: a change calls the
// subscribers, and DNS rebuilds its table exactly as on a routing change.
//
// Static stability: a list is replaced only by a good list (IPs only, at least one). An object
// that reports a hostname, no address, or is deleted, and an API server that cannot be reached,
// leave the last good list in force; the cluster is then marked stale (metric, log, status).
//
// client-node's informer stops for good after any error but 410 Gone (LIBRARY-NOTES), so an
// error stops it and a new one is made after a back-off (0.5 s doubling to 30 s); a new
// informer lists again, so a restart also picks up a change made while the watch was down.
import { isIP } from 'node:net';
import { Counter, Gauge, type Registry } from '../prom-client-parts.ts';
import type { AddressesFrom, ClusterConfig } from '../config/index.ts';
import { SwitchyardError, describeError } from '../errors.ts';
import type { KubernetesClients, KubernetesClientsFor } from '../kubernetes.ts';
import type { Logger } from '../log.ts';

export interface AddressBookStatus {
  cluster: string;
  source: string;                 // "service app/web"
  addresses: readonly string[];   // in force now (the last good list)
  stale: boolean;                 // the last good list may be out of date: the last read failed or was rejected
  error: string | undefined;      // why it is stale
}

export interface AddressBook {
  /** Addresses in force per cluster that takes them from Kubernetes (a cluster with none known yet has an empty list). */
  current(): ReadonlyMap<string, readonly string[]>;
  subscribe(fn: () => void): () => void;
  start(): void;
  stop(): Promise<void>;
  status(): AddressBookStatus[];
}

export interface AddressBookDeps {
  clientsFor: KubernetesClientsFor;
  logger: Logger;
  registry: Registry;
  /** Back-off between informer restarts; default 500 ms doubling up to 30 s. */
  restartDelayMs?: { min: number; max: number };
  /** Timeout of each list request; default 10 s. */
  listTimeoutMs?: number;
}

/** What a Service's or Ingress's status says: a good list, or why it cannot be used. */
export type AddressReading = { addresses: string[] } | { error: SwitchyardError };

interface LoadBalancerObject {
  metadata?: { name?: string; namespace?: string };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

export const describeSource = (from: AddressesFrom): string => `${from.kind} ${from.namespace}/${from.name}`;

/** Pure: the addresses in an object's status.loadBalancer.ingress, sorted, or the reason none can be served. */
export function readAddresses(obj: LoadBalancerObject | undefined, from: AddressesFrom, cluster: string): AddressReading {
  const source = `${describeSource(from)} in cluster ${cluster}`;
  if (obj === undefined) return { error: new SwitchyardError('SWY_ADDRESSES_NOT_FOUND', `${source} does not exist`, { cluster, source: describeSource(from) }) };
  const ingress = obj.status?.loadBalancer?.ingress ?? [];
  const hostnames = ingress.filter((i) => !i.ip && i.hostname).map((i) => i.hostname!);
  if (hostnames.length > 0) {
    return { error: new SwitchyardError('SWY_ADDRESSES_HOSTNAME', `${source} reports the hostname(s) ${hostnames.join(', ')} in status.loadBalancer.ingress; switchyard answers with IP addresses only (set static addresses, or give the load balancer a static IP)`, { cluster, source: describeSource(from), hostnames }) };
  }
  const bad = ingress.filter((i) => i.ip && isIP(i.ip) === 0).map((i) => i.ip!);
  if (bad.length > 0) {
    return { error: new SwitchyardError('SWY_ADDRESSES_HOSTNAME', `${source} reports ${bad.join(', ')} as ip in status.loadBalancer.ingress, which is not an IP address`, { cluster, source: describeSource(from), values: bad }) };
  }
  const addresses = [...new Set(ingress.map((i) => i.ip).filter((ip): ip is string => ip !== undefined && ip !== ''))].sort();
  if (addresses.length === 0) {
    return { error: new SwitchyardError('SWY_ADDRESSES_EMPTY', `${source} has no address in status.loadBalancer.ingress (load balancer not provisioned yet, or released)`, { cluster, source: describeSource(from) }) };
  }
  return { addresses };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

interface Entry {
  cluster: ClusterConfig;
  from: AddressesFrom;
  addresses: readonly string[];
  stale: boolean;
  error: string | undefined;
  stopInformer: (() => Promise<void>) | undefined;
  timer: NodeJS.Timeout | undefined;
  delay: number;
  generation: number;               // bumped on every (re)start, so callbacks of an old informer are ignored
}

export function createAddressBook(options: { clusters: readonly ClusterConfig[] }, deps: AddressBookDeps): AddressBook {
  const log = deps.logger.child({ module: 'addresses' });
  const minDelay = deps.restartDelayMs?.min ?? 500;
  const maxDelay = deps.restartDelayMs?.max ?? 30_000;
  const listTimeout = deps.listTimeoutMs ?? 10_000;
  const subscribers = new Set<() => void>();
  const entries: Entry[] = options.clusters.filter((c) => c.addressesFrom !== undefined).map((c) => ({
    cluster: c, from: c.addressesFrom!, addresses: [], stale: true, error: 'not read yet', stopInformer: undefined, timer: undefined, delay: minDelay, generation: 0,
  }));
  let snapshot: ReadonlyMap<string, readonly string[]> = new Map(entries.map((e) => [e.cluster.name, e.addresses]));
  let stopped = false;

  const staleGauge = new Gauge({ name: 'switchyard_addresses_stale', help: '1 while a cluster\'s addresses from Kubernetes may be out of date (the last read failed or was rejected; the last good list is served): alert on it', labelNames: ['cluster'], registers: [deps.registry] });
  const countGauge = new Gauge({ name: 'switchyard_addresses_count', help: 'Addresses in force for a cluster whose addresses come from Kubernetes', labelNames: ['cluster'], registers: [deps.registry] });
  const changes = new Counter({ name: 'switchyard_addresses_changes_total', help: 'Changes of a cluster\'s addresses from Kubernetes', labelNames: ['cluster'], registers: [deps.registry] });
  const errors = new Counter({ name: 'switchyard_addresses_errors_total', help: 'Failed or rejected reads of a cluster\'s addresses from Kubernetes, by error code', labelNames: ['cluster', 'code'], registers: [deps.registry] });
  const show = (e: Entry) => {
    staleGauge.labels(e.cluster.name).set(e.stale ? 1 : 0);
    countGauge.labels(e.cluster.name).set(e.addresses.length);
  };
  entries.forEach(show);

  function problem(e: Entry, err: SwitchyardError): void {
    errors.labels(e.cluster.name, err.code).inc();
    const message = describeError(err);
    if (!e.stale || e.error !== message) {
      log.error({ cluster: e.cluster.name, source: describeSource(e.from), code: err.code, addresses: e.addresses },
        `addresses of ${e.cluster.name} not updated, still ${e.addresses.join(', ') || 'none'}: ${message}`);
    }
    e.stale = true;
    e.error = message;
    show(e);
  }

  function apply(e: Entry, obj: LoadBalancerObject | undefined): void {
    const reading = readAddresses(obj, e.from, e.cluster.name);
    if ('error' in reading) { problem(e, reading.error); return; }
    const changed = !sameList(reading.addresses, e.addresses);
    if (e.stale) log.info({ cluster: e.cluster.name, source: describeSource(e.from), addresses: reading.addresses }, `addresses of ${e.cluster.name} read from ${describeSource(e.from)}: ${reading.addresses.join(', ')}`);
    e.stale = false;
    e.error = undefined;
    if (changed) {
      const before = e.addresses;
      e.addresses = reading.addresses;
      snapshot = new Map(entries.map((x) => [x.cluster.name, x.addresses]));
      changes.labels(e.cluster.name).inc();
      if (before.length > 0) log.warn({ cluster: e.cluster.name, from: before, to: e.addresses }, `addresses of ${e.cluster.name} changed ${before.join(', ')} → ${e.addresses.join(', ')} (${describeSource(e.from)})`);
      for (const fn of subscribers) {
        try { fn(); } catch (err) { log.error({ err }, `an address subscriber failed: ${describeError(err)}`); }
      }
    }
    show(e);
  }

  function path(from: AddressesFrom): string {
    const ns = encodeURIComponent(from.namespace);
    return from.kind === 'service' ? `/api/v1/namespaces/${ns}/services` : `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses`;
  }

  function run(e: Entry): void {
    if (stopped) return;
    const generation = ++e.generation;
    let clients: KubernetesClients;
    try {
      clients = deps.clientsFor(e.cluster);
    } catch (err) {
      problem(e, err instanceof SwitchyardError ? err : new SwitchyardError('SWY_KUBE_CONFIG', describeError(err)));
      return;
    }
    const what = `list ${e.from.kind === 'service' ? 'services' : 'ingresses'} in namespace ${e.from.namespace} of cluster ${e.cluster.name}`;
    const list = async () => {
      const signal = AbortSignal.timeout(listTimeout);
      const opts = clients.requestOptions(signal);
      try {
        const result = e.from.kind === 'service'
          ? await clients.core.listNamespacedService({ namespace: e.from.namespace }, opts)
          : await clients.networking.listNamespacedIngress({ namespace: e.from.namespace }, opts);
        if (generation === e.generation) {
          e.delay = minDelay;
          apply(e, result.items.find((o) => o.metadata?.name === e.from.name));
        }
        return result;
      } catch (err) {
        throw clients.error(err, what, signal);
      }
    };
    const informer = clients.informer<LoadBalancerObject & { metadata?: { name?: string } }>(path(e.from), list as never);
    const current = (fn: () => void) => () => { if (generation === e.generation && !stopped) fn(); };
    const onObject = (obj: LoadBalancerObject) => { if (obj.metadata?.name === e.from.name) current(() => apply(e, obj))(); };
    informer.on('add', onObject);
    informer.on('update', onObject);
    informer.on('delete', (obj) => { if (obj.metadata?.name === e.from.name) current(() => apply(e, undefined))(); });
    informer.on('error', (err) => current(() => {
      const swy = err instanceof SwitchyardError ? err : clients.error(err, `watch ${what}`);
      problem(e, swy);
      void informer.stop();
      const wait = e.delay;
      e.delay = Math.min(maxDelay, e.delay * 2);
      log.warn({ cluster: e.cluster.name, retryInMs: wait }, `watching ${describeSource(e.from)} in ${e.cluster.name} failed; restarting in ${wait} ms`);
      clearTimeout(e.timer);
      e.timer = setTimeout(() => { e.timer = undefined; run(e); }, wait);
    })());
    e.stopInformer = () => informer.stop();
    informer.start().catch((err: unknown) => current(() => problem(e, clients.error(err, what)))());
  }

  return {
    current: () => snapshot,
    subscribe(fn) {
      subscribers.add(fn);
      return () => { subscribers.delete(fn); };
    },
    start() {
      for (const e of entries) run(e);
    },
    async stop() {
      stopped = true;
      for (const e of entries) {
        clearTimeout(e.timer);
        e.generation++;
        await e.stopInformer?.().catch(() => {});
      }
    },
    status: () => entries.map((e) => ({ cluster: e.cluster.name, source: describeSource(e.from), addresses: e.addresses, stale: e.stale, error: e.error })),
  };
}
