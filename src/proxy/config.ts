// The proxy slice of the configuration: `proxy` (absent: no proxy). Declared once with
// src/config/schema.ts; src/config composes it.
import * as s from '../config/schema.ts';
import type { ListenAddress } from '../config/types.ts';
import type { Issues } from '../config/fields.ts';

const HOUR = 3_600_000;

export interface ProxyConfig {
  listen: ListenAddress;
  timeouts: { connect: number; headers: number; idle: number; clientHeaders: number; clientIdle: number };
  /** Client connections (tunnels count twice: their upstream socket too); the composition root may lower it to fit the descriptor budget. */
  maxConnections: number;
  maxConnectionsPerSource: number;
  /** Connections per cluster's upstream pool, independent of client connections. */
  upstreamConnections: number;
  /** Append to the client's X-Forwarded-* / Forwarded (a trusted proxy in front) instead of replacing them. */
  trustForwarded: boolean;
  maxHeaderSize: number;
  maxUrlLength: number;
  /** 1: the proxy forwards on the main thread; N >= 2: N worker threads with reusePort listeners share the limits. */
  workers: number;
  hostnames: string[];             // derived from the top-level hostnames: absolute-form targets must name one of them
}

export const proxySchema = s.object({
  listen: s.listen({ description: 'where the proxy accepts HTTP/1.1', doc: { type: 'listen address' } }),
  timeouts: s.object({
    connect: s.duration(10, 600_000, { default: '2s', description: 'connecting to the upstream (`SWY_PROXY_CONNECT_TIMEOUT`, retried only on the target of a transition in progress)' }),
    headers: s.duration(10, HOUR, { default: '30s', description: 'from sending the request until the upstream\'s response headers (`SWY_PROXY_HEADERS_TIMEOUT`, not retried)' }),
    idle: s.duration(10, HOUR, { default: '60s', description: 'longest gap between upstream response body chunks (`SWY_PROXY_IDLE_TIMEOUT`; the response is aborted). Idle client connections are closed after max(`idle`, `headers`) + 1 s' }),
    clientHeaders: s.duration(100, 600_000, { default: '10s', description: 'a client must send its complete request headers within this (`SWY_PROXY_CLIENT_TIMEOUT`, against slow clients)' }),
    clientIdle: s.duration(100, 600_000, { default: '5s', description: 'a client connection with no request in progress is closed after this long: **before its first byte** as well as between keep-alive requests (a connection that sends nothing is not a slow client; `clientHeaders` starts with the first byte)' }),
  }, { default: {}, description: 'timeouts towards upstreams and clients', doc: { default: 'all defaults' } }),
  maxHeaderSize: s.integer(1024, 1_048_576, { default: 16_384, description: 'request line plus headers (`SWY_PROXY_HEADERS_TOO_LARGE`, 431)', doc: { type: 'integer (bytes)' } }),
  maxUrlLength: s.integer(64, 1_048_576, { default: 8192, description: 'request target (`SWY_PROXY_URL_TOO_LONG`, 414)', doc: { type: 'integer (bytes)' } }),
  maxConnections: s.integer(1, 1_000_000, { default: 10_000, description: 'client connections (a WebSocket tunnel counts twice: it holds an upstream socket too). At the cap the oldest idle connection (no request in progress, not a tunnel) is closed to admit the new one (`switchyard_proxy_connections_evicted_total`); when every one is busy the new connection is closed at once (`switchyard_proxy_connections_refused_total{reason="limit"}`). Lowered at start to fit the [file-descriptor budget](#limits) (`switchyard_proxy_connections_limit`)' }),
  maxConnectionsPerSource: s.optional(s.integer(1, 1_000_000, { description: 'client connections from one address; further ones are closed at once (`reason="per_source"`). Behind a load balancer that does not preserve the client address, raise it to `maxConnections`' }), { default: '`256` (at most `maxConnections`)' }),
  upstreamConnections: s.integer(1, 100_000, { default: 256, description: 'connections of each cluster\'s upstream pool, independent of client connections: requests beyond it wait for a pooled connection instead of opening more' }),
  trustForwarded: s.boolean({ default: false, description: '`false` (an edge facing clients directly): the client\'s `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host` and `Forwarded` are dropped and replaced by the proxy\'s own, so a client cannot forge its address to the application. `true` (a proxy you run is in front): the proxy appends to them. Either way a client cannot remove them by naming them in `Connection`' }),
  workers: s.integer(1, 64, { default: 1, description: '`1`: the proxy forwards on the main thread. `N` ≥ 2: N worker threads, each with its own `SO_REUSEPORT` listener on `proxy.listen` (the kernel spreads client connections by source address and port) and its own upstream pools; `switch-traffic` is journaled done only once every worker (and every DNS worker) forwards by the new routing generation. The limits are split: each worker accepts `maxConnections / N` client connections (rounded down), `maxConnectionsPerSource / N` from one address (rounded up) and opens `upstreamConnections / N` per cluster (rounded down), so the process stays within the [file-descriptor budget](#limits); so `workers` must be at most `maxConnections` and `upstreamConnections`. Metrics add up every worker. Each worker costs about 15–20 MiB. See src/proxy/README.md' }),
}, { description: 'The HTTP reverse proxy in front of both clusters; absent: no proxy.' });

/** `upstreams[i]`: whether cluster i has an upstream (every cluster needs one when the proxy is configured). */
export function readProxy(v: unknown, upstreams: readonly boolean[] | undefined, hostnames: string[] | undefined, issues: Issues): ProxyConfig | undefined {
  const r = s.readNode(proxySchema, v, 'proxy', issues);
  (upstreams ?? []).forEach((u, i) => {
    if (!u) issues.push({ path: `clusters[${i}].upstream`, message: 'is required when proxy is configured' });
  });
  if (!r) return undefined;
  // Each worker thread gets its share of the connection limits: at least one of each.
  if (r.workers > r.maxConnections) issues.push({ path: 'proxy.workers', message: `must be at most proxy.maxConnections (${r.maxConnections}): every worker thread gets a share of the client connections` });
  if (r.workers > r.upstreamConnections) issues.push({ path: 'proxy.workers', message: `must be at most proxy.upstreamConnections (${r.upstreamConnections}): every worker thread has its own upstream pools with a share of the connections` });
  return { ...r, maxConnectionsPerSource: r.maxConnectionsPerSource ?? Math.min(256, r.maxConnections), hostnames: hostnames ?? [] };
}
