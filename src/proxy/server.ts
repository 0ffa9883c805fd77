// The proxy front: a node:http server (no framework on the hot path) that checks the request
// target and sizes, picks the active cluster's upstream from the routing snapshot already in
// hand (no await before dispatch) and hands the request to an exchange. Routing changes swap
// the active upstream, close idle connections to the old side and, once the transition is
// settled, the tunnels still open to it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../node-builtins.ts';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import type { ClusterConfig, ProxyConfig } from '../config/types.ts';
import { redactText } from '../config/redact.ts';
import { SwitchyardError, describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RoutingSnapshot, RoutingSource } from '../routing/types.ts';
import type { ProxyContext } from './context.ts';
import { retryCluster, shouldRetry, transitionSettled, type RetryFacts, type UpstreamFailure } from './decide.ts';
import { createConnectionBudget } from './connection-budget.ts';
import { buildUpstreamHeaders, clientAddress } from './headers.ts';
import { HttpExchange } from './http-exchange.ts';
import { NO_CLUSTER, createProxyMetrics, type ProxyMetrics } from './metrics.ts';
import { buildReplies, sendRawReply, sendReply, type ProxyErrorCode, type Reply } from './replies.ts';
import { parseTarget } from './target.ts';
import { TunnelExchange } from './tunnel-exchange.ts';
import { createUpstream, type Upstream } from './upstream.ts';

const { createServer } = http;

export interface ProxyServerOptions { proxy: ProxyConfig; clusters: ClusterConfig[] }

export interface ProxyServerDeps {
  routing: RoutingSource;
  logger: Logger;
  /** Where the proxy metrics are registered; a worker thread passes `metrics` (its shared counters) instead. */
  registry?: Registry;
  metrics?: ProxyMetrics;
  /** Listen with SO_REUSEPORT (proxy worker threads share the port). */
  reusePort?: boolean;
  /** The health module's verdict; clusters it calls unhealthy are not retried on. Default: all healthy. */
  isHealthy?: (cluster: string) => boolean;
  /** Passive health signal: called once per failed connection attempt to a cluster's upstream. */
  onUpstreamFailure?: (cluster: string, reason: string) => void;
}

export interface ProxyServer {
  start(): Promise<void>;
  /** Stops accepting, closes tunnels and idle connections, lets in-flight requests finish (5 s at most). */
  close(): Promise<void>;
  address(): { address: string; port: number };
  /** Generation of the routing snapshot the proxy forwards by. */
  generation(): number;
}

const CLOSE_GRACE_MS = 5_000;
const WARN_INTERVAL_MS = 5_000;

