// One upstream per cluster: its keep-alive undici Pool (HTTP/1.1), the Host value it sends, its
// metric children and its open tunnels, all resolved once so the request path only reads fields.
import type { Duplex } from 'node:stream';
import { Pool } from '../undici-parts.ts';
import type { ClusterConfig, ProxyConfig } from '../config/types.ts';
import type { ClusterMetrics } from './metrics.ts';

export interface Upstream {
  readonly name: string;
  /** host[:port] of the upstream URL: the Host sent when the client sent none. */
  readonly authority: string;
  /** Per-cluster Host override (clusters[].hostHeader), or undefined to pass the client's through. */
  readonly hostHeader: string | undefined;
  readonly metrics: ClusterMetrics;
  /** Client sockets of the upgraded connections tunnelled to this cluster. */
  readonly tunnels: Set<Duplex>;
  /** The pool to dispatch on; replaced by recycle(). */
  pool: Pool;
  /** Closes the idle connections: new requests get a fresh pool, in-flight ones finish on the old. */
  recycle(): void;
  closeTunnels(): number;
  close(): Promise<void>;
}

export interface UpstreamDeps {
  metrics: ClusterMetrics;
  /** Called once per failed connection attempt (refused, unreachable, connect timeout). */
  onConnectFailure(cluster: string, err: Error): void;
}

export function createUpstream(cluster: ClusterConfig & { upstream: string }, proxy: ProxyConfig, deps: UpstreamDeps): Upstream {
  const url = new URL(cluster.upstream);
  const makePool = (): Pool => {
    const pool = new Pool(url.origin, {
      allowH2: false,
      pipelining: 1,
      connections: proxy.upstreamConnections,
      connectTimeout: proxy.timeouts.connect,
      headersTimeout: proxy.timeouts.headers,
      bodyTimeout: proxy.timeouts.idle,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 600_000,
    });
    pool.on('connectionError', (_origin, _targets, err) => deps.onConnectFailure(cluster.name, err));
    return pool;
  };
  const tunnels = new Set<Duplex>();
  const up: Upstream = {
    name: cluster.name,
    authority: url.host,
    hostHeader: cluster.hostHeader,
    metrics: deps.metrics,
    tunnels,
    pool: makePool(),
    recycle() {
      const old = up.pool;
      up.pool = makePool();
      old.close().catch(() => {});
    },
    closeTunnels() {
      const n = tunnels.size;
      for (const socket of tunnels) socket.destroy();
      tunnels.clear();
      return n;
    },
    async close() {
      up.closeTunnels();
      await up.pool.destroy().catch(() => {});
    },
  };
  return up;
}
