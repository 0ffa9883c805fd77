// What every exchange reads: the upstreams, the retry order, the health view, metrics, replies.
import type { Logger } from '../log.ts';
import type { ProxyMetrics } from './metrics.ts';
import type { ProxyErrorCode, Reply } from './replies.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamFailure } from './decide.ts';

export interface ProxyContext {
  upstreams: ReadonlyMap<string, Upstream>;
  /** Cluster names in configured order (retry order). */
  order: readonly string[];
  isHealthy(cluster: string): boolean;
  metrics: ProxyMetrics;
  replies: Readonly<Record<ProxyErrorCode, Reply>>;
  log: Logger;
  /** Counts and (rate-limited) logs a failed upstream exchange. */
  upstreamFailed(upstream: Upstream, failure: UpstreamFailure, err: Error): void;
}
