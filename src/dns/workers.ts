// dns.workers > 1: that many worker threads (worker-thread.ts), each with its own reusePort UDP
// and TCP sockets on every listen address; the kernel spreads queries over them by source
// address and port. The main thread answers nothing itself: the worker pool (../worker-pool.ts)
// broadcasts every routing snapshot to every worker, tracks the generation each acknowledges
// (awaitGeneration: the switch-traffic step waits for it) and replaces a worker that dies; this
// module adds the sockets' ports and the counters the metrics read.
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { RoutingSource } from '../routing/types.ts';
import { createWorkerPool, workerShare } from '../worker-pool.ts';
import { COUNTER_SLOTS, registerDnsMetrics, repliesSent, resetLevels } from './metrics.ts';
import type { DnsServer, DnsServerOptions } from './server.ts';

export type Addresses = ReturnType<DnsServer['addresses']>;

export interface DnsWorkerPayload {
  options: DnsServerOptions;
  /** dns.listen with the ports resolved (the first worker binds the configured ones). */
  listen: ListenAddress[];
  /** COUNTER_SLOTS Float64 slots, written by this worker only. */
  counters: SharedArrayBuffer;
}

export interface DnsWorkers extends DnsServer {
  /** Resolves once every worker serves an answer table of generation `generation` or later. */
  awaitGeneration(generation: number, signal?: AbortSignal): Promise<void>;
  /** Per worker: the generation it serves (0 while it is down) and the replies it has sent. */
  workers(): Array<{ serving: number; replies: number }>;
}

export interface DnsWorkersDeps { routing: RoutingSource; logger: Logger; registry: Registry; workers: number }

/** Each worker's share of the DNS-over-TCP caps, which are the process's, not each thread's. */
export function dnsTcpShare(tcp: DnsServerOptions['dns']['tcp'], workers: number): DnsServerOptions['dns']['tcp'] {
  return { ...tcp, maxConnections: workerShare(tcp.maxConnections, workers, 'total'), maxConnectionsPerSource: workerShare(tcp.maxConnectionsPerSource, workers, 'perSource') };
}

export function createDnsWorkers(options: DnsServerOptions, deps: DnsWorkersDeps): DnsWorkers {
  const logger = deps.logger.child({ module: 'dns' });
  const buffers = Array.from({ length: deps.workers }, () => new SharedArrayBuffer(COUNTER_SLOTS * Float64Array.BYTES_PER_ELEMENT));
  const counters = buffers.map((b) => new Float64Array(b));
  registerDnsMetrics(deps.registry, () => counters);
  let listen: ListenAddress[] = options.dns.listen;
  const shared: DnsServerOptions = { ...options, dns: { ...options.dns, tcp: dnsTcpShare(options.dns.tcp, deps.workers) } };
  let bound: Addresses = { udp: [], tcp: [] };
  const pool = createWorkerPool<DnsWorkerPayload, Addresses>({
    what: 'DNS',
    entry: new URL('./worker-thread.ts', import.meta.url),
    workers: deps.workers,
    payload: (index) => ({ options: shared, listen, counters: buffers[index] }),
    onExit: (index) => resetLevels(counters[index]),   // its open TCP connections and rate-limit accounts went with it
  }, { routing: deps.routing, logger });

  return {
    async start() {
      try {
        // The first worker binds the configured ports (0: any); the others join it on the same ones.
        bound = await pool.spawn(0);
        listen = options.dns.listen.map((l, i) => ({ ...l, port: bound.udp[i].port }));
        await Promise.all(counters.slice(1).map((_, i) => pool.spawn(i + 1)));
      } catch (err) {
        await pool.close();
        throw err;
      }
      pool.follow();
      logger.info({ workers: deps.workers, listen: bound.udp }, `DNS answered by ${deps.workers} worker threads on every listen address (reusePort)`);
    },
    close: () => pool.close(),
    addresses: () => bound,
    generation: () => pool.generation(),
    workers: () => pool.serving().map((serving, i) => ({ serving, replies: repliesSent(counters[i]) })),
    awaitGeneration: (generation, signal) => pool.awaitGeneration(generation, signal),
  };
}
