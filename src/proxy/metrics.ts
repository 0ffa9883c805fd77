// The proxy's Prometheus metrics. The hot path only increments slots of a Float64Array (its
// "counters", with the slot of every label combination resolved once); the prom-client metrics
// read them when scraped. With proxy.workers > 1 every worker thread writes its own slots in
// shared memory (one writer per array) and the main thread's metrics add up all of them, as the
// DNS metrics do.
import type { Metric } from 'prom-client';
import { Counter, Gauge, type Registry } from '../prom-client-parts.ts';
import { PROXY_ERROR_CODES, type ProxyErrorCode } from './replies.ts';

export const NO_CLUSTER = 'none';

export interface ClusterMetrics {
  /** Index by Math.floor(status / 100): 1..5. */
  requests: Array<{ inc(): void }>;
  duration: { observe(seconds: number): void };
  websockets: { inc(): void; dec(): void };
}

export type RefuseReason = 'limit' | 'per_source';

export interface ProxyMetrics {
  cluster(name: string): ClusterMetrics;
  request(cluster: string, status: number): void;
  retry(from: string, to: string): void;
  upstreamError(cluster: string, code: ProxyErrorCode): void;
  /** Client connections: delta +1 admitted, -1 closed. */
  connections(delta: number): void;
  refused(reason: RefuseReason): void;
  evicted(): void;
}

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];
const CODES: readonly ProxyErrorCode[] = PROXY_ERROR_CODES;
const REFUSE_REASONS: readonly RefuseReason[] = ['limit', 'per_source'];

/** Where each metric's slots start in one counters array, for `clusters` configured clusters. */
function layout(clusters: number) {
  const names = clusters + 1;                                  // plus "none"
  const requests = 0;                                          // [name][class]
  const duration = requests + names * CLASSES.length;          // [name][bucket..., +Inf, sum]
  const perDuration = BUCKETS.length + 2;
  const retries = duration + names * perDuration;              // [from][to]
  const errors = retries + clusters * clusters;                // [name][code]
  const websockets = errors + names * CODES.length;            // [name]
  const open = websockets + names;
  const refused = open + 1;                                    // [reason]
  const evicted = refused + REFUSE_REASONS.length;
  return { names, requests, duration, perDuration, retries, errors, websockets, open, refused, evicted, slots: evicted + 1 };
}

/** Length of one counters array (Float64Array slots) for `clusters` configured clusters. */
export const proxyCounterSlots = (clusters: number): number => layout(clusters).slots;

/** The hot-path side: writes `slots` (proxyCounterSlots(clusters.length) long; this thread must be its only writer). */
export function createProxyCounters(slots: Float64Array, clusters: readonly string[]): ProxyMetrics {
  const L = layout(clusters.length);
  if (slots.length !== L.slots) throw new RangeError(`proxy counters need ${L.slots} slots, got ${slots.length}`);
  const index = new Map<string, number>([...clusters, NO_CLUSTER].map((n, i) => [n, i]));
  const codeIndex = new Map<string, number>(CODES.map((c, i) => [c, i]));
  const nameOf = (name: string) => index.get(name) ?? clusters.length;
  const byCluster = [...clusters, NO_CLUSTER].map((_, c): ClusterMetrics => {
    const perClass = [0, 0, 1, 2, 3, 4].map((k) => {
      const slot = L.requests + c * CLASSES.length + k;
      return { inc: () => { slots[slot]++; } };
    });
    const base = L.duration + c * L.perDuration;
    const ws = L.websockets + c;
    return {
      requests: perClass,
      duration: {
        observe(seconds) {
          let b = 0;
          while (b < BUCKETS.length && seconds > BUCKETS[b]) b++;
          slots[base + b]++;
          slots[base + BUCKETS.length + 1] += seconds;
        },
      },
      websockets: { inc: () => { slots[ws]++; }, dec: () => { slots[ws]--; } },
    };
  });
  return {
    cluster: (name) => byCluster[nameOf(name)],
    request(cluster, status) {
      byCluster[nameOf(cluster)].requests[Math.min(5, Math.max(1, Math.floor(status / 100)))].inc();
    },
    retry(from, to) {
      const f = index.get(from);
      const t = index.get(to);
      if (f !== undefined && t !== undefined && f < clusters.length && t < clusters.length) slots[L.retries + f * clusters.length + t]++;
    },
    upstreamError(cluster, code) {
      slots[L.errors + nameOf(cluster) * CODES.length + (codeIndex.get(code) ?? codeIndex.get('SWY_PROXY_UPSTREAM_ERROR')!)]++;
    },
    connections: (delta) => { slots[L.open] += delta; },
    refused: (reason) => { slots[L.refused + REFUSE_REASONS.indexOf(reason)]++; },
    evicted: () => { slots[L.evicted]++; },
  };
}

/** Zeroes the levels (open connections, tunnels) of a thread that is gone. */
export function resetProxyLevels(slots: Float64Array, clusters: number): void {
  const L = layout(clusters);
  slots[L.open] = 0;
  for (let c = 0; c < L.names; c++) slots[L.websockets + c] = 0;
}

/**
 * The scrape side: registers the proxy metrics on `registry`, reading every array `sources()`
 * returns (one per forwarding thread). Counters add what grew since the last scrape; gauges show
 * the sum; `limit` is the connection limit in force (all threads together).
 */
