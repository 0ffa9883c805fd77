// One DNS worker thread (dns.workers > 1): its own reusePort UDP and TCP sockets on every listen
// address, the same server code as the main thread, counters in the shared memory the main
// thread reads for the metrics. It follows the routing snapshots the main thread broadcasts,
// rebuilds its answer table from each, and then reports the generation it serves.
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.ts';
import type { RoutingSnapshot, RoutingSource } from '../routing/types.ts';
import { createDnsCounters } from './metrics.ts';
import { createDnsServer } from './server.ts';
import type { FromWorker, ToWorker, WorkerData } from './workers.ts';

const data = workerData as WorkerData;
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
const logger = createLogger({ level: data.logLevel }).child({ dnsWorker: data.index });

let snapshot: RoutingSnapshot = data.snapshot;
const subscribers = new Set<(s: RoutingSnapshot) => void>();
const routing: RoutingSource = {
  current: () => snapshot,
  subscribe(fn) { subscribers.add(fn); return () => { subscribers.delete(fn); }; },
};
const options = { ...data.options, dns: { ...data.options.dns, listen: data.listen } };
const server = createDnsServer(options, { routing, logger, metrics: createDnsCounters(new Float64Array(data.counters)), reusePort: true });

port.on('message', (m: ToWorker) => {
  if (m.type === 'routing') {
    if (m.snapshot.generation <= snapshot.generation) return;
    snapshot = m.snapshot;
    for (const fn of subscribers) fn(snapshot);
    post({ type: 'serving', generation: server.generation() });
  } else {
    void server.close().finally(() => { logger.flush(); port.close(); });
  }
});

try {
  await server.start();
  post({ type: 'listening', addresses: server.addresses(), generation: server.generation() });
} catch (err) {
  const e = err as { code?: string; message?: string };
  post({ type: 'failed', code: e.code, message: e.message ?? String(err) });
  port.close();
}
