// One proxy worker thread (proxy.workers > 1): its own reusePort listener on proxy.listen and
// its own upstream pools, the same server code as the main thread, counters in the shared memory
// the main thread reads for the metrics, the health verdicts from a shared byte per cluster.
// serveThread (../worker-pool.ts) feeds it the routing snapshots the main thread broadcasts and
// acknowledges each generation once the proxy forwards by it (the swap is synchronous).
import { createLogger } from '../log.ts';
import { serveThread } from '../worker-pool.ts';
import { createProxyCounters } from './metrics.ts';
import { createProxyServer } from './server.ts';
import type { ProxyAddress, ProxyWorkerEvent, ProxyWorkerPayload } from './workers.ts';

let flush = () => {};
await serveThread<ProxyWorkerPayload, ProxyAddress, ProxyWorkerEvent>(({ data, routing, emit }) => {
  const { options, counters, healthy } = data.payload;
  const names = options.clusters.map((c) => c.name);
  const flags = new Uint8Array(healthy);
  const logger = createLogger({ level: data.logLevel }).child({ proxyWorker: data.index });
  flush = () => logger.flush();
  const server = createProxyServer(options, {
    routing,
    logger,
    metrics: createProxyCounters(new Float64Array(counters), names),
    reusePort: true,
    isHealthy: (cluster) => flags[names.indexOf(cluster)] !== 0,
    onUpstreamFailure: (cluster, reason) => emit({ cluster, reason }),
  });
  return { start: () => server.start(), close: () => server.close(), generation: () => server.generation(), listening: () => server.address() };
}, () => flush());
