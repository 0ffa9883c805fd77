// What every exchange reads: the upstreams, the health view, metrics, replies, the retry decision.
import type { Logger } from '../log.ts';
import type { ProxyMetrics } from './metrics.ts';
import type { ProxyErrorCode, Reply } from './replies.ts';
import type { Upstream } from './upstream.ts';
import type { RetryFacts, UpstreamFailure } from './decide.ts';

export interface ProxyContext {
  upstreams: ReadonlyMap<string, Upstream>;
  isHealthy(cluster: string): boolean;
  metrics: ProxyMetrics;
  replies: Readonly<Record<ProxyErrorCode, Reply>>;
  log: Logger;
  /** Counts and (rate-limited) logs a failed upstream exchange. */
  upstreamFailed(upstream: Upstream, failure: UpstreamFailure, err: Error): void;
  /** Where to retry after a failure on `failed` (counted in the metrics), or undefined: not safe, or no transition in progress with a healthy target. */
  retryTarget(failed: Upstream, facts: RetryFacts): Upstream | undefined;
}
