// createHealthMonitor with its real http probes against real servers: an outage is detected in
// about interval + (fall-1) x confirmInterval, and the cluster comes back after rise successes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { ClusterConfig, HealthConfig } from '../../../src/config/index.ts';
import { createLogger } from '../../../src/log.ts';
import { createHealthMonitor, type ClusterHealth, type HealthMonitor } from '../../../src/health/index.ts';

const health: HealthConfig = { interval: 1000, timeout: 500, fall: 3, rise: 2, jitter: 100, confirmInterval: 200 };

async function listen(host: string, port = 0): Promise<Server> {
  const server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end('ok'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

async function kill(server: Server): Promise<void> {
  const closed = new Promise((r) => server.close(r));
  server.closeAllConnections();
  await closed;
}

function cluster(name: string, address: string, port: number): ClusterConfig {
  return {
    name, addresses: [address], upstream: undefined, hostHeader: undefined, healthyWhen: { mode: 'all' }, kubernetes: undefined, database: undefined,
    probes: [{
      kind: 'http', name: `http http://${address}:${port}/healthz`, url: `http://${address}:${port}/healthz`, method: 'GET', expectStatus: [200],
      bodyContains: undefined, host: undefined, sni: undefined, headers: {}, ca: undefined, insecureSkipVerify: false, timeout: undefined,
    }],
  };
}

/** Resolves with the time (performance.now) at which `name` reaches `healthy`, or rejects after `withinMs`. */
function waitFor(monitor: HealthMonitor, name: string, healthy: boolean, withinMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (c: ClusterHealth) => {
      if (c.name !== name || c.healthy !== healthy) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(performance.now());
    };
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`cluster ${name} not ${healthy ? 'up' : 'down'} within ${withinMs}ms`));
    }, withinMs);
    const unsubscribe = monitor.subscribe(done);
    const current = monitor.clusters().find((c) => c.name === name);
    if (current) done(current);
  });
}

test('a dead health endpoint takes its cluster down fast, and it comes back after rise successes', async (t) => {
  let east = await listen('127.0.0.2');
  const west = await listen('127.0.0.3');
  const eastPort = (east.address() as AddressInfo).port;
  const westPort = (west.address() as AddressInfo).port;
  const lines: Array<{ level: string; msg: string }> = [];
  const logger = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  const registry = new Registry();
  const monitor = createHealthMonitor({ clusters: [cluster('east', '127.0.0.2', eastPort), cluster('west', '127.0.0.3', westPort)], health }, { logger, registry });
  t.after(async () => {
    await monitor.stop();
    await kill(east).catch(() => undefined);
    await kill(west);
  });

  monitor.start();
  await waitFor(monitor, 'east', true, 3000);
  await waitFor(monitor, 'west', true, 3000);

  const downWithin = health.interval * health.fall;
  const died = performance.now();
  await kill(east);
  const downAt = await waitFor(monitor, 'east', false, downWithin);
  const detection = downAt - died;
  t.diagnostic(`death to down: ${detection.toFixed(0)}ms (interval ${health.interval}ms, fall ${health.fall}, confirmInterval ${health.confirmInterval}ms, timeout ${health.timeout}ms)`);
  assert.ok(detection < health.interval + health.jitter + (health.fall - 1) * health.confirmInterval + health.timeout, `down ${detection.toFixed(0)}ms after the endpoint died`);
  const warn = lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  assert.ok(warn.includes(`cluster east is down: 3/3 checks of "http http://127.0.0.2:${eastPort}/healthz" failed (ECONNREFUSED)`), warn.join('\n'));
  const [eastHealth, westHealth] = monitor.clusters();
  assert.deepEqual([eastHealth.probes[0].ok, eastHealth.probes[0].error], [false, 'ECONNREFUSED']);
  assert.equal(westHealth.healthy, true, 'the other cluster stays up');
  assert.match(await registry.metrics(), /switchyard_health_cluster_up\{cluster="east"\} 0/);

  const revived = performance.now();
  east = await listen('127.0.0.2', eastPort);
  const upAt = await waitFor(monitor, 'east', true, health.interval * (health.rise + 1));
  t.diagnostic(`revival to up: ${(upAt - revived).toFixed(0)}ms (rise ${health.rise})`);
  assert.ok(upAt - revived >= health.interval * (health.rise - 1) - 50, 'rise successes at the normal pace, not at once');
  const [back] = monitor.clusters();
  assert.deepEqual([back.healthy, back.probes[0].ok, back.probes[0].error], [true, true, null]);
  assert.ok(typeof back.probes[0].latencyMs === 'number' && back.probes[0].latencyMs < 100);
  assert.match(await registry.metrics(), /switchyard_health_probe_checks_total\{cluster="east",probe="http http:\/\/127\.0\.0\.2:\d+\/healthz",result="failure"\} \d+/);
});