export function registerProxyMetrics(registry: Registry, clusters: readonly string[], limit: number, sources: () => readonly Float64Array[]): void {
  const L = layout(clusters.length);
  const names = [...clusters, NO_CLUSTER];
  const seen = new Float64Array(L.slots);
  const total = (slot: number) => { let n = 0; for (const s of sources()) n += s[slot]; return n; };
  const grown = (slot: number) => { const n = total(slot); const d = n - seen[slot]; seen[slot] = n; return d > 0 ? d : 0; };

  const requests: Counter<'cluster' | 'status_class'> = new Counter({
    name: 'switchyard_proxy_requests_total',
    help: 'Requests answered by the proxy, by the cluster that answered (none: rejected by the proxy itself) and status class',
    labelNames: ['cluster', 'status_class'] as const,
    registers: [registry],
    collect() {
      for (const [c, name] of names.entries()) for (const [k, cls] of CLASSES.entries()) requests.labels(name, cls).inc(grown(L.requests + c * CLASSES.length + k));
    },
  });
  const retries: Counter<'from' | 'to'> = new Counter({
    name: 'switchyard_proxy_retries_total',
    help: 'Requests sent again to another cluster after a connection failure or reset before any response byte',
    labelNames: ['from', 'to'] as const,
    registers: [registry],
    collect() {
      for (const [f, from] of clusters.entries()) for (const [t, to] of clusters.entries()) {
        const d = grown(L.retries + f * clusters.length + t);
        if (d > 0) retries.labels(from, to).inc(d);
      }
    },
  });
  const errors: Counter<'cluster' | 'code'> = new Counter({
    name: 'switchyard_proxy_upstream_errors_total',
    help: 'Failed upstream exchanges by cluster and switchyard error code',
    labelNames: ['cluster', 'code'] as const,
    registers: [registry],
    collect() {
      for (const [c, name] of names.entries()) for (const [k, code] of CODES.entries()) {
        const d = grown(L.errors + c * CODES.length + k);
        if (d > 0) errors.labels(name, code).inc(d);
      }
    },
  });
  const websockets: Gauge<'cluster'> = new Gauge({
    name: 'switchyard_proxy_websockets_active',
    help: 'Upgraded connections (WebSocket and other Upgrade protocols) currently tunnelled, by cluster',
    labelNames: ['cluster'] as const,
    registers: [registry],
    collect() { for (const [c, name] of clusters.entries()) websockets.labels(name).set(total(L.websockets + c)); },
  });
  new Gauge({ name: 'switchyard_proxy_connections', help: 'Open client connections to the proxy', registers: [registry], collect() { this.set(total(L.open)); } });
  new Gauge({ name: 'switchyard_proxy_connections_limit', help: 'Client connections the proxy accepts (proxy.maxConnections, lowered to fit the file-descriptor budget)', registers: [registry] }).set(limit);
  const refused: Counter<'reason'> = new Counter({
    name: 'switchyard_proxy_connections_refused_total',
    help: 'Client connections closed at once: limit (every slot busy) or per_source (proxy.maxConnectionsPerSource)',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() { for (const [i, reason] of REFUSE_REASONS.entries()) refused.labels(reason).inc(grown(L.refused + i)); },
  });
  const evicted: Counter = new Counter({
    name: 'switchyard_proxy_connections_evicted_total',
    help: 'Idle client connections closed to make room for a new one at proxy.maxConnections',
    registers: [registry],
    collect() { evicted.inc(grown(L.evicted)); },
  });
  registry.registerMetric(durationHistogram(names, L.duration, L.perDuration, sources) as unknown as Metric);
}

/**
 * switchyard_proxy_upstream_duration_seconds, read from the slots (prom-client's Histogram can
 * only be fed one observation at a time): a metric object of the shape Registry reads.
 */
function durationHistogram(names: readonly string[], start: number, per: number, sources: () => readonly Float64Array[]) {
  const name = 'switchyard_proxy_upstream_duration_seconds';
  const help = 'Time from dispatching a request upstream until its response headers arrived';
  const les = [...BUCKETS.map(String), '+Inf'];
  return {
    name, help, type: 'histogram', aggregator: 'sum',
    reset() {},
    async get() {
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
      for (const [c, cluster] of names.entries()) {
        if (cluster === NO_CLUSTER) continue;
        const base = start + c * per;
        let cumulative = 0;
        for (let b = 0; b <= BUCKETS.length; b++) {
          for (const s of sources()) cumulative += s[base + b];
          values.push({ metricName: `${name}_bucket`, labels: { le: les[b], cluster }, value: cumulative });
        }
        let sum = 0;
        for (const s of sources()) sum += s[base + BUCKETS.length + 1];
        values.push({ metricName: `${name}_sum`, labels: { cluster }, value: sum });
        values.push({ metricName: `${name}_count`, labels: { cluster }, value: cumulative });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}

/** Both sides on one thread: the counters this thread writes, registered on `registry`. */
export function createProxyMetrics(registry: Registry, clusters: readonly string[], limit: number): ProxyMetrics {
  const slots = new Float64Array(proxyCounterSlots(clusters.length));
  registerProxyMetrics(registry, clusters, limit, () => [slots]);
  return createProxyCounters(slots, clusters);
}
