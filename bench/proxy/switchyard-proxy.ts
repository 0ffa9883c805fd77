// switchyard's proxy in a process of its own for the benchmark: createProxyServer with the real
// routing holder (file store in a temp folder). A line "active NAME" on stdin commits a move to
// that cluster, the way the failover controller's switch-traffic step does.
// Env: PROXY_HOST, PROXY_PORT, EAST_URL, WEST_URL, STATE_FILE, LOG_LEVEL (default warn), PROXY_WORKERS
// (default 1; N >= 2: createProxyWorkers, as serve does with proxy.workers: N).
import { Registry } from '../../src/prom-client-parts.ts';
import type { ClusterConfig, ProxyConfig } from '../../src/config/types.ts';
import { createLogger } from '../../src/log.ts';
import { createProxyServer, createProxyWorkers } from '../../src/proxy/index.ts';
import { createFileStore, createRouting } from '../../src/routing/index.ts';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
};

const cluster = (name: string, upstream: string): ClusterConfig => ({
  name, addresses: [], upstream, hostHeader: undefined, probes: [], healthyWhen: { mode: 'all' }, kubernetes: undefined, database: undefined,
});

const proxy: ProxyConfig = {
  listen: { host: env('PROXY_HOST'), port: Number(env('PROXY_PORT')), family: 4 },
  timeouts: { connect: 2000, headers: 30_000, idle: 60_000, clientHeaders: 10_000, clientIdle: 5000 },
  maxConnections: 100_000,
  maxConnectionsPerSource: 100_000,
  upstreamConnections: 1024,
  trustForwarded: false,
  maxHeaderSize: 16_384,
  maxUrlLength: 8192,
  workers: Number(process.env.PROXY_WORKERS ?? '1'),
  hostnames: ['app.example.com'],
};
const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
const routing = await createRouting({ store: createFileStore({ file: env('STATE_FILE') }), clusters: ['east', 'west'] });
const options = { proxy, clusters: [cluster('east', env('EAST_URL')), cluster('west', env('WEST_URL'))] };
const server = proxy.workers > 1
  ? createProxyWorkers(options, { routing, logger, registry: new Registry(), workers: proxy.workers })
  : createProxyServer(options, { routing, logger, registry: new Registry() });
await server.start();
process.stdout.write(`ready ${server.address().port}\n`);

// Lines from stdin without node:readline: the harness's own modules stay out of the measured RSS.
let pending = '';
process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
  const lines = (pending + chunk).split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    const m = /^active (\w+)$/.exec(line.trim());
    if (!m) continue;
    const to = m[1];
    void routing.commit((s) => ({ ...s, epoch: s.epoch + 1, active: to, state: 'failed-over', reason: 'benchmark failover' }))
      .then(() => process.stdout.write(`switched ${to}\n`));
  }
});
const stop = () => { void server.close().then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
