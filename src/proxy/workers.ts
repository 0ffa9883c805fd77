// proxy.workers > 1: that many worker threads (worker-thread.ts), each with its own reusePort
// listener on proxy.listen and its own upstream pools; the kernel spreads client connections over
// them. The main thread forwards nothing itself: the worker pool (../worker-pool.ts) broadcasts
// every routing snapshot to every worker and tracks the generation each acknowledges
// (awaitGeneration: the switch-traffic step waits for it), exactly as for dns.workers. This module
// adds what the proxy needs across threads: the health verdicts (one shared byte per cluster,
// written here), the passive failure signal (an event from the worker), the counters the metrics
// read (shared memory, one array per worker) and each worker's share of the connection limits.
import type { Registry } from 'prom-client';
import type { ProxyConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { RoutingSource } from '../routing/types.ts';
import { createWorkerPool, workerShare } from '../worker-pool.ts';
import { proxyCounterSlots, registerProxyMetrics, resetProxyLevels } from './metrics.ts';
import type { ProxyServer, ProxyServerOptions } from './server.ts';

export type ProxyAddress = ReturnType<ProxyServer['address']>;

export interface ProxyWorkerPayload {
  /** proxy with this worker's share of the limits and the port resolved (the first worker binds the configured one). */
  options: ProxyServerOptions;
  /** proxyCounterSlots(clusters) Float64 slots, written by this worker only. */
  counters: SharedArrayBuffer;
  /** One byte per cluster (options.clusters order): 1 healthy, 0 not. Written by the main thread only. */
  healthy: SharedArrayBuffer;
}
export interface ProxyWorkerEvent { cluster: string; reason: string }

export interface ProxyWorkers extends ProxyServer {
  /** Resolves once every worker forwards by a routing snapshot of generation `generation` or later. */
  awaitGeneration(generation: number, signal?: AbortSignal): Promise<void>;
  /** Per worker: the generation it forwards by (0 while it is down) and the requests it has answered. */
  workers(): Array<{ serving: number; requests: number }>;
}

export interface ProxyWorkersDeps {
  routing: RoutingSource;
  logger: Logger;
  registry: Registry;
  workers: number;
  /** The health module's verdict; read whenever healthChanges reports a change. Default: all healthy. */
  isHealthy?: (cluster: string) => boolean;
  /** Subscribes to verdict changes (returns the unsubscribe). */
  healthChanges?: (fn: () => void) => () => void;
  /** Passive health signal: called once per failed connection attempt by any worker. */
  onUpstreamFailure?: (cluster: string, reason: string) => void;
}

/** Worker `index` of `workers`: its share of the process-wide connection limits (at least 1). */
export function proxyShare(proxy: ProxyConfig, workers: number): Pick<ProxyConfig, 'maxConnections' | 'maxConnectionsPerSource' | 'upstreamConnections'> {
  return {
    maxConnections: workerShare(proxy.maxConnections, workers, 'total'),
    maxConnectionsPerSource: workerShare(proxy.maxConnectionsPerSource, workers, 'perSource'),
    upstreamConnections: workerShare(proxy.upstreamConnections, workers, 'total'),
  };
}

export function createProxyWorkers(options: ProxyServerOptions, deps: ProxyWorkersDeps): ProxyWorkers {
  const logger = deps.logger.child({ module: 'proxy' });
  const names = options.clusters.map((c) => c.name);
  const slots = proxyCounterSlots(names.length);
  const buffers = Array.from({ length: deps.workers }, () => new SharedArrayBuffer(slots * Float64Array.BYTES_PER_ELEMENT));
  const counters = buffers.map((b) => new Float64Array(b));
  const share = proxyShare(options.proxy, deps.workers);
  registerProxyMetrics(deps.registry, names, share.maxConnections * deps.workers, () => counters);
  const healthyBuffer = new SharedArrayBuffer(names.length);
  const healthy = new Uint8Array(healthyBuffer);
  const isHealthy = deps.isHealthy ?? (() => true);
  const refreshHealth = () => { for (const [i, name] of names.entries()) healthy[i] = isHealthy(name) ? 1 : 0; };
  refreshHealth();
  let stopHealth: (() => void) | undefined;
  let port = options.proxy.listen.port;
  let bound: ProxyAddress | undefined;
  const pool = createWorkerPool<ProxyWorkerPayload, ProxyAddress, ProxyWorkerEvent>({
    what: 'proxy',
    entry: new URL('./worker-thread.ts', import.meta.url),
    workers: deps.workers,
    payload: (index) => ({
      options: { ...options, proxy: { ...options.proxy, ...share, listen: { ...options.proxy.listen, port } } },
      counters: buffers[index],
      healthy: healthyBuffer,
    }),
    onEvent: (_index, e) => deps.onUpstreamFailure?.(e.cluster, e.reason),
    onExit: (index) => resetProxyLevels(counters[index], names.length),   // its client connections and tunnels went with it
  }, { routing: deps.routing, logger });
  const requests = (c: Float64Array) => { let n = 0; for (let i = 0; i < (names.length + 1) * 5; i++) n += c[i]; return n; };

  return {
    async start() {
      stopHealth = deps.healthChanges?.(refreshHealth);
      refreshHealth();
      try {
        // The first worker binds the configured port (0: any); the others join it on the same one.
        bound = await pool.spawn(0);
        port = bound.port;
        await Promise.all(counters.slice(1).map((_, i) => pool.spawn(i + 1)));
      } catch (err) {
        stopHealth?.();
        await pool.close();
        throw err;
      }
      pool.follow();
      logger.info({ workers: deps.workers, listen: bound, ...share }, `proxy served by ${deps.workers} worker threads on ${bound.address}:${bound.port} (reusePort), each with ${share.maxConnections} client and ${share.upstreamConnections} upstream connections per cluster`);
    },
    async close() {
      stopHealth?.();
      await pool.close();
    },
    address() {
      if (bound === undefined) throw new Error('the proxy workers are not listening');
      return bound;
    },
    generation: () => pool.generation(),
    workers: () => pool.serving().map((serving, i) => ({ serving, requests: requests(counters[i]) })),
    awaitGeneration: (generation, signal) => pool.awaitGeneration(generation, signal),
  };
}