export function createProxyServer(options: ProxyServerOptions, deps: ProxyServerDeps): ProxyServer {
  const { proxy } = options;
  const log = deps.logger.child({ module: 'proxy' });
  const order = options.clusters.map((c) => c.name);
  const metrics = deps.metrics ?? (deps.registry && createProxyMetrics(deps.registry, order, proxy.maxConnections));
  if (metrics === undefined) throw new TypeError('createProxyServer needs a registry or metrics');
  const replies = buildReplies();
  const hostnames = new Set(proxy.hostnames);
  const isHealthy = deps.isHealthy ?? (() => true);

  const lastWarn = new Map<string, { at: number; suppressed: number }>();
  const warnLimited = (key: string, fields: Record<string, unknown>, msg: string) => {
    const now = Date.now();
    const w = lastWarn.get(key);
    if (w !== undefined && now - w.at < WARN_INTERVAL_MS) {
      w.suppressed++;
      return;
    }
    lastWarn.set(key, { at: now, suppressed: 0 });
    log.warn({ ...fields, suppressedSinceLast: w?.suppressed ?? 0 }, msg);
  };

  const upstreams = new Map<string, Upstream>();
  for (const c of options.clusters) {
    if (c.upstream === undefined) continue;
    const shown = redactText(c.upstream);
    upstreams.set(c.name, createUpstream({ ...c, upstream: c.upstream }, proxy, {
      metrics: metrics.cluster(c.name),
      onConnectFailure(cluster, err) {
        const reason = `proxy could not connect to ${shown}: ${describeError(err)}`;
        warnLimited(`connect:${cluster}`, { cluster, upstream: shown, err: describeError(err) }, `upstream ${cluster} unreachable: ${describeError(err)} (reported to health as a passive failure)`);
        deps.onUpstreamFailure?.(cluster, reason);
      },
    }));
  }

  const ctx: ProxyContext = {
    upstreams,
    isHealthy,
    metrics,
    replies,
    log,
    upstreamFailed(up: Upstream, failure: UpstreamFailure, err: Error) {
      metrics.upstreamError(up.name, failure.code);
      if (!failure.connectFailure) warnLimited(`${failure.code}:${up.name}`, { cluster: up.name, code: failure.code, err: describeError(err) }, `request to ${up.name} failed: ${failure.code} (${describeError(err)})`);
    },
    retryTarget(failed: Upstream, facts: RetryFacts) {
      if (!shouldRetry(facts)) return undefined;
      const now = deps.routing.current();
      const next = retryCluster(now.retryTo, now.active, failed.name, isHealthy);
      const target = next === undefined ? undefined : upstreams.get(next);
      if (target !== undefined) metrics.retry(failed.name, target.name);
      return target;
    },
  };

  let generation = deps.routing.current().generation;
  let activeName = deps.routing.current().active;
  let active = upstreams.get(activeName);
  let unsubscribe: (() => void) | undefined;

  const onSnapshot = (s: RoutingSnapshot) => {
    generation = s.generation;
    if (s.active !== activeName) {
      const previous = upstreams.get(activeName);
      log.info({ from: activeName, to: s.active, generation: s.generation, epoch: s.epoch }, `proxy now forwards new requests to ${s.active} (was ${activeName}); closing idle connections to ${activeName}`);
      activeName = s.active;
      active = upstreams.get(s.active);
      previous?.recycle();
    }
    if (!transitionSettled(s.state)) return;
    for (const up of upstreams.values()) {
      if (up.name === s.active || up.tunnels.size === 0) continue;
      const n = up.closeTunnels();
      log.info({ cluster: up.name, tunnels: n, state: s.state }, `closed ${n} tunnel(s) to ${up.name}: traffic moved to ${s.active}`);
    }
  };

  const reject = (res: ServerResponse, code: ProxyErrorCode) => {
    metrics.request(NO_CLUSTER, replies[code].status);
    sendReply(res, replies[code], true);
  };
  const rejectRaw = (socket: Duplex, reply: Reply) => {
    metrics.request(NO_CLUSTER, reply.status);
    sendRawReply(socket, reply);
  };

  // What checkTarget found, read right after it (no tuple allocated per request).
  let targetPath = '';
  let targetAuthority = '';
  /** Checks the target: undefined and targetPath/targetAuthority set, or the code to reject with. */
  const checkTarget = (url: string): ProxyErrorCode | undefined => {
    if (url.length > proxy.maxUrlLength) return 'SWY_PROXY_URL_TOO_LONG';
    if (url.charCodeAt(0) === 47) {
      targetPath = url;
      targetAuthority = '';
      return undefined;
    }
    const t = parseTarget(url, hostnames);
    if (!t.ok) return t.code;
    targetPath = t.path;
    targetAuthority = t.authority;
    return undefined;
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    // A connection starts with the short clientIdle timeout; a request in progress gets the long one.
    if (req.socket.timeout !== server.timeout) req.socket.setTimeout(server.timeout);
    const refused = checkTarget(req.url ?? '');
    if (refused !== undefined) return reject(res, refused);
    const up = active;
    if (up === undefined) return reject(res, 'SWY_PROXY_NO_UPSTREAM');
    const h = buildUpstreamHeaders(req.rawHeaders, clientAddress(req.socket.remoteAddress), 'http', targetAuthority, proxy.trustForwarded);
    if (h.host === '' && req.httpVersionMinor === 1) return reject(res, 'SWY_PROXY_BAD_REQUEST');
    new HttpExchange(ctx, req, res, targetPath, h, up).dispatch();
  };

  const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (socket.timeout !== server.timeout) socket.setTimeout(server.timeout);
    const refused = checkTarget(req.url ?? '');
    if (refused !== undefined) return rejectRaw(socket, replies[refused]);
    const up = active;
    if (up === undefined) return rejectRaw(socket, replies.SWY_PROXY_NO_UPSTREAM);
    const h = buildUpstreamHeaders(req.rawHeaders, clientAddress(socket.remoteAddress), 'http', targetAuthority, proxy.trustForwarded);
    if (h.host === '' && req.httpVersionMinor === 1) return rejectRaw(socket, replies.SWY_PROXY_BAD_REQUEST);
    new TunnelExchange(ctx, req, socket, head, targetPath, h, up).dispatch();
  };

  const onClientError = (err: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    let reply = replies.SWY_PROXY_BAD_REQUEST;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') reply = replies.SWY_PROXY_CLIENT_TIMEOUT;
    else if (err.code === 'HPE_HEADER_OVERFLOW') reply = requestLineTooLong(err.rawPacket, proxy.maxUrlLength) ? replies.SWY_PROXY_URL_TOO_LONG : replies.SWY_PROXY_HEADERS_TOO_LARGE;
    log.debug({ code: err.code, reply: reply.status }, 'rejected a malformed or slow client request');
    rejectRaw(socket, reply);
  };

  const server = createServer({
    maxHeaderSize: proxy.maxHeaderSize,
    headersTimeout: proxy.timeouts.clientHeaders,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(proxy.timeouts.clientHeaders / 4))),
    requireHostHeader: false,
    keepAlive: true,
    noDelay: true,
  }, onRequest);
  server.timeout = Math.max(proxy.timeouts.idle, proxy.timeouts.headers) + 1000;
  server.keepAliveTimeout = proxy.timeouts.clientIdle;
  const budget = createConnectionBudget({ limit: proxy.maxConnections, perSource: proxy.maxConnectionsPerSource }, {
    metrics,
    tunnels() {
      let n = 0;
      for (const up of upstreams.values()) n += up.tunnels.size;
      return n;
    },
    isTunnel(socket) {
      for (const up of upstreams.values()) if (up.tunnels.has(socket)) return true;
      return false;
    },
    onPressure(what, reason, open) {
      warnLimited(`connections:${what}:${reason}`, { open, limit: proxy.maxConnections, perSource: proxy.maxConnectionsPerSource, reason },
        what === 'evicted'
          ? `proxy at its limit of ${proxy.maxConnections} connections: closing the oldest idle ones to admit new clients`
          : reason === 'per_source'
            ? `proxy refused connections from a source already holding ${proxy.maxConnectionsPerSource} (proxy.maxConnectionsPerSource)`
            : `proxy refused connections: all ${proxy.maxConnections} are busy (proxy.maxConnections)`);
    },
  });
  // Runs after node:http's own connection listener: before the first byte only clientIdle applies.
  server.on('connection', (socket: Socket) => {
    if (budget.admit(socket)) socket.setTimeout(proxy.timeouts.clientIdle);
  });
  server.on('upgrade', onUpgrade);
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => rejectRaw(socket, replies.SWY_PROXY_CONNECT_REJECTED));
  server.on('clientError', onClientError);

  return {
    async start() {
      onSnapshot(deps.routing.current());
      unsubscribe = deps.routing.subscribe(onSnapshot);
      const { host, port } = proxy.listen;
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(new SwitchyardError('SWY_LISTEN_FAILED', `proxy cannot listen on ${host}:${port}: ${describeError(err)}`, { listen: `${host}:${port}` }, { cause: err }));
        server.once('error', onError);
        server.listen({ host, port, reusePort: deps.reusePort === true }, () => {
          server.off('error', onError);
          resolve();
        });
      });
      log.info({ listen: server.address(), active: activeName, upstreams: [...upstreams.keys()] }, `proxy listening, forwarding to ${activeName}`);
    },
    async close() {
      unsubscribe?.();
      unsubscribe = undefined;
      for (const up of upstreams.values()) up.closeTunnels();
      if (server.listening) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => { timer = setTimeout(resolve, CLOSE_GRACE_MS); });
        await Promise.race([closed, grace]);
        clearTimeout(timer);
        server.closeAllConnections();
        await closed;
      }
      await Promise.all([...upstreams.values()].map((up) => up.close()));
    },
    generation: () => generation,
    address() {
      const a = server.address();
      if (a === null || typeof a === 'string') throw new SwitchyardError('SWY_LISTEN_FAILED', 'the proxy is not listening');
      return { address: a.address, port: a.port };
    },
  };
}

/** Whether the chunk that overflowed the header limit still holds an over-long request line. */
function requestLineTooLong(chunk: Buffer | undefined, maxUrlLength: number): boolean {
  if (chunk === undefined) return false;
  const eol = chunk.indexOf(10);
  return (eol === -1 ? chunk.length : eol) > maxUrlLength;
}
