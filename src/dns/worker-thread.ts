// One DNS worker thread (dns.workers > 1): its own reusePort UDP and TCP sockets on every listen
// address, the same server code as the main thread, counters in the shared memory the main
// thread reads for the metrics. serveThread (../worker-pool.ts) feeds it the routing snapshots
// the main thread broadcasts and acknowledges each generation once its answer table is rebuilt.
import { createLogger } from '../log.ts';
import { serveThread } from '../worker-pool.ts';
import { createDnsCounters } from './metrics.ts';
import { createDnsServer } from './server.ts';
import type { Addresses, DnsWorkerPayload } from './workers.ts';

let flush = () => {};
await serveThread<DnsWorkerPayload, Addresses>(({ data, routing }) => {
  const { options, listen, counters } = data.payload;
  const logger = createLogger({ level: data.logLevel }).child({ dnsWorker: data.index });
  flush = () => logger.flush();
  const server = createDnsServer({ ...options, dns: { ...options.dns, listen } }, { routing, logger, metrics: createDnsCounters(new Float64Array(counters)), reusePort: true });
  return { start: () => server.start(), close: () => server.close(), generation: () => server.generation(), listening: () => server.addresses() };
}, () => flush());
