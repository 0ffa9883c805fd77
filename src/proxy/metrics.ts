// The proxy's Prometheus metrics, with the label children of the hot path resolved once.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { statusClass } from './decide.ts';

export const NO_CLUSTER = 'none';

export interface ClusterMetrics {
  /** Index by Math.floor(status / 100): 1..5. */
  requests: Array<{ inc(): void }>;
  duration: { observe(seconds: number): void };
  websockets: { inc(): void; dec(): void };
}

export interface ProxyMetrics {
  cluster(name: string): ClusterMetrics;
  request(cluster: string, status: number): void;
  retry(from: string, to: string): void;
  upstreamError(cluster: string, code: string): void;
}

export function createProxyMetrics(registry: Registry, clusters: readonly string[]): ProxyMetrics {
  const requests = new Counter({
    name: 'switchyard_proxy_requests_total',
    help: 'Requests answered by the proxy, by the cluster that answered (none: rejected by the proxy itself) and status class',
    labelNames: ['cluster', 'status_class'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'switchyard_proxy_upstream_duration_seconds',
    help: 'Time from dispatching a request upstream until its response headers arrived',
    labelNames: ['cluster'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'switchyard_proxy_retries_total',
    help: 'Requests sent again to another cluster after a connection failure or reset before any response byte',
    labelNames: ['from', 'to'] as const,
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: 'switchyard_proxy_upstream_errors_total',
    help: 'Failed upstream exchanges by cluster and switchyard error code',
    labelNames: ['cluster', 'code'] as const,
    registers: [registry],
  });
  const websockets = new Gauge({
    name: 'switchyard_proxy_websockets_active',
    help: 'Upgraded connections (WebSocket and other Upgrade protocols) currently tunnelled, by cluster',
    labelNames: ['cluster'] as const,
    registers: [registry],
  });

  const byCluster = new Map<string, ClusterMetrics>();
  for (const name of [...clusters, NO_CLUSTER]) {
    const perClass = [1, 1, 2, 3, 4, 5].map((c) => requests.labels(name, statusClass(c * 100)));
    byCluster.set(name, { requests: perClass, duration: duration.labels(name), websockets: websockets.labels(name) });
  }
  for (const name of clusters) websockets.labels(name).set(0);
  const none = byCluster.get(NO_CLUSTER)!;

  return {
    cluster: (name) => byCluster.get(name) ?? none,
    request(cluster, status) {
      (byCluster.get(cluster) ?? none).requests[Math.min(5, Math.max(1, Math.floor(status / 100)))].inc();
    },
    retry: (from, to) => retries.labels(from, to).inc(),
    upstreamError: (cluster, code) => upstreamErrors.labels(cluster, code).inc(),
  };
}
